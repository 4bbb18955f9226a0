"""The reporting season: submission states, recording what intake understood, coordinator actions, reminders,
the digest and the status table."""
