"""The settings-change audit decision: recorded once per change, never for the defaults."""

from __future__ import annotations


def test_settings_change_is_recorded_once_per_change(tmp_path):
    from kapoutcomes.definitions import settings
    from kapoutcomes.storage import audit, privacy, settings_change
    from kapoutcomes.storage.store import Store

    path = tmp_path / "store.duckdb"
    assert settings_change.change_to_record(settings.DEFAULT, path) is None  # no store yet
    Store(path).close()
    assert settings_change.change_to_record(settings.DEFAULT, path) is None  # defaults
    edited = settings.Settings(pain_response_pct=50.0)
    detail = settings_change.change_to_record(edited, path)
    assert detail is not None and "pain_response_pct=50.0" in detail
    with Store(path) as db:
        audit.record(
            db,
            privacy.create_keys(tmp_path / "k").audit,
            "u",
            "r",
            "settings_change",
            "",
            detail,
        )
    assert settings_change.change_to_record(edited, path) is None  # already recorded
    back = settings_change.change_to_record(settings.DEFAULT, path)  # back to the defaults
    assert back is not None and back.endswith("differs from defaults: none")
