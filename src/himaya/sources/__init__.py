"""Evidence sources yield file entries (provenance, metadata, a way to read the bytes); never facts."""
