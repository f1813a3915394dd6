"""Custom actions for the shop assistant, one module per business area; run by the rasa-sdk action server."""

# follow_up is imported for what importing it does: it installs the follow-up reader the topic actions call
# first, so any import of an action module finds it (actions/reader.py says why it is plugged in).
from actions import follow_up, guard  # noqa: F401

# Every action's unexpected failure becomes an apology, in every action-server worker (actions/guard.py).
guard.register()
