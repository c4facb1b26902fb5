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
