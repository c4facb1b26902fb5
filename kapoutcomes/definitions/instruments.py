"""Outcome instruments as data: range, direction, severity bands, thresholds, codes, sources.

Every number here is cited in the ``source`` of the entry that holds it; a test fails if an
entry has no source. Higher scores mean worse for every instrument listed here except where
``higher_is_worse`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True, slots=True)
class Band:
    """A severity band starting at ``low`` (inclusive); ``high`` is its published upper end.

    Scores between two published integer bands (a PEG mean of 4.5, say) take the band whose
    ``low`` is the greatest not above the score.
    """

    label: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Instrument:
    """One outcome instrument. Thresholds are ``None`` where no published value exists."""

    code: str
    name: str
    domain: str  # "pain" | "depression" | "anxiety" | "trauma" | "dissociation" | "function"
    minimum: float
    maximum: float
    higher_is_worse: bool
    source: str
    loinc: str | None = None
    items: int | None = None
    item_minimum: float | None = None
    item_maximum: float | None = None
    bands: tuple[Band, ...] = ()
    response_pct: float | None = None  # % reduction from baseline that counts as response
    substantial_pct: float | None = None  # IMMPACT "substantial" (pain)
    minimal_pct: float | None = None  # IMMPACT "minimal" lower bound (pain)
    remission_below: float | None = None  # remission when score < this
    remission_at_or_below: float | None = None  # remission when score <= this
    mcid: float | None = None  # minimal clinically important difference, in points
    reliability: float | None = None  # for the reliable change index
    reliability_source: str | None = None
    aliases: tuple[str, ...] = field(default=())
    #: the total is the sum of whole-number item answers, so it is a whole number itself (a
    #: PHQ-9 of 14.5 is a typing or averaging mistake); False for means (PEG, BPI), T-scores
    summed: bool = False

    def band(self, score: float) -> str | None:
        """The severity band label of ``score`` or None when the instrument has no bands."""
        label = None
        for b in self.bands:
            if score >= b.low:
                label = b.label
        return label

    def in_range(self, score: float, item: int | None = None) -> bool:
        if item is None:
            return self.minimum <= score <= self.maximum
        if self.item_minimum is None or self.item_maximum is None:
            return False
        return self.item_minimum <= score <= self.item_maximum


IMMPACT = "IMMPACT, Dworkin et al., J Pain 2008;9:105-121"

PAIN_NRS = Instrument(
    code="pain_nrs",
    name="Pain intensity, numeric rating scale 0-10 (NRS-11)",
    domain="pain",
    minimum=0,
    maximum=10,
    higher_is_worse=True,
    loinc="72514-3",
    bands=(
        Band("none", 0, 0),
        Band("mild", 1, 4),
        Band("moderate", 5, 6),
        Band("severe", 7, 10),
    ),
    response_pct=30.0,
    substantial_pct=50.0,
    minimal_pct=10.0,
    source=(
        f"{IMMPACT} (>=30% moderately important, >=50% substantial, 10-20% minimal); "
        "bands: Serlin et al., Pain 1995;61:277 (mild 1-4, moderate 5-6, severe 7-10); "
        "LOINC 72514-3"
    ),
    aliases=("pain", "nrs", "pain score", "pain severity", "pain nrs", "nprs", "pain (0-10)"),
)

PAIN_VAS = Instrument(
    code="pain_vas",
    name="Pain intensity, visual analogue scale 0-100 mm",
    domain="pain",
    minimum=0,
    maximum=100,
    higher_is_worse=True,
    response_pct=30.0,
    substantial_pct=50.0,
    minimal_pct=10.0,
    source=f"{IMMPACT} (same % thresholds as the NRS)",
    aliases=("vas", "pain vas"),
)

PEG = Instrument(
    code="peg",
    name="PEG (pain, enjoyment of life, general activity), mean of 3 items",
    domain="pain",
    minimum=0,
    maximum=10,
    higher_is_worse=True,
    items=3,
    item_minimum=0,
    item_maximum=10,
    response_pct=30.0,
    substantial_pct=50.0,
    minimal_pct=10.0,
    source=f"Krebs et al., J Gen Intern Med 2009;24:733; % thresholds from {IMMPACT}",
    aliases=("peg", "peg-3", "peg score"),
)

BPI_SEVERITY = Instrument(
    code="bpi_severity",
    name="Brief Pain Inventory, pain severity (mean of 4 items)",
    domain="pain",
    minimum=0,
    maximum=10,
    higher_is_worse=True,
    items=4,
    item_minimum=0,
    item_maximum=10,
    response_pct=30.0,
    substantial_pct=50.0,
    minimal_pct=10.0,
    source=IMMPACT,
    aliases=("bpi severity", "bpi-s", "bpi pain severity"),
)

BPI_INTERFERENCE = Instrument(
    code="bpi_interference",
    name="Brief Pain Inventory, pain interference (mean of 7 items)",
    domain="function",
    minimum=0,
    maximum=10,
    higher_is_worse=True,
    items=7,
    item_minimum=0,
    item_maximum=10,
    mcid=1.0,
    source=f"{IMMPACT} (interference: 1 point minimally important)",
    aliases=("bpi interference", "bpi-i", "bpi pain interference"),
)

PHQ9 = Instrument(
    code="phq9",
    name="PHQ-9 depression",
    domain="depression",
    minimum=0,
    maximum=27,
    higher_is_worse=True,
    loinc="44261-6",
    items=9,
    summed=True,
    item_minimum=0,
    item_maximum=3,
    bands=(
        Band("minimal", 0, 4),
        Band("mild", 5, 9),
        Band("moderate", 10, 14),
        Band("moderately severe", 15, 19),
        Band("severe", 20, 27),
    ),
    response_pct=50.0,
    remission_below=5.0,
    mcid=5.0,
    reliability=0.89,
    reliability_source="Kroenke, Spitzer & Williams, J Gen Intern Med 2001;16:606 (Cronbach alpha 0.89)",
    source=(
        "Kroenke et al., J Gen Intern Med 2001;16:606 (bands); Löwe et al., Med Care "
        "2004;42:1194 (response >=50%, MCID 5 points); remission <5; LOINC 44261-6; "
        "items on LOINC answer list LL358-3 (0-3)"
    ),
    aliases=("phq9", "phq-9", "phq 9", "phq-9 total", "phq9 total", "phq-9 score"),
)

PHQ2 = Instrument(
    code="phq2",
    name="PHQ-2 depression screen (first two PHQ-9 items)",
    domain="depression",
    minimum=0,
    maximum=6,
    higher_is_worse=True,
    loinc="55758-7",
    items=2,
    summed=True,
    item_minimum=0,
    item_maximum=3,
    source="Kroenke et al., Med Care 2003;41:1284; LOINC 55758-7 (a screen, not a PHQ-9 outcome)",
    aliases=("phq2", "phq-2", "phq 2"),
)

BDI2 = Instrument(
    code="bdi2",
    name="Beck Depression Inventory II",
    domain="depression",
    minimum=0,
    maximum=63,
    higher_is_worse=True,
    items=21,
    summed=True,
    item_minimum=0,
    item_maximum=3,
    bands=(
        Band("minimal", 0, 13),
        Band("mild", 14, 19),
        Band("moderate", 20, 28),
        Band("severe", 29, 63),
    ),
    response_pct=50.0,
    mcid=5.0,
    reliability=0.92,
    reliability_source="Beck, Steer & Brown, BDI-II manual 1996 (outpatients, alpha 0.92)",
    source=f"Beck et al. 1996 (bands); MCID ~5 points: {IMMPACT}; response >=50% as for PHQ-9",
    aliases=("bdi", "bdi-ii", "bdi ii", "bdi2", "beck"),
)

MADRS = Instrument(
    code="madrs",
    name="Montgomery-Åsberg Depression Rating Scale",
    domain="depression",
    minimum=0,
    maximum=60,
    higher_is_worse=True,
    items=10,
    summed=True,
    item_minimum=0,
    item_maximum=6,
    bands=(
        Band("normal", 0, 6),
        Band("mild", 7, 19),
        Band("moderate", 20, 34),
        Band("severe", 35, 60),
    ),
    response_pct=50.0,
    remission_at_or_below=10.0,
    source="Snaith et al. 1986 (bands); remission <=10 as in the SUSTAIN trials (some use <=12)",
    aliases=("madrs",),
)

GAD7 = Instrument(
    code="gad7",
    name="GAD-7 anxiety",
    domain="anxiety",
    minimum=0,
    maximum=21,
    higher_is_worse=True,
    loinc="70274-6",
    items=7,
    summed=True,
    item_minimum=0,
    item_maximum=3,
    bands=(
        Band("minimal", 0, 4),
        Band("mild", 5, 9),
        Band("moderate", 10, 14),
        Band("severe", 15, 21),
    ),
    reliability=0.92,
    reliability_source="Spitzer et al., Arch Intern Med 2006;166:1092 (Cronbach alpha 0.92)",
    source="Spitzer et al., Arch Intern Med 2006;166:1092 (cut-offs 5/10/15); LOINC 70274-6",
    aliases=("gad7", "gad-7", "gad 7"),
)

PCL5 = Instrument(
    code="pcl5",
    name="PTSD Checklist for DSM-5",
    domain="trauma",
    minimum=0,
    maximum=80,
    higher_is_worse=True,
    items=20,
    summed=True,
    item_minimum=0,
    item_maximum=4,
    source="Weathers et al. 2013 (PCL-5, 20 items scored 0-4)",
    aliases=("pcl5", "pcl-5"),
)

CADSS = Instrument(
    code="cadss",
    name="Clinician-Administered Dissociative States Scale",
    domain="dissociation",
    minimum=0,
    maximum=92,
    higher_is_worse=True,
    items=23,
    summed=True,
    item_minimum=0,
    item_maximum=4,
    source="Bremner et al., J Trauma Stress 1998;11:125 (23 items x 0-4)",
    aliases=("cadss",),
)

PROMIS_PAIN_INTERFERENCE = Instrument(
    code="promis_pain_interference",
    name="PROMIS pain interference T-score",
    domain="function",
    minimum=20,
    maximum=90,
    higher_is_worse=True,
    mcid=2.0,
    source=(
        "HealthMeasures PROMIS scoring (T-score, mean 50, SD 10); MID 2-3 T points, lower bound "
        "used (Chen et al.)"
    ),
    aliases=("promis pain interference", "promis-pi", "promis pi"),
)

INSTRUMENTS: dict[str, Instrument] = {
    i.code: i
    for i in (
        PAIN_NRS,
        PAIN_VAS,
        PEG,
        BPI_SEVERITY,
        BPI_INTERFERENCE,
        PHQ9,
        PHQ2,
        BDI2,
        MADRS,
        GAD7,
        PCL5,
        CADSS,
        PROMIS_PAIN_INTERFERENCE,
    )
}

#: PHQ-9 item 9: "thoughts that you would be better off dead, or of hurting yourself".
PHQ9_ITEM9 = 9
PHQ9_ITEM9_LOINC = "44260-8"
PHQ9_ITEM9_SOURCE = (
    "Simon et al., Psychiatr Serv 2013 (84,418 outpatients): any answer above 0 needs clinician "
    "follow-up; one-year suicide-attempt risk 0.4% (not at all) to 4% (nearly every day); "
    "LOINC 44260-8, answers LL358-3"
)

#: LOINC answer list LL358-3 (PHQ-9 / GAD-7 items): answer text and LA code -> points.
#: Source: LOINC LL358-3 (LA6568-5 not at all = 0, LA6569-3 several days = 1, LA6570-1 more
#: than half the days = 2, LA6571-9 nearly every day = 3).
LL358_3_TEXT = {
    "not at all": 0,
    "several days": 1,
    "more than half the days": 2,
    "nearly every day": 3,
}
LL358_3_CODES = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
#: Words of the PHQ-9 item 9 question (LOINC 44260-8 display), for exports that name the item
#: by its question rather than its number.
PHQ9_ITEM9_WORDS = ("better off dead", "hurting yourself")

#: Jacobson & Truax reliable change criterion.
RCI_CRITERION = 1.96
RCI_SOURCE = "Jacobson & Truax, J Consult Clin Psychol 1991;59:12: RCI = (x2 - x1) / sqrt(2 SEM^2)"


def get(code: str) -> Instrument:
    """The instrument with registry ``code``; raises KeyError naming the known codes."""
    try:
        return INSTRUMENTS[code]
    except KeyError:
        known = ", ".join(sorted(INSTRUMENTS))
        raise KeyError(f"unknown instrument {code!r}; known instruments: {known}") from None


def by_loinc(loinc: str) -> Instrument | None:
    for inst in INSTRUMENTS.values():
        if inst.loinc == loinc:
            return inst
    return None


def recognise(name: str) -> Instrument | None:
    """Match a free-text instrument name (case, spaces, dashes ignored) to the registry."""

    def norm(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    key = norm(name)
    for inst in INSTRUMENTS.values():
        if key in {norm(inst.code), norm(inst.name)} | {norm(a) for a in inst.aliases}:
            return inst
    return None


def registry_frame() -> pl.DataFrame:
    """The registry as a tidy frame: one row per instrument (for schemas and the UI)."""
    return pl.DataFrame(
        [
            {
                "instrument": i.code,
                "name": i.name,
                "domain": i.domain,
                "minimum": float(i.minimum),
                "maximum": float(i.maximum),
                "higher_is_worse": i.higher_is_worse,
                "loinc": i.loinc,
                "items": i.items,
                "item_minimum": None if i.item_minimum is None else float(i.item_minimum),
                "item_maximum": None if i.item_maximum is None else float(i.item_maximum),
                "bands": "; ".join(f"{b.label} {b.low:g}-{b.high:g}" for b in i.bands) or None,
                "response_pct": i.response_pct,
                "remission": (
                    f"< {i.remission_below:g}"
                    if i.remission_below is not None
                    else f"<= {i.remission_at_or_below:g}"
                    if i.remission_at_or_below is not None
                    else None
                ),
                "mcid": i.mcid,
                "source": i.source,
            }
            for i in INSTRUMENTS.values()
        ]
    )


def range_frame() -> pl.DataFrame:
    """instrument -> (minimum, maximum, item_minimum, item_maximum), for vectorised checks."""
    return pl.DataFrame(
        {
            "instrument": list(INSTRUMENTS),
            "minimum": [float(i.minimum) for i in INSTRUMENTS.values()],
            "maximum": [float(i.maximum) for i in INSTRUMENTS.values()],
            "item_minimum": [
                None if i.item_minimum is None else float(i.item_minimum)
                for i in INSTRUMENTS.values()
            ],
            "item_maximum": [
                None if i.item_maximum is None else float(i.item_maximum)
                for i in INSTRUMENTS.values()
            ],
            "items": [i.items for i in INSTRUMENTS.values()],
            "summed": [i.summed for i in INSTRUMENTS.values()],
        },
        schema={
            "instrument": pl.String,
            "minimum": pl.Float64,
            "maximum": pl.Float64,
            "item_minimum": pl.Float64,
            "item_maximum": pl.Float64,
            "items": pl.Int64,
            "summed": pl.Boolean,
        },
    )
