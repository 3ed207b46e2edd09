"""Whether a run is still training: a non-finite loss or weight stops it, a collapse is reported.

A run that diverged must not export: NaN weights written as a generator look like a result. The
trainer checks every step's losses (free: they are already on the host) and every weight before
each checkpoint and export, so the last checkpoint on disk is always a finite one. A collapse is
subtler and the run may recover from it, so it is a warning in the log and the report: the
discriminator's loss sitting at zero (it wins outright and the generator's gradient vanishes), or
the generator's loss staying orders of magnitude above where it started.
"""

from __future__ import annotations

import math
import statistics

from torch import nn

from coronet.errors import NonFiniteError
from coronet.models import non_finite_entry

COLLAPSE_STEPS = 50  # consecutive steps before a collapse is reported (a few steps happen in healthy runs)
D_AT_ZERO = 1e-3  # a discriminator loss this small is a discriminator that always wins
G_BLOWUP = 1e3  # a generator loss this many times its early level has left the data behind
EARLY_STEPS = 20  # the generator loss's early level: the median of its first steps


class TrainingDiverged(NonFiniteError):
    """A loss or a weight became NaN or infinite."""


def non_finite_weight(modules: dict[str, nn.Module]) -> str | None:
    """The name of the first parameter or buffer holding a NaN or an infinity, or None."""
    for owner, module in modules.items():
        if (bad := non_finite_entry(module)) is not None:
            return f"{owner}.{bad}"
    return None


class Health:
    """Per step: stop on a non-finite loss; count the steps of a collapse and report it once."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self._d_low = 0
        self._g_high = 0
        self._g_early: list[float] = []

    def check(self, step: int, losses: dict[str, float]) -> str | None:
        """Raise `TrainingDiverged` ("KEY is nan") for a NaN or infinite loss; return a collapse
        warning the first time one has lasted COLLAPSE_STEPS steps (None otherwise)."""
        for key, value in losses.items():
            if not math.isfinite(value):
                raise TrainingDiverged(f"{key} is {value}")
        found = []
        d, g = losses.get("D"), losses.get("G")
        if d is not None:
            self._d_low = self._d_low + 1 if d <= D_AT_ZERO else 0
            if self._d_low == COLLAPSE_STEPS:
                found.append(f"step {step}: the discriminator's loss has been below {D_AT_ZERO:g} for "
                             f"{COLLAPSE_STEPS} steps (it always wins; the generator learns little)")
        if g is not None:
            if len(self._g_early) < EARLY_STEPS:
                self._g_early.append(g)
            early = statistics.median(self._g_early)
            self._g_high = self._g_high + 1 if early > 0 and g > G_BLOWUP * early else 0
            if self._g_high == COLLAPSE_STEPS:
                found.append(f"step {step}: the generator's loss has stayed above {G_BLOWUP:g}x its early "
                             f"level ({early:.3g}) for {COLLAPSE_STEPS} steps")
        for warning in found:
            self.warnings.append(f"{warning}; the model may have collapsed: look at samples.png, and "
                                 f"try a lower learning rate")
        return "; ".join(self.warnings[-len(found):]) if found else None

    def state_dict(self) -> dict:
        return {"warnings": list(self.warnings), "d_low": self._d_low, "g_high": self._g_high,
                "g_early": list(self._g_early)}

    def load_state_dict(self, state: dict) -> None:
        self.warnings = list(state.get("warnings", []))
        self._d_low = int(state.get("d_low", 0))
        self._g_high = int(state.get("g_high", 0))
        self._g_early = [float(v) for v in state.get("g_early", [])]


def losses_of(values: dict[str, float]) -> dict[str, float]:
    """The step's losses by name (`loss/D` -> `D`) from the values `Trainer.train_step` returns."""
    return {k.removeprefix("loss/"): v for k, v in values.items() if k.startswith("loss/")}

