"""A labelled corpus of report-mailbox messages, built from code (see build.py)."""
