"""Opioid prescriptions described in text or RxNorm codes -> ingredient, strength, daily dose.

Handles RxNorm clinical-drug names as EHRs and Synthea write them::

    Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet   -> oxycodone 10 mg
    72 HR Fentanyl 0.025 MG/HR Transdermal System                      -> fentanyl 25 mcg/hr
    12 HR Hydrocodone Bitartrate 10 MG Extended Release Oral Capsule   -> hydrocodone 10 mg

and common brand names (Percocet, Norco, OxyContin ...). The MME itself comes from
``kapoutcomes.definitions.opioids.add_daily_mme``: this module only finds what was prescribed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kapoutcomes.definitions import opioids

#: Ingredient spellings (salts are skipped by the strength pattern) and brand names.
SYNONYMS: dict[str, str] = {
    "oxycodone": "oxycodone",
    "hydrocodone": "hydrocodone",
    "benzhydrocodone": "hydrocodone",
    "hydromorphone": "hydromorphone",
    "morphine": "morphine",
    "fentanyl": "fentanyl",
    "codeine": "codeine",
    "methadone": "methadone",
    "oxymorphone": "oxymorphone",
    "tapentadol": "tapentadol",
    "tramadol": "tramadol",
    "meperidine": "meperidine",
    "pethidine": "meperidine",
    "levorphanol": "levorphanol",
    "buprenorphine": "buprenorphine",
    "percocet": "oxycodone",
    "endocet": "oxycodone",
    "roxicodone": "oxycodone",
    "oxycontin": "oxycodone",
    "xtampza": "oxycodone",
    "norco": "hydrocodone",
    "vicodin": "hydrocodone",
    "lortab": "hydrocodone",
    "zohydro": "hydrocodone",
    "hysingla": "hydrocodone",
    "dilaudid": "hydromorphone",
    "exalgo": "hydromorphone",
    "ms contin": "morphine",
    "kadian": "morphine",
    "duragesic": "fentanyl",
    "ultram": "tramadol",
    "ultracet": "tramadol",
    "nucynta": "tapentadol",
    "opana": "oxymorphone",
    "dolophine": "methadone",
    "methadose": "methadone",
    "demerol": "meperidine",
    "suboxone": "buprenorphine",
    "subutex": "buprenorphine",
    "zubsolv": "buprenorphine",
    "butrans": "buprenorphine",
    "belbuca": "buprenorphine",
}

#: A few RxNorm clinical-drug (SCD) codes with their names, for exports that give only the
#: code (names from the RxNorm / eCQM "Opioids" value set 2.16.840.1.113762.1.4.1248.120).
#: Ingredient-level codes come from ``opioids.RXNORM_TO_INGREDIENT``.
RXNORM_SCD: dict[str, str] = {
    "245134": "72 HR fentanyl 0.025 MG/HR Transdermal System",
    "245135": "72 HR fentanyl 0.05 MG/HR Transdermal System",
    "245136": "72 HR fentanyl 0.1 MG/HR Transdermal System",
    "197696": "72 HR fentanyl 0.075 MG/HR Transdermal System",
    "577057": "72 HR fentanyl 0.012 MG/HR Transdermal System",
    "1049214": "acetaminophen 325 MG / oxycodone hydrochloride 10 MG Oral Tablet",
    "1049221": "acetaminophen 325 MG / oxycodone hydrochloride 5 MG Oral Tablet",
    "1049225": "acetaminophen 325 MG / oxycodone hydrochloride 7.5 MG Oral Tablet",
    "1049621": "oxycodone hydrochloride 5 MG Oral Tablet",
    "1049683": "oxycodone hydrochloride 10 MG Oral Tablet",
    "1049502": "12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet",
    "1860157": "Abuse-Deterrent 12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet",
    "1860154": "Abuse-Deterrent 12 HR oxycodone hydrochloride 15 MG Extended Release Oral Tablet",
    "1860491": "12 HR hydrocodone bitartrate 10 MG Extended Release Oral Capsule",
    "835603": "tramadol hydrochloride 50 MG Oral Tablet",
    "836395": "acetaminophen 325 MG / tramadol hydrochloride 37.5 MG Oral Tablet",
    "825411": "tapentadol 50 MG Oral Tablet",
    "351264": "buprenorphine 2 MG Sublingual Tablet",
}

_NAMES = sorted(SYNONYMS, key=len, reverse=True)
_ING = re.compile(r"\b(" + "|".join(re.escape(n) for n in _NAMES) + r")\b", re.I)
_STRENGTH = re.compile(
    r"(?P<v>\d+(?:\.\d+)?)\s*(?P<u>MG/HR|MCG/HR|µG/HR|MG/ML|MG/ACTUAT|MCG|µG|MG)\b", re.I
)
_HOURS = re.compile(r"\b(\d+)\s*HR\b", re.I)


@dataclass(frozen=True)
class Prescription:
    """What a description names: ingredient and strength of one unit (tablet, patch)."""

    ingredient: str | None  # None: not an opioid
    strength: float | None = None
    unit: str | None = None  # "mg" or "mcg/hr"
    extended_release_hours: int | None = None
    transdermal: bool = False
    problem: str | None = None  # why no daily dose can be derived from the text

    @property
    def extended_release(self) -> bool:
        return self.extended_release_hours is not None or self.er_text

    er_text: bool = False

    @property
    def is_opioid(self) -> bool:
        return self.ingredient is not None


def parse(description: str | None, rxnorm: str | None = None) -> Prescription:
    """Find the opioid, its strength and unit in a medication description or RxNorm code."""
    text = (description or "").strip()
    code = (rxnorm or "").strip()
    if not text and code:
        if code in opioids.RXNORM_TO_INGREDIENT:
            ing = opioids.RXNORM_TO_INGREDIENT[code]
            return Prescription(
                ing, problem="the RxNorm code names the ingredient only: no strength"
            )
        text = RXNORM_SCD.get(code, "")
    if not text:
        return Prescription(None)
    # Components of a combination product are separated by " / " (but not MG/HR).
    parts = re.split(r"\s/\s", text)
    found: list[tuple[str, re.Match[str] | None]] = []
    for part in parts:
        m = _ING.search(part)
        if m:
            found.append((SYNONYMS[m.group(1).lower()], _STRENGTH.search(part, m.end())))
    if not found:
        return Prescription(None)
    ingredient, sm = found[0]
    hours = _HOURS.search(text)
    er = int(hours.group(1)) if hours else None
    transdermal = bool(re.search(r"transdermal|patch", text, re.I))
    if sm is None:
        return Prescription(
            ingredient,
            extended_release_hours=er,
            transdermal=transdermal,
            problem="no strength in the description",
        )
    value = float(sm.group("v"))
    unit = sm.group("u").upper().replace("µG", "MCG")
    if unit in ("MG/HR", "MCG/HR"):
        mcg_hr = value * 1000 if unit == "MG/HR" else value
        if ingredient != "fentanyl":
            return Prescription(
                ingredient,
                round(mcg_hr, 4),
                "mcg/hr",
                er,
                True,
                problem=f"{ingredient} patches have no MME factor per mcg/hr",
            )
        return Prescription(ingredient, round(mcg_hr, 4), "mcg/hr", er, True)
    if unit in ("MG/ML", "MG/ACTUAT"):
        return Prescription(
            ingredient,
            value,
            "mg",
            er,
            transdermal,
            problem=f"strength is {unit.lower()}: a daily dose needs the volume or puffs per day",
        )
    mg = value / 1000 if unit == "MCG" else value
    if ingredient == "fentanyl":
        return Prescription(
            ingredient,
            mg,
            "mg",
            er,
            transdermal,
            problem="only transdermal fentanyl (mcg/hr) has an MME factor",
        )
    er_text = bool(re.search(r"extended|\b(ER|XR|SR|CR|LA)\b|contin", text, re.I))
    return Prescription(ingredient, mg, "mg", er, transdermal, er_text=er_text)


#: Usual doses per day assumed when an export gives no frequency and the caller allows it
#: (the Synthea preset does: Synthea's medications.csv has no dosing instructions).
#: Immediate-release: every 6 hours (4 a day); extended-release: 24 / the hours in the name.
ASSUMED_IR_PER_DAY = 4.0
#: Extended-release products without hours in the name (e.g. morphine ER): every 12 hours.
ASSUMED_ER_PER_DAY = 2.0


def assumed_frequency(p: Prescription) -> float | None:
    if p.unit == "mcg/hr":
        return None  # a patch: the strength is the daily dose measure
    if p.extended_release_hours:
        return max(1.0, 24.0 / p.extended_release_hours)
    if p.extended_release:
        return ASSUMED_ER_PER_DAY
    return ASSUMED_IR_PER_DAY


_FREQ_WORDS = {
    "qd": 1.0,
    "daily": 1.0,
    "once daily": 1.0,
    "od": 1.0,
    "qhs": 1.0,
    "bid": 2.0,
    "twice daily": 2.0,
    "q12h": 2.0,
    "tid": 3.0,
    "three times daily": 3.0,
    "q8h": 3.0,
    "qid": 4.0,
    "four times daily": 4.0,
    "q6h": 4.0,
    "q4h": 6.0,
    "q3h": 8.0,
}


_UNITS_PER_DOSE = re.compile(
    r"\b(\d+(?:\.\d+)?|one|two|three)\s*(?:x\s*)?(?:tabs?|tablets?|caps?|capsules?|pills?|patch(?:es)?)\b"
)
_WORD_NUM = {"one": 1.0, "two": 2.0, "three": 3.0}


def parse_frequency(text: str | None) -> float | None:
    """Units per day from a frequency or a sig: "2", "2/day", "BID", "q6h", "every 6 hours",
    "3 times a day", "1 tab PO q6h prn" (4), "2 tabs PO BID" (4). None when none is found."""
    if text is None:
        return None
    t = text.strip().lower()
    if not t:
        return None
    t = re.sub(r"\s*\b(prn|as needed)\b\s*", " ", t).strip()
    if t in _FREQ_WORDS:
        return _FREQ_WORDS[t]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:x|times)?\s*(?:/|per|a|an)?\s*(?:day|d|daily)?", t)
    if m:
        return float(m.group(1))
    per_day = None
    m = re.search(r"\b(?:every|q)\s*(\d+(?:\.\d+)?)\s*(?:h|hr|hrs|hours?)\b", t)
    if m and float(m.group(1)) > 0:
        per_day = 24.0 / float(m.group(1))
    if per_day is None:
        m = re.search(r"\b(\d+)\s*(?:x|times)\s*(?:a|per|/)?\s*(?:day|daily)\b", t)
        if m:
            per_day = float(m.group(1))
    if per_day is None:
        for word, n in sorted(_FREQ_WORDS.items(), key=lambda kv: -len(kv[0])):
            if re.search(rf"\b{re.escape(word)}\b", t):
                per_day = n
                break
    if per_day is None:
        return None
    m = _UNITS_PER_DOSE.search(t)
    units = 1.0
    if m:
        g = m.group(1)
        units = _WORD_NUM.get(g) or float(g)
    return per_day * units
