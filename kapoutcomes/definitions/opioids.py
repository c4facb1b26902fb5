"""Morphine milligram equivalents (MME): versioned conversion-factor tables.

daily MME = daily dose x factor (mg/day; transdermal fentanyl in mcg/hr).
MME is a risk measure, not a tool for converting a patient between opioids (CDC 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

CDC_2022 = "CDC-2022"
CDC_2016 = "CDC-2016"
DEFAULT_TABLE = CDC_2022

TABLE_SOURCES: dict[str, str] = {
    CDC_2022: (
        "Dowell et al., CDC Clinical Practice Guideline for Prescribing Opioids for Pain, "
        "MMWR Recomm Rep 2022;71(3):1-95, Table 1"
    ),
    CDC_2016: (
        "CDC Guideline for Prescribing Opioids for Chronic Pain 2016 and the CMS opioid oral "
        "MME conversion factors (older analytic table: hydromorphone 4, tramadol 0.1, tiered "
        "methadone 4/8/10/12, meperidine 0.1, levorphanol 11)"
    ),
}

RISK_BANDS_MME = (50.0, 90.0)
RISK_BANDS_SOURCE = (
    "CDC 2022: >=50 MME/day reassess benefits and risks; >=90 MME/day avoid or carefully justify"
)

#: Ingredients counted in no MME total, flagged instead of dropped.
NO_FACTOR = {
    "buprenorphine": (
        "buprenorphine has no CDC 2022 factor (not expected to carry the same dose-dependent "
        "overdose risk): excluded from MME totals and flagged"
    ),
}


@dataclass(frozen=True, slots=True)
class Factor:
    ingredient: str
    factor: float
    unit: str  # the dose unit the factor applies to: "mg/day" or "mcg/hr"
    rxnorm: str | None
    table: str
    # methadone in the 2016 table is tiered by daily dose (mg/day): (upper bound, factor)
    tiers: tuple[tuple[float, float], ...] = ()

    def for_dose(self, daily_dose: float) -> float:
        for upper, factor in self.tiers:
            if daily_dose <= upper:
                return factor
        return self.factor


_RXNORM = {
    "codeine": "2670",
    "fentanyl": "4337",
    "hydrocodone": "5489",
    "hydromorphone": "3423",
    "methadone": "6813",
    "morphine": "7052",
    "oxycodone": "7804",
    "oxymorphone": "7814",
    "tapentadol": "787390",
    "tramadol": "10689",
    "meperidine": "6754",
    "levorphanol": "6378",
    "buprenorphine": "1819",
}


def _table(name: str, factors: dict[str, float], tiers=None) -> dict[str, Factor]:
    tiers = tiers or {}
    return {
        ing: Factor(
            ingredient=ing,
            factor=f,
            unit="mcg/hr" if ing == "fentanyl" else "mg/day",
            rxnorm=_RXNORM.get(ing),
            table=name,
            tiers=tiers.get(ing, ()),
        )
        for ing, f in factors.items()
    }


TABLES: dict[str, dict[str, Factor]] = {
    CDC_2022: _table(
        CDC_2022,
        {
            "codeine": 0.15,
            "fentanyl": 2.4,
            "hydrocodone": 1.0,
            "hydromorphone": 5.0,
            "methadone": 4.7,
            "morphine": 1.0,
            "oxycodone": 1.5,
            "oxymorphone": 3.0,
            "tapentadol": 0.4,
            "tramadol": 0.2,
        },
    ),
    CDC_2016: _table(
        CDC_2016,
        {
            "codeine": 0.15,
            "fentanyl": 2.4,
            "hydrocodone": 1.0,
            "hydromorphone": 4.0,
            "methadone": 12.0,
            "morphine": 1.0,
            "oxycodone": 1.5,
            "oxymorphone": 3.0,
            "tapentadol": 0.4,
            "tramadol": 0.1,
            "meperidine": 0.1,
            "levorphanol": 11.0,
        },
        tiers={"methadone": ((20.0, 4.0), (40.0, 8.0), (60.0, 10.0))},
    ),
}

#: Every ingredient the opioids table accepts (those with a factor in any table, plus those
#: deliberately without one).
INGREDIENTS: tuple[str, ...] = tuple(
    sorted({ing for t in TABLES.values() for ing in t} | set(NO_FACTOR))
)

RXNORM_TO_INGREDIENT = {code: ing for ing, code in _RXNORM.items()}


def factor(ingredient: str, daily_dose: float, table: str = DEFAULT_TABLE) -> float | None:
    """The conversion factor for ``ingredient`` at ``daily_dose`` in ``table``.

    None when the ingredient has no factor in that table (buprenorphine, or an ingredient only
    the other table knows).
    """
    if table not in TABLES:
        raise KeyError(f"unknown MME table {table!r}; known tables: {', '.join(TABLES)}")
    f = TABLES[table].get(ingredient.lower())
    return None if f is None else f.for_dose(daily_dose)


def daily_mme(ingredient: str, daily_dose: float, table: str = DEFAULT_TABLE) -> float | None:
    """daily dose (mg/day, or mcg/hr for transdermal fentanyl) x factor; None without factor."""
    f = factor(ingredient, daily_dose, table)
    return None if f is None else daily_dose * f


def add_daily_mme(
    frame: pl.DataFrame,
    table: str = DEFAULT_TABLE,
    ingredient: str = "ingredient",
    daily_dose: str = "daily_dose",
) -> pl.DataFrame:
    """Add ``mme_factor``, ``daily_mme`` and ``mme_table`` columns (vectorised)."""
    if table not in TABLES:
        raise KeyError(f"unknown MME table {table!r}; known tables: {', '.join(TABLES)}")
    tab = TABLES[table]
    base = (
        pl.col(ingredient)
        .str.to_lowercase()
        .replace_strict(
            {k: v.factor for k, v in tab.items()}, default=None, return_dtype=pl.Float64
        )
    )
    expr = base
    for ing, f in tab.items():
        if f.tiers:
            tier_expr = pl.lit(f.factor)
            for upper, fac in reversed(f.tiers):
                tier_expr = pl.when(pl.col(daily_dose) <= upper).then(fac).otherwise(tier_expr)
            expr = (
                pl.when(pl.col(ingredient).str.to_lowercase() == ing)
                .then(tier_expr)
                .otherwise(expr)
            )
    return frame.with_columns(mme_factor=expr).with_columns(
        daily_mme=pl.col(daily_dose) * pl.col("mme_factor"),
        mme_table=pl.lit(table),
    )


def replace_daily_mme(frame: pl.DataFrame, table: str = DEFAULT_TABLE) -> pl.DataFrame:
    """``frame`` with any stored ``mme_factor``, ``daily_mme`` and ``mme_table`` replaced by
    those of ``table`` (``add_daily_mme``): the MME of rows stored under another table."""
    return add_daily_mme(frame.drop("mme_factor", "daily_mme", "mme_table", strict=False), table)


def factor_frame(table: str = DEFAULT_TABLE) -> pl.DataFrame:
    """The factor table as a frame, with its source, for display and schemas."""
    rows = [
        {
            "ingredient": f.ingredient,
            "factor": f.factor,
            "dose_unit": f.unit,
            "rxnorm": f.rxnorm,
            "tiers": "; ".join(f"<= {u:g} mg/day: {x:g}" for u, x in f.tiers) or None,
            "table": table,
            "source": TABLE_SOURCES[table],
        }
        for f in TABLES[table].values()
    ]
    return pl.DataFrame(rows)
