"""Conversation bench: whole multi-turn conversations, written blind, against the real stack.

Seeds a fresh demo shop in a temporary folder, trains its recommender, starts rasa, the action server and the
gateway on free loopback ports (scripts/demo_stack.py), registers an in-store tablet for LDN-01, and plays
every conversation of the given files (tests/conversations/*.yml by default; the format is in
tests/conversations/README.md) one after the other through the web API (or the tablet's), putting the shop's
orders back after each one. Prints the pass rate by area, the problems by kind (silent turns, wrong facts,
disclosures, orders changed by a question, ...) and every failing turn with what the bot said; writes
var/bench/conversation_bench.json with every turn.

    .venv/bin/python bench/conversation_bench.py                                   # every file
    .venv/bin/python bench/conversation_bench.py tests/conversations/blind_a.yml --area returns
    .venv/bin/python bench/conversation_bench.py --only track-03,ret-07 --transcripts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.conversations import (  # noqa: E402
    Conversation,
    ConversationFileError,
    ConversationResult,
    Shop,
    load_conversations,
    register_tablet,
    report,
    run_all,
    shop_file,
    tally,
    transcript,
)
from scripts.demo_stack import (  # noqa: E402
    MODEL,
    DemoSetupError,
    local_stack_config,
    seed_demo_shop,
    train_recommender,
)
from scripts.stack import Stack, StackError  # noqa: E402

DEFAULT_DIR = ROOT / "tests" / "conversations"


def log(message: str) -> None:
    """A progress line on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def newer_than_model() -> str:
    """A training input changed after the model was trained ('' when none did), as `make model` judges it."""
    built = MODEL.stat().st_mtime
    inputs = [ROOT / "config.yml", ROOT / "domain.yml", *(ROOT / "nlu_data").rglob("*.yml")]
    inputs += list((ROOT / "bot").glob("*.py"))
    newer = [path for path in inputs if path.stat().st_mtime > built]
    return str(newer[0].relative_to(ROOT)) if newer else ""


def select(conversations: list[Conversation], only: str | None, area: str | None) -> list[Conversation]:
    """The conversations named by ``--only`` (ids, comma-separated) and ``--area``."""
    if only:
        wanted = {w.strip() for w in only.split(",") if w.strip()}
        conversations = [c for c in conversations if c.id in wanted]
    if area:
        conversations = [c for c in conversations if c.area == area]
    return conversations


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def git_commit() -> str:
    """The checked-out commit (for the JSON), or '' outside a git checkout."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def run(conversations: list[Conversation], work: Path, show_transcripts: bool) -> tuple[list[ConversationResult], bool]:
    """Start a stack in ``work``, run the conversations; return the results and whether a process died."""
    log(f"seeding a demo shop and training its recommender in {work}")
    shop = seed_demo_shop(work)
    settings = {
        "RECOMMENDER_ARTIFACTS": str(train_recommender(work, shop)),
        # every conversation comes from 127.0.0.1
        "GATEWAY_WEB_RATE_PER_ADDRESS": "1000000",
        "GATEWAY_WEB_RATE_PER_CONVERSATION": "100000",
        # one registered tablet stands for every tablet conversation (each a shopper on another day)
        "TABLET_STAFF_CALLS_PER_HOUR": "100",
    }
    config = local_stack_config(work, shop, settings)
    stack = Stack(config)
    log("starting rasa, the action server and the gateway (about a minute)")
    try:
        stack.start(timeout=300, progress=sys.stdout)
        token = register_tablet(config.gateway_db_url, shop.db_url)
        state = Shop(shop_file(shop.db_url))
        started = time.perf_counter()

        def progress(done: int, total: int, result: ConversationResult) -> None:
            mark = "ok  " if result.passed else "FAIL"
            print(f"  [{done:3d}/{total}] {mark} {result.conversation.id}", flush=True)
            if show_transcripts:
                print(transcript(result), flush=True)

        results = asyncio.run(
            run_all(
                conversations,
                gateway_url=config.gateway_url,
                cases=shop.cases,
                shop=state,
                tablet_token=token,
                rasa_url=config.rasa_url,
                rasa_token=config.api_token,
                progress=progress,
            )
        )
        log(f"{len(results)} conversations in {time.perf_counter() - started:.0f} s")
        return results, bool(stack.dead())
    finally:
        stack.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring. Returns 1 when a conversation failed, 2 on setup errors."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="conversation files (default tests/conversations/*.yml)")
    parser.add_argument("--only", help="run only these conversation ids (comma-separated)")
    parser.add_argument("--area", help="run only this area")
    parser.add_argument("--transcripts", action="store_true", help="print every conversation as it runs")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench", help="where the JSON goes")
    parser.add_argument("--keep-logs", action="store_true", help="copy the three processes' logs to OUT")
    args = parser.parse_args(argv)
    files: list[Path] = args.files or sorted(DEFAULT_DIR.glob("*.yml"))
    if not files:
        parser.error(f"no conversation files given and none in {DEFAULT_DIR}")
    conversations: list[Conversation] = []
    try:
        for path in files:
            conversations += load_conversations(path)
    except (ConversationFileError, OSError) as error:
        print(f"cannot read the conversations: {error}", file=sys.stderr)
        return 2
    conversations = select(conversations, args.only, args.area)
    if not conversations:
        print("no conversation matches --only/--area", file=sys.stderr)
        return 2
    if not MODEL.exists():
        print(f"no trained model at {MODEL}: run `make model` first", file=sys.stderr)
        return 2
    stale = newer_than_model()
    if stale:
        log(f"warning: {stale} is newer than {MODEL.name}: run `make model` to measure the current bot")
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)  # so `kill` stops the stack as Ctrl-C does
    names = [str(f.resolve().relative_to(ROOT)) if f.resolve().is_relative_to(ROOT) else str(f) for f in files]
    log(f"{len(conversations)} conversations from {', '.join(names)}")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="conversation-bench-"))
    keep_logs, code = args.keep_logs, 0
    try:
        results, died = run(conversations, work, args.transcripts)
        text = report(results)
        print("\n" + text + "\n", flush=True)
        summary = tally(results)
        payload: dict[str, Any] = {
            "meta": {
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "commit": git_commit(),
                "files": [str(f) for f in files],
                "model_older_than": stale,
                "load_after": os.getloadavg()[0],
            },
            "summary": summary,
            "conversations": [
                {
                    "id": r.conversation.id,
                    "area": r.conversation.area,
                    "channel": r.conversation.channel,
                    "passed": r.passed,
                    "turns": [asdict(t) for t in r.turns],
                }
                for r in results
            ],
        }
        (out / "conversation_bench.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False))
        log(f"every turn in {out / 'conversation_bench.json'}")
        if died:
            print("a process died during the bench: see the logs", file=sys.stderr)
            keep_logs, code = True, 1
        elif summary["passed"] < summary["conversations"]:
            code = 1
    except (StackError, DemoSetupError, RuntimeError) as error:
        print(f"conversation bench failed: {error}", file=sys.stderr)
        keep_logs, code = True, 2
    except KeyboardInterrupt:
        print("interrupted: the three processes are stopped", file=sys.stderr)
        code = 130
    finally:
        if keep_logs and (work / "log").is_dir():
            kept = out / "conversation_bench-logs"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(work / "log", kept)
            print(f"logs of rasa, the action server and the gateway in {kept}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
