"""Dashboard first paint in headless Chromium, every page, on 1k / 10k / 100k-trial studies.

Each study is a real sweep (``dse.sweep.run_sweep`` on ``examples/gpt2-medium-u280-spatial.yaml``
with NSGA-II) in its own results folder. A page's first paint is the time from navigating to
its URL until the page's script has finished (Streamlit's ``stApp`` reports
``data-test-script-state="notRunning"``) and its main element is drawn (the table's canvas,
the Pareto chart's marks, ...), measured in Debian's headless Chromium against ``dse dashboard``:

- **cold**: a fresh ``dse dashboard`` server for every load, so the server's data caches
  are empty (the morning after a sweep); the load starts as soon as the server answers, so
  it waits for the rest of the study read the server began at start-up (``app/serve.py``);
  the browser keeps its HTTP cache (Streamlit's and the chart libraries' JavaScript were
  fetched once before, as for anyone who opened the dashboard before);
- **warm**: the same page loaded again in a new browser session on a server that has
  drawn it once (data caches warm), as when a colleague opens a shared link.

Medians of ``--runs`` loads (default 5) per page, size and kind, with the machine's load
average (the timings are wall-clock on a shared machine). Targets: < 3 s cold, < 2 s warm.
``--apptest`` also times the page scripts alone (Streamlit's ``AppTest``, caches cleared) to
separate server compute from the browser. ``--profile`` instead loads each page once cold and
once warm and says where the time went: when the server's first message and its
``script_finished`` arrived, the websocket bytes by element type, and the browser's main-thread
JavaScript, style/layout and task seconds (Chromium's performance metrics).
``--screenshots DIR`` saves every page as a PNG (``DIR/<trials>/<page>.png``: after its
last warm load, or with ``--profile`` after its profiled loads).

Run: ``python benchmarks/dashboard_load.py [--sizes 1000 10000 100000] [--runs 5]
[--workdir DIR] [--pages PAGE ...] [--apptest] [--profile] [--screenshots DIR]``; with
``--workdir`` the studies are kept and reused (making the 100k study takes a few minutes).
The last lines are ``paint_cold_max_s_100k=…`` and ``paint_warm_max_s_100k=…``: the slowest
page's median at the largest size.
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
if str(ROOT) not in sys.path:  # the browser helpers of tests/app_tests
    sys.path.insert(0, str(ROOT))
EXAMPLE = ROOT / "examples" / "gpt2-medium-u280-spatial.yaml"
MAIN = ROOT / "app" / "main.py"
# URL path -> (AppTest page script, what marks the page as drawn in the browser)
PAGES = {
    "studies": (None, "[data-testid='stDataFrame'] canvas"),
    "pareto": ("views/pareto.py", ".st-key-pareto_chart .marks"),
    "design": ("views/design.py", "[data-testid='stDataFrame'] canvas"),
    "builds": ("views/builds.py", "h1"),
    "calibration": ("views/calibration.py", "h1"),
    "releases": ("views/releases.py", "h1"),
}


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
    """Seconds for one run of ``page``'s script in a new session with empty caches."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["DSE_DASHBOARD_RESULTS"] = str(results)
    os.environ.pop("DSE_DASHBOARD_STORAGE", None)
    st.cache_data.clear()
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    if page is not None:
        st.cache_data.clear()  # navigation needs one run first; time the page alone
        at.switch_page(page)
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page or 'studies'}: {at.exception[0].value}")
    return elapsed


class Server:
    """``dse dashboard --results DIR`` on a free loopback port, stopped on exit."""

    def __init__(self, results: Path) -> None:
        from tests.app_tests.browser import free_port, wait_http

        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dse.cli",
                "dashboard",
                "--results",
                str(results),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_http(f"http://127.0.0.1:{self.port}/_stcore/health", 180)

    def url(self, page: str, study: str) -> str:
        return f"http://127.0.0.1:{self.port}/{'' if page == 'studies' else page}?study={study}"

    def stop(self) -> None:
        os.killpg(self.proc.pid, 15)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(5)


LOADS: list[float] = []  # the machine's 1-minute load average after each page's loads


def load_average() -> float:
    """The 1-minute load average (timings on a shared machine mean little without it)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def paint(driver: Any, url: str, css: str, blank: bool = True) -> float:
    """Seconds from navigation to the page's script done and ``css`` drawn."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def drawn(d: Any) -> bool:
        return bool(
            d.find_elements(
                By.CSS_SELECTOR, "[data-testid='stApp'][data-test-script-state='notRunning']"
            )
            and d.find_elements(By.CSS_SELECTOR, css)
        )

    if blank:
        driver.get("about:blank")
    t0 = time.perf_counter()
    driver.get(url)
    WebDriverWait(driver, 180, poll_frequency=0.05).until(drawn)
    elapsed = time.perf_counter() - t0
    errors = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stAlertContentError']")
    if errors:
        raise RuntimeError(f"{url}: {errors[0].text}")
    return elapsed


def _ws_messages(log: list[dict[str, Any]]) -> tuple[float | None, list[tuple[float, str, int]]]:
    """(document request time, [(time, what, bytes)] of every websocket message received)
    from Chromium's performance log; ``what`` is the ForwardMsg kind, for an element its type."""
    import base64
    import json

    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    start: float | None = None
    out: list[tuple[float, str, int]] = []
    for entry in log:
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent" and params.get("type") == "Document":
            start = start if start is not None else float(params["timestamp"])
        if msg["method"] != "Network.webSocketFrameReceived":
            continue
        frame = params["response"]
        raw = (
            base64.b64decode(frame["payloadData"])
            if frame.get("opcode") == 2
            else frame["payloadData"].encode()
        )
        what = "?"
        try:
            fwd = ForwardMsg.FromString(raw)
            what = str(fwd.WhichOneof("type"))
            if what == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                what = str(fwd.delta.new_element.WhichOneof("type"))
        except Exception:  # a frame that is not a ForwardMsg: counted as "?"
            pass
        out.append((float(params["timestamp"]), what, len(raw)))
    return start, out


def profile_load(driver: Any, url: str, css: str) -> dict[str, Any]:
    """One load in a new tab: where its time went (server, payload, browser)."""
    driver.switch_to.new_window("tab")  # its own renderer: the CDP metrics are this page's
    old = driver.window_handles[0]
    new = driver.current_window_handle
    driver.switch_to.window(old)
    driver.close()
    driver.switch_to.window(new)
    driver.get_log("performance")  # drop what came before
    driver.execute_cdp_cmd("Performance.enable", {})
    elapsed = paint(driver, url, css, blank=False)
    metrics = {
        m["name"]: m["value"]
        for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    }
    log = driver.get_log("performance")
    start, frames = _ws_messages(log)
    sizes: dict[str, int] = {}
    for _, what, n in frames:
        sizes[what] = sizes.get(what, 0) + n
    done = [t for t, what, _ in frames if what == "script_finished"]
    return {
        "paint_s": elapsed,
        "first_msg_s": (frames[0][0] - start) if frames and start else float("nan"),
        "script_done_s": (done[-1] - start) if done and start else float("nan"),
        "ws_bytes": sum(sizes.values()),
        "bytes_by_kind": dict(sorted(sizes.items(), key=lambda kv: -kv[1])),
        "browser_script_s": metrics.get("ScriptDuration", float("nan")),
        "browser_layout_s": metrics.get("LayoutDuration", 0.0)
        + metrics.get("RecalcStyleDuration", 0.0),
        "browser_task_s": metrics.get("TaskDuration", float("nan")),
        "chart_js": _chart_js(log),
    }


def _chart_js(log: list[dict[str, Any]]) -> str:
    """Where the chart libraries' JavaScript came from in this load: ``PlotlyChart cache``
    (the browser's HTTP cache), ``PlotlyChart 4,716 kB`` (fetched), or ``none`` (not loaded);
    ``embed`` is Vega's."""
    import json

    got = []
    for entry in log:
        msg = json.loads(entry["message"])["message"]
        if msg["method"] != "Network.responseReceived":
            continue
        response = msg["params"]["response"]
        name = response["url"].rsplit("/", 1)[-1]
        if name.startswith(("PlotlyChart.", "EChartsChart.", "embed.")) and name.endswith(".js"):
            cached = response.get("fromDiskCache") or response.get("fromMemoryCache")
            size = float(response.get("encodedDataLength") or 0) / 1e3
            got.append(f"{name.split('.')[0]} " + ("cache" if cached else f"{size:,.0f} kB"))
    return ", ".join(got) or "none"


def screenshot(driver: Any, path: Path) -> None:
    """The whole page (not just the first screen) as a PNG, for looking at."""
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]');"
        "return m ? m.scrollHeight : document.body.scrollHeight;"
    )
    driver.set_window_size(1600, max(1000, min(int(height) + 200, 6000)))
    time.sleep(1.0)  # Plotly redraws at the new size
    driver.save_screenshot(str(path))
    driver.set_window_size(1600, 1000)


def browser(results: Path, study: str, log_performance: bool = False) -> Any:
    """Headless Chromium at 1600 x 1000 whose HTTP cache holds the app's JavaScript (every
    page loaded once from a server that is then stopped; not timed)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.app_tests.browser import CHROMEDRIVER, chrome_options

    opts = chrome_options(1600, 1000)
    if log_performance:  # websocket frames and timings for profile_load
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(180)  # a browser that died fails the run instead of hanging
    try:
        server = Server(results)
        try:
            for page, (_, css) in PAGES.items():
                paint(driver, server.url(page, study), css)
        finally:
            server.stop()
    except BaseException:
        driver.quit()
        raise
    return driver


def browser_profile(results: Path, study: str, shots: Path | None) -> None:
    """Per page, one cold and one warm load, profiled (``profile_load``), printed."""
    driver = browser(results, study, log_performance=True)
    try:
        for page, (_, css) in PAGES.items():
            server = Server(results)
            try:
                for kind in ("cold", "warm"):
                    got = profile_load(driver, server.url(page, study), css)
                    top = ", ".join(
                        f"{k} {v / 1e3:,.0f}k" for k, v in list(got["bytes_by_kind"].items())[:4]
                    )
                    print(
                        f"  {page:11s} {kind}: paint {got['paint_s']:.2f} s, first message "
                        f"{got['first_msg_s']:.2f} s, script done {got['script_done_s']:.2f} s; "
                        f"browser JS {got['browser_script_s']:.2f} s, style+layout "
                        f"{got['browser_layout_s']:.2f} s, tasks {got['browser_task_s']:.2f} s; "
                        f"websocket {got['ws_bytes'] / 1e3:,.0f} kB ({top}); "
                        f"chart JS: {got['chart_js']}  "
                        f"[load average {load_average():.1f}]",
                        flush=True,
                    )
                if shots is not None:
                    shots.mkdir(parents=True, exist_ok=True)
                    screenshot(driver, shots / f"{page}.png")
            finally:
                server.stop()
    finally:
        driver.quit()


def browser_paint(
    results: Path, study: str, runs: int, shots: Path | None = None
) -> dict[str, dict[str, list[float]]]:
    """{page: {"cold": [...], "warm": [...]}} in seconds; with ``shots``, each page as a PNG
    after its last warm load."""
    out: dict[str, dict[str, list[float]]] = {p: {"cold": [], "warm": []} for p in PAGES}
    driver = browser(results, study)
    try:
        for run in range(runs):
            for page, (_, css) in PAGES.items():
                server = Server(results)
                try:
                    out[page]["cold"].append(paint(driver, server.url(page, study), css))
                    out[page]["warm"].append(paint(driver, server.url(page, study), css))
                    if shots is not None and run == runs - 1:
                        shots.mkdir(parents=True, exist_ok=True)
                        screenshot(driver, shots / f"{page}.png")
                finally:
                    server.stop()
                LOADS.append(load_average())
                print(
                    f"    {page}: cold {out[page]['cold'][-1]:.2f} s, warm "
                    f"{out[page]['warm'][-1]:.2f} s  [load average {LOADS[-1]:.1f}]",
                    flush=True,
                )
    finally:
        driver.quit()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--apptest", action="store_true", help="also time the page scripts alone")
    ap.add_argument(
        "--profile", action="store_true", help="one profiled cold and warm load per page instead"
    )
    ap.add_argument("--screenshots", type=Path, default=None, help="save each page as PNG here")
    ap.add_argument(
        "--pages", nargs="+", choices=list(PAGES), default=list(PAGES), help="only these pages"
    )
    args = ap.parse_args()
    for page in [p for p in PAGES if p not in args.pages]:
        del PAGES[page]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        folders, names = {}, {}
        for n in args.sizes:
            folders[n] = work / f"r{n}"
            names[n] = make_study(folders[n], n)
        if args.profile:
            for n in args.sizes:
                print(f"{n:,} trials (load average {load_average():.1f})")
                shots = args.screenshots / f"{n}" if args.screenshots else None
                browser_profile(folders[n], names[n], shots)
            return
        table: dict[int, dict[str, dict[str, float]]] = {}
        for n in args.sizes:
            shots = args.screenshots / f"{n}" if args.screenshots else None
            got = browser_paint(folders[n], names[n], args.runs, shots)
            table[n] = {}
            for page, kinds in got.items():
                table[n][page] = {k: statistics.median(v) for k, v in kinds.items()}
                print(
                    f"  {n:>7,} trials  {page:11s} cold "
                    + " ".join(f"{t:.2f}" for t in kinds["cold"])
                    + "  warm "
                    + " ".join(f"{t:.2f}" for t in kinds["warm"]),
                    flush=True,
                )
                if args.apptest:
                    script = PAGES[page][0]
                    times = [apptest_paint(folders[n], script) for _ in range(3)]
                    table[n][page]["server"] = statistics.median(times)
        columns = ["cold", "warm"] + (["server"] if args.apptest else [])
        print(
            f"\nfirst paint in Chromium, median of {args.runs} loads, seconds "
            f"(1-minute load average during the loads: {min(LOADS):.1f} to {max(LOADS):.1f}, "
            f"median {statistics.median(LOADS):.1f}, on {os.cpu_count()} CPUs)"
        )
        print(f"{'trials':>8}  {'page':12s}" + "".join(f"{c:>8}" for c in columns))
        for n in args.sizes:
            for p in PAGES:
                print(f"{n:>8,}  {p:12s}" + "".join(f"{table[n][p][c]:>8.2f}" for c in columns))
        big = max(args.sizes)
        tag = f"{big // 1000}k" if big % 1000 == 0 else str(big)
        for kind, target in (("cold", 3.0), ("warm", 2.0)):
            worst = max(PAGES, key=lambda p: table[big][p][kind])
            print(
                f"paint_{kind}_max_s_{tag}={table[big][worst][kind]:.2f}   "
                f"(slowest page: {worst} of {', '.join(PAGES)}; target < {target:g} s)"
            )


if __name__ == "__main__":
    main()
