"""The scan pipeline: sources × analyzers on spawned workers, one batching writer."""
