"""Scoring a QuestionnaireResponse of PHQ-9, GAD-7 or PEG from its item answers.

Validity rule (clinical reference: "PHQ-9 total is only valid when all items are answered
unless an explicit proration rule is configured"):

* all items answered: the total is the sum (PHQ-9 0-27, GAD-7 0-21) or, for PEG, the mean
  of its 3 items (0-10);
* items missing: no total, and the response is quarantined saying how many items were
  answered - unless proration is configured (``prorate_missing`` = the most items that may
  be missing; default 0): then total = mean of the answered items x the number of items,
  rounded half up to a whole number (4.5 -> 5; PEG: the mean of the answered items);
* a response with no item answers but a stated total (44261-6, 70274-6, 91147-9) keeps the
  stated total.

PHQ-9 item 9 (44260-8) is kept as its own answer, as the tables keep it. A quarantined
PHQ-9 whose item 9 is answered above 0 says so in its reason ("possible suicide-risk
answer"), so it is never lost in the quarantine.

Items are found by the LOINC code in their ``linkId`` or ``definition`` ("44260-8",
"/44260-8", "http://loinc.org/q/44260-8"), else by a trailing item number in the linkId
("phq9-9", "item_9", "q9").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Form:
    code: str  # registry instrument code
    total_loinc: str
    panel: tuple[str, ...]  # questionnaire names / panel codes found in Questionnaire URLs
    items: tuple[str, ...]  # item LOINC codes in order
    mean: bool = False  # PEG: the mean of its items, not the sum


FORMS = (
    Form(
        "phq9",
        "44261-6",
        ("44249-1", "phq9", "phq-9", "phq_9"),
        (
            "44250-9",
            "44255-8",
            "44259-0",
            "44254-1",
            "44251-7",
            "44258-2",
            "44252-5",
            "44253-3",
            "44260-8",
        ),
    ),
    Form(
        "gad7",
        "70274-6",
        ("69737-5", "gad7", "gad-7", "gad_7"),
        ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
    ),
    Form("peg", "91147-9", ("91148-7", "peg"), ("75893-8", "91145-3", "91146-1"), mean=True),
)
ITEM9 = "44260-8"
LL358_3 = {
    "LA6568-5": 0.0,
    "LA6569-3": 1.0,
    "LA6570-1": 2.0,
    "LA6571-9": 3.0,
    "not at all": 0.0,
    "several days": 1.0,
    "more than half the days": 2.0,
    "nearly every day": 3.0,
}
_LOINC = re.compile(r"\d{4,5}-\d")
_TRAILING = re.compile(r"(\d+)\s*$")


@dataclass
class Scored:
    instrument: str | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)  # (LOINC code, value)
    problem: str | None = None
    detail: str | None = None


def _form(res: dict, answers: dict[str, Any]) -> Form | None:
    url = str(res.get("questionnaire") or "").lower()
    for f in FORMS:
        if any(p in url for p in f.panel):
            return f
    for f in FORMS:
        if any(k in f.items or k == f.total_loinc for k in answers):
            return f
    return None


def _walk(items: Any) -> list[dict]:
    out = []
    for it in items or []:
        if isinstance(it, dict):
            out.append(it)
            out.extend(_walk(it.get("item")))
            for a in it.get("answer") or []:
                if isinstance(a, dict):
                    out.extend(_walk(a.get("item")))
    return out


def _answer(item: dict) -> float | None:
    for a in item.get("answer") or []:
        if not isinstance(a, dict):
            continue
        for k in ("valueInteger", "valueDecimal"):
            if isinstance(a.get(k), int | float) and not isinstance(a.get(k), bool):
                return float(a[k])
        c = a.get("valueCoding")
        if isinstance(c, dict):
            for e in c.get("extension") or []:  # ordinalValue / itemWeight
                if isinstance(e, dict) and isinstance(e.get("valueDecimal"), int | float):
                    return float(e["valueDecimal"])
            for key in (c.get("code"), str(c.get("display") or "").strip().lower()):
                if key in LL358_3:
                    return LL358_3[key]
        s = a.get("valueString")
        if isinstance(s, str):
            t = s.strip().lower()
            if t in LL358_3:
                return LL358_3[t]
            try:
                return float(t)
            except ValueError:
                return None
    return None


def _key(item: dict) -> str | None:
    for text in (item.get("linkId"), item.get("definition")):
        if isinstance(text, str) and (m := _LOINC.search(text)):
            return m.group(0)
    return None


def score_response(res: dict, prorate_missing: int = 0) -> Scored:
    items = _walk(res.get("item"))
    by_code: dict[str, float | None] = {}
    by_number: dict[int, float | None] = {}
    for it in items:
        k = _key(it)
        if k is not None:
            by_code[k] = _answer(it)
        elif isinstance(it.get("linkId"), str) and (m := _TRAILING.search(it["linkId"])):
            by_number[int(m.group(1))] = _answer(it)
    form = _form(res, by_code)
    if form is None:
        return Scored()
    for n, v in by_number.items():
        if 1 <= n <= len(form.items):
            by_code.setdefault(form.items[n - 1], v)
    answered = {k: by_code[k] for k in form.items if by_code.get(k) is not None}
    stated = by_code.get(form.total_loinc)
    out = Scored(instrument=form.code)
    item9 = answered.get(ITEM9) if form.code == "phq9" else None
    missing = len(form.items) - len(answered)
    if not answered:
        if stated is None:
            out.problem = f"{form.code}: no item answers and no total"
            return out
        out.facts.append((form.total_loinc, _fmt(stated)))
        return out
    if missing and missing > prorate_missing:
        out.problem = (
            f"{form.code}: {len(answered)} of {len(form.items)} items answered; the total is "
            "only valid with every item answered (or with proration configured)"
        )
        out.detail = f"{len(answered)} of {len(form.items)}"
        if item9:
            out.problem += (
                f"; item 9 answered {_fmt(item9)}: possible suicide-risk answer, needs "
                "same-day clinician review"
            )
        return out
    values = list(answered.values())
    mean = sum(values) / len(values)
    # a prorated total is rounded half up (4.5 -> 5), as a clinician rounds, never to even
    prorated = math.floor(sum(values) * len(form.items) / len(values) + 0.5)
    total = mean if form.mean else (sum(values) if not missing else prorated)
    out.facts.append((form.total_loinc, _fmt(total)))
    if item9 is not None:
        out.facts.append((ITEM9, _fmt(item9)))
    return out


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4g}"
