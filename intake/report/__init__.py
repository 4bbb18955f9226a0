"""What a report says: its sections against the official outline and its indicator tables, read from the
text intake.documents extracted."""
