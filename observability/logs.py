"""Structured JSON logs with request ids, for the gateway (gateway.app.main) and the action server (plugin).

``setup_logging(service)`` makes every record one JSON object: time, level, logger, message, ``service``, the
``request_id`` of the request being served (a context variable the gateway sets from ``X-Request-ID`` or makes up,
and passes to rasa and, through the message metadata, to the action server) and any ``extra=`` fields.
``LOG_FORMAT=text`` keeps the plain lines for a person reading a terminal.

Other modules add their own filters with ``add_filter`` (the privacy filter that keeps personal data out of logs
plugs in here); a filter runs on every record before it is formatted.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import uuid
from collections.abc import Mapping
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

#: The id of the request this code is serving ("" outside a request).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
HEADER = "X-Request-ID"
_MAX_ID = 64
_extra_filters: list[logging.Filter] = []


def new_request_id(supplied: str | None = None) -> str:
    """A request id: the caller's when it is short and printable (a load balancer's), else a new random one."""
    if supplied and len(supplied) <= _MAX_ID and supplied.isascii() and supplied.replace("-", "").isalnum():
        return supplied
    return uuid.uuid4().hex


class _Context(logging.Filter):
    """Adds ``service`` and ``request_id`` to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get()
        return True


def add_filter(log_filter: logging.Filter) -> None:
    """Run ``log_filter`` on every record of every handler ``setup_logging`` installs (now and later)."""
    _extra_filters.append(log_filter)
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_shop_handler", False):
            handler.addFilter(log_filter)


def setup_logging(
    service: str, env: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Send this process's logs to stderr as JSON lines (or text with ``LOG_FORMAT=text``).

    Args:
        service: ``gateway`` or ``actions``: on every record.
        env: the environment (``LOG_FORMAT``, ``LOG_LEVEL``; default ``os.environ``).
        stream: where the lines go (default stderr).

    Returns:
        The installed handler (replacing handlers an earlier call installed).
    """
    env = os.environ if env is None else env
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_shop_handler", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._shop_handler = True  # type: ignore[attr-defined]
    if env.get("LOG_FORMAT", "json").strip().lower() == "text":
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        )
    else:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    handler.addFilter(_Context(service))
    for extra in _extra_filters:
        handler.addFilter(extra)
    root.addHandler(handler)
    level = env.get("LOG_LEVEL", "").strip().upper()
    if level:
        root.setLevel(level)
    elif root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler
