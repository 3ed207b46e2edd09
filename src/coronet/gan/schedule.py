"""Learning rate per step: constant during the search (so the L1 shrink keeps its pace, as the DHP
notes advise), then the reference's constant-then-linear-decay over fine-tuning; the hypernetworks'
share of it, which may fall during the search."""

from __future__ import annotations


def learning_rate(base_lr: float, phase: str, phase_step: int, phase_steps: int, decay_steps: int) -> float:
    """LR for step `phase_step` (0-based) of a phase of `phase_steps` steps."""
    if phase == "search" or decay_steps <= 0:
        return base_lr
    start = max(phase_steps - decay_steps, 0)
    done = max(0, phase_step - start)
    return base_lr * (1.0 - done / float(decay_steps + 1))


def warmup_factor(phase: str, phase_step: int, warmup_steps: int) -> float:
    """Share of the LR for the compact generator at step `phase_step` (0-based) of fine-tuning.

    The hand-over gives the compact generator a fresh Adam, whose first steps move every weight by
    about lr at once (the step is g/|g| before the second moment settles) wherever the search left
    it; a linear ramp, 1/(W+1) to 1 over W steps, lets the moments settle first (Liu et al., 2020:
    RAdam's analysis of why warm-up helps Adam). 1 outside fine-tuning.
    """
    if phase != "finetune" or warmup_steps <= 0 or phase_step >= warmup_steps:
        return 1.0
    return (phase_step + 1) / float(warmup_steps + 1)


def hyper_lr_share(start: float, final: float | None, phase: str, phase_step: int,
                   reach_steps: float) -> float:
    """The hypernetworks' share of the LR at step `phase_step` (0-based) of `phase`.

    DHP's step (share 1) trains the hyper-model fastest over the first few hundred search steps and
    then stalls its fit, while a tenth of it is slow early and better late (benchmarks/RESULTS.md,
    the trajectories). With `final` set the share falls geometrically from `start` at the first
    search step to `final` at the controller's planned landing (`reach_steps`), and stays there.
    """
    if final is None:
        return start
    if phase != "search":
        return final
    progress = min(1.0, phase_step / max(reach_steps, 1.0))
    return start * (final / start) ** progress
