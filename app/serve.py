"""The dashboard's server process: ``python -m app.serve MAIN_SCRIPT [streamlit flags]``.

``dse dashboard`` starts this instead of ``streamlit run`` so that, while the server starts,
a background thread imports the modules the pages need (the cost models, Optuna and
SQLAlchemy behind the sweep readers: about a second) and then reads what every page's first
load reads: each study's trial table and builds (a 100,000-trial study takes about a second
to read). A visitor who comes before that is done waits for the rest of it (the pages call
the same cached readers, which compute a value once), not for all of it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

WARM_STUDIES = 6  # as many studies as app._ui keeps trial tables of
LOG = logging.getLogger("dse.dashboard")


def _warm() -> None:
    # Streamlit's caches live in its runtime: fill them only once it exists (before, a
    # cached function would compute into a throwaway cache).
    from streamlit.runtime import Runtime

    import app._data
    import app._plots  # noqa: F401
    import dse.sweep  # noqa: F401

    deadline = time.monotonic() + 120
    while not Runtime.exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)
    # Cached functions called outside a page warn that there is no page; here that is meant.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR
    )
    from app import _ui

    t0 = time.perf_counter()
    try:
        found = _ui.all_studies()[:WARM_STUDIES]
        for name, url in found:
            _ui.load(url, name)
            _ui.builds(url, name)
        LOG.info(
            "dashboard: read %d studies at start in %.1f s", len(found), time.perf_counter() - t0
        )
    except Exception:  # the pages read (and report) it again; this was only a head start
        LOG.warning("dashboard: reading the studies at start failed", exc_info=True)


def main() -> None:
    # Streamlit first: it imports Plotly, whose lazy submodules must not be imported from
    # two threads at once.
    from streamlit.web.cli import main as streamlit_main

    threading.Thread(target=_warm, name="dse-warm", daemon=True).start()
    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    streamlit_main()


if __name__ == "__main__":
    main()
