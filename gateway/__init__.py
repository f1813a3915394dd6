"""The gateway process: the channels (connectors/) and the support console (console/) in one aiohttp app.

``gateway.app`` assembles them (``create_app``) and serves them (``main``, ``python -m gateway``).
"""

from gateway.app import create_app, main

__all__ = ["create_app", "main"]
