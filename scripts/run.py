"""`make run`: starts rasa, the action server and the gateway on the embedded defaults; Ctrl-C stops them."""

from __future__ import annotations

import os
import signal
import sys
import time

from scripts.stack import Stack, StackConfig, StackError


def main() -> int:
    """Start everything, print where to go, and wait for Ctrl-C or a crash."""
    config = StackConfig.default()
    stack = Stack(config)
    print("==> Starting the action server, rasa (about 30 s to load the model) and the gateway", flush=True)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    # Ctrl-C raises KeyboardInterrupt even when this process was started with SIGINT ignored (a non-interactive
    # shell starts `cmd &` that way, and Python then leaves it ignored: Ctrl-C did nothing and the stack ran on).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.start(progress=sys.stdout)
    except KeyboardInterrupt:
        print("\n==> Interrupted while starting; stopping", flush=True)
        stop_all(stack)
        return 130
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Fix the error above (logs are in var/log/), then run `make run` again.", file=sys.stderr)
        return 1
    print(
        f"""
==> Ready.
    Demo shop with chat:       {config.gateway_url}/
    In-store tablet:           {config.gateway_url}/tablet  (make tablet STORE=LDN-01)
    Support console:           {config.gateway_url}/console  (make console-user EMAIL=you@shop.example)
    Telegram / Slack:          {channel_status()}
    Rasa HTTP API:             {config.rasa_url}/  (needs ?token=$(cat var/rasa_api_token) or $RASA_API_TOKEN)
    Action server:             {config.actions_url}/health  (only rasa may call its actions)
    Logs:                      {config.log_dir}/
    Try a demo case:           make demo-cases
Press Ctrl-C to stop all three.""",
        flush=True,
    )
    try:
        while not stopping:
            dead = stack.dead()
            if dead:
                for service in dead:
                    print(f"error: {service.name} stopped unexpectedly; its log:\n{service.tail()}", file=sys.stderr)
                stop_all(stack)
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    print("\n==> Stopping rasa, the action server and the gateway", flush=True)
    stop_all(stack)
    print("==> Stopped.", flush=True)
    return 0


def stop_all(stack: Stack, grace: float = 10.0) -> None:
    """Stop the stack; a second Ctrl-C (or SIGTERM) meanwhile is acknowledged, not allowed to abandon it.

    Args:
        stack: the started (or partly started) stack.
        grace: seconds each process gets to stop before it is killed.
    """

    def _patience(*_: object) -> None:
        print(f"==> Still stopping (processes are killed after {grace:.0f} s)", flush=True)

    signal.signal(signal.SIGINT, _patience)
    signal.signal(signal.SIGTERM, _patience)
    stack.stop(grace)


def channel_status() -> str:
    """Which token-configured channels the gateway will start (they need credentials from the platform)."""
    channels = (("Telegram", "TELEGRAM_BOT_TOKEN"), ("Slack", "SLACK_BOT_TOKEN"))
    on = [name for name, var in channels if os.environ.get(var)]
    return ("on: " + ", ".join(on)) if on else "off (set TELEGRAM_BOT_TOKEN / SLACK_BOT_TOKEN: connectors/README.md)"


if __name__ == "__main__":
    sys.exit(main())
