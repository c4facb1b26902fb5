"""Side-effect free text -> the controlled vocabulary (``tables.EVENTS``).

Text is split into fragments ("nausea, mild dissociation; felt floaty"); each fragment is
matched by keyword to one event. A fragment that matches nothing is kept as ``other`` with
its text (scrubbed of identifiers). Severity words in a fragment (mild / moderate / severe)
set its severity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kapoutcomes import tables
from kapoutcomes.storage import privacy

#: Keyword patterns per event, tried in this order (specific before general).
KEYWORDS: tuple[tuple[str, str], ...] = (
    ("hypertensive_crisis", r"hypertensive (crisis|emergency|urgency)"),
    (
        "respiratory_depression",
        r"respiratory depression|resp(iratory|\.)?\s*dep|apn(o)?ea|desat|hypoventilat|slow breathing",
    ),
    ("psychosis", r"psychos[ie]s|psychotic"),
    ("abuse_misuse", r"misuse|abuse|diversion|craving"),
    ("hallucinations", r"hallucinat"),
    ("vivid_dreams", r"vivid dream|nightmare|strange dream|dreams"),
    (
        "dissociation",
        r"dissociat|out of body|floaty|floating|detach|derealis|depersonalis|k-?hole|unreal",
    ),
    ("nausea_vomiting", r"naus|vomit|emesis|queasy|sick to (my|her|his) stomach|threw up"),
    ("dizziness", r"dizz|light-?headed|vertigo|woozy|unsteady"),
    ("sedation", r"sedat|drows|sleepy|somnol|tired|fatigue|lethargic"),
    (
        "raised_blood_pressure",
        r"(high|raised|elevated|increased)\s+(bp|blood pressure)|(bp|blood pressure)\s+(high|raised|elevated|up)|hypertension",
    ),
    (
        "raised_heart_rate",
        r"tachycard|palpitation|racing heart|heart racing|(high|raised|elevated|increased)\s+(hr|heart rate|pulse)"
        r"|\b(hr|heart rate|pulse)\s+(high|raised|elevated|up)\b",
    ),
    ("headache", r"headache|head ache|migraine"),
    ("anxiety_panic", r"anxi|panic|agitat|nervous|fear"),
    ("visual_disturbance", r"blurr|double vision|diplopia|visual|nystagmus|saw colou?rs|colou?rs"),
    ("memory_effects", r"memory|forget|amnes"),
    ("urinary_symptoms", r"urin|bladder|dysuria|cystitis"),
)
_COMPILED = tuple((ev, re.compile(p, re.I)) for ev, p in KEYWORDS)
NONE_TEXT = re.compile(
    r"^\s*(none|no|nil|nothing|no side effects?|no adverse (events?|effects?)|denies( any)?( side effects?)?|nad|0)\s*\.?\s*$",
    re.I,
)
#: Fragments that say how an effect was managed or when, not a further effect.
QUALIFIER = re.compile(
    r"^(settled|resolved|reassur|given|treated|improved|at onset|once|briefly|transient|"
    r"settled with reassurance|\w+ given|resolved \w+|self-limiting|"
    r"[a-z]+ \d+(\.\d+)?\s*(mg|mcg|ml)\b)",
    re.I,
)
_SEVERITY = re.compile(r"\b(mild|moderate|severe|slight|significant|marked)\b", re.I)
_SEVERITY_WORD = {
    "mild": "mild",
    "slight": "mild",
    "moderate": "moderate",
    "significant": "moderate",
    "severe": "severe",
    "marked": "severe",
}
_SPLIT = re.compile(r"[;,+\n]|\band\b|\bwith\b|/", re.I)

assert all(ev in tables.EVENTS for ev, _ in KEYWORDS)


@dataclass(frozen=True)
class SideEffect:
    event: str
    severity: str | None
    text: str | None  # kept for ``other`` (scrubbed)


def match(text: str | None, scrub: tuple[str, ...] = ()) -> list[SideEffect]:
    """The events named in ``text``; ``scrub`` lists extra strings (this row's names) to
    remove from any text that is kept. One entry per event; unmatched fragments are merged
    into a single ``other`` entry."""
    if text is None or not text.strip() or NONE_TEXT.match(text):
        return []
    found: dict[str, SideEffect] = {}
    other: list[str] = []
    other_sev: str | None = None
    for frag in _SPLIT.split(text):
        frag = frag.strip(" .-:")
        if not frag or NONE_TEXT.match(frag):
            continue
        sm = _SEVERITY.search(frag)
        sev = _SEVERITY_WORD[sm.group(1).lower()] if sm else None
        event = next((ev for ev, pat in _COMPILED if pat.search(frag)), None)
        if event is None and QUALIFIER.search(frag):
            continue
        if event is None:
            if sm and not frag[: sm.start()].strip() and not frag[sm.end() :].strip():
                # a lone severity word ("nausea - mild") qualifies the previous fragment
                if found:
                    last = next(reversed(found))
                    if found[last].severity is None:
                        found[last] = SideEffect(last, sev, found[last].text)
                continue
            other.append(frag)
            other_sev = other_sev or sev
            continue
        prev = found.get(event)
        if prev is None or (prev.severity is None and sev is not None):
            found[event] = SideEffect(event, sev, None)
    out = list(found.values())
    if other:
        kept = scrub_names("; ".join(other), scrub)
        out.append(SideEffect("other", other_sev, kept[:500]))
    return out


def scrub_names(text: str, names: tuple[str, ...], cell: bool = False) -> str:
    """Remove identifier patterns and the given strings (this row's name, address, phone ...)
    from ``text`` (``cell``: a structured cell, whose plain value is kept, ``privacy.scrub_cell``):
    each whole value and each alphabetic word of three letters or more in it
    (so "Jane" goes as well as "Jane Roe"), as whole words in any case."""
    text = privacy.scrub_cell(text) if cell else privacy.scrub_text(text)
    words: set[str] = set()
    for n in names:
        n = (n or "").strip()
        if len(n) >= 2:
            words.add(n)
        words.update(t for t in re.split(r"[\s,;/()]+", n) if len(t) >= 3 and t.isalpha())
        words.update(t for t in re.findall(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)+", n))
    for w in sorted(words, key=len, reverse=True):
        text = re.sub(rf"(?i)(?<!\w){re.escape(w)}(?!\w)", "[name]", text)
    return text
