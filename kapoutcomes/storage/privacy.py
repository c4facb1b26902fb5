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

#: Patterns of identifiers in free text (scrubbed from any text that is kept).
IDENTIFIER_PATTERNS: dict[str, re.Pattern[str]] = {
    "ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"),
    "phone": re.compile(r"(?<!\d)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}(?!\d)"),
}


def scrub_text(text: str) -> str:
    """Replace identifier-shaped substrings (SSN, e-mail, phone) in free text."""
    for label, pat in IDENTIFIER_PATTERNS.items():
        text = pat.sub(f"[{label} removed]", text)
    return text


def normalise_header(h: str) -> str:
    return re.sub(r"[^a-z0-9]", "", h.strip().lower())


def is_identifier_header(header: str) -> bool:
    return normalise_header(header) in IDENTIFIER_HEADERS
