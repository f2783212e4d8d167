"""The composition root: the ``graphgate`` commands, the local supervisor, and the wiring of the HTTP app,
workers and connectors (compose.py)."""
