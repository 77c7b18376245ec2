"""The `himaya` command line: thin wrappers that parse options, call the library and explain errors."""
