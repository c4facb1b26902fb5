"""Skip-reason counts: the first lines of each reason found among the first lines of the file
(a bound that grows) equal the five smallest lines of each reason over all rows."""

from __future__ import annotations

import numpy as np
import polars as pl

from kapoutcomes.ingest.accounting import reason_counts
from kapoutcomes.ingest.extract import RK
from kapoutcomes.ingest.frames import RK_BASE


def _expected(frame: pl.DataFrame) -> list[tuple[str | None, int, tuple[int, ...]]]:
    g = (
        frame.with_columns(_line=pl.col(RK) % RK_BASE)
        .group_by("reason")
        .agg(count=pl.len(), rows=pl.col("_line").bottom_k(5).sort())
        .sort("count", "reason", descending=[True, False])
    )
    return [(r["reason"], r["count"], tuple(r["rows"])) for r in g.iter_rows(named=True)]


def test_skip_reason_first_lines_match_all_rows() -> None:
    rng = np.random.default_rng(7)
    for base, n in ((0, 50), (RK_BASE, 300_000), (0, 200_000)):
        lines = rng.permutation(np.arange(2, n + 2))
        reasons = rng.choice(["common", "other", "rare"], size=n, p=[0.7, 0.29999, 0.00001])
        reasons = reasons.astype(object)
        reasons[lines > n - 3] = "at the end"  # a reason only on the last lines
        reasons[rng.integers(0, n, 3)] = None
        frame = pl.DataFrame(
            {RK: lines.astype(np.int64) + base, "reason": pl.Series(reasons, dtype=pl.String)}
        )
        got = [(r.reason, r.count, r.rows) for r in reason_counts(frame, False, one_per_row=True)]
        assert got == _expected(frame)


def test_a_dry_run_into_an_empty_store_reports_no_conflicts_only_disagreements(tmp_path):
    """Issue 13: "17 conflicts, kept for review" in a dry run into an EMPTY store. Two rows of
    one file with the same patient, time and measure and different values disagree within the
    import; a conflict is a difference from what the store already holds."""
    from kapoutcomes.ingest import import_files
    from kapoutcomes.storage.store import Store

    secret = b"conflict-secret-conflict-secret-conflict"
    export = (
        b"MRN,Date,Observation,Value\n"
        b"A1,2024-02-01 10:00,Pain NRS,7\n"
        b"A1,2024-02-01 10:00,Pain NRS,5\n"  # disagrees with line 2
        b"A1,2024-02-08 10:00,Pain NRS,6\n"
    )
    db = tmp_path / "s.duckdb"
    dry = import_files([("obs.csv", export)], db, clinic="C", secret=secret, dry_run=True)
    f = dry.files[0]
    assert (f.accepted, f.skipped, f.conflicts, f.disagreements) == (2, 1, 0, 1)
    assert "conflicts with the store 0" in dry.text()
    assert "1 row(s) disagree within this import" in dry.text()
    assert f.skip_reasons[0].reason.startswith("disagrees within this import")
    with Store(db) as st:
        assert st.read("conflicts", validate=False).height == 0  # a dry run writes nothing
    # imported: the disagreement is kept for review, the first row written
    done = import_files([("obs.csv", export)], db, clinic="C", secret=secret)
    assert (done.files[0].conflicts, done.files[0].disagreements) == (0, 1)
    with Store(db) as st:
        kept = st.read("conflicts", validate=False)
    assert kept.height == 1
    assert kept.get_column("stored_value")[0].startswith("another row of this import (line 2)")
    # against a store that holds line 2's 7: an 8 is a conflict (line 3's 5 still disagrees
    # with the 8 within the import)
    changed = export.replace(b",7\n", b",8\n", 1)
    again = import_files([("obs2.csv", changed)], db, clinic="C", secret=secret, dry_run=True)
    g = again.files[0]
    assert (g.accepted, g.duplicates, g.conflicts, g.disagreements) == (0, 1, 1, 1)


def test_a_worksheet_named_after_its_patient_is_reported_scrubbed(tmp_path):
    """The attack (issue 15, second pass): a workbook whose sheet is named after the patient
    and her date of birth ("Olivia Johnson 4-6-71"). The sheet name went verbatim into the
    report and the ledger's report_json; it is now scrubbed as a file name is."""
    import json
    from pathlib import Path

    from kapoutcomes.ingest import import_files
    from kapoutcomes.storage.store import Store

    root = Path(__file__).resolve().parents[2]
    row = {
        "MRN": "DEMO-1",
        "Patient Name": "Olivia Johnson",
        "dob": "4/6/1971",
        "Visit Date": "10/10/2024",
        "visit time": "9:00 AM",
        "VISIT TYPE": "Ketamine Infusion - Induction #1",
        "Route": "IV",
        "Dose": "35 mg",
        "Weight": "150 lb",
        "Pain Before": "6",
        "pain after": "3",
        "PHQ-9 Score": "12",
        "BP (pre)": "120/80",
        "BP (post)": "125/85",
        "Pulse": "70",
        "Side Effects": "none",
        "Charge": "500",
        "Provider": "RPC-03",
    }
    book = tmp_path / "visits.xlsx"
    pl.DataFrame([row]).write_excel(book, worksheet="Olivia Johnson 4-6-71")
    db = tmp_path / "s.duckdb"
    mapping = root / "sample_data" / "mappings" / "riverside_visits.toml"
    rep = import_files([book], db, mapping=mapping)
    with Store(db) as st:
        ledger = st.ledger().get_column("report_json").to_list()
    shown = json.dumps(rep.to_dict()) + rep.text() + " ".join(ledger)
    assert rep.accepted == 1 and rep.files[0].sheet == "[name] [name] [date]"
    assert "Olivia" not in shown and "Johnson" not in shown and "4-6-71" not in shown


def test_a_header_line_that_looks_like_data_is_not_listed(tmp_path):
    """Fuzz run seeds 22 + 23 (issue 15): a visit export whose header line holds a shifted
    data row ("35.5", a relative's name) beside the real column names. The report, its JSON
    and the import ledger listed the unmapped cells as "columns not imported", the name among
    them; no identifier column holds that name, so only the row's shape can tell. With a
    value-shaped cell among them, none of the unmapped cells is listed."""
    import json

    from kapoutcomes.ingest import import_files
    from kapoutcomes.ingest.deid import HEADER_NOT_LISTED
    from kapoutcomes.storage.store import Store

    csv = (
        b"MRN,started_at,session_type,route,dose_mg,care_model,35.5,Quilla Vantongeren\n"
        b"MRN-1,2024-03-05 10:00,induction,IV,35,infusion_only,x,y\n"
    )
    db = tmp_path / "s.duckdb"
    rep = import_files([("visits.csv", csv)], db, clinic="North", secret=b"k" * 32)
    (f,) = rep.files
    assert f.ignored_columns == (HEADER_NOT_LISTED,)
    ledger = Store(db, read_only=True).read("import_ledger")
    for shown in (rep.text(), json.dumps(rep.to_dict(), default=str), str(ledger.rows())):
        assert "Quilla" not in shown and "Vantongeren" not in shown
    # a header of column names only is still listed, so staff can fix their mapping
    csv = csv.replace(b",35.5,Quilla Vantongeren", b",Visit notes,Room").replace(b"MRN-1", b"MRN-2")
    rep = import_files([("visits2.csv", csv)], db, secret=b"k" * 32)
    assert rep.files[0].ignored_columns == ("Visit notes", "Room")
