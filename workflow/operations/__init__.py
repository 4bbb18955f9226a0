"""Running the service: backup and restore, doctor, the demo season."""
