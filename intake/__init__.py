"""Getting mail in and understanding it.

Nothing in this package writes the database or sends mail: it turns raw
bytes into facts (an Envelope, document text, a Classification) that the
workflow package records.
"""
