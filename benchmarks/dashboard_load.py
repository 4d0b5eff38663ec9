"""Dashboard first paint on 1k / 10k / 100k-trial studies (target: < 3 s at 100k).

Each study is a real sweep (``dse.sweep.run_sweep`` on ``examples/gpt2-medium-u280-spatial.yaml``
with NSGA-II) in its own results folder. First paint is timed with Streamlit's ``AppTest``:
a new app session with empty caches runs the page script to the end, i.e. every element of
the page is computed and serialised, as a browser opening the page would receive it. With
``--browser`` the same pages are also timed in headless Chromium against a fresh
``dse dashboard`` server each time (navigation until the page's table or chart is drawn,
browser cache warm).

Medians of ``--runs`` cold runs per page and size, side by side.

Run: ``python benchmarks/dashboard_load.py [--sizes 1000 10000 100000] [--runs 3]
[--workdir DIR] [--browser]``; with ``--workdir`` the studies are kept and reused (making
the 100k study takes a few minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"
MAIN = ROOT / "app" / "main.py"
PAGES = {"studies": None, "pareto": "views/pareto.py"}


def make_study(results: Path, n: int) -> str:
    """A sweep of ``n`` trials in ``results`` (reused when it is already there)."""
    import optuna

    from dse.config import load_config
    from dse.sweep import default_storage, run_sweep

    name = f"bench-{n}"
    db = results / name / "optuna.db"
    if db.exists():
        return name
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    cfg = load_config(EXAMPLE, ["sampler=nsga2", f"name={name}"])
    t0 = time.perf_counter()
    run_sweep(cfg, trials=n, storage=default_storage(name, results), progress=False)
    print(f"  made {name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return name


def apptest_paint(results: Path, page: str | None) -> float:
    """Seconds for one cold run of ``page`` (a new session, caches cleared)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["DSE_DASHBOARD_RESULTS"] = str(results)
    os.environ.pop("DSE_DASHBOARD_STORAGE", None)
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    if page is None:
        t0 = time.perf_counter()
        at.run()
    else:
        # Navigation needs one run first; its caches are cleared again before timing.
        at.run()
        st.cache_data.clear()
        at.switch_page(page)
        t0 = time.perf_counter()
        at.run()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page or 'studies'}: {at.exception[0].value}")
    return elapsed


def browser_paint(results: Path, pages: list[str], runs: int) -> dict[str, list[float]]:
    """Seconds from navigation to a drawn table/chart in headless Chromium, per page.

    Every measurement gets a fresh ``dse dashboard`` server (so the server's data caches are
    cold, as the morning after a sweep); the browser's HTTP cache is warmed once first, as
    for a user who opened the dashboard before (a cold browser adds a fixed ~3-5 s here for
    Streamlit's and Plotly's JavaScript, the same at 1k and 100k trials).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    sys.path.insert(0, str(ROOT))
    from tests.app_tests.browser import CHROMEDRIVER, chrome_options, free_port, wait_http

    targets = {
        "studies": "[data-testid='stDataFrame'] canvas",
        "pareto": ".js-plotly-plot .legendtext",
    }
    out: dict[str, list[float]] = {p: [] for p in pages}
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chrome_options())
    try:
        for k in range(runs + 1):  # the first round only warms the browser's cache
            for page in pages:
                port = free_port()
                server = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "dse.cli",
                        "dashboard",
                        "--results",
                        str(results),
                        "--port",
                        str(port),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    wait_http(f"http://127.0.0.1:{port}/_stcore/health", 60)
                    driver.get("about:blank")
                    t0 = time.perf_counter()
                    driver.get(f"http://127.0.0.1:{port}/{'' if page == 'studies' else page}")
                    WebDriverWait(driver, 120).until(_drawn(targets[page]))
                    if k:
                        out[page].append(time.perf_counter() - t0)
                finally:
                    os.killpg(server.pid, 15)
                    server.wait(10)
    finally:
        driver.quit()
    return out


def _drawn(css: str) -> Any:
    """A WebDriverWait condition: some element matches ``css``."""
    from selenium.webdriver.common.by import By

    def check(driver: Any) -> bool:
        return bool(driver.find_elements(By.CSS_SELECTOR, css))

    return check


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--browser", action="store_true", help="also time headless Chromium")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        folders = {}
        for n in args.sizes:
            folders[n] = work / f"r{n}"
            make_study(folders[n], n)
        rows = []
        for n in args.sizes:
            cells = []
            for page, path in PAGES.items():
                times = [apptest_paint(folders[n], path) for _ in range(args.runs)]
                cells.append(statistics.median(times))
                print(
                    f"  {n:>7,} trials  {page:8s} " + " ".join(f"{t:.2f}" for t in times),
                    flush=True,
                )
            if args.browser:
                got = browser_paint(folders[n], list(PAGES), args.runs)
                cells += [statistics.median(got[p]) for p in PAGES]
            rows.append((n, cells))
        head = [f"{p} (AppTest)" for p in PAGES]
        if args.browser:
            head += [f"{p} (Chromium)" for p in PAGES]
        print(f"\nfirst paint, median of {args.runs} cold runs, seconds")
        print(f"{'trials':>8}" + "".join(f"{h:>22}" for h in head))
        for n, cells in rows:
            print(f"{n:>8,}" + "".join(f"{c:>22.2f}" for c in cells))
        biggest = dict(rows)[max(args.sizes)]
        print(
            f"\nfirst_paint_{max(args.sizes)}_server_s={max(biggest[:2]):.2f}   "
            "(AppTest; target: < 3 s at 100,000 trials)"
        )
        if args.browser:
            smallest = dict(rows)[min(args.sizes)]
            print(
                f"first_paint_{max(args.sizes)}_chromium_s={max(biggest[2:]):.2f}   "
                f"(of which the same at {min(args.sizes):,} trials: {max(smallest[2:]):.2f})"
            )


if __name__ == "__main__":
    main()
