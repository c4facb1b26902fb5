"""How the cohort report writes its numbers, shared by the text digest and the HTML page:
percentages for rates, intervals and survival, p-values to two significant figures below
0.001, thousands separators for counts; the overall (not per-subgroup) rows of a frame; and
``plain``, which makes a user's text (a clinic, a file name, an e-mail) show as itself where
the app renders Markdown."""

from __future__ import annotations

import datetime as dt
import math
import re
import string
from typing import Any

import polars as pl

#: codes written as the clinic writes them ("abuse_misuse" is one event: abuse or misuse)
WORDS = {"abuse_misuse": "abuse/misuse"}
ACRONYMS = {"mme": "MME", "mcid": "MCID", "itt": "ITT", "phq9": "PHQ-9", "gad7": "GAD-7"}
ACRONYMS |= {"bp": "BP", "spo2": "SpO2", "iv": "IV", "im": "IM", "sae": "SAE"}


def words(code: object) -> str:
    """A code of the tables in words: "nausea_vomiting" -> "nausea vomiting", "spo2" ->
    "SpO2", "abuse_misuse" -> "abuse/misuse"."""
    text = str(code)
    if text in WORDS:
        return WORDS[text]
    return " ".join(ACRONYMS.get(w, w) for w in text.split("_"))


#: the importer's layouts (``ingest.presets.PRESETS``) as the Data page names them
LAYOUTS = {
    "canonical": "kapoutcomes template",
    "fhir": "FHIR R4",
    "long": "long export",
    "medications": "medication list",
    "synthea": "Synthea",
    "wide": "wide export with a mapping",
}


def layout_words(code: object) -> str:
    """An import's layout as the ledger records it ("long:observations") in words
    ("long export: observations"; "medications:medications" -> "medication list")."""
    preset, _, kind = str(code).partition(":")
    name = LAYOUTS.get(preset, preset)
    return name if not kind or kind == preset else f"{name}: {words(kind)}"


def percent(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def format_value(v: Any, col: str) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if col in {
            "rate",
            "lower",
            "upper",
            "share_above",
            "itt_rate",
            "itt_lower",
            "itt_upper",
            "network_rate",
            "lower95",
            "upper95",
            "lower998",
            "upper998",
        } or col.startswith("s_"):
            return f"{100 * v:.1f}%"
        if col.endswith("pvalue") or col.endswith("_p"):
            return f"{v:.2g}" if v < 0.001 else f"{v:.3f}"
        return f"{v:,.2f}"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def overall(f: pl.DataFrame) -> pl.DataFrame:
    return f.filter(pl.col("subgroup") == "all") if "subgroup" in f.columns else f


_MARKDOWN_SYNTAX = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
#: bidirectional overrides, embeddings and isolates: "\u202ecod.exe" shows as "exe.doc", so a
#: name could pose as another; the letters' own direction still shows right-to-left scripts
BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
#: WORD JOINER (invisible): Streamlit's Markdown finds ``http://``, ``www.`` and e-mail
#: autolinks and ``:streamlit:`` / emoji shortcodes in the text *after* backslash escapes are
#: resolved (mdast-util-gfm-autolink-literal, remark-emoji), so an escape cannot stop them;
#: an invisible joiner inside the pattern does.
JOINER = "\u2060"
_TEXT_PATTERNS = re.compile(
    r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?=@)|(?<=:)(?=[\w+-]+:)"
)


def plain(text: object) -> str:
    """``text`` as literal characters where Streamlit renders Markdown (st.markdown, write,
    caption, info/warning/error/success, metric, expander, tab and button labels, help).

    Every ASCII punctuation character gets CommonMark's backslash escape, so no link, image,
    raw HTML or entity, emphasis, code, heading or list marker, ``$LaTeX$``, ``:color[...]``
    directive or ``:material/...:`` icon can form; an invisible word joiner goes inside
    ``http:``, ``https:``, ``www.``, before ``@`` and after a ``:`` that starts a shortcode, so
    no autolink or emoji forms either (what a reader sees is unchanged). Line breaks become
    one space (a name is one line). Use it on every user-controlled string placed into
    Markdown; data frame cells, selectbox and multiselect options and st.text are not Markdown
    and need nothing."""
    one_line = BIDI_CONTROLS.sub("", _LINE_BREAKS.sub(" ", str(text)))
    return _MARKDOWN_SYNTAX.sub(r"\\\1", _TEXT_PATTERNS.sub(JOINER, one_line))
