"""Plugins rasa-sdk loads into the action server: it imports this package by name and calls ``init_hooks``.

Each plugin is a module with ``attach(app)``; add yours to ``PLUGINS`` (observability first: its middleware times
the whole request).
"""

from __future__ import annotations

from typing import Any

import pluggy

from observability import action_server

hookimpl = pluggy.HookimplMarker("rasa_sdk")
PLUGINS: list[Any] = [action_server]


class _Plugins:
    """One pluggy implementation calling every module of ``PLUGINS``."""

    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        for plugin in PLUGINS:
            plugin.attach(app)


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Register the plugins with rasa-sdk's plugin manager (rasa_sdk.plugin._discover_plugins calls this)."""
    manager.register(_Plugins())
