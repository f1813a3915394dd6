"""Tests of nlu_train.registers (emails and tweets around our own lines): the checked-in file is what the
generator writes, and its sign-offs teach the NER names, not a short list of them."""

from __future__ import annotations

import re
from pathlib import Path

from nlu_train import registers
from nlu_train.data import load_file, parse_annotated

ROOT = Path(__file__).resolve().parents[2]
WRAPPED = ROOT / "nlu_data" / "nlu" / "registers_wrapped.yml"


def test_the_checked_in_file_is_what_the_generator_writes() -> None:
    lines = registers._lines(ROOT / "nlu_data" / "nlu")
    assert registers.render(registers.wrap(lines)) == WRAPPED.read_text(encoding="utf-8"), (
        "nlu_data/nlu/registers_wrapped.yml is stale: run `.venv/bin/python -m nlu_train.registers`"
    )


def test_signed_emails_name_many_people_in_many_shapes() -> None:
    names = set()
    for example in load_file(WRAPPED):
        for entity, start, end in example.entities:
            if entity == "person":
                names.add(example.text[start:end])
    # a NER that saw ten names learned those ten (issue 14: person recall 0.18 on a blind file)
    assert len(names) >= 30
    assert any(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z'A-Z]+", n) for n in names), "full names"
    assert any(re.fullmatch(r"[A-Z]\. [A-Z][a-z]+", n) for n in names), "initial and surname"
    assert any(n.startswith(("Mr", "Mrs", "Ms", "Dr")) for n in names), "titles"


def test_a_sign_off_without_a_comma_still_marks_the_name() -> None:
    text, spans = parse_annotated("Hiya, where is my order. Regards [Gemma](person)")
    assert any("{name}" in s and "," not in s for s in registers.SIGN_OFFS)
    assert [text[s:e] for _, s, e in spans] == ["Gemma"]


def test_the_sir_madam_opener_carries_no_person() -> None:
    wrapped = WRAPPED.read_text(encoding="utf-8")
    assert "Dear Sir/Madam," in wrapped
    assert not re.search(r"\[[^\]]*Madam[^\]]*\]\(person\)", wrapped)
