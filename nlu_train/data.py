"""Rasa YAML training data read without rasa: intent examples with their entity spans (nlu_train, bench)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Tuple

import yaml

# [text](entity), [text](entity:value), [text]{"entity": "x", "value": "y"}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<simple>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True)
class Example:
    """One intent example: plain text, intent, (entity, start, end) spans."""

    text: str
    intent: str
    entities: Tuple[Tuple[str, int, int], ...] = field(default_factory=tuple)


def parse_annotated(line: str) -> Tuple[str, Tuple[Tuple[str, int, int], ...]]:
    """Plain text and entity spans of one Rasa-annotated example line."""
    out: List[str] = []
    spans: List[Tuple[str, int, int]] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(line):
        before = line[pos : m.start()]
        out.append(before)
        length += len(before)
        simple = m.group("simple")
        entity = simple.split(":", 1)[0] if simple else json.loads(m.group("json"))["entity"]
        spans.append((entity, length, length + len(m.group("text"))))
        out.append(m.group("text"))
        length += len(m.group("text"))
        pos = m.end()
    out.append(line[pos:])
    return "".join(out), tuple(spans)


def _items(block: str) -> Iterable[str]:
    for raw in block.splitlines():
        raw = raw.strip()
        if raw.startswith("- "):
            yield raw[2:].strip()


def load_file(path: Path) -> List[Example]:
    """Intent examples of one Rasa YAML file (other sections are ignored)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: List[Example] = []
    for section in data.get("nlu") or []:
        intent = section.get("intent")
        if not intent:
            continue
        for line in _items(section.get("examples") or ""):
            text, spans = parse_annotated(line)
            found.append(Example(text, intent, spans))
    return found


def load(paths: Iterable[Path]) -> List[Example]:
    """Intent examples of every .yml file under each path (a file or a folder), in a stable order."""
    found: List[Example] = []
    for path in paths:
        files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
        for f in files:
            found.extend(load_file(f))
    return found
