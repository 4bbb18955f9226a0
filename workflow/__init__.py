"""The database, the roster and campaigns, the submission state machine,
the scheduler daemon and the ``tdc-bot`` command line."""
