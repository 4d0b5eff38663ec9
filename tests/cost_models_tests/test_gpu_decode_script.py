"""benchmarks/gpu_decode.py, the GPU measurement a user with a GPU runs (issue 16 item 10):
its input checks and power parsing run here; the measurement itself needs CUDA."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_decode.py"
sys.path.insert(0, str(ROOT / "benchmarks"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_power_samples_parse_as_nvidia_smi_prints_them() -> None:
    from gpu_decode import parse_power

    # csv,noheader,nounits: one reading per line; an unsupported board prints [N/A]
    assert parse_power("71.23\n 312.50\n[N/A]\n\n") == [71.23, 312.5]


def test_the_record_holds_the_models_power_beside_the_measured_one() -> None:
    """The measured board power is compared with the model's prediction of the same object
    (same GPU file, model, lengths and stack): idle plus the busy share of each step."""
    from gpu_decode import predicted

    import cost_models as cm

    ms, watts = predicted("gpt2-medium", "h100", "eager", 128, 128)
    h100 = cm.load_platform("h100")
    assert isinstance(h100, cm.Gpu)
    wl = cm.load_workload({"model": "gpt2-medium", "prompt_len": 128, "gen_len": 128}, "t")
    g = cm.gpu_baseline(wl, h100, "eager")
    assert (ms, watts) == (1e3 * g.decode_latency_s_per_token, g.power_w)
    assert h100.idle_power_w < watts < h100.decode_power_w


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--models", "gpt2-medium,nosuch"), "no preset 'nosuch'"),
        (("--stacks", "eager,vllm"), "'vllm' is not one of eager, graphs"),
        (("--platform", "u280"), "'u280' is not a GPU platform file"),
        (("--gen", "1"), "--gen must be at least 2"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    r = run(*args)
    assert r.returncode == 2
    assert says in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_without_a_gpu_it_says_so_instead_of_inventing_figures(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: the measurement would run")
    out = tmp_path / "record.json"
    r = run("--models", "gpt2-medium", "--out", str(out))
    assert r.returncode == 2 and "no CUDA GPU" in r.stderr
    assert not out.exists()
