"""Protection of data at rest: blob-store keys, encrypted spooling."""
