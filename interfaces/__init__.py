"""The faces people use: the ``tdc-bot`` command line (``cli``) and the coordinators' web board (``web``).

They sit on top of ``workflow`` and nothing below imports them, so the season's rules never depend on
how a coordinator reaches them (import-linter's ``layers`` contract in pyproject.toml).
"""
