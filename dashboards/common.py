"""Shared pieces of the Streamlit pages: cached loading, the demo banner, sidebar filters,
safe downloads. Pages stay thin: they read settings, call library functions and render."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from kapoutcomes import tables
from kapoutcomes.cohort import filters
from kapoutcomes.definitions import settings
from kapoutcomes.demo import generator
from kapoutcomes.present.formatting import plain
from kapoutcomes.storage import exports, keys, privacy, store

DEMO_SEED = 7
SETTINGS_ENV = "KAPOUTCOMES_SETTINGS"
DEMO_ENV = "KAPOUTCOMES_DEMO"  # "0": an empty store stays empty instead of showing the demo


@dataclass(frozen=True)
class Loaded:
    tables: dict[str, pl.DataFrame]
    is_demo: bool
    source: str
    version: str = ""  # changes whenever the data changes (store modification time)
    clinics: tuple[str, ...] = ()  # the viewer's clinic restriction, already applied


def empty_tables() -> dict[str, pl.DataFrame]:
    return {name: tables.empty(name) for name in tables.MODELS}


def store_path() -> str:
    return str(store.default_path())


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return -1.0


@st.cache_resource(show_spinner="Loading the demo cohort…")
def _demo_tables(seed: int) -> dict[str, pl.DataFrame]:
    return generator.generate(seed=seed).tables


@st.cache_resource(show_spinner=False, max_entries=4)
def _content_version(path: str, mtimes: tuple[float, float, float]) -> str:
    """The store's content version ("" when the store is missing or holds no row), looked up
    again only when the store file, its write-ahead log or the installation key changes
    (``mtimes`` keys the cache: a damaged or replaced key is found at the next page run).
    The file also changes with every audit entry (a sign-in, a page view, a download); the
    content version does not, so those keep the tables and the cohort figures computed."""
    if mtimes[0] < 0:
        return ""
    # read-write like every other connection in this process: DuckDB refuses to mix
    # read-only and read-write connections to one file in one process. The key is checked
    # first: a store that holds data without its key is refused, never read.
    s, _ = keys.open_store(path)
    with s:
        try:
            return s.content_version()
        except duckdb.Error as e:  # a damaged block found while reading
            raise store.StoreError(store.problem(path, e)) from None


@st.cache_resource(show_spinner="Loading the store…", max_entries=4)
def _store_tables(path: str, version: str) -> dict[str, pl.DataFrame]:
    """The store's tables at content ``version`` (which keys the cache)."""
    s, _ = keys.open_store(path)
    with s:
        try:
            return s.read_all(validate=False)  # validated on write
        except duckdb.Error as e:  # a damaged block found while reading
            raise store.StoreError(store.problem(path, e)) from None


def stored_ledger(is_demo: bool) -> pl.DataFrame:
    """The clinic's import ledger (``Store.ledger``), empty for the demo cohort or without a
    store (nothing is created by looking)."""
    path = Path(store_path())
    if is_demo or not path.exists():
        return pl.DataFrame(schema={**store.LEDGER_SCHEMA, "undone_at": pl.Datetime("us")})
    try:
        with store.Store(path) as s:
            return s.ledger()
    except store.StoreError as e:
        stop_with(e)
        raise


def stop_with(e: Exception) -> None:
    """One line about a store that cannot be used (busy, damaged, key lost), then stop: the
    demo cohort is never shown in place of a clinic's store that exists."""
    text = str(e)
    if "busy" in text:
        st.warning(
            f"**The store is busy.** {plain(text)}. The page shows no data until it is free; "
            "reload in a moment.",
            icon=":material/hourglass_top:",
        )
    else:
        st.error(f"The store cannot be used: {plain(text)}", icon=":material/error:")
    st.stop()


def installation_keys() -> privacy.Keys:
    """This installation's keys, checked against the store (stops the page when refused)."""
    try:
        s, k = keys.open_store(store.default_path())
    except store.StoreError as e:
        stop_with(e)
        raise
    s.close()
    return k


def _load() -> Loaded:
    """The clinic's store; the demo cohort when the store is missing or empty (raises
    StoreError for a store that cannot be used)."""
    path = store_path()
    key_file = str(privacy.secret_path())
    version = _content_version(path, (_mtime(path), _mtime(path + ".wal"), _mtime(key_file)))
    if version:
        return Loaded(_store_tables(path, version), False, path, f"{path}@{version}")
    if os.environ.get(DEMO_ENV, "1") == "0":
        return Loaded(empty_tables(), False, f"{path} (empty)", "empty")
    return Loaded(
        _demo_tables(DEMO_SEED), True, f"demo cohort (seed {DEMO_SEED})", f"demo-{DEMO_SEED}"
    )


def load() -> Loaded:
    """The clinic's store; the demo cohort when the store is missing or empty."""
    try:
        return _load()
    except store.StoreError as e:
        stop_with(e)
        raise


def warm_up() -> str:
    """What the first session's Cohort review shows, made before anyone asks for it: the
    store's tables, and the whole cohort's summary, figures, comparison and activity with the
    default filters and settings (the keys a new session looks them up by). The server runs
    this in a background thread when it starts (dashboards/serve.py), so the first person after
    a restart does not wait for it; a session that arrives meanwhile waits for the same
    computation rather than repeating it. Returns what was done, in words without patient
    data, for the server's log; never raises (a page that opens a store that cannot be used
    says why)."""
    from kapoutcomes.cohort.groups import GROUP_DIMENSIONS

    started = time.perf_counter()
    try:
        loaded = _load()
        if loaded.version == "empty":
            return "nothing to prepare: the store holds no patients"
        path = os.environ.get(SETTINGS_ENV) or None
        s = _settings(path, _mtime(path) if path else 0.0)
        flt = filters.CohortFilter()  # the sidebar's defaults: every clinic, every date
        # the first comparison a director sees, and a viewer without clinic comparison
        firsts = dict.fromkeys(
            [GROUP_DIMENSIONS[0], *[d for d in GROUP_DIMENSIONS if d != "clinic"][:1]]
        )
        for dim in firsts:
            cohort_view(loaded, flt, s, dim)
            comparison(loaded, flt, s, dim)
        activity(loaded, flt)
    except Exception as e:  # the page that opens the store reports it
        return f"not prepared ({type(e).__name__}); the first page will compute it"
    what = "demo cohort" if loaded.is_demo else "store"
    return f"Cohort review prepared for the {what} in {time.perf_counter() - started:.1f} s"


def forget_loaded_data() -> None:
    """After an import: drop the caches that hold store data (the store's tables and what was
    computed from them). They are keyed by the store's content version, so this frees the
    old copies' memory rather than correcting anything; there is no st.cache_data to clear."""
    for cached in (_content_version, _store_tables, _filtered, _summary, _cohort_view):
        cached.clear()
    for cached in (_comparison, _activity):
        cached.clear()


@st.cache_resource
def _settings(path: str | None, mtime: float) -> settings.Settings:
    return settings.load_settings(path)


def outcome_settings() -> settings.Settings:
    path = os.environ.get(SETTINGS_ENV) or None
    try:
        s = _settings(path, _mtime(path) if path else 0.0)
    except settings.SettingsError as e:
        st.error(
            f"Settings file problem: {plain(e)}. Fix the file (or unset ${SETTINGS_ENV}) and reload; "
            "the pages are not shown with other definitions than the ones you chose.",
            icon=":material/error:",
        )
        st.stop()
    _audit_settings_change(s)
    return s


def _audit_settings_change(s: settings.Settings) -> None:
    """Record in the audit trail when the definitions in force differ from the last ones
    recorded (a settings file edited or pointed elsewhere), once per change."""
    from kapoutcomes.storage import settings_change

    digest = settings_change.digest(s)
    if st.session_state.get("_settings_digest") == digest:
        return
    st.session_state["_settings_digest"] = digest
    checked = (digest, str(store.default_path()))
    if checked in _settings_checked():  # this server already compared them with the store
        return
    detail = settings_change.change_to_record(s, store.default_path())
    viewer = st.session_state.get("viewer")
    if detail is not None and viewer is not None:
        from dashboards import access_gate

        if access_gate.record(
            viewer, settings_change.ACTION, os.environ.get(SETTINGS_ENV, ""), detail
        ):
            _settings_checked().add(checked)
    elif detail is None:
        _settings_checked().add(checked)


@st.cache_resource
def _settings_checked() -> set[tuple[str, str]]:
    """(settings digest, store) pairs this server process has found recorded in the store's
    audit trail: a new session with the same definitions need not open the store to check."""
    return set()


def page(title: str) -> tuple[Loaded, object]:
    """Start a page: who is looking, the data, the demo banner and the title."""
    from dashboards import access_gate

    viewer = st.session_state.get("viewer") or access_gate.gate()
    loaded = load()
    if viewer.clinics:  # a clinician limited to their clinic(s)
        loaded = Loaded(
            filters.apply(loaded.tables, filters.CohortFilter(clinics=viewer.clinics)),
            loaded.is_demo,
            loaded.source,
            loaded.version,
            tuple(viewer.clinics),
        )
    demo_banner(loaded)
    st.title(title)
    if viewer.clinics:
        st.caption(f"Your access covers {plain(', '.join(viewer.clinics))} only.")
    return loaded, viewer


@st.cache_resource(max_entries=16, show_spinner=False)
def _filtered(
    version: str, clinics: tuple[str, ...], flt: filters.CohortFilter, _tables: dict
) -> dict[str, pl.DataFrame]:
    return filters.apply(_tables, flt)


def filtered(loaded: Loaded, flt: filters.CohortFilter) -> dict[str, pl.DataFrame]:
    """The loaded tables cut by the page's filters (cached per data version and filter)."""
    return _filtered(loaded.version, loaded.clinics, flt, loaded.tables)


@st.cache_resource(max_entries=16, show_spinner="Computing the cohort summary…")
def _summary(
    version: str,
    clinics: tuple[str, ...],
    flt: filters.CohortFilter,
    s: settings.Settings,
    comparisons: tuple[str, ...],
    _tables: dict,
):  # type: ignore[no-untyped-def]
    from kapoutcomes.cohort.summary import cohort_summary

    return cohort_summary(filters.apply(_tables, flt), s, comparisons=comparisons)


def summary(
    loaded: Loaded,
    flt: filters.CohortFilter,
    s: settings.Settings,
    comparisons: tuple[str, ...] = (),
):  # type: ignore[no-untyped-def]
    """The cohort summary of the filtered cohort, split by ``comparisons`` only (the page
    shows one comparison at a time; the full report computes all of them). Cached per data
    version, filter, settings and comparison."""
    return _summary(loaded.version, loaded.clinics, flt, s, tuple(comparisons), loaded.tables)


@st.cache_resource(max_entries=16, show_spinner=False)
def _cohort_view(
    version: str,
    clinics: tuple[str, ...],
    flt: filters.CohortFilter,
    s: settings.Settings,
    comparisons: tuple[str, ...],
    _summary,  # type: ignore[no-untyped-def]
):  # type: ignore[no-untyped-def]
    from kapoutcomes.present import cohort_page

    return cohort_page.cohort_view(_summary, s)


def cohort_view(loaded: Loaded, flt: filters.CohortFilter, s: settings.Settings, dim: str):  # type: ignore[no-untyped-def]
    """The Cohort review's headlines, tables and figures, made once per data version, filter,
    settings and comparison and shared by every session (a new session only sends them to
    its browser; the figures are never changed after they are made)."""
    summ = summary(loaded, flt, s, comparisons=(dim,))
    return _cohort_view(loaded.version, loaded.clinics, flt, s, (dim,), summ)


@st.cache_resource(max_entries=16, show_spinner=False)
def _comparison(
    version: str,
    clinics: tuple[str, ...],
    flt: filters.CohortFilter,
    s: settings.Settings,
    dim: str,
    _summary,  # type: ignore[no-untyped-def]
):  # type: ignore[no-untyped-def]
    from kapoutcomes.present import cohort_page

    return cohort_page.comparison(_summary, dim, s)


def comparison(loaded: Loaded, flt: filters.CohortFilter, s: settings.Settings, dim: str):  # type: ignore[no-untyped-def]
    """Pain response and durability across the levels of ``dim`` (shared like cohort_view)."""
    summ = summary(loaded, flt, s, comparisons=(dim,))
    return _comparison(loaded.version, loaded.clinics, flt, s, dim, summ)


@st.cache_resource(max_entries=16, show_spinner=False)
def _activity(version: str, clinics: tuple[str, ...], flt: filters.CohortFilter, _t: dict):  # type: ignore[no-untyped-def]
    from kapoutcomes.present import cohort_page

    return cohort_page.activity_view(_t)


def activity(loaded: Loaded, flt: filters.CohortFilter):  # type: ignore[no-untyped-def]
    """Sessions per month and the activity headlines of the filtered cohort (shared)."""
    return _activity(loaded.version, loaded.clinics, flt, filtered(loaded, flt))


def demo_banner(loaded: Loaded) -> None:
    if loaded.is_demo:
        st.warning(
            "**Demo data.** These are synthetic patients from the bundled demo cohort, not a "
            "clinic's records. Import your clinic's export on the Data page to replace them.",
            icon=":material/science:",
        )


def sidebar_filters(t: dict[str, pl.DataFrame], key: str) -> filters.CohortFilter:
    """Sidebar filters; they apply to every figure on the page."""
    c = filters.choices(t)
    lo, hi = filters.start_range(t)
    with st.sidebar:
        st.subheader("Filters")
        clinics = st.multiselect("Clinic", c["clinics"], key=f"{key}-clinic")
        conditions = st.multiselect("Condition", c["conditions"], key=f"{key}-condition")
        routes = st.multiselect("Route", c["routes"], key=f"{key}-route")
        care = st.multiselect("Care model", c["care_models"], key=f"{key}-care")
        clinicians = st.multiselect("Clinician", c["clinicians"], key=f"{key}-clinician")
        start_from = start_to = None
        if lo is not None and hi is not None:
            picked = st.date_input(
                "Treatment start between",
                value=(lo, hi),
                min_value=lo,
                max_value=hi,
                key=f"{key}-dates",
            )
            if isinstance(picked, tuple | list) and len(picked) == 2:
                a, b = picked
                start_from = a if a != lo else None
                start_to = b if b != hi else None
    return filters.CohortFilter(
        clinics=tuple(clinics),
        conditions=tuple(conditions),
        routes=tuple(routes),
        care_models=tuple(care),
        clinicians=tuple(clinicians),
        start_from=start_from,
        start_to=start_to,
    )


def download_csv(
    frame: pl.DataFrame, label: str, file_name: str, key: str, demo: bool = False
) -> None:
    """A CSV download, safe against spreadsheet formula injection, audited (``demo``: rows of
    the bundled synthetic demo cohort, see ``download``)."""
    download(
        lambda: exports.safe_csv(frame),
        f"⬇ {label} (CSV)",
        file_name,
        "text/csv",
        key,
        detail=f"rows={frame.height}",
        demo=demo,
    )


def chart(fig, missing: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """A figure across the page; ``missing`` says why when there is none."""
    if fig is not None:
        st.plotly_chart(fig, width="stretch")
    elif missing:
        st.info(missing)


def table(frame: pl.DataFrame, name: str, height: int | None = None) -> None:
    """``frame`` as the table ``name`` is declared (present.table_specs): labelled headers
    with units, percentages, rounding, an em dash for a missing value, intervals at the
    configured confidence level, numbers right-aligned. Long explanations (caveats,
    definitions, who was left out) are written under the table rather than in a column
    wider than the page, and the columns that say what a row is about are pinned: they stay
    in view when a narrow screen scrolls the table sideways."""
    from kapoutcomes.present.headline import ci_label
    from kapoutcomes.present.table_display import notes_beneath, row_label_columns
    from kapoutcomes.present.table_specs import shown

    full = shown(frame, name, ci=ci_label(outcome_settings().confidence_level))
    shown_table, notes = notes_beneath(full)
    pinned = row_label_columns(shown_table)
    config = {
        c.header: st.column_config.TextColumn(
            c.header,
            width=c.width,  # type: ignore[arg-type]
            help=c.help,
            alignment="right" if c.numeric else None,
            pinned=i < pinned or None,
        )
        for i, c in enumerate(shown_table.columns)
    }
    st.dataframe(
        shown_table.frame,
        column_config=config,
        width="stretch",
        hide_index=True,
        **({"height": height} if height else {}),
    )
    if notes:
        st.caption("  \n".join(plain(line) for line in notes))


def download(
    data: Callable[[], bytes],
    label: str,
    file_name: str,
    mime: str,
    key: str,
    target: str | None = None,
    detail: str = "",
    demo: bool = False,
) -> None:
    """A download that is recorded in the audit trail before any byte leaves: the data is
    made only when the person clicks (Streamlit's deferred download), after the audit entry
    is written; when it cannot be written the download fails and nothing is sent. Every
    download of the app goes through here (a test fails on a page calling
    ``st.download_button`` itself). ``demo``: the rows come from the bundled synthetic demo
    cohort (``Loaded.is_demo``), which is no clinic's record: nothing is written to the
    clinic's audit trail."""
    from dashboards import access_gate

    viewer = st.session_state.get("viewer")

    def audited() -> bytes:
        if demo:
            return data()
        if viewer is None:
            raise RuntimeError("no viewer: refusing an unaudited download")
        access_gate.write_audit(viewer, "export", target or file_name, detail)
        return data()

    st.download_button(label, data=audited, file_name=file_name, mime=mime, key=key)


def definitions_expander(s: settings.Settings, names: list[str]) -> None:
    rows = [d for d in s.describe() if d["setting"] in names]
    with st.expander("Definitions in force", expanded=False):
        for d in rows:
            st.markdown(
                f"- **{d['setting']} = {plain(d['value'])}**: {d['meaning']}  \n  _{d['source']}_"
            )


def today() -> dt.date:
    return dt.date.today()


def review_now_panel(viewer) -> None:  # type: ignore[no-untyped-def]
    """Safety signals an import could not store (store table ``review_now``), listed until
    the row is corrected or a clinician marks the entry reviewed."""
    path = store.default_path()
    if not path.exists():
        return
    with store.Store(path) as s:
        reviews = s.open_reviews()
    if reviews.height == 0:
        return
    st.error(
        f"**Review now: {reviews.height} safety signal(s) from imports could not be stored** "
        "(possible suicide-risk answers, serious adverse events). Review each patient today; "
        "then correct the quarantined row (Data page) or mark the entry reviewed."
    )
    table(
        reviews.select(
            pl.col("headline").alias("signal"),
            pl.col("file_name").alias("file"),
            pl.col("row_number").alias("line"),
            "seen",
            pl.col("reason").alias("not stored because"),
            pl.col("action").alias("what to do"),
            pl.col("raised_at").alias("imported at"),
        ),
        "review_now",
    )
    if not viewer.can("view_patient"):
        return
    labels = {
        f"{r['file_name']} line {r['row_number']} ({r['kind']})": r
        for r in reviews.iter_rows(named=True)
    }
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox("Entry reviewed by a clinician", list(labels), key="review-now-pick")
    if c2.button("Mark reviewed", key="review-now-done") and pick:
        r = labels[pick]
        with store.Store(path) as s:
            s.mark_reviewed(r["import_id"], r["row_number"], r["kind"], viewer.user)
        from dashboards import access_gate

        access_gate.record(viewer, "review_now_reviewed", f"{r['file_name']}:{r['row_number']}")
        st.rerun()
