"""Analyzers: pure functions of a stream (and metadata) to facts. They never touch the database."""
