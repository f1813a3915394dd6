"""Runs in the rasa environment for tests/bot/test_turn_speedups.py; prints one JSON object.

Calls a small local HTTP server through rasa's ``EndpointConfig.request`` (what rasa uses for action calls) and
counts the TCP connections it sees: with bot/turn_speedups.py one connection serves consecutive calls, a new one is
opened after it idled past ``KEEPALIVE_SECONDS``, and calls keep working after the server restarts. Then what an
action call gets when its retries run out (``ACTION_RETRY_SECONDS`` is 1 here): the apology in an action server's
503, rasa's own apology when nothing answered, and an error (as before) for a request that is no action call.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402

import bot  # noqa: E402,F401  (applies the speedups)
from bot import turn_speedups  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(port: int, peers: list) -> web.AppRunner:
    async def handler(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"events": [], "responses": [], "echo": await request.json()})

    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def serve_busy(port: int, calls: list) -> web.AppRunner:
    """An action server whose database is down: 503 with the apology it wants given if rasa gives up."""

    async def handler(request: web.Request) -> web.Response:
        calls.append(await request.json())
        return web.json_response({"events": [], "responses": [{"text": "sorry from the action server"}]}, status=503)

    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def gave_up() -> dict:
    """What calls whose retries ran out returned (or raised)."""
    call = {"next_action": "action_shipping_info", "tracker": {}}
    port, calls = free_port(), []
    runner = await serve_busy(port, calls)
    busy = await EndpointConfig(f"http://127.0.0.1:{port}/webhook").request(json=call, method="post")
    await runner.cleanup()
    unreached = await EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook").request(json=call, method="post")
    try:
        await EndpointConfig(f"http://127.0.0.1:{free_port()}/nlg").request(json={"template": "x"}, method="post")
        not_an_action = "returned"
    except Exception as error:  # noqa: BLE001 - the kind is what is reported
        not_an_action = type(error).__name__
    return {
        "busy_answer": busy,
        "busy_attempts": len(calls),
        "unreached_answer": unreached,
        "not_an_action_call": not_an_action,
    }


async def main() -> None:
    port, peers = free_port(), []
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="secret")
    runner = await serve(port, peers)
    answers = [await endpoint.request(json={"n": n}, method="post") for n in range(3)]
    first_three = len(set(peers))
    await asyncio.sleep(turn_speedups.KEEPALIVE_SECONDS + 1)
    await endpoint.request(json={"n": 3}, method="post")
    after_idle = len(set(peers))
    await runner.cleanup()
    runner = await serve(port, peers)
    restarted = await endpoint.request(json={"n": 4}, method="post")
    await runner.cleanup()
    print(
        json.dumps(
            {
                **await gave_up(),
                "echoed": [a["echo"]["n"] for a in answers],
                "connections_for_three_calls": first_three,
                "connections_after_idle": after_idle,
                "answered_after_restart": restarted["echo"]["n"],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
