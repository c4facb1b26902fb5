"""The demo cohort as the exporters see it: the canonical tables plus the truth the generator
used. Its own module so that the generator and the exporters both import it and the demo
package's imports point one way (params, draws -> course, outcomes -> generator; sample ->
files, identities, exports of each layout -> exports)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class SampleCohort:
    """The demo cohort: canonical tables plus the truth the generator used.

    ``mrns`` maps patient_id -> demo MRN (DEMO-000001...), which pseudonymises to the id with
    ``privacy.DEMO_SECRET``. ``truth`` holds one row per patient with the hidden response class,
    maximum pain relief, durability and depression effect (for checking analytics).
    """

    seed: int
    patients: int
    tables: dict[str, pl.DataFrame]
    mrns: dict[str, str] = field(repr=False)
    truth: pl.DataFrame = field(repr=False)
