"""Re-record the golden reports (run from the repository root:
``python tests/data/golden/record.py``) after a change that alters report figures on purpose."""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from kapoutcomes.cohort.summary import cohort_summary  # noqa: E402
from kapoutcomes.demo import generator  # noqa: E402
from kapoutcomes.present import report  # noqa: E402
from tests.test_golden_report import exports_store  # noqa: E402


def _write(name: str, text: str) -> None:
    (HERE / name).write_bytes(gzip.compress(text.encode() + b"\n", mtime=0))


def main() -> None:
    _write("report_demo.json.gz", report.to_json(cohort_summary(generator.generate(seed=7).tables)))
    with tempfile.TemporaryDirectory() as d:
        tabs = exports_store(Path(d) / "s.duckdb")
    _write("report_exports.json.gz", report.to_json(cohort_summary(tabs)))


if __name__ == "__main__":
    main()
