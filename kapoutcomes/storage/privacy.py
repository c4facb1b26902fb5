"""De-identification: keyed pseudonyms for patient identifiers, birth year instead of birth date.

Patient identifiers are stored only as keyed hashes (HMAC-SHA256) under a per-installation
secret created on first use in a file readable by the owner only. The same MRN always maps to
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
from pathlib import Path

#: The demo cohort's key. Demo data is synthetic, so its key is public: demo MRNs such as
#: DEMO-000001 can be looked up in the app.
DEMO_SECRET = b"kapoutcomes synthetic demo cohort - not for real patients"

SECRET_ENV = "KAPOUTCOMES_SECRET_FILE"
HOME_ENV = "KAPOUTCOMES_HOME"


def home() -> Path:
    """The per-installation folder (store, secret): $KAPOUTCOMES_HOME or ~/.kapoutcomes."""
    p = Path(os.environ.get(HOME_ENV) or Path.home() / ".kapoutcomes")
    p.mkdir(parents=True, exist_ok=True, mode=0o700)
    return p


def secret_path() -> Path:
    return Path(os.environ.get(SECRET_ENV) or home() / "secret.key")


def load_or_create_secret(path: str | os.PathLike[str] | None = None) -> bytes:
    """Read the installation secret, creating it (32 random bytes, mode 0600) on first use."""
    p = Path(path) if path is not None else secret_path()
    try:
        data = p.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    os.replace(tmp, p)
    os.chmod(p, 0o600)
    return key


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
    r"|(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}[- ][A-Za-z]{3,9}\.?[- ]\d{2,4}"
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


def scrub_text(text: str) -> str:
    """Replace identifier-shaped substrings in free text by a tag: e-mail addresses
    ([email]), dates of birth and any full date ([date]), SSNs with or without dashes
    ([ssn]), street addresses and PO boxes ([address]), MRN-like and account tokens ([id]),
    phone numbers in any common format, 10-digit, +1, parentheses, international ([phone]),
    and runs of six or more digits ([id])."""
    if not text:
        return text
    for label, pat in IDENTIFIER_PATTERNS.items():
        text = pat.sub(_phone_or_keep, text) if label == "phone" else pat.sub(_tag(label), text)
    return text


def normalise_header(h: str) -> str:
    return re.sub(r"[^a-z0-9]", "", h.strip().lower())


def is_identifier_header(header: str) -> bool:
    return normalise_header(header) in IDENTIFIER_HEADERS
