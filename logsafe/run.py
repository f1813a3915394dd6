"""``python -m logsafe.run MODULE [ARGS...]``: run a program's ``__main__`` with logsafe installed first.

scripts/stack.py starts rasa this way (``python -m logsafe.run rasa run ...``), so rasa's own log lines (its
processor logs an action server's error body, which used to be a whole tracker) pass logsafe.sanitize.
"""

from __future__ import annotations

import runpy
import sys

from logsafe import install


def main() -> None:
    """Install logsafe, then run ``MODULE`` as ``python -m MODULE ARGS...`` would."""
    if len(sys.argv) < 2:
        sys.exit("usage: python -m logsafe.run MODULE [ARGS...]")
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    install()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
