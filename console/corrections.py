"""Intent/entity corrections of user messages, their export as Rasa NLU YAML and the merge into nlu_data/nlu/."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from console.errors import BadInput, NotFound
from console.models import ConsoleCorrection
from console.redact import redact
from console.tracker import ID_MARK, id_spans, quoted_ids, sender_events
from console.transcript import entities_json, user_event

REPO_ROOT = Path(__file__).resolve().parent.parent
DOMAIN_FILE = REPO_ROOT / "domain.yml"
NLU_DIR = REPO_ROOT / "nlu_data" / "nlu"
MERGE_FILE_NAME = "corrections.yml"
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Vocabulary:
    """Intents and entities the assistant knows (from domain.yml); corrections must use these."""

    intents: frozenset[str]
    entities: frozenset[str]

    @classmethod
    def load(cls, domain_file: Path = DOMAIN_FILE) -> Vocabulary:
        """Read intent and entity names from a Rasa domain file."""
        domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}

        def names(items: Any) -> frozenset[str]:
            out = set()
            for item in items or []:
                out.add(next(iter(item)) if isinstance(item, dict) else str(item))
            return frozenset(out)

        return cls(names(domain.get("intents")), names(domain.get("entities")))


def _spans(text: str, entities: list[Any], vocabulary: Vocabulary) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    for i, item in enumerate(entities):
        if not isinstance(item, dict) or not isinstance(item.get("entity"), str):
            raise BadInput(f"entities[{i}] must be an object with 'entity'", field="entities")
        name = item["entity"]
        if name not in vocabulary.entities:
            raise BadInput(f"entities[{i}]: {name!r} is not an entity in domain.yml", field="entities")
        if isinstance(item.get("start"), int) and isinstance(item.get("end"), int):
            start, end = item["start"], item["end"]
        elif isinstance(item.get("value"), str) and item["value"]:
            start = text.find(item["value"])
            if start < 0:
                raise BadInput(f"entities[{i}]: {item['value']!r} does not occur in the message", field="entities")
            end = start + len(item["value"])
        else:
            raise BadInput(f"entities[{i}] needs 'start' and 'end', or a 'value' from the message", field="entities")
        if not 0 <= start < end <= len(text):
            raise BadInput(f"entities[{i}]: span {start}..{end} is outside the message", field="entities")
        spans.append({"entity": name, "start": start, "end": end})
    spans.sort(key=lambda s: (s["start"], s["end"]))
    for a, b in zip(spans, spans[1:], strict=False):
        if b["start"] < a["end"]:
            raise BadInput("entities overlap", field="entities")
    return spans


def save_correction(
    sessions: sessionmaker[Session],
    tracker: Engine,
    vocabulary: Vocabulary,
    *,
    sender_id: str,
    event_id: int,
    intent: Any,
    entities: Any,
    user_id: int,
) -> dict[str, Any]:
    """Record the right intent (and entities) of one user message; a second correction replaces the first.

    Args:
        sessions: gateway database sessions.
        tracker: rasa's tracker store (the message text is read from there).
        vocabulary: known intents and entities.
        sender_id: the conversation.
        event_id: the tracker row id of the user message.
        intent: the right intent.
        entities: ``None`` keeps the predicted entities; else a list of ``{"entity", "value"}`` (the value must
            occur in the message) or ``{"entity", "start", "end"}``.
        user_id: who corrected it.

    Returns:
        The correction as JSON.

    Raises:
        NotFound: no such user message in this conversation.
        BadInput: unknown intent or entity, or bad spans.
    """
    if not isinstance(intent, str) or intent not in vocabulary.intents:
        raise BadInput("'intent' must be one of the intents in domain.yml", field="intent")
    event = user_event(sender_events(tracker, sender_id), event_id)
    if event is None:
        raise NotFound("no such user message in this conversation")
    text = str(event.get("text") or "")
    if text.startswith("/"):
        raise BadInput("button presses are not training examples", field="event_id")
    parse = event.get("parse_data") or {}
    if entities is None:
        predicted = [
            e for e in parse.get("entities") or [] if isinstance(e, dict) and e.get("entity") in vocabulary.entities
        ]
        spans = _spans(
            text, [{"entity": e["entity"], "start": e.get("start"), "end": e.get("end")} for e in predicted], vocabulary
        )
    elif isinstance(entities, list):
        spans = _spans(text, entities, vocabulary)
    else:
        raise BadInput("'entities' must be a list", field="entities")
    with sessions() as session, session.begin():
        row = session.scalar(select(ConsoleCorrection).where(ConsoleCorrection.event_id == event_id))
        if row is None:
            row = ConsoleCorrection(event_id=event_id, sender_id=sender_id)
            session.add(row)
        row.text = text
        row.predicted_intent = (parse.get("intent") or {}).get("name")
        row.intent = intent
        row.entities = entities_json(spans)
        row.user_id = user_id
        row.created_at = datetime.now(UTC).replace(tzinfo=None)
        session.flush()
        return correction_json(row, raw_text=True, ids=quoted_ids(session, [text], [sender_id]))


def correction_json(
    row: ConsoleCorrection, *, raw_text: bool, public_id: str | None = None, ids: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A correction for the API; the example is redacted unless ``raw_text``.

    The conversation is named by its console id (``public_id``), never by its sender id; conversation ids
    the example quotes (``ids``: its own and others', from `console.tracker.quoted_ids`) never show.
    """
    return {
        "id": row.id,
        "event_id": row.event_id,
        "conversation": public_id,
        "predicted_intent": row.predicted_intent,
        "intent": row.intent,
        "entities": json.loads(row.entities),
        "example": annotate(row.text, json.loads(row.entities), raw_text=raw_text, ids=ids),
    }


def annotate(text: str, spans: list[dict[str, Any]], *, raw_text: bool, ids: frozenset[str] = frozenset()) -> str:
    """Rasa's inline annotation ``[value](entity)``; personal data becomes surrogate values unless ``raw_text``.

    A conversation id in the text (one in ``ids``, or any that looks generated) becomes ``[conversation id]``
    for every role, as in transcripts; found on the whole text, so entity spans cannot cut one into pieces
    short enough to pass.
    """
    marks = id_spans(text, ids)

    def clean(start: int, end: int) -> str:
        out, pos = [], start
        for mark_start, mark_end in marks:
            if mark_end <= start or mark_start >= end:
                continue
            out.append(text[pos : max(pos, mark_start)])
            if mark_start >= start:
                out.append(ID_MARK)  # once per id, in the piece where it starts
            pos = min(end, mark_end)
        out.append(text[pos:end])
        piece = "".join(out)
        return piece if raw_text else redact(piece, surrogate=True)

    out, pos = [], 0
    for span in spans:
        out.append(clean(pos, span["start"]))
        value = clean(span["start"], span["end"]).replace("[", "(").replace("]", ")")
        out.append(f"[{value}]({span['entity']})")
        pos = span["end"]
    out.append(clean(pos, len(text)))
    # One example per line: Rasa's examples block is a list of single lines.
    return " ".join("".join(out).split())


def export_yaml(sessions: sessionmaker[Session], *, raw_text: bool) -> tuple[str, int]:
    """Every correction as Rasa NLU training data.

    Returns:
        The YAML text (``version: "3.1"``, ``nlu:`` blocks per intent) and how many examples it holds.
    """
    by_intent: dict[str, list[str]] = defaultdict(list)
    with sessions() as session:
        rows = list(session.scalars(select(ConsoleCorrection).order_by(ConsoleCorrection.intent, ConsoleCorrection.id)))
        ids = quoted_ids(session, [r.text for r in rows], [r.sender_id for r in rows])
        for row in rows:
            example = annotate(row.text, json.loads(row.entities), raw_text=raw_text, ids=ids)
            if example and example not in by_intent[row.intent]:
                by_intent[row.intent].append(example)
    return render_nlu(by_intent), sum(len(v) for v in by_intent.values())


def render_nlu(by_intent: dict[str, list[str]], header: str = "") -> str:
    """Rasa 3.x NLU YAML for examples grouped by intent."""
    lines = ['version: "3.1"']
    if header:
        lines += ["", *(f"# {h}" for h in header.splitlines())]
    lines += ["", "nlu:"]
    for intent in sorted(by_intent):
        if not by_intent[intent]:
            continue
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in by_intent[intent]]
    return "\n".join(lines) + "\n"


def _plain(example: str) -> str:
    return " ".join(_ANNOTATION.sub(r"\1", example).lower().split())


def _read_examples(path: Path) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, list[str]] = defaultdict(list)
    for block in data.get("nlu") or []:
        if isinstance(block, dict) and "intent" in block and isinstance(block.get("examples"), str):
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out[str(block["intent"])].append(line[2:].strip())
    return out


@dataclass
class MergeReport:
    """What ``merge-corrections`` did."""

    added: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    unknown_intents: list[tuple[str, str]] = field(default_factory=list)

    def render(self) -> str:
        """A human-readable report."""
        lines = [
            f"added {len(self.added)}, duplicates skipped {len(self.duplicates)}, "
            f"conflicts skipped {len(self.conflicts)}, unknown intents skipped {len(self.unknown_intents)}"
        ]
        lines += [f"  added      {intent}: {ex}" for intent, ex in self.added]
        lines += [f"  duplicate  {intent}: {ex}" for intent, ex in self.duplicates]
        lines += [
            f"  CONFLICT   {ex!r} is {intent} here but already {other} in nlu_data"
            for intent, ex, other in self.conflicts
        ]
        lines += [f"  UNKNOWN    intent {intent!r} is not in domain.yml: {ex}" for intent, ex in self.unknown_intents]
        return "\n".join(lines)


def merge_corrections(export: Path, nlu_dir: Path = NLU_DIR, domain_file: Path = DOMAIN_FILE) -> MergeReport:
    """Merge an export into ``nlu_dir/corrections.yml``.

    An example already present under the same intent (ignoring annotations, case and spacing) is a
    duplicate; under another intent it is a conflict. Both are skipped and reported.

    Args:
        export: a file written by the console's export.
        nlu_dir: the NLU training data folder.
        domain_file: the domain (intents must exist there).

    Returns:
        The report.

    Raises:
        BadInput: the export is not NLU YAML.
    """
    try:
        incoming = _read_examples(export)
    except (yaml.YAMLError, AttributeError) as exc:
        raise BadInput(f"{export} is not Rasa NLU YAML: {exc}") from exc
    vocabulary = Vocabulary.load(domain_file)
    target = nlu_dir / MERGE_FILE_NAME
    seen: dict[str, str] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        for intent, examples in _read_examples(path).items():
            for example in examples:
                seen.setdefault(_plain(example), intent)
    merged = _read_examples(target) if target.exists() else defaultdict(list)
    report = MergeReport()
    for intent, examples in incoming.items():
        for example in examples:
            key = _plain(example)
            if intent not in vocabulary.intents:
                report.unknown_intents.append((intent, example))
            elif key in seen and seen[key] == intent:
                report.duplicates.append((intent, example))
            elif key in seen:
                report.conflicts.append((intent, example, seen[key]))
            else:
                merged[intent].append(example)
                seen[key] = intent
                report.added.append((intent, example))
    if report.added:
        header = "Examples corrected in the support console (python -m console merge-corrections)."
        target.write_text(render_nlu(merged, header), encoding="utf-8")
    return report


def delete_correction(sessions: sessionmaker[Session], *, sender_id: str, event_id: int) -> None:
    """Undo a correction: the message counts as predicted again and leaves the export.

    Raises:
        NotFound: this conversation has no correction of that message.
    """
    with sessions() as session, session.begin():
        row = session.scalar(
            select(ConsoleCorrection).where(
                ConsoleCorrection.event_id == event_id, ConsoleCorrection.sender_id == sender_id
            )
        )
        if row is None:
            raise NotFound("this message has no correction to undo")
        session.delete(row)
