"""Matching file facts against the active hash sets: exact digests by indexed lookup, PDQ by a faiss index."""
