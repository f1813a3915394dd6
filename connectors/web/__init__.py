"""The web channel: JSON over HTTP, a WebSocket and a minimal chat page (see connectors/README.md)."""

from connectors.web.channel import WebChannel

__all__ = ["WebChannel"]
