"""Sign-in and role gating for the app.

With an [auth] section in the app's secrets, people sign in with the clinic's OpenID Connect
provider (st.login) and get the pages of the role their e-mail or group maps to in the access
file. Without it the app runs in local single-user mode: one local user, every page, and it
refuses to run on any address but this machine's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from kapoutcomes.present.formatting import plain
from kapoutcomes.storage import access, audit, binding, keys, store


@dataclass(frozen=True)
class Viewer:
    user: str
    role: str  # a role name, or "local" in single-user mode
    clinics: tuple[str, ...]  # empty: every clinic
    pages: tuple[str, ...]
    signed_in: bool
    subject: str = ""  # issuer#subject of a signed-in person's verified identity

    @property
    def audit_name(self) -> str:
        """Who, as written in the audit trail: the person and their verified subject."""
        return f"{self.user} [{self.subject}]" if self.subject else self.user

    def can(self, action: str) -> bool:
        if self.role == "local":
            return True
        return access.can(self.role, action)


def _auth_secrets() -> object:
    """The [auth] section of the app's secrets (None without a secrets file); whether it is
    enough to sign people in is decided by the library, access.sign_in_configured."""
    try:
        return st.secrets.get("auth")
    except Exception:  # no secrets file at all
        return None


def write_audit(viewer: Viewer, action: str, target: str = "", detail: str = "") -> None:
    """Append to the audit trail or raise. Sessions of the app write from several threads, so
    a write that collides with another (a DuckDB transaction conflict) or finds the store busy
    is tried again before giving up. Safe to call outside the script thread (downloads)."""
    last: Exception | None = None
    for attempt in range(6):
        try:
            s, k = keys.open_store(store.default_path())
            with s:
                audit.record(s, k.audit, viewer.audit_name, viewer.role, action, target, detail)
            return
        except store.StoreError as e:
            if "busy" not in str(e):
                raise  # a lost or wrong key, a damaged store: trying again will not help
            last = e
        except Exception as e:  # a conflicting writer in this process
            last = e
        time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"the audit trail could not be written ({last})") from last


def record(viewer: Viewer, action: str, target: str = "", detail: str = "") -> bool:
    """Append to the audit trail; a failure to audit is shown, never hidden, and returns
    False so that the caller shows nothing it could not record (fail closed)."""
    try:
        write_audit(viewer, action, target, detail)
    except Exception as e:
        st.error(
            f"The audit trail could not record this {action.replace('_', ' ')}, so it is not "
            f"shown: {plain(e)}. Tell your administrator.",
            icon=":material/gpp_bad:",
        )
        return False
    return True


def refuse_unless_loopback() -> None:
    """Without sign-in, show only a refusal unless the configured address and every socket
    this process listens on are loopback (``streamlit run`` without --server.address binds
    every interface)."""
    problem = binding.serving_problem(st.get_option("server.address"))
    if problem:
        st.title("kapoutcomes")
        st.error(access.refusal(problem), icon=":material/block:")
        st.stop()


def gate() -> Viewer:
    """Return who is looking, or stop the script with the sign-in page."""
    if not access.sign_in_configured(_auth_secrets()):  # type: ignore[arg-type]
        refuse_unless_loopback()
        st.sidebar.caption(
            ":material/lock: Local single-user mode: listening on 127.0.0.1 only; "
            "configure sign-in to serve other machines."
        )
        return Viewer(access.LOCAL_USER, "local", (), access.PAGES, signed_in=False)

    if not st.user.is_logged_in:
        st.title("kapoutcomes")
        st.write("Sign in with your clinic account to continue.")
        if st.button("Sign in", type="primary"):
            st.login()
        st.stop()

    who = access.Identity.from_claims(dict(st.user.to_dict()))
    email = who.email or who.subject
    grant = access.load_access().grant_for_identity(who)
    if grant is None:
        viewer = Viewer(email, "none", (), (), signed_in=True, subject=who.key)
        if not st.session_state.get("_denied_logged"):
            why = (
                "e-mail not verified by the identity provider"
                if who.email and not who.email_verified
                else "no role in the access file"
            )
            record(viewer, "access_denied", "", why)
            st.session_state["_denied_logged"] = True
        st.title("No access yet")
        st.write(
            f"You are signed in as {plain(email)}, but no role is assigned to this account"
            + (
                " (your identity provider has not verified this e-mail address)"
                if who.email and not who.email_verified
                else ""
            )
            + ". Ask your kapoutcomes administrator to add you to the access file."
        )
        if st.button("Sign out"):
            st.logout()
        st.stop()
    viewer = Viewer(
        email,
        grant.role,
        grant.clinics,
        access.pages_for(grant.role),
        signed_in=True,
        subject=who.key,
    )
    if not st.session_state.get("_signin_logged"):
        record(viewer, "sign_in")
        st.session_state["_signin_logged"] = True
    with st.sidebar:
        st.caption(f"Signed in as {plain(email)} ({access.ROLE_LABELS[grant.role]})")
        if st.button("Sign out", key="sign-out"):
            record(viewer, "sign_out")
            st.logout()
    return viewer
