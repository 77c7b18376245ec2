"""What leaves the case store: exports (JSONL, CSV) and the HTML triage report; no picture content."""
