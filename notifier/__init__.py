"""The outbox, mail transports, template rendering and generated documents.

Notifier never decides who is late or what state a submission is in: the
workflow tells it what to send.
"""
