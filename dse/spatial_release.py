"""What ``dse promote`` says of a spatial point: not released yet, and what is missing.

The spatial accelerator builds (``spatial_rtl`` with the open flows and the ``sim`` rung,
``hls_spatial`` with ``vitis-hls`` / ``vitis-link``), but a release needs a design a board
can run and a host that talks to it, as the overlay has (``overlay_release``: the UART top
with the images in the bitstream; the XRT host writing the image into HBM). Until those
exist, promote refuses a spatial point before anything is built, naming what is missing.
"""

from __future__ import annotations

from typing import Any

from dse._release_base import ReleaseError

SPATIAL_TEMPLATES = ("spatial_rtl", "hls_spatial")
MISSING = {
    "spatial_rtl": (
        "a host-interface top around sp_top (the overlay's UART top: prompt in, tokens out) "
        "with its ROM images published and checked against the bitstream, a promote-time "
        "simulation of that top and `dse run` for it; and a whole-top ECP5 place and route "
        "(docs/spatial.md)"
    ),
    "hls_spatial": (
        "an XRT host that writes the spatial top's memory image into HBM and runs its "
        "calls (the overlay's alveo_release does this for the overlay; docs/spatial.md)"
    ),
}


def refuse(spec: Any) -> None:
    """Raise ``ReleaseError`` (one line) when ``spec`` builds the spatial accelerator."""
    if spec.template in SPATIAL_TEMPLATES:
        raise ReleaseError(
            f"template '{spec.template}': dse promote does not release the spatial "
            f"accelerator yet; missing: {MISSING[spec.template]}"
        )
