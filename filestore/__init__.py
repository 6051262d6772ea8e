"""Stored files, encrypted at rest: batch files (exchange, ingest) and objection evidence (credit).

Below every app that keeps files, so the store of the record store's evidence needs no import from exchange."""
