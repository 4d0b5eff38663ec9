"""What Yosys's ``memory_libmap`` makes of a memory on the open flows' fabrics.

Yosys prices every way it could build a memory (LUT-RAM, block RAM, or flip-flops and
multiplexers, "logic") and takes the cheapest, so a model that counts what a build
contains has to price them the same way. The costs are those of Yosys 0.70's libraries
(``xilinx/lutrams_xcu.txt``, ``lattice/lutrams_trellis.txt``, the block RAM files) and of
``memory_libmap`` itself, read off its ``debug`` output on small test memories:

- a LUT-RAM option costs its cells (Xilinx: 16 a cell scaled by the width used; ECP5: 4 a
  ``TRELLIS_DPR16X4``), 0.5 a read bit for each further tile of depth (the read mux),
  2 a read port (its emulation score) and, once, 0.5 a tile (the write demux); every
  asynchronous read port beyond the cell's own needs a replica of the whole array;
- logic costs 1 a bit (``-logic-cost-ram``; a ROM's bit: ``rom_bram``).
"""

from __future__ import annotations

import math

import numpy as np

from cost_models._overlay_resources import _tiles, memory

# Xilinx simple dual-port LUT-RAM (one write, one asynchronous read port a replica):
# (depth, data bits) of a RAM32M16 and a RAM64M8 used that way
_XILINX_SDP = ((32, 14), (64, 7))
_EMU = 2.0  # a read port's emulation score, x2 (memory_libmap's FACTOR_EMU)


def async_ram(
    depth: int, width: int, reads: int, flow: str, cell_bits: int = 4
) -> dict[str, float]:
    """A ``depth`` x ``width`` memory with one write port and ``reads`` asynchronous read
    ports (distinct addresses: Yosys merges identical reads): LUT-RAM cells over all
    replicas (``lutram``), or, where logic costs less, its flip-flops (``ff``) and the
    2:1 multiplexers of its read ports (``mux``: reads x width x (depth - 1)).

    Measured (Yosys 0.70): a 128 x 8 array with 24 read ports stays LUT-RAM on Xilinx
    (1022.7 against logic's 1024) and goes to logic with 25; on ECP5 with 11 (1038).
    ``sp_gemv``'s x buffer of B-nm's sparse column-mode FFN (16 row lanes + 16 bank
    gathers) is such a case: 2176 FDRE and 4064 $mux cells where the dense kernels of
    the same size keep their x buffer in LUT-RAM.

    ``cell_bits`` (ECP5): the bits of a word a ``TRELLIS_DPR16X4`` holds, 4, or 1 where
    Yosys lays the word out a bit a cell (its swizzle for ``sp_attn``'s K and V buffers,
    whose write demux it then scores a cell each): those buffers go to logic from 4 read
    lanes (4728 against 4096 at 512 x 8, ``debug memory_libmap``; 2428 at 2 lanes)."""
    if flow == "yosys-ecp5":
        cells, tiles, port, demux = _ecp5_lutram(depth, width, cell_bits)
        cost = reads * (port + _EMU)
    else:
        best: tuple[float, int, int] | None = None
        for d, w in _XILINX_SDP:
            tiles = math.ceil(depth / d)
            port = 16 * tiles * width / w + 0.5 * width * (tiles - 1) + _EMU
            cost = reads * port + 0.5 * tiles * (tiles > 1)
            if best is None or cost < best[0]:
                best = (cost, tiles * math.ceil(width / w), tiles)
        assert best is not None
        cost, cells, tiles, demux = best[0], best[1], best[2], 0.0
    if cost + demux < depth * width:  # the read mux over the LUT-RAM's tiles of depth
        return {"lutram": float(reads * cells), "ff": 0.0, "mux": reads * width * (tiles - 1.0)}
    return {"lutram": 0.0, "ff": float(depth * width), "mux": float(reads * width * (depth - 1))}


def _ecp5_lutram(depth: float, width: float, cell_bits: int = 4) -> tuple[int, int, float, float]:
    """(cells, tiles, read port cost, write demux cost) of a TRELLIS_DPR16X4 array: 4 a
    cell, 0.5 a read bit per further 16-deep tile, 0.5 a tile for the write demux (a cell
    each where the word is laid out a bit a cell, ``cell_bits`` 1)."""
    tiles = math.ceil(depth / 16)
    cells = tiles * math.ceil(width / cell_bits)
    port = 4 * cells + 0.5 * width * (tiles - 1)
    demux = 0.5 * tiles * (width if cell_bits == 1 else 1) * (tiles > 1)
    return cells, tiles, port, demux


def rom_bram(rows: float, width: float, flow: str) -> float:
    """Block RAMs of a synchronous ROM (``sp_rom``), or 0 where Yosys leaves it to logic:
    the cheapest block RAM tiling (``memory``'s costs) unless logic costs less, a ROM bit
    counting 1/64 (Xilinx: measured, 512 x 16 and 128 x 192 ROMs stay logic, 512 x 32
    and 512 x 64 go to a RAMB18 / RAMB36), 1/16 on ECP5 (memory_libmap's default
    ``-logic-cost-rom``, which synth_ecp5 keeps: L-base's 128 x 192 LM head ROM, logic
    1536 against 6 PDPW16KD, 770, went to block RAM)."""
    mem = memory(np.asarray(rows, float), np.asarray(width, float), flow)
    blocks = float(mem["bram"])
    ecp5 = flow == "yosys-ecp5"
    # DP16KD 128; a RAMB36 257, a RAMB18 129 (half a block)
    cost = (128 if ecp5 else 257) * blocks
    # a tie stays logic (G-nm's 128 x 16 and 256 x 8 column ROMs on ECP5)
    return blocks if blocks and rows * width / (16 if ecp5 else 64) > cost else 0.0


def ecp5_ram(rows: float, width: float) -> dict[str, float]:
    """TRELLIS_DPR16X4 cells and EBRs of a ``rows`` x ``width`` RAM with one read port
    (a FIFO's, a GEMV's result buffer) as synth_ecp5's memory_libmap chooses, its costs in
    full: a LUT-RAM deeper than 16 words pays, besides 4 a cell, 0.5 a read bit per
    further tile (the read mux) and 0.5 a tile (the write demux), which ``memory`` leaves
    out. Traced on L-base's log (Yosys 0.70): the 192 x 8 skip FIFOs, LUT-RAM 154 (96 +
    44 + 6, + 8 emulation) against a DP16KD's 136, and the LM head's 64 x 64 result
    buffer, 362 against two PDPW16KD's 264, went to block RAM."""
    cells, _, port, demux = _ecp5_lutram(rows, width)
    lutram = port + demux
    blocks = float(_tiles(np.asarray(rows, float), np.asarray(width, float), 512 * 36))
    if 128 * blocks < lutram:
        return {"lutram": 0.0, "bram": blocks}
    return {"lutram": float(cells), "bram": 0.0}


def _ram(rows: float, width: float, flow: str) -> dict[str, float]:
    """LUT-RAM cells and block RAMs of a one-read-port RAM: ``ecp5_ram`` on ECP5."""
    if flow == "yosys-ecp5":
        return ecp5_ram(rows, width)
    mem = memory(np.asarray(rows, float), np.asarray(width, float), flow)
    return {"lutram": float(mem["lutram"]), "bram": float(mem["bram"])}
