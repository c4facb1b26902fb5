"""Re-record the golden reports (run from the repository root:
``python tests/data/golden/record.py``) after a change that alters report figures on purpose."""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from test_golden_report import EXPORTS, MAPPING, SECRET  # noqa: E402

from kapoutcomes.cohort.summary import cohort_summary  # noqa: E402
from kapoutcomes.demo import generator  # noqa: E402
from kapoutcomes.ingest import import_files  # noqa: E402
from kapoutcomes.present import report  # noqa: E402
from kapoutcomes.storage.store import Store  # noqa: E402


def _write(name: str, text: str) -> None:
    (HERE / name).write_bytes(gzip.compress(text.encode() + b"\n", mtime=0))


def main() -> None:
    _write("report_demo.json.gz", report.to_json(cohort_summary(generator.generate(seed=7).tables)))
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "s.duckdb"
        import_files([EXPORTS / "riverside_visits.csv"], db, mapping=MAPPING, secret=SECRET)
        import_files(
            [EXPORTS / "lakeshore_observations.csv", EXPORTS / "riverside_medications.tsv"],
            db,
            clinic="Lakeshore Ketamine Center",
            secret=SECRET,
        )
        import_files([EXPORTS / "synthea"], db, clinic="Summit", secret=SECRET)
        with Store(db, read_only=True) as st:
            tabs = st.read_all()
    _write("report_exports.json.gz", report.to_json(cohort_summary(tabs)))


if __name__ == "__main__":
    main()
