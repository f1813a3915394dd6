"""observability/logs.py: one JSON object per record, with the service, the request id and extra fields."""

from __future__ import annotations

import io
import json
import logging

import pytest

from observability import logs


@pytest.fixture
def captured() -> io.StringIO:
    return io.StringIO()


def test_json_lines_carry_service_request_id_and_extras(captured: io.StringIO) -> None:
    handler = logs.setup_logging("gateway", {}, captured)
    try:
        token = logs.request_id.set("lb-7")
        logging.getLogger("connectors.test").warning("turn took %d ms", 42, extra={"channel": "web"})
        logs.request_id.reset(token)
        logging.getLogger("connectors.test").warning("outside a request")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["message"] == "turn took 42 ms" and first["level"] == "WARNING"
    assert (first["service"], first["request_id"], first["channel"]) == ("gateway", "lb-7", "web")
    assert first["logger"] == "connectors.test" and "time" in first
    assert second["request_id"] == ""


def test_text_format_and_added_filters(captured: io.StringIO) -> None:
    class Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = str(record.msg).replace("secret", "[redacted]")
            return True

    handler = logs.setup_logging("actions", {"LOG_FORMAT": "text"}, captured)
    logs.add_filter(Redact())
    try:
        logging.getLogger("actions.test").warning("the secret word")
    finally:
        logging.getLogger().removeHandler(handler)
        logs._extra_filters.clear()
    line = captured.getvalue().strip()
    assert "WARNING actions.test [" in line and line.endswith("the [redacted] word")


def test_request_ids_from_outside_are_kept_only_when_harmless() -> None:
    assert logs.new_request_id("abc-123") == "abc-123"
    for bad in ("x" * 65, "<script>", "a b", "ünï", None, ""):
        made = logs.new_request_id(bad)
        assert len(made) == 32 and made != bad
