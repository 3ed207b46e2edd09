"""Learning rate per step: constant during the search, so that the importance averages and the
deaths' path see one step size, then the reference's constant-then-linear decay over fine-tuning
(and over dense training)."""

from __future__ import annotations


def learning_rate(base_lr: float, phase: str, phase_step: int, phase_steps: int, decay_steps: int) -> float:
    """LR for step `phase_step` (0-based) of a phase of `phase_steps` steps."""
    if phase == "search" or decay_steps <= 0:
        return base_lr
    start = max(phase_steps - decay_steps, 0)
    done = max(0, phase_step - start)
    return base_lr * (1.0 - done / float(decay_steps + 1))
