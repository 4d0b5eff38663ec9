"""Validation of the search sections of a study config.

``space``, ``derived``, ``objectives``, ``constraints``, ``budget``, ``sampler``, ``seed``,
``batch_size`` and ``storage`` are read from the (overridden) YAML here and turned into frozen
objects; every error names the file, the dotted key, its line and what was expected.

The section objects are in ``_sections``; ``space:``/``derived:`` are parsed in
``_space_params`` and sample-checked in ``_space_check``; objectives, constraints, budget and
sampler in ``_goals``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cost_models as cm
from dse.config._goals import _parse_budget, _parse_constraints, _parse_objectives, _parse_sampler
from dse.config._sections import (
    _STORAGE_SCHEMES,
    ENUMERATING,
    METRICS,
    STUDY_NAME,
    Budget,
    Constraints,
    Objective,
    SamplerSpec,
    SearchSections,
    _check_keys,
    _is_int,
)
from dse.config._space_check import sample_columns
from dse.config._space_params import _parse_space
from dse.config._yaml import LocatedYaml
from dse.errors import ConfigError
from dse.samplers import DEFAULT_SAMPLER, SAMPLERS


def parse_sections(
    doc: LocatedYaml, data: Mapping[str, Any], arch: str, platform: cm.Platform, baseline: bool
) -> SearchSections:
    design = dict(data.get("design") or {})
    specs = cm.param_specs(arch, platform)
    space = _parse_space(doc, data.get("space"), design, specs, arch, platform)
    objectives = _parse_objectives(doc, data.get("objectives"), baseline)
    if space and not objectives:
        raise ConfigError(
            doc.source,
            "objectives",
            "missing; a study with space: needs objectives, e.g. "
            "[{metric: decode_tokens_per_s, direction: maximize}]",
            doc.line("space"),
        )
    constraints = _parse_constraints(doc, data.get("constraints"))
    budget = _parse_budget(doc, data)
    sampler = _parse_sampler(doc, data.get("sampler", DEFAULT_SAMPLER))
    if sampler.name in ENUMERATING and space and space.size() is None:
        floats = [p.name for p in space.params if p.size() is None]
        raise doc.error(
            "sampler",
            f"{sampler.name} enumerates the space, but space.{floats[0]} is a float without "
            "step:; give it a step or pick another sampler",
        )
    seed = data.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        raise doc.error("seed", f"expected a non-negative integer, got {seed!r}")
    batch = data.get("batch_size")
    if batch is not None and (not _is_int(batch) or not 1 <= batch <= 100_000):
        raise doc.error("batch_size", f"expected an integer in [1, 100000], got {batch!r}")
    storage = data.get("storage")
    if storage is not None:
        scheme = str(storage).partition(":")[0].partition("+")[0]
        if not isinstance(storage, str) or "://" not in storage or scheme not in _STORAGE_SCHEMES:
            raise doc.error(
                "storage",
                "expected a database URL such as sqlite:///results/<name>/optuna.db or "
                f"postgresql://user@host:5432/db, got {storage!r}",
            )
    return SearchSections(
        space,
        objectives,
        constraints,
        budget,
        sampler,
        int(seed),
        None if batch is None else int(batch),
        storage,
    )


__all__ = [
    "METRICS",
    "SAMPLERS",
    "STUDY_NAME",
    "Budget",
    "Constraints",
    "Objective",
    "SamplerSpec",
    "SearchSections",
    "_check_keys",
    "parse_sections",
    "sample_columns",
]
