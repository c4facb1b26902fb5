"""De-identification at the door: which columns are identifiers, MRN -> pseudonym, DOB -> year.

Columns of direct identifiers (names, addresses, phone, e-mail, SSN, licence and passport
numbers, geographic detail below the state) are dropped as soon as a file is read: they reach
neither the canonical tables nor the quarantine nor the ledger. Their values are kept in
memory only to scrub them out of free text in the same row.
"""

from __future__ import annotations

import hmac
import json
import re
import unicodedata
from dataclasses import dataclass

import polars as pl

from kapoutcomes.ingest.side_effects import scrub_names
from kapoutcomes.storage import privacy

#: Headers (normalised: lower-case letters and digits) of columns holding the patient's MRN.
MRN_HEADERS = (
    "mrn",
    "patientmrn",
    "mrnnumber",
    "medicalrecordnumber",
    "medicalrecordno",
    "chartnumber",
    "chartno",
    "patientid",
    "patient",
    "ptid",
    "patientnumber",
    "personid",
    "subjectid",
)
#: Headers of date-of-birth columns: kept only as birth year / age band.
DOB_HEADERS = ("dob", "birthdate", "dateofbirth", "birthday", "patientdob", "ptdob")
#: Further identifier headers beyond ``privacy.IDENTIFIER_HEADERS``.
EXTRA_IDENTIFIER_HEADERS = (
    "middle",
    "fips",
    "deathdate",
    "dateofdeath",
    "homephone",
    "workphone",
    "cellphone",
    "mobilephone",
    "homeaddress",
    "streetaddress",
    "mailingaddress",
    "ptname",
    "patientfullname",
    "patientfirstname",
    "patientlastname",
    "surname",
    "givenname",
    "mothersmaidenname",
    "nextofkin",
    "emergencycontact",
    "guarantor",
    "dl",
    "dlnumber",
    "license",
    "licence",
    "driverslicensenumber",
    "passportno",
    "ssnlast4",
    "socialsecurityno",
    "ipaddress",
    "accountnumber",
    "healthplanid",
    "insurancemember",
    "medicaidid",
    "medicareid",
    # who else a row names: a contact person, the next of kin (NOK), a Spanish-language
    # export's name and phone columns, a pager (issue 15, second pass: kept and unscrubbed)
    "contact",
    "contactname",
    "contactperson",
    "primarycontact",
    "nok",
    "nokname",
    "nombre",
    "apellido",
    "apellidos",
    "telefono",
    "pager",
    "beneficiary",
)
_ID_WORDS = (
    "name",
    "responsible",
    "guarantor",
    "subscriber",
    "insured",
    "policyholder",
    "account",
    "acct",
    "socsec",
    "nextofkin",
    "emergency",
    "spouse",
    "guardian",
    "relative",
    "mother",
    "father",
    "caregiver",
    "employer",
    "address",
    "phone",
    "email",
    "ssn",
    "socialsecurity",
    "passport",
    "license",
    "licence",
    "street",
    "zip",
    "postal",
    "mobile",
)
#: Headers that contain an identifier word but name something else.
SAFE_HEADERS = (
    "clinic",
    "clinicname",
    "instrumentname",
    "drugname",
    "medicationname",
    "testname",
    "observationname",
    "codename",
    "providername",
    "clinicianname",
    "staffname",
    "sitename",
    "locationname",
    "measurename",
    "scalename",
)


#: Header prefixes of identifier columns too short to match anywhere in a header
#: ("Tel", "Tel #", "SSN 4", "Soc Sec No", "Ph", "DL #").
_ID_PREFIXES = ("tel", "ssn", "ph", "dl", "kin")


def is_identifier(header: str) -> bool:
    h = privacy.normalise_header(header)
    if h in SAFE_HEADERS or h in MRN_HEADERS or h in DOB_HEADERS:
        return False
    if privacy.is_identifier_header(header) or h in EXTRA_IDENTIFIER_HEADERS:
        return True
    if any(
        h.startswith(p) and (len(h) == len(p) or h[len(p) :] in _ID_TAILS) for p in _ID_PREFIXES
    ):
        return True
    return any(w in h for w in _ID_WORDS)


_ID_TAILS = ("no", "number", "num", "1", "2", "home", "work", "cell", "last4", "4")


#: A header cell that looks like a value (a date, a long number, an e-mail, an SSN or phone
#: number, a pseudonym): the "header" is probably a data row (a file exported without
#: headers, or read with the wrong delimiter), so its cells must not be echoed in messages.
_VALUE_LIKE = re.compile(
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{4,}|@|\(\d{3}\)|\bp_[0-9a-f]{16}\b"
    # a number with or without its unit ("80 kg", "35 mg", "7"): a value, never a column name
    r"|^\s*[-+]?\d+(?:[.,]\d+)?\s*[a-z%/]{0,8}\s*$",
    re.IGNORECASE,
)


#: What is said instead of the column names of a header line that looks like a data row.
HEADER_NOT_LISTED = "(not listed: the header line looks like data, not column names)"


def header_looks_like_data(headers: list[str] | tuple[str, ...]) -> bool:
    """Whether any cell of a header line looks like a value (see ``_VALUE_LIKE``): then the
    line is probably a data row, and none of its cells may be echoed (a patient's name
    beside the values is not value-shaped, but it is in the same row)."""
    return any(_VALUE_LIKE.search(h) for h in headers)


def header_list(headers: list[str] | tuple[str, ...], limit: int = 12) -> str:
    """Header names for an error message, never a data row's values.

    When any cell looks like a value (see ``_VALUE_LIKE``) the cells are not listed; otherwise
    identifier-shaped text is scrubbed from each name."""
    if header_looks_like_data(headers):
        return HEADER_NOT_LISTED
    shown = [privacy.scrub_text(h) for h in headers[:limit]]
    more = f", ... ({len(headers) - limit} more)" if len(headers) > limit else ""
    return ", ".join(shown) + more


def identifier_columns(headers: list[str]) -> list[str]:
    return [h for h in headers if is_identifier(h)]


def birth_date_columns(headers: list[str] | tuple[str, ...]) -> list[str]:
    """The date-of-birth columns among ``headers`` (``DOB_HEADERS``), read by the import or
    not: their values are the row's own identifiers, to be scrubbed from its other cells."""
    return [h for h in headers if privacy.normalise_header(h) in DOB_HEADERS]


def pseudonymise(mrn: pl.Series, secret: bytes) -> pl.Series:
    """Keyed pseudonyms; values that already are pseudonyms (a corrected quarantine file)
    are kept as they are."""
    values = mrn.cast(pl.String).str.strip_chars()
    distinct = values.drop_nulls().unique()
    ids = pl.Series([_pseudonym(v, secret) for v in distinct.to_list()], dtype=pl.String)
    # each row takes its text's pseudonym by position (a dict lookup per row is slow)
    return ids.gather(values.cast(pl.Enum(distinct)).to_physical()).alias(mrn.name)


_PATIENT_ID = re.compile(r"p_[0-9a-f]{16}")
_SPACE = re.compile(r"\s+")


def _pseudonym(v: str, secret: bytes) -> str | None:
    """``privacy.pseudonymise`` of one MRN text (None when empty, kept when it already is a
    pseudonym), with the one-shot ``hmac.digest`` (the same HMAC-SHA256, without an HMAC
    object per MRN: ~20% less time over 100,000 MRNs)."""
    if not v:
        return None
    if _PATIENT_ID.fullmatch(v.strip()):  # privacy.looks_like_patient_id
        return v
    key = _SPACE.sub("", v).upper().encode("utf-8")  # privacy.normalise_mrn
    return f"p_{hmac.digest(secret, key, 'sha256').hex()[:16]}"


def find_patient_id(mrn: str, secret: bytes | None = None) -> str:
    """The pseudonymous patient id under which ``mrn`` is stored on this installation."""
    return privacy.pseudonymise(
        mrn, secret if secret is not None else privacy.read_keys().pseudonym
    )


#: A name token: letters, with inner apostrophes or hyphens ("O'Brien", "Smith-Jones").
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
#: Words an identifier column may hold that are not identifiers (kept in free text).
_NOT_NAMES = frozenset(
    [
        "none",
        "unknown",
        "declined",
        "refused",
        "missing",
        "self",
        "same",
        "null",
        "nan",
        "not",
        "the",
        "and",
        "n/a",
        "patient",
        "mother",
        "father",
        "spouse",
        "wife",
        "husband",
        "son",
        "daughter",
        "parent",
        "guardian",
        "other",
    ]
)


#: What an identifier cell holds when it holds no identifier ("N/A", "unknown", "-"): read as
#: an empty cell (``storing.rows_without_identifiers``).
EMPTY_IDENTIFIER = frozenset(
    ["", "n/a", "na", "none", "null", "nan", "unknown", "-", "--", ".", "?", "not provided"]
)


def file_identifier_words(
    frame: pl.DataFrame, identifier_cols: list[str], mrn_col: str | None
) -> frozenset[str]:
    """Every identifier word of a whole file, lower-cased: the name tokens (three letters or
    more, whole and in parts: "o'brien" and "brien") of its identifier columns and its MRN
    values.

    A record broken by an unquoted line break shifts the rest of the row into the wrong
    columns, so a name or MRN can sit in another row's score or note cell; quarantined cells
    and the free text that is kept are scrubbed of these words too, not only of their own
    row's identifiers."""
    words: set[str] = set()
    for col in identifier_cols:
        values = frame.get_column(col).drop_nulls().unique().to_list()
        # a NUL character left in a cell (``read.guard_cells``) splits a name, or sat inside it
        for v in {str(x) for x in values} | {str(x).replace("\x00", "") for x in values}:
            for t in _NAME_TOKEN.findall(v):
                words.add(t.lower())
                words.update(p.lower() for p in re.findall(r"[^\W\d_]{3,}", t))
    if mrn_col is not None and mrn_col in frame.columns:
        for v in frame.get_column(mrn_col).drop_nulls().unique().to_list():
            v = str(v).strip().lower()
            if len(v) >= 3 and not privacy.looks_like_patient_id(v):
                words.add(v)
    return frozenset(w for w in words if len(w) >= 3 and w not in _NOT_NAMES)


def scrub_file_words(text: str, words: frozenset[str]) -> str:
    """Replace each word (or hyphenated / apostrophe token, for names and MRNs) of ``text``
    found in ``words`` by ``[name]``."""
    if not words or not text:
        return text

    def sub(m: re.Match[str]) -> str:
        return "[name]" if m.group(0).lower() in words else m.group(0)

    text = re.sub(r"[\w'’-]+", sub, text)
    text = _NAME_TOKEN.sub(sub, text)
    return re.sub(r"[^\W\d_]+", sub, text)


def scrub_kept_text(text: str | None, words: frozenset[str]) -> str | None:
    """Free text that is kept (side effects, event text, medication descriptions and sigs):
    identifier patterns (``privacy.scrub_text``) and the file's identifier words removed."""
    if text is None:
        return None
    return scrub_file_words(privacy.scrub_text(text), words)


def scrub_file_name(name: str, words: frozenset[str] = frozenset()) -> str:
    """A file name safe for the ledger, the quarantine, the audit trail and messages: the
    base name with identifier patterns (e-mail, SSN, dates, phone numbers, IDs), every run of
    four or more digits (a date of birth, an MRN) and the file's identifier words (``words``:
    its patients' names and MRNs) replaced; control and format characters (a terminal's
    escape codes, bell, carriage return, bidirectional overrides) become "?". The file's
    SHA-256 identifies the file itself."""
    shown = "".join("?" if unicodedata.category(c) in {"Cc", "Cf"} else c for c in str(name))
    base = re.split(r"[\\/]", shown)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,5}", ext):
        stem, ext = base, ""
    # each "_"-separated part on its own ("meds_889911" is a word and a number, not an ID)
    parts = [re.sub(r"\d{4,}", "#", privacy.scrub_text(p)) for p in stem.split("_")]
    text = scrub_file_words("_".join(parts), words).strip() or "file"
    return f"{text}.{ext.lower()}" if ext else text


def scrub_sheet_name(name: str | None, words: frozenset[str] = frozenset()) -> str | None:
    """A worksheet's name for the report and the ledger, scrubbed as a file name is
    (``scrub_file_name``): a sheet is often named after its patient ("Johnson DOB 4-6-71")."""
    if name is None:
        return None
    return scrub_file_name(name.replace("/", " ").replace("\\", " ") + ".sheet", words)[:-6]


@dataclass(frozen=True)
class FileIdentifiers:
    """Where one file's identifiers sit, to be scrubbed from each de-identified row."""

    mrn_col: str | None
    dob_col: str | None
    columns: list[str]  # identifier columns (names, addresses, phone numbers, ...)
    words: frozenset[str] = frozenset()  # the file's identifier words (file_identifier_words)
    #: id columns the store keeps as given (a session's or event's id, the session a score
    #: belongs to): kept as they are, less the file's identifier words, so that a quarantined
    #: row still finds its session when it is imported again (a pattern scrub made "[id]")
    verbatim: tuple[str, ...] = ()
    #: every date of birth written in the file, as written: a shifted cell may hold another
    #: row's (``births_in``)
    births: frozenset[str] = frozenset()


def births_in(frame: pl.DataFrame, headers: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Every date of birth written in ``frame``'s birth-date columns, stripped."""
    cols = [h for h in birth_date_columns(headers) if h in frame.columns]
    values = (frame.get_column(c).drop_nulls().str.strip_chars().unique() for c in cols)
    return frozenset(v for vals in values for v in vals.to_list() if v)


def birth_scrubbed(value: str, births: frozenset[str]) -> str:
    """``value`` as ``[date]`` when it is a date of birth written in the file."""
    return "[date]" if value.strip() in births else value


def raw_rows_json(
    frame: pl.DataFrame, keep: list[str], patient_ids: pl.Series | None, ids: FileIdentifiers
) -> list[str]:
    """The de-identified input rows as JSON: identifier columns dropped, the MRN replaced by
    the pseudonym, the birth date by the birth year, identifier patterns, this row's own
    identifier values and the file's identifier words scrubbed from every remaining cell."""
    mrn_col, dob_col, identifier_cols, file_words = ids.mrn_col, ids.dob_col, ids.columns, ids.words
    out = []
    ident = frame.select(identifier_cols).rows() if identifier_cols else [()] * frame.height
    rows = frame.select(keep).rows() if keep else [()] * frame.height
    pids = patient_ids.to_list() if patient_ids is not None else [None] * frame.height
    for i, row in enumerate(rows):
        names = tuple(str(v) for v in ident[i] if v)
        rec: dict[str, str] = {}
        for col, val in zip(keep, row, strict=True):
            if val is None:
                rec[col] = ""
            elif col == mrn_col:
                rec[col] = pids[i] or ""
            elif col in ids.verbatim:
                rec[col] = scrub_file_words(str(val), file_words)
            elif col == dob_col:
                # a date of birth without a year to keep must not come back as a blank (a
                # patient without birth year) when the downloaded file is imported as it is
                rec[col] = year_only(val) or (UNREADABLE_BIRTH if str(val).strip() else "")
            else:
                kept = scrub_file_words(scrub_names(str(val), names, cell=True), file_words)
                rec[col] = birth_scrubbed(kept, ids.births)
        # an e-mail address, phone number, SSN or street address in a cell of this row means
        # its cells may sit in the wrong columns (a name beside it cannot be told from a
        # value): the row keeps no cells, as a record of the wrong shape does
        shifted = any(_SHIFTED.search(v) for v in rec.values())
        out.append("{}" if shifted else json.dumps(rec, ensure_ascii=False))
    return out


#: The identifier tags (``privacy.scrub_text``) that betray a row whose cells are shifted.
_SHIFTED = re.compile(r"\[(?:email|phone|ssn|address)\]")

#: Upper- and lower-case letters of the Latin, Greek and Cyrillic alphabets ("Á", "Ø", "ñ").
_UPPER = "".join(c for c in map(chr, range(0x530)) if c.isupper())
_LOWER = "".join(c for c in map(chr, range(0x530)) if c.islower())
#: A capitalised word, with an inner capital after Mc, Mac, O' or a hyphen ("McQuixworth",
#: "O'Brien", "Núñez-García").
_NAME_WORD = rf"[{_UPPER}][{_LOWER}'’-]+(?:[{_UPPER}][{_LOWER}'’-]+)*"
#: Two capitalised words in a row ("Quilla Vantongeren", "Quixworth, Zebediah", "Ángel
#: Quíxworth"): how a person's name looks where a code, a number, a date or a word of a
#: fixed list was expected.
_NAME_SHAPED = re.compile(rf"\b{_NAME_WORD}(?:\s*,\s*|\s+){_NAME_WORD}(?!\w)")


def names_a_person(value: str | None) -> bool:
    """Whether a cell that failed to read as a code, number, date or word of a closed list
    (a route, a session type) holds what looks like a person's name: in such a column a name
    means the row's cells are shifted (a name from an identifier column or a neighbouring
    record), and nothing but the pattern tells it from a typo."""
    return bool(value) and _NAME_SHAPED.search(str(value)) is not None


def scrub_name_shaped(text: str | None) -> str | None:
    """``text`` with every name-shaped pair of words ("Zebediah Quixworth") replaced by
    ``[name]``: for the free text of a row whose own identifier cells are empty, where a name
    cannot be told by the file's identifier words (its cell moved, or was never filled)."""
    if not text:
        return text
    return _NAME_SHAPED.sub("[name]", text)


#: What a quarantine file holds for a date of birth that has no year: to be corrected.
UNREADABLE_BIRTH = "unreadable date of birth: enter the year"


def year_only(text: str) -> str:
    """The year of a date of birth ("04/06/1971" -> "1971"), or "" when there is none."""
    m = re.search(r"(1[89]\d\d|20\d\d)", text or "")
    return m.group(1) if m else ""
