"""The coordinators' web board: a second face beside the CLI, on the same actions and rules.

Server-rendered pages (Starlette + Jinja2, plain HTML forms, no JavaScript)
over what the CLI already computes: ``workflow.season.status`` for the season table,
``workflow.season.actions`` for every decision, ``workflow.season.digest`` / ``chart_data``
for the counts and the chart, ``workflow.reports.export`` and ``workflow.reports.compile`` for
the downloads. Nothing here decides a state or a deadline.

Modules: ``app`` (routes and assembly), ``pages`` (handlers), ``views``
(the data each page shows), ``security`` (sessions, CSRF, login limits,
headers), ``jobs`` (the compiled report generated on request), ``server``
(uvicorn). Starlette, uvicorn and argon2 are imported only here, so the CLI
does not pay for them unless a coordinator asks for the board.
"""
