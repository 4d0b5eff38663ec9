"""Platform data files: every one loads, totals agree with per-SLR figures, errors are clear."""

from __future__ import annotations

from pathlib import Path

import pytest

import cost_models as cm


@pytest.mark.parametrize(
    "name", [n for n in cm.list_platforms() if isinstance(cm.load_platform(n), cm.Platform)]
)
def test_fpga_platforms_are_consistent(name: str) -> None:
    p = cm.load_platform(name)
    assert isinstance(p, cm.Platform)
    for r in cm.RESOURCES:
        assert sum(getattr(s, r) for s in p.slrs) == pytest.approx(
            getattr(p.resources, r), rel=1e-3
        )
        assert getattr(p.available(), r) <= getattr(p.resources, r)
    assert p.memory.channels >= 1 and p.memory.peak_gbps > 0


def test_u280_figures_from_the_reference() -> None:
    p = cm.load_platform("u280")
    assert isinstance(p, cm.Platform)
    assert p.resources.lut == 1_303_680 and p.resources.dsp == 9024
    assert p.memory.channels == 32 and p.memory.peak_gbps == pytest.approx(460)


def test_u280_shell_is_the_platform_row_of_the_cited_report() -> None:
    """Issue 16 item 9: what a kernel may use is the "User Budget" row of the artifact's
    report_accelerator_utilization (impl_1_kernel_util_routed.rpt), not the device minus
    the full report's "Fixed" (locked static region) column, which left out the HBM, AXI,
    clock and reset IP that the platform places in the dynamic region."""
    for name in ("u280", "u55c"):
        p = cm.load_platform(name)
        assert isinstance(p, cm.Platform)
        a = p.available()
        assert (a.lut, a.ff, a.bram36, a.uram, a.dsp) == (1_170_835, 2_402_634, 1819, 960, 9020)


@pytest.mark.parametrize("name", ["a100", "h100", "v100s"])
def test_gpus(name: str) -> None:
    assert isinstance(cm.load_platform(name), cm.Gpu)


def test_unknown_platform_suggests() -> None:
    with pytest.raises(cm.InputError, match=r"unknown platform 'u28'.*did you mean 'u280'"):
        cm.load_platform("u28")


def test_bad_platform_file_names_file_and_key(tmp_path: Path) -> None:
    src = (cm._platform.PLATFORMS_DIR / "u280.yaml").read_text()
    bad = tmp_path / "board.yaml"
    bad.write_text(src.replace("channel_gbps: 14.375", "channel_gbps: -1"))
    with pytest.raises(
        cm.InputError,
        match=r"board\.yaml: memory\.channel_gbps: expected a "
        r"number > 0, got -1",
    ):
        cm.load_platform(bad)


def test_clock_curve_interpolation_matches_numpy_bit_for_bit() -> None:
    """The search-free interpolation behind ``fmax_estimate`` equals ``np.interp``, at and
    next to every breakpoint too, for every platform's curve."""
    import numpy as np

    from cost_models._platform_types import interp

    rng = np.random.default_rng(0)
    for name in cm.list_platforms():
        p = cm.load_platform(name)
        if not isinstance(p, cm.Platform):
            continue
        xs = np.array([x for x, _ in p.fmax_vs_util])
        ys = np.array([y for _, y in p.fmax_vs_util])
        u = np.concatenate(
            [rng.uniform(0.0, 1.5, 5000), xs, np.nextafter(xs, 2.0), np.nextafter(xs, -2.0)]
        )
        u = u[u >= 0]
        np.testing.assert_array_equal(interp(u, p.fmax_vs_util), np.interp(u, xs, ys))
        np.testing.assert_array_equal(p.fmax_estimate(u), np.interp(np.clip(u, 0.0, 1.0), xs, ys))
