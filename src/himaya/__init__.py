"""Himaya: offline-first triage, known-material matching and case management for child-protection units."""

__version__ = "0.1.0"
