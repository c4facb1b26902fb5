"""Presets: the export layouts the importer knows, and auto-detection from the headers.

* ``canonical``   - one file per canonical table, columns named as in ``tables.py`` (MRN may
  stand in for patient_id). The table is recognised from the columns.
* ``long``        - observations, one row per patient / date / code / value; instruments by
  LOINC code or by name; vitals (BP, heart rate, SpO2, weight) attach to sessions.
* ``medications`` - medication lists: patient, start date, description and/or RxNorm code.
* ``synthea``     - the Synthea CSV export: patients.csv, observations.csv, medications.csv.
* ``wide``        - one row per visit, driven by a TOML mapping file (see ``mapping.py``).

Headers are compared after normalising (case, spaces and punctuation ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kapoutcomes import tables
from kapoutcomes.ingest import deid
from kapoutcomes.storage import privacy

PRESETS = ("canonical", "fhir", "long", "medications", "synthea", "wide")


def norm(h: str) -> str:
    return privacy.normalise_header(h)


#: Role -> accepted header spellings (normalised) for the long and medications layouts.
LONG_ROLES: dict[str, tuple[str, ...]] = {
    "patient": deid.MRN_HEADERS,
    "date": (
        "date",
        "datetime",
        "dateandtime",
        "observedat",
        "observed",
        "observeddate",
        "observationdate",
        "observationdatetime",
        "obsdate",
        "effectivedate",
        "effectivedatetime",
        "assessedat",
        "assessmentdate",
        "recordedat",
        "recorded",
        "timestamp",
        "time",
        "collected",
        "collectedat",
        "resultdate",
        "encounterdate",
        "visitdate",
    ),
    "code": ("code", "loinc", "loinccode", "observationcode", "obscode", "resultcode"),
    "name": (
        "description",
        "name",
        "observation",
        "observationname",
        "instrument",
        "test",
        "testname",
        "display",
        "measure",
        "measurename",
        "scale",
        "questionnaire",
    ),
    "value": ("value", "result", "score", "valuenum", "resultvalue", "obsvalue", "answer"),
    "units": ("units", "unit", "valueunits", "resultunits"),
    "item": ("item", "itemnumber", "question", "questionnumber"),
}
LONG_REQUIRED = ("patient", "date", "value")

MED_ROLES: dict[str, tuple[str, ...]] = {
    "patient": deid.MRN_HEADERS,
    "start": ("start", "startdate", "started", "prescribed", "prescribeddate", "orderdate", "date"),
    "stop": ("stop", "stopdate", "end", "enddate", "stopped", "discontinued"),
    "description": (
        "description",
        "medication",
        "medicationname",
        "drug",
        "drugname",
        "medicationdescription",
    ),
    "code": ("code", "rxnorm", "rxnormcode", "rxcui"),
    "frequency": ("frequency", "frequencyperday", "dosesperday", "timesperday", "sig"),
    "daily_dose": ("dailydose",),
}

SYNTHEA: dict[str, tuple[str, ...]] = {
    "patients": ("id", "birthdate", "gender", "ssn", "first", "last"),
    "observations": ("date", "patient", "encounter", "code", "description", "value", "units"),
    "medications": ("start", "stop", "patient", "encounter", "code", "description", "dispenses"),
}
#: Synthea columns that a downloaded quarantine file does not keep, so its layout is
#: recognised without them: identifiers (SSN, names) and the source system's encounter keys
#: (a record number kapoutcomes never reads).
SYNTHEA_NOT_KEPT = ("ssn", "first", "last", "encounter")


def _cols(text: str) -> frozenset[str]:
    return frozenset(norm(c) for c in text.split(","))


#: The other files of a Synthea CSV export (Synthea 2.x and 3.x headers), which kapoutcomes
#: does not import: kind -> (columns that identify it, every column it may have; None: any).
#: Recognised by their own header, they are skipped with a one-line reason, so a whole
#: Synthea folder imports as a folder (several would otherwise pass for medication lists).
SYNTHEA_UNUSED: dict[str, tuple[frozenset[str], frozenset[str] | None]] = {
    "encounters": (
        _cols("Id,START,PATIENT,ENCOUNTERCLASS,CODE,DESCRIPTION"),
        _cols(
            "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
            "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION,"
            "SYSTEM"
        ),
    ),
    "conditions": (
        _cols("START,PATIENT,ENCOUNTER,CODE,DESCRIPTION"),
        _cols("START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION"),
    ),
    "procedures": (
        _cols("PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,REASONCODE"),
        _cols(
            "START,STOP,DATE,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,"
            "REASONDESCRIPTION"
        ),
    ),
    "allergies": (
        _cols("START,PATIENT,ENCOUNTER,CODE,DESCRIPTION,CATEGORY"),
        _cols(
            "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,"
            "DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2"
        ),
    ),
    "careplans": (
        _cols("Id,START,PATIENT,ENCOUNTER,CODE,DESCRIPTION"),
        _cols(
            "Id,START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,REASONCODE,REASONDESCRIPTION"
        ),
    ),
    "devices": (
        _cols("START,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI"),
        _cols("START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,UDI"),
    ),
    "immunizations": (
        _cols("DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION"),
        _cols("DATE,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST"),
    ),
    "supplies": (
        _cols("DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,QUANTITY"),
        _cols("DATE,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,QUANTITY"),
    ),
    "imaging_studies": (_cols("Id,DATE,PATIENT,ENCOUNTER,MODALITY_CODE"), None),
    "organizations": (_cols("Id,NAME,REVENUE,UTILIZATION"), None),
    "providers": (_cols("Id,ORGANIZATION,NAME,SPECIALITY"), None),
    "payers": (_cols("Id,NAME,AMOUNT_COVERED"), None),
    "payer_transitions": (_cols("PATIENT,MEMBERID,PAYER"), None),
    "claims": (_cols("Id,PATIENTID,PROVIDERID"), None),
    "claims_transactions": (_cols("ID,CLAIMID,CHARGEID,PATIENTID"), None),
}


def synthea_unused(headers: list[str]) -> str | None:
    """The kind of Synthea file this header is (encounters, conditions, ...) when it is one
    kapoutcomes does not import, else None."""
    have = {norm(h) for h in headers}
    for kind, (needed, allowed) in SYNTHEA_UNUSED.items():
        if needed <= have and (allowed is None or have <= allowed):
            return kind
    return None


@dataclass(frozen=True)
class Fit:
    """How a file fits a preset: the columns found per role, and what is missing."""

    preset: str
    kind: str  # canonical: table name; synthea: patients / observations / medications; ...
    roles: dict[str, str] = field(default_factory=dict)  # role -> header in the file
    missing: tuple[str, ...] = ()
    unrecognised: tuple[str, ...] = ()
    score: float = 0.0
    #: columns read to recognise the layout, beyond the roles (Synthea's DISPENSES: it is what
    #: makes a medication list a Synthea one, whose dosing frequency is then assumed)
    recognised_by: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def reads(self) -> frozenset[str]:
        """Every column of the file that this layout reads: its roles' columns and the
        columns it is recognised by. A quarantined row keeps these (and only these, less
        identifiers), so that its download is read as the same layout when imported again."""
        return frozenset(self.roles.values()) | frozenset(self.recognised_by)


def _find(headers: list[str], spellings: tuple[str, ...]) -> str | None:
    by_norm = {norm(h): h for h in reversed(headers)}
    for s in spellings:
        if s in by_norm:
            return by_norm[s]
    return None


def _unrecognised(headers: list[str], used: set[str]) -> tuple[str, ...]:
    return tuple(h for h in headers if h not in used and not deid.is_identifier(h))


#: Canonical columns a file may leave out (derived, or nullable).
def canonical_required(table: str) -> list[str]:
    schema = tables.MODELS[table].to_schema()
    req = [n for n, c in schema.columns.items() if not c.nullable]
    if table == "opioids":
        req = [c for c in req if c not in ("mme_table", "daily_dose")]
    if table == "patients":
        req = [c for c in req if c != "clinic"]  # may come from the clinic= option
    # ids are made from the natural key when absent; screening flags default to no
    req = [c for c in req if c not in ("session_id", "event_id")]
    return req


def fit_canonical(headers: list[str]) -> list[Fit]:
    by_norm = {norm(h): h for h in headers}
    fits = []
    for table in tables.MODELS:
        cols = tables.columns(table)
        roles: dict[str, str] = {}
        for c in cols:
            h = by_norm.get(norm(c))
            if h is None and c == "patient_id":
                h = _find(headers, deid.MRN_HEADERS)
            if h is None and c == "birth_year":
                h = _find(headers, deid.DOB_HEADERS)
                if h is not None:
                    roles["birth_date"] = h
                    continue
            if h is not None:
                roles[c] = h
        missing = tuple(c for c in canonical_required(table) if c not in roles)
        if (
            table == "opioids"
            and "daily_dose" not in roles
            and not ("strength" in roles and "frequency_per_day" in roles)
        ):
            missing += ("daily_dose",)
        derived = {"mme_factor", "daily_mme", "mme_table", "age_band"}
        used = set(roles.values()) | {by_norm[norm(c)] for c in derived if norm(c) in by_norm}
        score = len(roles) / max(1, len(cols)) - 0.01 * len(missing)
        fits.append(Fit("canonical", table, roles, missing, _unrecognised(headers, used), score))
    return fits


def _fit_roles(
    preset: str, kind: str, headers: list[str], roles_spec: dict[str, tuple[str, ...]], required
) -> Fit:
    roles = {}
    taken: set[str] = set()
    for role, spellings in roles_spec.items():
        h = _find([x for x in headers if x not in taken], spellings)
        if h is not None:
            roles[role] = h
            taken.add(h)
    missing = tuple(r for r in required if r not in roles)
    score = len(roles) / len(roles_spec) - 0.01 * len(missing)
    return Fit(preset, kind, roles, missing, _unrecognised(headers, taken), score)


def fit_long(headers: list[str]) -> Fit:
    f = _fit_roles("long", "observations", headers, LONG_ROLES, LONG_REQUIRED)
    if "code" not in f.roles and "name" not in f.roles:
        f = Fit(f.preset, f.kind, f.roles, (*f.missing, "code or name"), f.unrecognised, f.score)
    return f


def fit_medications(headers: list[str]) -> Fit:
    f = _fit_roles("medications", "medications", headers, MED_ROLES, ("patient", "start"))
    if "description" not in f.roles and "code" not in f.roles:
        f = Fit(
            f.preset, f.kind, f.roles, (*f.missing, "description or code"), f.unrecognised, f.score
        )
    return f


def fit_synthea(headers: list[str], quarantined: bool = False) -> list[Fit]:
    """``quarantined``: a downloaded quarantine file, whose identifier and encounter columns
    (``SYNTHEA_NOT_KEPT``) were removed."""
    have = {norm(h) for h in headers}
    fits = []
    for kind, needed in SYNTHEA.items():
        if quarantined:
            needed = tuple(c for c in needed if c not in SYNTHEA_NOT_KEPT)
        missing = tuple(c.upper() for c in needed if c not in have)
        score = 1 - len(missing) / len(needed) + 0.05  # exact layouts win ties
        if kind == "observations":
            inner = fit_long(headers)
        elif kind == "medications":
            inner = fit_medications(headers)
        else:
            inner = Fit("synthea", "patients", {"patient": _find(headers, ("id",)) or ""})
        roles = dict(inner.roles)
        if kind == "patients":
            roles = {
                "patient": _find(headers, ("id",)) or "",
                "birth_date": _find(headers, ("birthdate",)) or "",
                "sex": _find(headers, ("gender",)) or "",
            }
        used = set(roles.values())
        # the layout's own columns that no role reads (DISPENSES): read to recognise it
        extra = tuple(
            h
            for h in headers
            if norm(h) in needed and h not in used and norm(h) not in SYNTHEA_NOT_KEPT
        )
        unrecognised = _unrecognised(headers, used | set(extra))
        fits.append(Fit("synthea", kind, roles, missing, unrecognised, score, extra))
    return fits


def candidates(
    headers: list[str], preset: str | None = None, quarantined: bool = False
) -> list[Fit]:
    fits: list[Fit] = []
    if preset in (None, "synthea"):
        fits += fit_synthea(headers, quarantined)
    if preset in (None, "canonical"):
        fits += fit_canonical(headers)
    if preset in (None, "long"):
        fits.append(fit_long(headers))
    if preset in (None, "medications"):
        fits.append(fit_medications(headers))
    return fits


def best(
    headers: list[str], preset: str | None = None, quarantined: bool = False
) -> tuple[Fit | None, Fit | None]:
    """(the best complete fit or None, the closest fit overall); ``quarantined``: the file
    is a downloaded quarantine file (see ``fit_synthea``)."""
    fits = sorted(candidates(headers, preset, quarantined), key=lambda f: f.score, reverse=True)
    complete = [f for f in fits if f.complete]
    return (complete[0] if complete else None), (fits[0] if fits else None)
