"""The running daemon: scheduler, leader lease, the intake cycle, sending the outbox, logging."""
