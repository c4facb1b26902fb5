"""kapoutcomes: outcome tracking for ketamine infusion and KAP clinics treating chronic pain.

The public API, in the order data flows:

* the data contract: ``tables`` (pandera-polars models ``Patients``, ``Sessions``,
  ``Assessments``, ``Opioids``, ``AdverseEvents``; ``validate``), ``instruments``,
  ``opioids`` (MME factor tables), ``Settings`` / ``load_settings`` (outcome definitions);
* import: ``import_files`` (EHR exports in, ``ImportReport`` out), ``Store`` (DuckDB);
* per-patient metrics: ``baselines``, ``changes``, ``induction_series``, ``end_of_induction``,
  ``response_episodes``, ``benefit_durations``, ``patient_facts``, ``describe_patient``;
* cohort statistics: ``kaplan_meier`` (durations and event flags in, a ``KaplanMeier`` with
  the curve, band, median and its interval out), ``logrank``, ``proportion_ci``,
  ``cohort_summary`` (every section of the cohort report);
* output: ``report_json``, ``report_html``, ``safe_csv``.

The library never imports streamlit; the dashboards live in ``dashboards/``.
"""

from importlib import import_module
from typing import Any

# name -> (module, attribute): loaded on first use, so `kapoutcomes info` and other light
# commands do not pay for scipy, plotly and pandera at start-up.
_API: dict[str, tuple[str, str]] = {
    "CohortSummary": ("kapoutcomes.cohort.summary", "CohortSummary"),
    "cohort_summary": ("kapoutcomes.cohort.summary", "cohort_summary"),
    "benefit_durations": ("kapoutcomes.outcomes.episodes", "benefit_durations"),
    "response_episodes": ("kapoutcomes.outcomes.episodes", "response_episodes"),
    "safe_csv": ("kapoutcomes.storage.exports", "safe_csv"),
    "end_of_induction": ("kapoutcomes.outcomes.induction", "end_of_induction"),
    "induction_series": ("kapoutcomes.outcomes.induction", "induction_series"),
    "ImportReport": ("kapoutcomes.ingest", "ImportReport"),
    "IngestError": ("kapoutcomes.ingest", "IngestError"),
    "find_patient_id": ("kapoutcomes.ingest", "find_patient_id"),
    "import_files": ("kapoutcomes.ingest", "import_files"),
    "PatientFacts": ("kapoutcomes.outcomes.maintenance_review", "PatientFacts"),
    "describe_patient": ("kapoutcomes.outcomes.maintenance_review", "describe_patient"),
    "patient_facts": ("kapoutcomes.outcomes.maintenance_review", "patient_facts"),
    "baselines": ("kapoutcomes.outcomes.change", "baselines"),
    "changes": ("kapoutcomes.outcomes.change", "changes"),
    "report_json": ("kapoutcomes.present.report", "to_json"),
    "report_html": ("kapoutcomes.present.html_report", "to_html"),
    "generate_sample": ("kapoutcomes.demo.generator", "generate"),
    "Settings": ("kapoutcomes.definitions.settings", "Settings"),
    "SettingsError": ("kapoutcomes.definitions.settings", "SettingsError"),
    "load_settings": ("kapoutcomes.definitions.settings", "load_settings"),
    "proportion_ci": ("kapoutcomes.stats.intervals", "proportion_ci"),
    "Store": ("kapoutcomes.storage.store", "Store"),
    "StoreError": ("kapoutcomes.storage.store", "StoreError"),
    "KaplanMeier": ("kapoutcomes.stats.survival", "KaplanMeier"),
    "LogRank": ("kapoutcomes.stats.survival", "LogRank"),
    "kaplan_meier": ("kapoutcomes.stats.survival", "kaplan_meier"),
    "logrank": ("kapoutcomes.stats.survival", "logrank"),
    "TableContractError": ("kapoutcomes.tables", "TableContractError"),
    "Validation": ("kapoutcomes.tables", "Validation"),
    "validate": ("kapoutcomes.tables", "validate"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'kapoutcomes' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


__version__ = "0.1.0"

__all__ = [
    "CohortSummary",
    "ImportReport",
    "IngestError",
    "KaplanMeier",
    "LogRank",
    "PatientFacts",
    "Settings",
    "SettingsError",
    "Store",
    "StoreError",
    "TableContractError",
    "Validation",
    "__version__",
    "baselines",
    "benefit_durations",
    "changes",
    "cohort_summary",
    "describe_patient",
    "end_of_induction",
    "find_patient_id",
    "generate_sample",
    "import_files",
    "induction_series",
    "kaplan_meier",
    "load_settings",
    "logrank",
    "patient_facts",
    "proportion_ci",
    "report_html",
    "report_json",
    "response_episodes",
    "safe_csv",
    "validate",
]
