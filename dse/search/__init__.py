"""Search at the model's speed: exact enumeration and a vectorised evolutionary search.

``dse sweep`` with ``sampler: auto`` (the default) or ``moea`` runs here instead of the
trial-by-trial Optuna loop (:func:`uses_model_search`): the whole grid when the cost model
can score it within ``exact_s`` seconds, else :class:`VectorSearch` (ask a batch of
genomes, score it with :class:`Scorer`, tell). Results are stored as ordinary Optuna
trials, so ``optuna.load_study``, ``optuna-dashboard`` and ``--resume`` work unchanged.
See ``docs/search.md``.
"""

from dse.search._codec import Codec
from dse.search._driver import (
    MODEL_SAMPLERS,
    OPTIONS,
    SEARCH_ATTR,
    run_model_search,
    uses_model_search,
)
from dse.search._moea import VectorSearch
from dse.search._score import Exact, Scorer, enumerate_exact, measure_speed

__all__ = [
    "MODEL_SAMPLERS",
    "OPTIONS",
    "SEARCH_ATTR",
    "Codec",
    "Exact",
    "Scorer",
    "VectorSearch",
    "enumerate_exact",
    "measure_speed",
    "run_model_search",
    "uses_model_search",
]
