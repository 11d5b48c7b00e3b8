"""From the review's figures to models the engine runs, with their uncertainty.

* A median gives an exponential; a median plus a landmark rate of the same arm
  gives the Weibull through both, solved exactly; a landmark rate alone gives the
  exponential through it (or a cure mixture when a cure fraction is supplied).
* Two arms' medians give a hazard ratio under proportional hazards with
  exponential survival: HR = median_control / median_experimental.
* A median's 95% CI gives a log-normal sampling distribution of the median (and
  hazard) and the number of events that precision implies; a proportion's counts
  or CI give a Beta distribution.  These are kept for assurance calculations.
* Effect maps turn the review's conclusions about therapy class x HER2 IHC into
  hazard ratios, each entry citing the evidence ids it rests on and the
  assumption it makes.
* ``calibration_report`` checks every calibratable figure twice: the model must
  reproduce it exactly, and a simulated cohort drawn by the engine must
  reproduce it within Monte-Carlo error.
"""

from __future__ import annotations

from typing import Any

from simtrial.calibrate.effect_maps import *  # noqa: F403
from simtrial.calibrate.effect_maps import _default_effect_maps
from simtrial.calibrate.hazard_ratios import *  # noqa: F403
from simtrial.calibrate.models import *  # noqa: F403
from simtrial.calibrate.report import *  # noqa: F403
from simtrial.calibrate.uncertainty import *  # noqa: F403


def __getattr__(name: str) -> Any:
    # EFFECT_MAPS is built on first use so importing this module reads no file.
    if name == "EFFECT_MAPS":
        return _default_effect_maps()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
