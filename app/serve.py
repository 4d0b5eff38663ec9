"""The dashboard's server process: ``python -m app.serve MAIN_SCRIPT [streamlit flags]``.

``dse dashboard`` starts this instead of ``streamlit run`` so the modules the pages need
(the cost models, Optuna and SQLAlchemy behind the sweep readers: about a second) are
imported in the background while the server starts, not when the first browser connects.
"""

from __future__ import annotations

import sys
import threading


def _warm_imports() -> None:
    import app._data
    import app._plots  # noqa: F401
    import dse.sweep  # noqa: F401


def main() -> None:
    # Streamlit first: it imports Plotly, whose lazy submodules must not be imported from
    # two threads at once.
    from streamlit.web.cli import main as streamlit_main

    threading.Thread(target=_warm_imports, name="dse-warm-imports", daemon=True).start()
    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    streamlit_main()


if __name__ == "__main__":
    main()
