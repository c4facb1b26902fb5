"""Who may see what: roles, their pages and actions, and the mapping from sign-in identities.

The mapping lives in a TOML file (``$KAPOUTCOMES_ACCESS`` or ``access.toml`` beside the
store), for example::

    [users]
    "director@clinic.org" = "medical_director"
    "dr.lee@clinic.org" = { role = "clinician", clinics = ["Riverside Pain Clinic"] }

    [groups]                      # OIDC "groups" claim -> role
    "kap-data" = "data_manager"

    [subjects."https://login.clinic.org"]   # issuer -> subject -> role
    "248289761001" = "administrator"

Roles come from verified identities only: an issuer + subject entry, an e-mail entry only when
the provider marks the e-mail verified (``email_verified``), or the provider's groups claim.

A person with no mapping gets no access. Without sign-in configured the app runs in local
single-user mode: one local user with every role's pages, listening on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kapoutcomes.storage import binding

ROLES = ("medical_director", "clinician", "data_manager", "administrator")
ROLE_LABELS = {
    "medical_director": "Medical director",
    "clinician": "Clinician",
    "data_manager": "Data manager",
    "administrator": "Administrator",
}

PAGES = ("cohort", "patient", "safety", "data", "audit", "definitions")

#: Pages each role sees.
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "medical_director": ("cohort", "patient", "safety", "data", "audit", "definitions"),
    "clinician": ("cohort", "patient", "safety", "definitions"),
    "data_manager": ("data", "definitions"),
    "administrator": ("data", "audit", "definitions"),
}

#: Actions each role may take. ``review_signal``: record "reviewed" / "action taken" for a
#: PHQ-9 item 9 or serious-event signal (the roles that see patients; ``signal_reviews``).
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "medical_director": frozenset(
        {"compare_clinics", "export", "view_patient", "read_audit", "review_signal"}
    ),
    "clinician": frozenset({"export", "view_patient", "review_signal"}),
    "data_manager": frozenset({"import", "export"}),
    "administrator": frozenset({"import", "export", "read_audit", "change_settings"}),
}

LOCAL_USER = "local user"
ACCESS_ENV = "KAPOUTCOMES_ACCESS"


class AccessError(ValueError):
    """An access file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Grant:
    role: str
    clinics: tuple[str, ...] = ()  # empty: every clinic


@dataclass(frozen=True)
class Identity:
    """Who signed in, as the identity provider vouches for them (the ID token's claims)."""

    issuer: str
    subject: str
    email: str = ""
    email_verified: bool = False
    groups: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Issuer and subject: the one identifier a provider never reassigns."""
        return f"{self.issuer}#{self.subject}"

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> Identity:
        verified = claims.get("email_verified")
        groups = claims.get("groups") or ()
        return cls(
            issuer=str(claims.get("iss") or ""),
            subject=str(claims.get("sub") or ""),
            email=str(claims.get("email") or "").strip().lower(),
            email_verified=verified is True or str(verified).lower() == "true",
            groups=tuple(str(g) for g in groups) if isinstance(groups, list | tuple) else (),
        )


@dataclass(frozen=True)
class AccessConfig:
    users: dict[str, Grant] = field(default_factory=dict)
    groups: dict[str, Grant] = field(default_factory=dict)
    subjects: dict[str, Grant] = field(default_factory=dict)  # "issuer#subject" -> grant

    def grant_for_identity(self, who: Identity) -> Grant | None:
        """Roles come from verified identities only: an issuer + subject entry first, then an
        e-mail entry only when the provider says the e-mail is verified, then the groups the
        provider sends. No issuer or subject: no access."""
        if not who.issuer or not who.subject:
            return None
        if who.key in self.subjects:
            return self.subjects[who.key]
        if who.email and who.email_verified and who.email in self.users:
            return self.users[who.email]
        for g in who.groups:
            if g in self.groups:
                return self.groups[g]
        return None

    def grant_for(
        self, email: str | None, groups: list[str] | tuple[str, ...] = ()
    ) -> Grant | None:
        """A user's own entry wins over their groups; among groups the first listed wins."""
        if email and email.strip().lower() in self.users:
            return self.users[email.strip().lower()]
        for g in groups:
            if g in self.groups:
                return self.groups[g]
        return None


def _grant(value: object, where: str, origin: str) -> Grant:
    if isinstance(value, str):
        value = {"role": value}
    if not isinstance(value, dict) or "role" not in value:
        raise AccessError(
            f"{origin}: {where} must be a role name or {{ role = ..., clinics = [...] }}"
        )
    role = value["role"]
    if role not in ROLES:
        raise AccessError(f"{origin}: {where} has unknown role {role!r}; roles: {', '.join(ROLES)}")
    clinics = value.get("clinics", [])
    if not isinstance(clinics, list) or not all(isinstance(c, str) for c in clinics):
        raise AccessError(f"{origin}: {where}: clinics must be a list of clinic names")
    unknown = set(value) - {"role", "clinics"}
    if unknown:
        raise AccessError(f"{origin}: {where}: unknown keys {', '.join(sorted(unknown))}")
    return Grant(role=role, clinics=tuple(clinics))


def parse_access(text: str, origin: str = "access file") -> AccessConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise AccessError(f"{origin}: not valid TOML ({e})") from None
    unknown = set(data) - {"users", "groups", "subjects"}
    if unknown:
        raise AccessError(
            f"{origin}: unknown sections {', '.join(sorted(unknown))}; use [users], [groups] "
            'and [subjects."ISSUER"]'
        )
    users = {
        k.strip().lower(): _grant(v, f"[users] {k}", origin)
        for k, v in data.get("users", {}).items()
    }
    groups = {k: _grant(v, f"[groups] {k}", origin) for k, v in data.get("groups", {}).items()}
    subjects: dict[str, Grant] = {}
    for issuer, table in data.get("subjects", {}).items():
        if not isinstance(table, dict):
            raise AccessError(
                f"{origin}: [subjects] {issuer} must be a table of subject = role "
                f'([subjects."{issuer}"])'
            )
        for sub, v in table.items():
            subjects[f"{issuer}#{sub}"] = _grant(v, f'[subjects."{issuer}"] {sub}', origin)
    return AccessConfig(users=users, groups=groups, subjects=subjects)


def load_access(path: str | os.PathLike[str] | None = None) -> AccessConfig:
    p = Path(path) if path else Path(os.environ.get(ACCESS_ENV, "access.toml"))
    if not p.exists():
        return AccessConfig()
    return parse_access(p.read_text(encoding="utf-8"), str(p))


def pages_for(role: str) -> tuple[str, ...]:
    return ROLE_PAGES.get(role, ())


def can(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())


def sign_in_configured(auth: Mapping[str, Any] | None) -> bool:
    """True when a Streamlit secrets ``[auth]`` section has what ``st.login`` needs to keep a
    session (a cookie secret and the redirect address). The app passes ``st.secrets["auth"]``,
    the command line the section read from the secrets files (``secrets_auth``)."""
    return bool(auth) and bool(auth.get("cookie_secret")) and bool(auth.get("redirect_uri"))


def secrets_auth(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``[auth]`` section of one Streamlit secrets file; None when the file is missing,
    unreadable or has no such section."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    auth = data.get("auth")
    return auth if isinstance(auth, dict) else None


def check_listen_address(host: str | None, sign_in_configured: bool) -> None:
    """Refuse to listen beyond this machine unless sign-in is configured: every address the
    host resolves to must be loopback (see ``binding.address_problem``)."""
    if sign_in_configured:
        return
    problem = binding.address_problem(host)
    if problem:
        raise AccessError(refusal(problem))


def refusal(problem: str) -> str:
    """The message shown when the app would be reachable from other machines without sign-in."""
    return (
        f"Refusing to serve: {problem}. Sign-in is not configured, so the app runs in local "
        "single-user mode and must listen on 127.0.0.1 only (`kapoutcomes dashboard`, or "
        "`streamlit run dashboards/app.py --server.address 127.0.0.1`). To serve other "
        "machines, configure [auth] in .streamlit/secrets.toml and an access file, behind a "
        "TLS reverse proxy (see docs/access.md and docs/security.md)."
    )
