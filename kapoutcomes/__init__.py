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

from kapoutcomes.cohort import CohortSummary, cohort_summary
from kapoutcomes.episodes import (
    PatientFacts,
    benefit_durations,
    describe_patient,
    patient_facts,
    response_episodes,
)
from kapoutcomes.exports import safe_csv
from kapoutcomes.ingest import ImportReport, IngestError, find_patient_id, import_files
from kapoutcomes.outcomes import baselines, changes, end_of_induction, induction_series
from kapoutcomes.report import to_html as report_html
from kapoutcomes.report import to_json as report_json
from kapoutcomes.sample import generate as generate_sample
from kapoutcomes.settings import Settings, SettingsError, load_settings
from kapoutcomes.stats import proportion_ci
from kapoutcomes.store import Store, StoreError
from kapoutcomes.survival import KaplanMeier, LogRank, kaplan_meier, logrank
from kapoutcomes.tables import TableContractError, Validation, validate

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
