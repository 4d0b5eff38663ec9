"""The released ECP5 top with batched prefill (token slots, ``TT`` > 1): the exact released
top over its UART prefills the prompt in chunks (each slot's embedding entry, the chunk's
body, the last slot's LM head) and decodes the bit-exact reference's tokens, in fewer
cycles than the serial release of the same point; the manifest says how it prefills."""

from __future__ import annotations

import shutil

import pytest

from dse.config import load_config
from dse.onchip_release import plan, publish
from overlay.onchip import run_uart
from overlay.onchip_sim import SimPort, build
from overlay.reference import run_reference
from tests.overlay_tests.test_release_uart import EXAMPLE, released  # noqa: F401 (fixture)

SLOTS = 2  # chunks of two: the simulated prompts end on a full and on a partial chunk
LANES = 2  # mm_t: both slots of a chunk in the same cycle (the top's MT)
pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (make sysdeps)"
)


@pytest.fixture(scope="module")
def batched(tmp_path_factory: pytest.TempPathFactory):
    point = load_config(EXAMPLE).point  # the promoted point, its MM mode the MV array
    point |= {"prefill_serial": False, "tile_tokens": SLOTS, "mm_t": LANES, "mm_k": point["mv_k"]}
    point["mm_n"] = point["mv_n"]
    p = plan(EXAMPLE, point, "overlay")
    assert p is not None
    folder = tmp_path_factory.mktemp("release-batched")
    return p, folder, publish(p, folder)


def test_batched_release_decodes_the_reference_tokens(batched, released) -> None:  # noqa: F811
    p, folder, section = batched
    pf = p.rel.prep.comp.prefill
    assert pf.slots == SLOTS and section["params"]["TT"] == SLOTS
    assert section["params"]["MT"] == LANES
    assert section["prefill"] == {
        "mode": "batched", "token_slots": SLOTS, "embed_pc": pf.embed, "body_pc": pf.body,
        "head_pc": pf.head,
    }  # fmt: skip
    sim = section["simulated"]
    assert sim["tokens"] == run_reference(p.rel.prep.qm, sim["prompt"], len(sim["tokens"]))[0]
    # the entry points the top reads are the compiler's
    words = (folder / "onchip" / "pf.hex").read_text().split()
    assert [int(w, 16) for w in words] == [*pf.embed, *pf.body, *pf.head]
    # the same point released serially spends more cycles on the same request
    serial = released[2]
    assert serial["prefill"]["mode"] == "serial" and serial["params"]["TT"] == 1
    assert (
        sim["prompt"] == serial["simulated"]["prompt"]
        and sim["tokens"] == serial["simulated"]["tokens"]
    )
    assert sim["step_cycles"] < serial["simulated"]["step_cycles"]


def test_batched_top_serves_prompts_of_any_chunking(batched) -> None:
    p, folder, section = batched
    binary = build(section["params"])
    with SimPort(binary, folder / "onchip", section["params"]["CPB"], timeout=300) as port:
        for prompt, n in (([7, 300, 511, 0], 3), ([42], 2), ([5, 6, 7, 8, 9], 1)):
            got, cycles = run_uart(port, prompt, n)
            assert got == run_reference(p.rel.prep.qm, prompt, n)[0], prompt
            assert cycles > 0
