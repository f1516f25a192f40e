"""Article files into records: plain-text articles and JSON Lines, with a clear error for
each file or line that cannot be read. Imports only ``analysis.text`` (NFC) of ``indexer``."""
