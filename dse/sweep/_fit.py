"""What a study's finished builds teach the model: one :class:`~dse.scoring.Calibration`.

- calibration (``dse.calibration``) fits one correction per measured metric and flow from
  every build so far (predicted = the model's raw value at the build's point);
- a build that proves its point infeasible (over-utilisation or timing failure in the tool,
  or measured resources over the config's ``max_util``) rules out its neighbourhood
  (:class:`~dse.scoring.Cone`).

The build scheduler refits after every finished build; the dashboard rebuilds the same
cones from the stored builds (:func:`dse.scoring.cones_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dse.calibration import METRIC_COLUMNS, Observation, sanity_check
from dse.sweep._builds import FINAL_STATES, BuildRow

# Templates that build the whole accelerator the model predicts (calibration's sanity
# check refuses their measurements outside x0.5-x2 of the prediction).
WHOLE_DESIGN_TEMPLATES = ("overlay",)


def observations(rows: Iterable[BuildRow]) -> list[Observation]:
    """(predicted, measured) pairs of every finished build with a measurement.

    A failed build counts too when it measured something: a run of place and route that
    missed its clock target measured the real Fmax and resources all the same.
    """
    out = []
    for r in rows:
        if r.state not in FINAL_STATES or not r.measured:
            continue
        for metric, value in r.measured.items():
            column = METRIC_COLUMNS.get(metric)
            pred = r.predicted.get(column) if column else None
            if isinstance(value, int | float) and isinstance(pred, int | float):
                label = f"trial {r.trial_number} ({r.template}, {r.flow})"
                obs = Observation(metric, r.flow, r.template, float(pred), float(value), label)
                out.append(obs)
    return out


class Fitter:
    """Fits corrections from builds, leaving out whole-design outliers (logged once each)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.refusals: set[str] = set()  # calibration sanity lines already logged

    def sane(self, obs: list[Observation]) -> list[Observation]:
        """Only the whole accelerator (``WHOLE_DESIGN_TEMPLATES``) is predicted as one
        object; a unit template's prediction is a share of the design, so its out-of-range
        measurements are reported but still used, as before (issue 15)."""
        kept, refused = sanity_check(obs)
        for line in refused:
            if line not in self.refusals:
                self.refusals.add(line)
                whole = any(f"({t}," in line for t in WHOLE_DESIGN_TEMPLATES)
                self.log(
                    f"calibration: {line}"
                    + (": refused" if whole else ": unit template, used as before")
                )
        return [o for o in obs if o in kept or o.template not in WHOLE_DESIGN_TEMPLATES]
