"""Run in .venv-rasa through ``python -m logsafe.run``: rasa's own logging set up as ``rasa run`` does, then the
error rasa's processor logs when an action server answers 500 with a tracker echo (tests/security)."""

from __future__ import annotations

import asyncio
import logging

from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.endpoints import ClientResponseError
from rasa.utils.io import configure_colored_logging

BODY = (
    '{"error":"boom","request_body":{"sender_id":"web:feed47b1179543fe","tracker":{"slots":'
    '{"email":"emma.lee@example.com","postcode":"BN1 1GL"},"latest_message":{"text":"invoice please"}}}}'
)


async def main() -> None:
    configure_logging_and_warnings(logging.INFO)
    configure_colored_logging(logging.INFO)
    logger = logging.getLogger("rasa.core.processor")
    try:
        try:
            raise ClientResponseError(500, "Internal Server Error", BODY)
        except ClientResponseError as error:
            raise RuntimeError("Failed to execute custom action 'action_continue_goal'") from error
    except RuntimeError:
        logger.exception("Encountered an exception while running action 'action_continue_goal'.")
    logger.info("Received user message 'my email is emma.lee@example.com' from web:feed47b1179543fe")


asyncio.run(main())
