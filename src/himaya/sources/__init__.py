"""Evidence sources: they yield file entries (provenance, metadata, a way to read the bytes). They never analyze."""
