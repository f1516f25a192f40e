"""The facade the command line and the web app use: the search service, its records,
filters, errors, highlights and suggestions. May import every other package of ``indexer``."""
