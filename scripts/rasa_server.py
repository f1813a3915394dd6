"""``rasa run`` with its HTTP API behind a token that never appears on a command line; used by scripts/stack.py.

Rasa takes the API token only as ``--auth-token`` on its command line, which every local user can read in
``ps``. This wrapper (run with the rasa environment's Python: ``.venv-rasa/bin/python -m scripts.rasa_server
run ...``) reads ``RASA_API_TOKEN`` from the environment instead and hands it to rasa inside the process.
With it, every route of rasa's HTTP API (``/model/parse``, ``/conversations/...``, ``/model``, ...) needs
``?token=<RASA_API_TOKEN>``; the channel webhooks (``/webhooks/gateway/webhook``) keep their own check.
"""

from __future__ import annotations

import os
import sys

TOKEN_VAR = "RASA_API_TOKEN"  # noqa: S105 - the variable's name, not a token


def main() -> None:
    """Start rasa with the given arguments plus ``--auth-token`` from ``RASA_API_TOKEN``; exit 2 without it."""
    token = os.environ.get(TOKEN_VAR, "").strip()
    args = sys.argv[1:]
    if "--enable-api" in args and not token:
        sys.stderr.write(
            f"{TOKEN_VAR} is not set: rasa's HTTP API would answer anyone on this machine. Start the stack with "
            "`make run` (it keeps the token in var/rasa_api_token) or export a token.\n"
        )
        sys.exit(2)
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        sys.stderr.write(f"pass the API token in {TOKEN_VAR}, not on the command line (ps shows it to everyone)\n")
        sys.exit(2)
    if token:
        args = [*args, f"--auth-token={token}"]  # one argument: a token may start with "-" (token_urlsafe)
    sys.argv = ["rasa", *args]  # /proc/<pid>/cmdline keeps the original arguments, without the token
    from rasa.__main__ import main as rasa_main  # imported here: rasa takes seconds to import

    rasa_main()


if __name__ == "__main__":
    main()
