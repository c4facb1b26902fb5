"""Every chart kapoutcomes draws: tidy frames in, figures out (no data access, no Streamlit).

One family, one palette (``present.palette``) and one layout (``figures.layout``):

- ``cohort``: cohort section figures (durability, attrition, response overall and by subgroup,
  improvement by month, the clinic funnel, adverse events, opioid doses, activity by month);
- ``per_patient``: cohort figures drawn patient by patient (waterfall, trajectories);
- ``timeline``: one patient's charts (the clinician's timeline, one instrument over time);
- ``quality``: the Data page's completeness heatmap (one colour direction: higher = better);
- ``printed``: small inline SVG charts for printed pages (the one-page patient summary).

Every chart has a title and axis titles with units and takes the frames the statistics
functions return, so the dashboards and the HTML report draw the same pictures. The builders
are importable from here: ``figures.km_figure``, ``figures.patient_timeline`` ...
"""

from __future__ import annotations

from kapoutcomes.present.figures.cohort import (
    KM_AXIS,
    KM_UNIT,
    adverse_event_figure,
    adverse_events_by_month_figure,
    attrition_figure,
    funnel_figure,
    km_figure,
    mme_figure,
    month_figure,
    paired_mme_figure,
    rates_figure,
    sessions_figure,
    subgroup_rates_figure,
)
from kapoutcomes.present.figures.layout import INSTRUMENT_LABELS, label, titled
from kapoutcomes.present.figures.per_patient import (
    MAX_LINES,
    MIN_PER_WEEK,
    trajectory_figure,
    trajectory_frame,
    waterfall_figure,
)
from kapoutcomes.present.figures.printed import score_chart_svg
from kapoutcomes.present.figures.quality import completeness_figure
from kapoutcomes.present.figures.timeline import patient_figure, patient_timeline
from kapoutcomes.present.palette import OKABE_ITO

__all__ = [
    "INSTRUMENT_LABELS",
    "KM_AXIS",
    "KM_UNIT",
    "MAX_LINES",
    "MIN_PER_WEEK",
    "OKABE_ITO",
    "adverse_event_figure",
    "adverse_events_by_month_figure",
    "attrition_figure",
    "completeness_figure",
    "funnel_figure",
    "km_figure",
    "label",
    "mme_figure",
    "month_figure",
    "paired_mme_figure",
    "patient_figure",
    "patient_timeline",
    "rates_figure",
    "score_chart_svg",
    "sessions_figure",
    "subgroup_rates_figure",
    "titled",
    "trajectory_figure",
    "trajectory_frame",
    "waterfall_figure",
]
