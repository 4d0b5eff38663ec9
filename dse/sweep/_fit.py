"""What a study's finished builds teach the model: one :class:`~dse.scoring.Calibration`.

- calibration (``dse.calibration``) fits one correction per measured metric and flow from the
  builds that measured the object the model predicts: the whole accelerator
  (``WHOLE_DESIGN_TEMPLATES``), each measurement paired with the model's prediction of that
  build (``dse.calibration.predicted_for``: the stored whole-design figures, or the sim run's
  own cycle-model figure). A unit template's build is compared with its units' model and
  calibrates nothing; a pair outside ×0.5–×2 is refused by name (``Fitter``);
- a build that proves its point infeasible (over-utilisation or timing failure in the tool,
  or measured resources over the config's ``max_util``) rules out its neighbourhood
  (:class:`~dse.scoring.Cone`).

The build scheduler refits after every finished build; the dashboard rebuilds the same
cones from the stored builds (:func:`dse.scoring.cones_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dse.buildspec import ACCELERATORS
from dse.calibration import Observation, column_of, flow_fidelity, predicted_for, sanity_check
from dse.sweep._builds import FINAL_STATES, BuildRow

# Templates that build the whole accelerator the study's model predicts; a unit template
# (llm_top, gemv_int, ...) builds a few of its units, so it calibrates nothing of the design.
WHOLE_DESIGN_TEMPLATES = tuple(ACCELERATORS.values())


def observations(rows: Iterable[BuildRow]) -> list[Observation]:
    """(predicted, measured) pairs of every finished build with a measurement.

    A failed build counts too when it measured something: a run of place and route that
    missed its clock target measured the real Fmax and resources all the same; a failed
    simulation (not bit-exact) did not run the computation the model predicts, so it does
    not. A metric both measured and predicted as 0 (no URAM on an ECP5) says nothing.
    """
    out = []
    for r in rows:
        if r.state not in FINAL_STATES or not r.measured:
            continue
        if r.state != "done" and flow_fidelity(r.flow) == "sim":
            continue
        label = f"trial {r.trial_number} ({r.template}, {r.flow})"
        for metric, value in r.measured.items():
            if column_of(metric) is None or not isinstance(value, int | float):
                continue
            pred = predicted_for(metric, r.measured, r.predicted)
            if pred is None or (pred == 0 and value == 0):
                continue
            out.append(Observation(metric, r.flow, r.template, pred, float(value), label))
    return out


def unit_refusal(ob: Observation) -> str | None:
    """Why a unit template's observation calibrates nothing (None for the whole design)."""
    if ob.template in WHOLE_DESIGN_TEMPLATES:
        return None
    return (
        f"build {ob.build}: {ob.metric} ({ob.flow}) measured {ob.measured:g}, its template's "
        f"model {ob.predicted:g}: '{ob.template}' builds units, not the whole accelerator "
        f"({', '.join(WHOLE_DESIGN_TEMPLATES)}); not calibrated"
    )


class Fitter:
    """Keeps the observations a correction may use; says once why each other one is not."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.refusals: list[str] = []  # every line said so far, in order

    def sane(self, obs: list[Observation]) -> list[Observation]:
        """The whole-design observations inside ×0.5–×2 of their prediction, measured by a
        rung that measures their metric (``dse.calibration.sanity_check``); every other one
        is refused with a line naming the build, metric, flow and both numbers."""
        whole = [o for o in obs if unit_refusal(o) is None]
        kept, refused = sanity_check(whole)
        units = [line for o in obs if (line := unit_refusal(o)) is not None]
        for line in [*refused, *units]:
            if line not in self.refusals:
                self.refusals.append(line)
                self.log(f"calibration refused: {line}")
        return kept
