"""Hash-set readers (plain lists and CSV for now) and the importer that stores them as versions."""
