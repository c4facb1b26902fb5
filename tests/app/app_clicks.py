"""Worker of tests/app/test_app_clicks.py, run in a fresh process per page so that no module an
earlier test imported can hide an import error: open one page of the app with AppTest, fill
the upload box where there is one, click every button and every download button it shows
(and those a click reveals), record the size of every download's data and print a JSON
summary on the last line.

    python tests/app/app_clicks.py views/cohort.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import streamlit  # noqa: F401  (streamlit itself before its testing package)
import streamlit as st
from streamlit.runtime import memory_media_file_storage as media
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboards" / "app.py")
#: what to put in an upload box before clicking, by widget key: a small real export
UPLOADS = {"upload-files": ROOT / "sample_data" / "exports" / "riverside_medications.tsv"}
TEXT = {"upload-clinic": "Riverside Pain Clinic", "patient-query": "DEMO-000012"}

#: media file id -> bytes handed to the browser (every download button's data lands here)
SIZES: dict[str, int] = {}
_load = media.MemoryMediaFileStorage.load_and_get_id


def _recording_load(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
    file_id = _load(self, path_or_data, mimetype, kind, filename)
    SIZES[file_id] = len(self._files_by_id[file_id].content)
    return file_id


media.MemoryMediaFileStorage.load_and_get_id = _recording_load  # type: ignore[method-assign]

_download_button = st.download_button


def _clicked_download(label, data=None, *args, **kwargs):  # type: ignore[no-untyped-def]
    """The app's downloads make their data on click, after the audit entry is written
    (dashboards.common.download): here every one is made at once, as a click would, so that
    its audit entry is written and its bytes are counted."""
    if callable(data):
        data = data()
    return _download_button(label, data, *args, **kwargs)


st.download_button = _clicked_download  # type: ignore[assignment]


def _downloads(at: AppTest) -> dict[str, int]:
    out = {}
    for d in at.download_button:
        if d.proto.deferred_file_id:  # data made on click by a function: not used by the app
            out[d.label] = -1
            continue
        file_id = Path(d.proto.url).stem
        out[d.label] = SIZES.get(file_id, 0)
    return out


def _check(at: AppTest, after: str, report: dict) -> None:
    for e in at.exception:
        report["exceptions"].append(f"after {after}: {e.message}")
    for e in at.error:
        report["errors"].append(f"after {after}: {e.body}")
    report["downloads"].update(_downloads(at))


def main(page: str) -> dict:
    report: dict = {"page": page, "clicked": [], "downloads": {}, "exceptions": [], "errors": []}
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(page)
    at.run()
    _check(at, "opening", report)
    for key, path in UPLOADS.items():
        for box in at.file_uploader:
            if box.key == key:
                box.upload(path.name, path.read_bytes(), "text/tab-separated-values")
    for key, value in TEXT.items():
        for box in at.text_input:
            if box.key == key:
                box.input(value)
    at.run()  # the upload and the text take effect (the Import button is enabled by them)
    _check(at, "filling the upload box", report)
    seen: set[str] = set()
    for _ in range(50):  # every button once, including those a click reveals
        waiting = [
            w for w in [*at.button, *at.download_button] if w.id not in seen and not w.disabled
        ]
        if not waiting:
            break
        w = waiting[0]
        seen.add(w.id)
        w.click().run()
        report["clicked"].append(w.label)
        _check(at, f"clicking {w.label!r}", report)
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), default=str))
