"""Roles, pages and the access file."""

from __future__ import annotations

import pytest

from kapoutcomes.storage import access


def test_roles_see_their_pages_only():
    assert "data" not in access.pages_for("clinician")
    assert "patient" not in access.pages_for("data_manager")
    assert access.can("data_manager", "import") and not access.can("clinician", "import")
    assert access.can("medical_director", "compare_clinics")
    assert not access.can("clinician", "compare_clinics")
    assert access.pages_for("nobody") == ()


def test_access_file_users_groups_and_clinics():
    cfg = access.parse_access(
        """
        [users]
        "Director@Clinic.org" = "medical_director"
        "dr.lee@clinic.org" = { role = "clinician", clinics = ["Riverside Pain Clinic"] }
        [groups]
        "kap-data" = "data_manager"
        """
    )
    assert cfg.grant_for("director@clinic.org").role == "medical_director"
    assert cfg.grant_for("dr.lee@clinic.org").clinics == ("Riverside Pain Clinic",)
    assert cfg.grant_for("someone@clinic.org", ["kap-data"]).role == "data_manager"
    assert cfg.grant_for("stranger@else.org") is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[users]\n"a@b.c" = "nurse"', "unknown role 'nurse'"),
        ('[users]\n"a@b.c" = { role = "clinician", clinics = "X" }', "list of clinic names"),
        ("[people]\n", "unknown sections people"),
        ("[users\n", "not valid TOML"),
    ],
)
def test_access_file_errors(text, match):
    with pytest.raises(access.AccessError, match=match):
        access.parse_access(text, "access.toml")


def test_listen_address_rules():
    access.check_listen_address("127.0.0.1", sign_in_configured=False)
    access.check_listen_address("0.0.0.0", sign_in_configured=True)
    with pytest.raises(
        access.AccessError, match=r"Refusing to serve: 0\.0\.0\.0 is not a loopback"
    ):
        access.check_listen_address("0.0.0.0", sign_in_configured=False)


def test_roles_only_from_verified_identities():
    cfg = access.parse_access(
        '[users]\n"dir@clinic.org" = "medical_director"\n'
        '[groups]\n"kap-data" = "data_manager"\n'
        '[subjects."https://idp.clinic.org"]\n"sub-7" = "administrator"\n',
        "access.toml",
    )
    iss = "https://idp.clinic.org"

    def who(**kw):
        return access.Identity.from_claims({"iss": iss, "sub": "x", **kw})

    # attack: an unverified e-mail claim naming the director gets nothing
    assert cfg.grant_for_identity(who(email="dir@clinic.org")) is None
    assert cfg.grant_for_identity(who(email="dir@clinic.org", email_verified=False)) is None
    assert cfg.grant_for_identity(who(email="DIR@clinic.org", email_verified=True)).role == (
        "medical_director"
    )
    assert cfg.grant_for_identity(who(email="dir@clinic.org", email_verified="true")).role == (
        "medical_director"
    )
    # attack: no issuer or subject, no access (even with a verified e-mail)
    no_sub = access.Identity.from_claims({"email": "dir@clinic.org", "email_verified": True})
    assert cfg.grant_for_identity(no_sub) is None
    # a subject entry only matches its own issuer
    assert cfg.grant_for_identity(who(sub="sub-7")).role == "administrator"
    other = access.Identity.from_claims({"iss": "https://evil.test", "sub": "sub-7"})
    assert cfg.grant_for_identity(other) is None
    assert cfg.grant_for_identity(who(groups=["kap-data"])).role == "data_manager"
