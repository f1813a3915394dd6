"""Register wrapping: our own training lines as an email or a tweet (`python -m nlu_train.registers`).

Outside customer-service text wraps a request in a letter ("To whom it may concern, ... Kind regards, Sue") or a
tweet ("@shop ... 📦 #help"). A model that saw openers and sign-offs only on complaints reads every formal
letter as a complaint, and one that saw @handles only on tracking questions reads every tweet as one. This
takes a fixed sample of each intent's existing examples (never held-out text) and wraps them in openers,
sign-offs, handles, emojis and hashtags spread over all intents, so the wrapping carries no intent. Output:
nlu_data/nlu/registers_wrapped.yml (generated, deterministic; rerun after large data changes).
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path
from typing import Dict, List, Sequence

import yaml

OPENERS = [
    "Dear team,",
    "Dear Customer Services,",
    "To whom it may concern,",
    "Hello,",
    "Hi there,",
    "Good morning,",
    "Good afternoon,",
    "Dear Sir or Madam,",
    "Dear Sir/Madam,",
    "Hiya,",
]
# Sign-offs with and without a comma, and a name after a bare "Thanks": the NER learns a name from where it
# stands and how it is written, not from a short list it can memorise.
SIGN_OFFS = [
    "Kind regards, [{name}](person)",
    "Regards, [{name}](person)",
    "Regards [{name}](person)",
    "Many thanks, [{name}](person)",
    "Best wishes",
    "Thanks in advance",
    "Yours faithfully, [{name}](person)",
    "Yours sincerely, [{name}](person)",
    "Regards",
    "Thank you, [{name}](person)",
    "Thanks [{name}](person)",
    "Cheers, [{name}](person)",
    "Best, [{name}](person)",
    "Ta, [{name}](person)",
    "Thanks, [{name}](person)",
    "[{name}](person)",
]
# First names, full names, initials and titles from many backgrounds (none of them a held-out file's).
NAMES = [
    "Alice", "Tom Baker", "Mrs. Okafor", "Jamie", "R. Singh", "Mr. Novak", "Chloe", "Dev", "Ms. Hart", "Leo",
    "Gemma", "Callum Reid", "Fatima", "Bartosz Nowak", "Eilidh", "Kwame Mensah", "Rosie", "Imran Qureshi",
    "J. McAllister", "Ngozi", "Declan Byrne", "Mrs Ferguson", "Tomasz", "Aoife Kelly", "Yusuf", "Beth Lloyd",
    "P. Ramirez", "Hannah Cohen", "Mr Adebayo", "Kirsty", "Arjun Mehta", "Ewa", "Gareth Price", "Li Wei",
    "Dr. Osei", "Morven", "Lauren O'Neill", "Stefan Becker", "Niamh", "Ms Lindqvist", "Ravi", "Bridget Moss",
    "K. Achterberg", "Zainab", "Hamish Grant", "Sunita Rao", "Dominic", "Mrs. D. Walsh", "Tariq", "Freya Dunn",
]  # fmt: skip
HANDLES = ["@shop", "@shop_help", "@ShopSupportUK", "@shopcare"]
EMOJIS = ["🙏", "📦", "🙂", "😩", "💄", "👀", "✨", "🤞"]
HASHTAGS = ["#help", "#customerservice", "#skincare", "#question", "#beauty"]

SKIP_FILES = {"multilingual.yml", "lookups.yml", "regex.yml", "registers_wrapped.yml"}
PER_INTENT = {"out_of_scope": 20}
DEFAULT_PER_INTENT = 8
SMALL_INTENTS = {"manage_channels", "unlink_channel", "notifications_opt_in", "notifications_opt_out", "resume_return"}


def _lines(folder: Path) -> Dict[str, List[str]]:
    """Annotated example lines per intent, from every file but the skipped ones."""
    found: Dict[str, List[str]] = {}
    for path in sorted(folder.glob("*.yml")):
        if path.name in SKIP_FILES:
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in block:
                continue
            for raw in (block.get("examples") or "").splitlines():
                raw = raw.strip()
                if raw.startswith("- "):
                    found.setdefault(block["intent"], []).append(raw[2:].strip())
    return found


def _plain_words(line: str) -> int:
    return len(re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line).split())


def email(body: str, rng: random.Random) -> str:
    """`body` between an opener and a sign-off."""
    body = body[0].upper() + body[1:]
    if body[-1] not in ".?!":
        body += "."
    sign_off = rng.choice(SIGN_OFFS).format(name=rng.choice(NAMES))
    return f"{rng.choice(OPENERS)} {body} {sign_off}"


def tweet(body: str, rng: random.Random) -> str:
    """`body` after a handle, with an emoji or a hashtag (or both)."""
    tail = rng.choice([rng.choice(EMOJIS), rng.choice(HASHTAGS), f"{rng.choice(EMOJIS)} {rng.choice(HASHTAGS)}"])
    return f"{rng.choice(HANDLES)} {body} {tail}"


def wrap(lines: Dict[str, List[str]], seed: int = 14) -> Dict[str, List[str]]:
    """Per intent, a fixed sample of its lines as emails and tweets (half each)."""
    rng = random.Random(seed)
    out: Dict[str, List[str]] = {}
    for intent in sorted(lines):
        candidates = sorted({ln for ln in lines[intent] if _plain_words(ln) >= 2 and "@" not in ln})
        n = PER_INTENT.get(intent, 3 if intent in SMALL_INTENTS else DEFAULT_PER_INTENT)
        picked = rng.sample(candidates, min(n, len(candidates)))
        out[intent] = [email(ln, rng) if k % 2 == 0 else tweet(ln, rng) for k, ln in enumerate(picked)]
    return out


def render(wrapped: Dict[str, List[str]]) -> str:
    """Rasa YAML for the wrapped lines."""
    parts = [
        'version: "3.1"',
        "",
        "# GENERATED by `python -m nlu_train.registers` from our own training lines (see its docstring):",
        "# emails and tweets around existing examples, so openers, sign-offs and @handles carry no intent.",
        "",
        "nlu:",
    ]
    for intent, lines in wrapped.items():
        parts += [f"- intent: {intent}", "  examples: |"] + [f"    - {ln}" for ln in lines]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the wrapped file."""
    ap = argparse.ArgumentParser(prog="python -m nlu_train.registers", description=__doc__)
    ap.add_argument("--data", default="nlu_data/nlu")
    ap.add_argument("--out", default="nlu_data/nlu/registers_wrapped.yml")
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args(argv)
    Path(args.out).write_text(render(wrap(_lines(Path(args.data)), args.seed)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
