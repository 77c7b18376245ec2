"""The readers behind `himaya.sources.archive`: one module per format family, plus shared limits and names."""
