"""The memory image of a quantised model for the spatial HLS top: int32 words + offsets.

Every layer has the same layout (offsets relative to its base, ``layer_words`` apart) so
the top addresses layer ``l`` as ``base + l * LAYER_WORDS``. Matrices stored N:M sparse
keep ``N`` values per block of ``M`` and each value's offset in its block.
"""

from __future__ import annotations

import numpy as np

from overlay.model import is_gpt, layer_mats
from overlay.reference import MAT_CLASS, QMat, QuantModel
from spatial.plan import SpatialPlan


def compress(q: QMat, nm: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """N values and in-block offsets per block of M (zeros pad a block with fewer kept)."""
    n, m = nm
    rows, k = q.w.shape
    blocks = q.w.reshape(rows, k // m, m)
    # Nonzeros first (stable), then zeros: the first N carry every kept weight.
    order = np.argsort(blocks == 0, axis=2, kind="stable")[:, :, :n]
    vals = np.take_along_axis(blocks, order, axis=2)
    return vals.reshape(rows, -1), order.reshape(rows, -1)


class Image:
    def __init__(self) -> None:
        self.words: list[np.ndarray] = []
        self.offsets: dict[str, int] = {}
        self.size = 0

    def put(self, name: str, arr: np.ndarray | list[int]) -> None:
        a = np.asarray(arr, dtype=np.int64).reshape(-1)
        if a.size and (a.min() < -(1 << 31) or a.max() >= 1 << 31):
            raise ValueError(f"{name} does not fit int32 words")
        self.offsets[name] = self.size
        self.words.append(a)
        self.size += a.size

    def array(self) -> np.ndarray:
        return np.concatenate(self.words) if self.words else np.zeros(0, dtype=np.int64)


def _layer(img: Image, qm: QuantModel, plan: SpatialPlan, li: int) -> None:
    q, r, nd, lt = qm.layers[li], qm.rq[li], qm.norms[li], qm.luts[li]
    for name in layer_mats(qm.shape):
        mat = q[name]
        nm = plan.prune[MAT_CLASS[name]]
        if plan.stored_sparse[MAT_CLASS[name]] and nm is not None:
            vals, offs = compress(mat, nm)
            img.put(name + ".w", vals)
            img.put(name + ".ix", offs)
        else:
            img.put(name + ".w", mat.w)
        img.put(name + ".s", mat.s)
    for key in sorted(r):
        img.put("rq." + key, list(r[key]))
    for nm_key in ("n1", "n2"):
        g, b, m, sh = nd[nm_key]
        img.put(nm_key + ".g", g)
        img.put(nm_key + ".b", b)
        img.put(nm_key + ".rq", [m, sh])
    img.put("lut.exp", lt["exp"])
    img.put("lut.act", lt["act"])


def build_image(qm: QuantModel, plan: SpatialPlan) -> tuple[np.ndarray, dict[str, int], int]:
    """(words, offsets, layer_words): globals first, then ``n_layers`` equal layer blocks.

    Offsets of layer items are relative to a layer's base (key ``layer0``)."""
    glob = Image()
    glob.put("emb", qm.emb)
    if qm.pos is not None:
        glob.put("pos", qm.pos[: plan.max_pos])
    if not is_gpt(qm.shape):
        assert qm.rope_cos is not None and qm.rope_sin is not None
        glob.put("rope.cos", qm.rope_cos[: plan.max_pos])
        glob.put("rope.sin", qm.rope_sin[: plan.max_pos])
    g, b, m, sh = qm.norm_f
    glob.put("nf.g", g)
    glob.put("nf.b", b)
    glob.put("nf.rq", [m, sh])
    glob.put("lm.w", qm.lm.w)
    glob.put("lm.s", qm.lm.s)
    layers = []
    offsets = dict(glob.offsets)
    layer_words = 0
    for li in range(len(qm.layers)):
        img = Image()
        _layer(img, qm, plan, li)
        if li == 0:
            layer_words = img.size
            offsets.update({"L." + k: v for k, v in img.offsets.items()})
        elif img.size != layer_words:
            raise ValueError(f"layer {li} has {img.size} words, layer 0 {layer_words}")
        layers.append(img.array())
    offsets["layer0"] = glob.size
    words = np.concatenate([glob.array(), *layers])
    return words, offsets, layer_words
