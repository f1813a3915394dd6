"""The action server's entry (``python -m actions.server``, started by scripts/stack.py): rasa-sdk, guarded.

rasa-sdk's own server answers anyone who can reach its port, with any body, and allows every origin. A
page in a local browser could then post a forged tracker to it blind (``Content-Type: text/plain`` needs
no preflight). This entry serves the same rasa-sdk app with three changes:

- every call but ``GET /health`` must carry ``?token=`` equal to ``ACTION_SERVER_TOKEN``, the secret
  rasa sends because endpoints.yml names it (``action_endpoint.token``); refused calls get 401 and a log
  line (rasa-sdk checks no token itself);
- ``POST /webhook`` accepts only ``application/json`` (415 otherwise), so no form or text post gets in;
- no CORS headers at all, and the server binds loopback (``ACTIONS_HOST``, default 127.0.0.1).

It serves in ONE process (Sanic's single-process mode), not Sanic's default manager plus worker: on SIGTERM the
manager could spin forever at 100% CPU in ``WorkerManager.wait_for_ack`` once its worker was gone
(sanic-org/sanic#2997), and a stopped stack left it and its spawn_main children eating a core. One process has no
such handshake: SIGTERM (or Ctrl-C) stops accepting, lets calls in flight finish (up to
``GRACEFUL_SHUTDOWN_TIMEOUT``, 15 s), and exits; the pid the stack started is the whole server.

What a call then says about its sender is still only believed through the gateway's signed claim
(`actions.common.channel_context`).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger("actions.server")

DEFAULT_PORT = 5055
DEFAULT_HOST = "127.0.0.1"
TOKEN_VAR = "ACTION_SERVER_TOKEN"  # noqa: S105 - the variable's name, not a token
#: Paths anyone on loopback may GET without the token: the stack waits on /health before rasa starts, and
#: Prometheus scrapes /metrics (counters and histograms by action name, nothing about a customer).
OPEN_PATHS = frozenset({"/health", "/metrics"})


def guard(token: str) -> object:
    """A Sanic request middleware refusing calls without ``token`` and webhook bodies that are not JSON.

    Args:
        token: ``ACTION_SERVER_TOKEN``; an empty one refuses every guarded call.
    """
    expected = token.encode("utf-8")

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS and request.method in ("GET", "HEAD"):
            return None
        supplied = str(request.args.get("token") or "").encode("utf-8")
        if not expected or not hmac.compare_digest(supplied, expected):
            logger.warning("refused a %s %s without the rasa token", request.method, request.path)
            return response.json({"error": "missing or wrong token"}, status=401)
        if request.method == "POST":
            content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
            if content_type != "application/json":
                logger.warning("refused a %s body on %s", content_type or "typeless", request.path)
                return response.json({"error": "send the body as application/json"}, status=415)
        return None

    return check


def build_app(token: str, package: str = "actions") -> Sanic:
    """rasa-sdk's app for the actions in ``package``, behind `guard`, without CORS.

    Args:
        token: ``ACTION_SERVER_TOKEN``.
        package: The actions package to register.

    Returns:
        The Sanic app.
    """
    executor = ActionExecutor()
    executor.register_package(package)
    app = create_app(executor, cors_origins="")
    app.register_middleware(guard(token), "request")
    # what `python -m rasa_sdk` does after building its app: the plugins (rasa_sdk_plugins: metrics and request
    # ids; actions.guard: a failing action ends in an apology, not a 500 echoing the tracker into rasa's log)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Serve the actions on loopback with the token guard; 2 when ``ACTION_SERVER_TOKEN`` is missing.

    Args:
        argv: Command-line arguments (``--port``, ``--actions``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTIONS_PORT", DEFAULT_PORT)))
    parser.add_argument("--actions", default="actions", help="the actions package (default: actions)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("ACTIONS_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    token = os.environ.get(TOKEN_VAR, "").strip()
    if not token:
        logger.error(
            "%s is not set: the action server would refuse every call. Start it with `make run` (which keeps "
            "the token in var/action_server_token) or export the same value rasa's endpoints.yml sends.",
            TOKEN_VAR,
        )
        return 2
    host = os.environ.get("ACTIONS_HOST", "").strip() or DEFAULT_HOST
    app = build_app(token, args.actions)
    # single_process: no manager process to hang in wait_for_ack after SIGTERM (see the module docstring)
    app.prepare(host=host, port=args.port, access_log=False, single_process=True)
    logger.info("action server on http://%s:%d (calls need rasa's token; GET /health is open)", host, args.port)
    Sanic.serve_single(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
