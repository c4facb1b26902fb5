"""De-identification: keyed pseudonyms for patient identifiers, birth year instead of birth date.

Patient identifiers are stored only as keyed hashes (HMAC-SHA256) under a key derived from a
per-installation secret, created for a new empty installation in a file readable by the owner
only and never replaced silently (``storage.keys`` decides when a new one may be made). The same MRN always maps to
the same pseudonym on one installation, so a clinician can look a patient up by MRN; without
the secret the MRN cannot be recovered or tested.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

#: The demo cohort's key. Demo data is synthetic, so its key is public: demo MRNs such as
#: DEMO-000001 can be looked up in the app.
DEMO_SECRET = b"kapoutcomes synthetic demo cohort - not for real patients"

SECRET_ENV = "KAPOUTCOMES_SECRET_FILE"
HOME_ENV = "KAPOUTCOMES_HOME"


def home() -> Path:
    """The per-installation folder (store, secret): $KAPOUTCOMES_HOME or ~/.kapoutcomes,
    mode 0700 (tightened when it was created more open: it holds the key and the store)."""
    p = Path(os.environ.get(HOME_ENV) or Path.home() / ".kapoutcomes")
    p.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if p.stat().st_mode & 0o077 and p.stat().st_uid == os.getuid():
            os.chmod(p, 0o700)
    except OSError:
        pass
    return p


def secret_path() -> Path:
    return Path(os.environ.get(SECRET_ENV) or home() / "secret.key")


#: Key derivation: 0 = an installation from before derived keys (its 32-byte secret.key is
#: used as it is for both pseudonyms and the audit chain, so its ids and chain stay valid);
#: 1 = separate keys derived from the master secret with HKDF-Expand (RFC 5869) under
#: distinct labels, so the pseudonym key and the audit key are independent.
DERIVATION = 1
_HEADER = "kapoutcomes-secret-v1"
_LABELS = {
    "pseudonym": b"kapoutcomes/v1/pseudonym",
    "audit": b"kapoutcomes/v1/audit-chain",
    "key_id": b"kapoutcomes/key-id",
    "checkpoint": b"kapoutcomes/v1/audit-checkpoint",
}


class KeyFileError(RuntimeError):
    """The installation secret is missing or damaged; the message says what to do."""

    def __init__(self, message: str, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


def _expand(master: bytes, label: bytes) -> bytes:
    """HKDF-Expand with the (uniformly random) master secret as PRK, one 32-byte block."""
    return hmac.digest(master, label + b"\x01", "sha256")


@dataclass(frozen=True)
class Keys:
    """The installation secret and the keys derived from it."""

    master: bytes = field(repr=False)
    derivation: int = DERIVATION

    @property
    def pseudonym(self) -> bytes:
        """The key of ``pseudonymise``."""
        return self.master if self.derivation == 0 else _expand(self.master, _LABELS["pseudonym"])

    @property
    def audit(self) -> bytes:
        """The key of the audit chain's HMACs."""
        return self.master if self.derivation == 0 else _expand(self.master, _LABELS["audit"])

    @property
    def checkpoint(self) -> bytes:
        """The key of the audit checkpoint's MAC (kept apart from the chain's key)."""
        return _expand(self.master, _LABELS["checkpoint"])

    @property
    def key_id(self) -> str:
        """A public fingerprint recorded in the store: a store refuses any other key."""
        return _expand(self.master, _LABELS["key_id"]).hex()[:16]


def _parse_key_file(data: bytes, p: Path) -> Keys:
    damaged = f"{p}: the installation secret is damaged (it was not replaced)"
    if _HEADER.encode() not in data[:200]:
        if len(data) >= 32:  # a secret.key written before derived keys: 32 random bytes
            return Keys(data, derivation=0)
        raise KeyFileError(f"{damaged} (it holds {len(data)} bytes, not 32 or more)", False)
    lines = [
        ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()[:1] != "#"
    ]
    lines = [ln for ln in lines if ln]
    if len(lines) != 3 or lines[0] != _HEADER:
        raise KeyFileError(f"{damaged} (unexpected layout)", False)
    try:
        master = bytes.fromhex(lines[1])
    except ValueError:
        raise KeyFileError(f"{damaged} (the key is not hexadecimal)", False) from None
    if len(master) != 32 or hashlib.sha256(master).hexdigest()[:8] != lines[2]:
        raise KeyFileError(f"{damaged} (its check digits do not match)", False)
    return Keys(master, derivation=1)


def read_keys(path: str | os.PathLike[str] | None = None) -> Keys:
    """The installation's keys; ``KeyFileError`` when the file is missing or damaged. Never
    creates or replaces a key (see ``storage.keys.for_store``, which decides that)."""
    p = Path(path) if path is not None else secret_path()
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{p}: the installation secret is missing", True) from None
    return _parse_key_file(data, p)


def create_keys(path: str | os.PathLike[str] | None = None) -> Keys:
    """A new installation secret (32 random bytes, mode 0600 in a 0700 folder). Refuses to
    overwrite an existing file."""
    p = Path(path) if path is not None else secret_path()
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    master = secrets.token_bytes(32)
    body = (
        "# kapoutcomes installation secret: back it up together with the store.\n"
        "# Without it, MRN look-ups, new imports and the audit check cannot work.\n"
        f"{_HEADER}\n{master.hex()}\n{hashlib.sha256(master).hexdigest()[:8]}\n"
    )
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, p)  # fails when another process created the key meanwhile
    except FileExistsError:
        return read_keys(p)
    finally:
        os.unlink(tmp)
    os.chmod(p, 0o600)
    return Keys(master, derivation=1)


def normalise_mrn(mrn: str) -> str:
    """MRNs compare case- and space-insensitively: ' mrn-0012 ' == 'MRN-0012'."""
    return re.sub(r"\s+", "", str(mrn)).upper()


def pseudonymise(mrn: str, secret: bytes) -> str:
    """The pseudonymous patient id for ``mrn``: ``p_`` + 16 hex digits of HMAC-SHA256."""
    digest = hmac.new(secret, normalise_mrn(mrn).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"p_{digest[:16]}"


def looks_like_patient_id(text: str) -> bool:
    return re.fullmatch(r"p_[0-9a-f]{16}", text.strip()) is not None


def age_band(age: int) -> str:
    """Ten-year age band; 90 and above pooled as 90+ (HIPAA safe-harbour ages)."""
    if age >= 90:
        return "90+"
    low = max(0, (age // 10) * 10)
    return f"{low:02d}-{low + 9:02d}"


def birth_year_and_band(birth: dt.date, first_treatment: dt.date) -> tuple[int | None, str]:
    """Birth year (None when the patient is 90 or older: safe harbour) and age band."""
    age = first_treatment.year - birth.year
    if (first_treatment.month, first_treatment.day) < (birth.month, birth.day):
        age -= 1
    return (None if age >= 90 else birth.year), age_band(age)


#: Header words that mark a column of direct identifiers (matched on normalised headers).
#: These columns are dropped at the door; the MRN is pseudonymised instead of dropped.
IDENTIFIER_HEADERS: tuple[str, ...] = (
    "name",
    "firstname",
    "first",
    "lastname",
    "last",
    "middlename",
    "maiden",
    "prefix",
    "suffix",
    "fullname",
    "patientname",
    "address",
    "street",
    "address1",
    "address2",
    "city",
    "zip",
    "zipcode",
    "postcode",
    "postalcode",
    "phone",
    "telephone",
    "mobile",
    "cell",
    "fax",
    "email",
    "emailaddress",
    "ssn",
    "socialsecurity",
    "socialsecuritynumber",
    "drivers",
    "driverslicense",
    "driverslicence",
    "passport",
    "passportnumber",
    "insuranceid",
    "memberid",
    "lat",
    "lon",
    "latitude",
    "longitude",
    "birthplace",
    "county",
)

#: Street suffixes of a US street address ("12 Elm St", "400 Oak Avenue Apt 3").
_STREET = (
    r"street|st|avenue|ave|av|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|place|pl|"
    r"terrace|ter|circle|cir|parkway|pkwy|highway|hwy|trail|trl|square|sq|loop|alley|"
    r"crescent|cres|close|plaza|plz|pike|row|route|rte"
)
_MONTH = r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_FULL_DATE = (
    r"(?<!\d)\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?!\d)"
    rf"|\b(?:{_MONTH})[a-z]*\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?[\s-]+(?:of\s+)?(?:{_MONTH})[a-z]*\.?[\s,-]+\d{{2,4}}\b"
)
#: Patterns of identifiers in free text, tried in this order (the first that matches a span
#: names it): e-mail, SSN, date of birth / any full date, street address, ID tokens, phone.
IDENTIFIER_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"),
    "ssn": re.compile(
        r"(?i)(?<![\w-])\d{3}[- ]\d{2}[- ]\d{4}(?![\w-])|\b(?:ssn|soc sec|social security)\b[\s:#no.-]*[\d -]{4,11}\d"
    ),
    "date": re.compile(
        rf"(?i)(?:\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on)?)\b[\s:#-]*)?"
        rf"(?:{_FULL_DATE})"
        r"|\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on)?)\b[\s:#-]*"
        r"[\w/.,-]*\d[\w/.,-]*"
    ),
    "address": re.compile(
        r"(?i)\bp\.?\s*o\.?\s*box\s*#?\s*\d+"
        r"|\b\d{1,6}[a-z]?(?:\s+[a-z][\w'.-]*){1,4}?\s+(?:"
        + _STREET
        + r")\b\.?(?:[\s,]+(?:apt|apartment|unit|suite|ste|fl|floor|rm|room|bldg|#)\.?\s*#?\s*[\w-]+)?"
        r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"
    ),
    "id": re.compile(
        r"(?i)\b(?:mrn|mr|medical record(?: number| no)?|chart(?: number| no)?|acct|account|"
        r"patient id|pt id|member id|subscriber(?: id)?|policy|id)\b\s*(?:#|no\.?|number)?\s*"
        r"[:#]?\s*[a-z]*[-_]?\d[\w-]*"
        r"|\b(?=[\w-]*\d{4})(?=[\w-]*[a-z])[a-z][\w-]*\d[\w-]*"
        r"|\b\d{4,}-[a-z0-9-]*[a-z][\w-]*"
    ),
    "phone": re.compile(
        r"(?i)(?:\b(?:tel|phone|ph|cell|mobile|fax)\b\.?:?\s*)?"
        r"(?<![\w.])\+?\(?\d[\d().\s-]*\d\)?(?:\s*(?:x|ext\.?)\s*\d+)?"
    ),
}
_DIGIT = re.compile(r"\d")
_DECIMAL = re.compile(r"\d{1,7}\.\d{1,3}")
_TIME = r"(?:[T ]\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
#: A structured cell: a number (with a unit or "/10"), a LOINC-shaped code, a code of up to
#: eight digits, a date with its time. Such a cell keeps its value in the quarantine (a
#: person corrects it there); any other cell is scrubbed like free text.
_PLAIN = re.compile(
    r"\s*(?:[-+$]?\d{1,8}(?:[.,]\d+)?(?:\s*(?:/|out of)\s*\d{1,3}(?:\.\d+)?)?\s*[a-zA-Z/%{}\[\]]{0,12}"
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"
    r"|\d{1,7}-\d|[A-Za-z]{2}\d{1,6}-\d"
    # a date is year-month-day or day/month-month/day-year: an SSN's 3-2-4 digits is not one
    r"|(?:\d{4,5}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{2}|\d{4,5})"
    r"|\d{1,2}[- ][A-Za-z]{3,9}\.?[- ]\d{2,4}"
    rf"|[A-Za-z]{{3,9}}\.? \d{{1,2}},? \d{{4}}){_TIME})\s*"
)


def _tag(label: str) -> str:
    return f"[{label}]"


def _phone_or_keep(m: re.Match[str]) -> str:
    """A run of digits and separators is a phone number (or an ID) from seven digits up; a
    shorter run (a dose, a score, "120/80") is kept."""
    text = m.group(0)
    n = len(_DIGIT.findall(text))
    if n < 6 or _DECIMAL.fullmatch(text.strip()):
        return text
    if n == 9 and re.fullmatch(r"\d{9}", text.strip()):
        return _tag("ssn")
    return _tag("phone") if n >= 7 else _tag("id")


def scrub_cell(text: str) -> str:
    """``scrub_text`` for one cell of a structured column: a plain value (number, code, date
    and time, see ``_PLAIN``) is kept as it is, anything else is scrubbed as free text."""
    if not text or _PLAIN.fullmatch(text):
        return text
    return scrub_text(text)


#: Who a note names beside a patient: a relative, a partner, a friend, a carer.
_RELATION = (
    r"(?i:husband|wife|spouse|partner|son|daughter|mother|mom|mum|father|dad|sister|brother|"
    r"sibling|aunt|uncle|niece|nephew|cousin|grand(?:mother|father|ma|pa|son|daughter)|"
    r"fianc[eé]e?|boyfriend|girlfriend|friend|caregiver|carer|guardian|roommate|neighbou?r)"
)
#: One to three capitalised words: how a person's name is written in a note.
_NAME_WORDS = r"[A-Z][a-zà-ÿ'’-]+(?:[ \t]+[A-Z][a-zà-ÿ'’-]+){0,2}"
#: A name next to its relation word: "daughter Ottoline", "husband, Bartholomew Quince",
#: "Hortensia Pemberton (sister)", "Marisol, her sister". The relation word stays.
_RELATIVE_NAMES = (
    re.compile(
        rf"\b({_RELATION}(?:'s)?\b[ \t,:]*(?:(?i:named|called|name is)[ \t]+)?)({_NAME_WORDS})"
    ),
    re.compile(rf"\b({_NAME_WORDS})(?=[ \t]*\([ \t]*{_RELATION}[ \t]*\))"),
    re.compile(
        rf"\b({_NAME_WORDS})(?=,?[ \t]+(?i:her|his|their|the patient's|pt's)[ \t]+{_RELATION}\b)"
    ),
)


def scrub_relatives(text: str) -> str:
    """Replace the names of the people a note mentions beside the patient (a relative, a
    partner, a friend, a carer: "daughter Ottoline drove her home") by ``[name]``: such a name
    is in no column of the export, so the file's identifier words cannot catch it."""
    text = _RELATIVE_NAMES[0].sub(lambda m: m.group(1) + "[name]", text)
    for pat in _RELATIVE_NAMES[1:]:
        text = pat.sub("[name]", text)
    return text


def scrub_text(text: str) -> str:
    """Replace identifier-shaped substrings in free text by a tag: e-mail addresses
    ([email]), dates of birth and any full date ([date]), SSNs with or without dashes
    ([ssn]), street addresses and PO boxes ([address]), MRN-like and account tokens ([id]),
    phone numbers in any common format, 10-digit, +1, parentheses, international ([phone]),
    and runs of six or more digits ([id]); the names of relatives and others a note names
    beside the patient ([name], ``scrub_relatives``)."""
    if not text:
        return text
    for label, pat in IDENTIFIER_PATTERNS.items():
        text = pat.sub(_phone_or_keep, text) if label == "phone" else pat.sub(_tag(label), text)
    return scrub_relatives(text)


def normalise_header(h: str) -> str:
    return re.sub(r"[^a-z0-9]", "", h.strip().lower())


def is_identifier_header(header: str) -> bool:
    return normalise_header(header) in IDENTIFIER_HEADERS
