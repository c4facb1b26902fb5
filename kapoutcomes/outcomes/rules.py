"""Which rule applies: the response, remission, MCID and reliable-change figures in force per
instrument (registry values, with the clinic's settings where they override them), and the
severity bands of every instrument."""

from __future__ import annotations

import polars as pl

from kapoutcomes.definitions import instruments
from kapoutcomes.definitions.settings import Settings

#: instrument code -> the setting holding the lowest baseline of its eligible population
BASELINE_MIN_SETTINGS = {
    "phq9": "phq9_baseline_min",
    "bdi2": "bdi2_baseline_min",
    "madrs": "madrs_baseline_min",
    "gad7": "gad7_baseline_min",
}
#: short instrument names for sentences ("baseline PHQ-9 below 10")
SHORT_NAMES = {
    "pain_nrs": "pain NRS",
    "pain_vas": "pain VAS",
    "peg": "PEG",
    "bpi_severity": "BPI severity",
    "bpi_interference": "BPI interference",
    "phq9": "PHQ-9",
    "phq2": "PHQ-2",
    "bdi2": "BDI-II",
    "madrs": "MADRS",
    "gad7": "GAD-7",
    "pcl5": "PCL-5",
    "cadss": "CADSS",
    "promis_pain_interference": "PROMIS pain interference",
}


def baseline_min(inst: instruments.Instrument, settings: Settings) -> float | None:
    """The lowest baseline of the instrument's eligible population (``None``: any baseline
    with room to improve). Pain intensity instruments take ``settings.pain_baseline_min``
    (a 0-10 figure, scaled to the instrument's range: 40 on the 0-100 mm VAS); the
    depression and anxiety instruments their cited moderate cut-off."""
    if inst.domain == "pain" and inst.response_pct is not None:
        return settings.pain_baseline_min * (inst.maximum - inst.minimum) / 10.0
    name = BASELINE_MIN_SETTINGS.get(inst.code)
    return None if name is None else float(getattr(settings, name))


def eligible_reason(inst: instruments.Instrument, settings: Settings) -> str:
    """Why a patient with a baseline is outside the instrument's eligible population."""
    low = baseline_min(inst, settings)
    short = SHORT_NAMES.get(inst.code, inst.code)
    if low is None:
        return f"baseline {short} at the best possible score (no room to improve)"
    return f"baseline {short} below {low:g}"


def eligible_expr(baseline: str = "baseline_score") -> pl.Expr:
    """Whether the baseline is in the instrument's eligible population (needs the
    ``response_rules`` columns eligible_from and best_score on the row): at or above
    ``eligible_from``; for an instrument without a cut-off, any baseline other than the best
    possible score; never without a baseline."""
    b = pl.col(baseline)
    return (
        pl.when(b.is_null())
        .then(False)
        .when(pl.col("eligible_from").is_not_null())
        .then(b >= pl.col("eligible_from"))
        .otherwise(b != pl.col("best_score"))
    )


def response_rules(settings: Settings) -> pl.DataFrame:
    """One row per instrument: the response, substantial, minimal, remission, MCID and
    reliability figures in force, with the definition in words.

    Pain instruments take ``settings.pain_response_pct`` / ``pain_substantial_pct``;
    depression instruments with a published response threshold take
    ``settings.depression_response_pct``; PHQ-9 remission takes
    ``settings.phq9_remission_below``; everything else comes from the instrument registry.
    ``eligible_from`` is the lowest baseline of the population the measures are about
    (``baseline_min``; empty: any baseline better than ``best_score``), with
    ``not_eligible_reason`` in words.
    """
    rows = []
    for inst in instruments.INSTRUMENTS.values():
        response = inst.response_pct
        substantial = inst.substantial_pct
        if inst.domain == "pain" and response is not None:
            response = settings.pain_response_pct
            substantial = settings.pain_substantial_pct
        elif inst.domain == "depression" and response is not None:
            response = settings.depression_response_pct
        rem_below = inst.remission_below
        if inst.code == "phq9":
            rem_below = settings.phq9_remission_below
        parts = []
        if response is not None:
            parts.append(f"response: reduction from baseline >= {response:g}%")
        if substantial is not None:
            parts.append(f"substantial: >= {substantial:g}%")
        if inst.minimal_pct is not None:
            parts.append(f"minimal: >= {inst.minimal_pct:g}%")
        if rem_below is not None:
            parts.append(f"remission: score < {rem_below:g}")
        if inst.remission_at_or_below is not None:
            parts.append(f"remission: score <= {inst.remission_at_or_below:g}")
        if inst.mcid is not None:
            parts.append(f"MCID: improvement >= {inst.mcid:g} points")
        if inst.reliability is not None:
            parts.append(
                f"reliable change: |RCI| > {instruments.RCI_CRITERION} (r = {inst.reliability:g})"
            )
        rows.append(
            {
                "instrument": inst.code,
                "domain": inst.domain,
                "higher_is_worse": inst.higher_is_worse,
                "response_pct": response,
                "substantial_pct": substantial,
                "minimal_pct": inst.minimal_pct,
                "remission_below": rem_below,
                "remission_at_or_below": inst.remission_at_or_below,
                "mcid": inst.mcid,
                "reliability": inst.reliability,
                "eligible_from": baseline_min(inst, settings),
                "best_score": float(inst.minimum if inst.higher_is_worse else inst.maximum),
                "not_eligible_reason": eligible_reason(inst, settings),
                "definition": "; ".join(parts) or "no published response threshold",
                "source": inst.source,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "instrument": pl.String,
            "domain": pl.String,
            "higher_is_worse": pl.Boolean,
            "response_pct": pl.Float64,
            "substantial_pct": pl.Float64,
            "minimal_pct": pl.Float64,
            "remission_below": pl.Float64,
            "remission_at_or_below": pl.Float64,
            "mcid": pl.Float64,
            "reliability": pl.Float64,
            "eligible_from": pl.Float64,
            "best_score": pl.Float64,
            "not_eligible_reason": pl.String,
            "definition": pl.String,
            "source": pl.String,
        },
    )


def bands_frame() -> pl.DataFrame:
    """instrument, band, low: severity bands of every instrument (for vectorised banding)."""
    rows = [
        {"instrument": i.code, "band": b.label, "low": float(b.low)}
        for i in instruments.INSTRUMENTS.values()
        for b in i.bands
    ]
    return pl.DataFrame(
        rows, schema={"instrument": pl.String, "band": pl.String, "low": pl.Float64}
    )


def band_expr(
    score: str = "score", instrument: str = "instrument", codes: list[str] | None = None
) -> pl.Expr:
    """The severity band of ``score`` for its instrument (the band with the greatest ``low``
    not above the score; empty for instruments without bands), as one vectorised
    expression (for the instruments in ``codes``, default all)."""
    expr = pl.lit(None, pl.String)
    for inst in instruments.INSTRUMENTS.values():
        if codes is not None and inst.code not in codes:
            continue
        for b in sorted(inst.bands, key=lambda x: x.low):
            expr = (
                pl.when((pl.col(instrument) == inst.code) & (pl.col(score) >= b.low))
                .then(pl.lit(b.label))
                .otherwise(expr)
            )
    return expr


def add_band(frame: pl.DataFrame, score: str = "score", out: str = "band") -> pl.DataFrame:
    """Add the severity band of ``score`` as column ``out``."""
    present = frame.get_column("instrument").unique().to_list()
    return frame.with_columns(band_expr(score, codes=present).alias(out))
