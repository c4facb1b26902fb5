"""The app served with its page URLs answered in one request each:
`streamlit run dashboards/serve.py` (what `kapoutcomes dashboard` runs).

Opened directly at a page's URL (say /cohort), Streamlit's browser code does not know where
the server's root is, so it first tries /cohort/_stcore/health and /cohort/_stcore/host-config
(two 404s in the network log; streamlit/streamlit#7074) before the root. Here each page's URL
answers with Streamlit's own page shell plus one line telling that code where the root is
(``window.__streamlit.BACKEND_BASE_URL``: the folder above the page), so it asks the root
first and nothing 404s. The pages themselves are dashboards/app.py, unchanged; `streamlit run
dashboards/app.py` still works, with the 404s, and so do page URLs under a
server.baseUrlPath, which these routes do not cover (Streamlit's own shell answers them).

When the server starts, a background thread prepares what the first Cohort review shows
(``common.warm_up``: the store's tables and the whole cohort's figures), so the first person
after a restart does not wait for it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboards.navigation import PAGES  # noqa: E402

BASE_URL_LINE = (
    "<script>window.__streamlit = "
    '{BACKEND_BASE_URL: new URL("./", window.location.href).href};</script>'
)


@cache
def page_shell() -> str:
    """Streamlit's index.html with the line that names the server's root."""
    html = (Path(st.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    head = "<head>"
    if head not in html:  # a Streamlit whose page shell changed: serve it as it is
        return html
    return html.replace(head, head + "\n    " + BASE_URL_LINE, 1)


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(page_shell(), headers={"Cache-Control": "no-cache"})


WARM_UP_THREAD = "kapoutcomes-warm-up"


def _warm_up() -> None:
    from dashboards import common

    # the cached functions warn, once per call, that this thread runs no page: expected here
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: record.threadName != WARM_UP_THREAD
    )
    print(f"kapoutcomes: {common.warm_up()}", file=sys.stderr, flush=True)


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """Start preparing the first Cohort review without holding up the server's start."""
    threading.Thread(target=_warm_up, name=WARM_UP_THREAD, daemon=True).start()
    yield


app = st.App(
    Path(__file__).with_name("app.py"),
    routes=[Route(f"/{key}", page, methods=["GET", "HEAD"]) for key in PAGES],
    lifespan=lifespan,
)
