"""The pages' library calls on the demo cohort: each returns what its page shows, with the
configured confidence level in its labels (present.cohort_page, safety_page, patient_page,
data_page, audit_page, headline)."""

from __future__ import annotations

import pytest

from kapoutcomes.cohort.summary import cohort_summary
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.demo.generator import generate
from kapoutcomes.present import (
    audit_page,
    cohort_page,
    data_page,
    headline,
    patient_page,
    safety_page,
)


@pytest.fixture(scope="module")
def demo():
    return generate(seed=7, patients=60).tables


def test_headline_labels_read_the_level():
    assert headline.ci_label(0.9) == "90% CI"
    assert headline.number(None) == "\u2014"  # an em dash, never "None"
    assert headline.number(1.234, ".1f") == "1.2"


def test_cohort_view_labels_follow_the_setting(demo):
    s = Settings(confidence_level=0.9)
    view = cohort_page.cohort_view(cohort_summary(demo, s), s)
    text = " ".join(f"{h.label} {h.value} {h.help or ''} {h.caption or ''}" for h in view.headlines)
    assert "90% CI" in text and "95% CI" not in text


def test_safety_view_on_demo(demo):
    s = Settings(confidence_level=0.9)
    view = safety_page.safety_view(demo, s)
    assert view is not None and view.rates.height > 0


def test_patient_view_of_a_demo_patient(demo):
    pid = demo["patients"].get_column("patient_id")[0]
    view = patient_page.patient_view(demo, pid, Settings())
    assert view.timeline is not None


def test_data_and_audit_pages_without_a_store(tmp_path):
    assert "MB" in data_page.upload_help()
    assert data_page.store_records(tmp_path / "none.duckdb") is None
    assert audit_page.audit_trail(tmp_path / "none.duckdb") is None
