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


def test_the_import_report_in_words_adds_up_and_says_what_to_do(tmp_path):
    """The Data page's import report: the sum that must add up, then the next steps - rows
    to correct apart from out-of-scope ones, conflicts with the store apart from rows that
    disagree within the import."""
    from kapoutcomes.ingest import import_files

    db = tmp_path / "s.duckdb"
    secret = b"pages-test-secret-pages-test-secret!!"
    import_files([("a.csv", b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,7\n")],
                 db, clinic="C", secret=secret)  # fmt: skip
    later = (
        b"MRN,Date,LOINC,Value\n"
        b"M1,2024-03-01 10:00,72514-3,8\n"  # the store holds 7
        b"M1,2024-03-02 10:00,72514-3,5\n"
        b"M1,2024-03-02 10:00,72514-3,4\n"  # disagrees with the line above
        b"M1,1998-03-02 10:00,72514-3,4\n"  # out of scope
        b"M1,2024-03-03 10:00,72514-3,14\n"  # to correct
    )
    rep = import_files([("b.csv", later)], db, clinic="C", secret=secret)
    words = data_page.report_summary(rep)
    assert words.total == "5 rows read = 1 accepted + 2 quarantined + 2 skipped"
    steps = "\n".join(words.next_steps)
    assert "1 quarantined row(s) need correction" in steps
    assert "1 quarantined row(s) are out of scope" in steps
    assert "1 row(s) differ from what the store already holds" in steps
    assert "1 row(s) disagree with an earlier row of this import" in steps
    fix, out = data_page.quarantine_reasons_split(rep.files[0].quarantine_reasons)
    assert fix.get_column("rows").to_list() == [1] and out.get_column("rows").to_list() == [1]
    summary = data_page.files_summary(rep)
    assert summary.row(0, named=True)["conflicts with the store"] == 1
    assert summary.row(0, named=True)["disagree within the import"] == 1

    from kapoutcomes.ingest import review
    from kapoutcomes.storage.store import Store

    with Store(db) as st:
        shown = data_page.conflicts_for_people(review.conflicts(st))
    rows = {r["kind"]: r for r in shown.iter_rows(named=True)}
    store_row = rows["differs from the store"]
    assert store_row["kept (stored)"] == "score 7.0"
    assert store_row["not stored (imported)"] == "score 8.0"
    assert store_row["what"].startswith("score ") and "p_" not in store_row["what"]
    assert store_row["patient"].startswith("p_") and store_row["from"] == "b.csv, line 2"
    within = rows["disagrees within one import"]
    assert within["kept (stored)"] == "earlier row (line 3): score 5.0"
    (part,) = data_page.quarantine_sections(db)
    assert part.source_file == "b.csv" and part.download_name == "quarantine_b.csv"
    assert part.rows.columns[:2] == ["line", "why"] and part.rows.get_column("line")[0] == "6"
    assert part.csv.startswith(b"\xef\xbb\xbf")
