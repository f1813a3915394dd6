"""Custom actions for the shop assistant, one module per business area; run by the rasa-sdk action server."""

from actions import guard

# Every action's unexpected failure becomes an apology, in every action-server worker (actions/guard.py).
guard.register()
