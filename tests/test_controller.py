"""Budget targets, the proximal step and the controller's exact landing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coronet.errors import BudgetError
from coronet.models import get_generator
from coronet.pruning import (
    BudgetController,
    BudgetTarget,
    ControllerConfig,
    hypernetize,
    resolve_budget,
    soft_threshold_,
)

floats = st.floats(-10, 10, allow_nan=False, width=32)


@given(st.lists(floats, min_size=1, max_size=50), st.floats(0, 5), st.floats(0, 5))
def test_soft_threshold_is_the_l1_proximal_operator(values, amount, other):
    z, untouched, other_z = torch.tensor(values), torch.tensor(values), torch.tensor(values)
    soft_threshold_([other_z, z, untouched], [other, amount, 0.0])
    assert torch.equal(untouched, torch.tensor(values))  # an amount of zero changes nothing
    v = np.array(values, dtype=np.float32)
    expected = np.sign(v) * np.maximum(np.abs(v) - np.float32(amount), 0)
    np.testing.assert_allclose(z.numpy(), expected, rtol=1e-6, atol=1e-6)
    # it is the argmin of 0.5 (x - v)^2 + amount |x|: no nearby point does better
    def objective(x):
        return 0.5 * (x - v) ** 2 + amount * np.abs(x)
    for delta in (1e-3, -1e-3):
        assert np.all(objective(z.numpy()) <= objective(z.numpy() + delta) + 1e-5)


def _hyper(init="scratch", ngf=8, name="resnet_9blocks"):
    return hypernetize(get_generator(name, ngf=ngf), init=init)


@pytest.mark.parametrize(("metric", "form", "value", "message"), [
    ("macs", "ratio", 0.0, "outside"),
    ("macs", "ratio", -0.2, "outside"),
    ("macs", "ratio", 1.5, "outside"),
    ("params", "ratio", 0.001, "below the smallest network"),
    ("macs", "absolute", 1e12, "above the dense"),
])
def test_impossible_targets_are_refused_before_training(metric, form, value, message):
    cost = _hyper().cost_model((32, 32))
    with pytest.raises(BudgetError, match=message):
        resolve_budget(BudgetTarget(metric, **{form: value}), cost, min_channels=4)


def test_target_needs_exactly_one_form_and_a_known_metric():
    with pytest.raises(BudgetError):
        BudgetTarget("macs")
    with pytest.raises(BudgetError):
        BudgetTarget("macs", ratio=0.5, absolute=10)
    with pytest.raises(BudgetError, match="metric"):
        BudgetTarget("flops", ratio=0.5)


def test_absolute_target_resolves_to_the_same_window_as_its_ratio():
    cost = _hyper().cost_model((32, 32))
    dense = cost.macs(cost.dense_widths)
    a = resolve_budget(BudgetTarget("macs", absolute=0.3 * dense), cost, 4)
    r = resolve_budget(BudgetTarget("macs", ratio=0.3), cost, 4)
    assert (a.limit, a.lower) == (r.limit, r.lower)
    assert r.lower == pytest.approx(0.98 * r.limit, rel=1e-3) and r.limit <= 0.3 * dense


def _search(hyper, target, steps, size=32, lr=2e-4, min_channels=2, seed=0):
    """A short search: L1 regression on random images, the controller after every Adam step."""
    g = torch.Generator().manual_seed(seed)
    cost = hyper.cost_model((size, size))
    budget = resolve_budget(target, cost, min_channels)
    ctl = BudgetController(hyper.latents, cost, budget, search_steps=steps, lr=lr,
                           config=ControllerConfig(min_channels=min_channels))
    opt = torch.optim.Adam(hyper.parameters(), lr=lr, betas=(0.5, 0.999))
    x = torch.randn(2, 3, size, size, generator=g)
    y = torch.tanh(torch.randn(2, 3, size, size, generator=g))
    history = []
    for _ in range(steps):
        opt.zero_grad()
        (hyper(x) - y).abs().mean().backward()
        opt.step()
        status = ctl.step(lr)
        history.append(status.cost)
        if status.landed:
            break
    return ctl, budget, history


@pytest.mark.parametrize(("init", "name", "ngf", "size"), [
    ("scratch", "resnet_9blocks", 8, 32),
    ("dense", "resnet_9blocks", 8, 32),
    ("dense", "unet_128", 4, 128),
])
def test_search_lands_inside_the_window_for_a_quarter_of_the_macs(init, name, ngf, size):
    hyper = _hyper(init, ngf, name)
    ctl, budget, history = _search(hyper, BudgetTarget("macs", ratio=0.25), steps=200, size=size)
    status = ctl.status()
    assert status.landed
    assert 0.98 * 0.25 <= status.ratio <= 0.25
    assert budget.lower <= status.cost <= budget.limit
    # the analytic cost of the final widths is the controller's number
    assert hyper.cost_model((size, size)).macs(hyper.widths()) == status.cost
    # pruning only removes channels: the cost never goes back up
    assert all(b <= a for a, b in zip(history[:-1], history[1:], strict=True))


def test_search_lands_on_a_parameter_target():
    hyper = _hyper("scratch")
    ctl, budget, _ = _search(hyper, BudgetTarget("params", ratio=0.4), steps=150)
    assert ctl.status().landed
    params = hyper.cost_model((32, 32)).params(hyper.widths())
    assert 0.98 * 0.4 * budget.dense <= params <= 0.4 * budget.dense


def test_search_out_of_time_forces_an_exact_landing():
    hyper = _hyper("scratch")
    # 4 steps, all inside the importance warm-up: the ranking at the end must do it all
    ctl, budget, history = _search(hyper, BudgetTarget("macs", ratio=0.3), steps=4)
    status = ctl.status()
    assert len(history) == 4 and status.landed and status.forced
    assert budget.lower <= status.cost <= budget.limit


def test_dead_channels_stay_dead_and_groups_keep_their_minimum():
    hyper = _hyper("scratch")
    ctl, _, _ = _search(hyper, BudgetTarget("macs", ratio=0.1), steps=120, min_channels=3)
    assert ctl.status().landed
    for name, z in hyper.latents.vectors.items():
        alive = hyper.latents.alive(name)
        assert int(alive.sum()) >= 3
        assert torch.all(z[~alive] == 0)


def test_controller_state_round_trips():
    hyper = _hyper("scratch")
    ctl, _, _ = _search(hyper, BudgetTarget("macs", ratio=0.5), steps=30)
    state = ctl.state_dict()
    twin = BudgetController(hyper.latents, ctl.cost_model, ctl.budget, 30, 2e-4, ctl.config)
    twin.load_state_dict(state)
    again = twin.state_dict()
    importance = again.pop("importance")
    assert set(importance) == set(state["importance"]) and all(
        torch.equal(importance[n], v) for n, v in state.pop("importance").items())
    assert float(sum(v.sum() for v in importance.values())) > 0  # it carried the evidence
    assert again == state
    assert twin.status().cost == ctl.status().cost


_FORCED = {}


@pytest.mark.parametrize(("name", "ngf", "size"), [("resnet_9blocks", 4, 32), ("unet_128", 4, 128)])
@settings(max_examples=25)
@given(fraction=st.floats(0.02, 1.0), min_channels=st.sampled_from([1, 2, 4]))
def test_ranking_alone_lands_any_feasible_target_inside_the_window(name, ngf, size, fraction,
                                                                   min_channels):
    if name not in _FORCED:
        _FORCED[name] = hypernetize(get_generator(name, ngf=ngf))
    hyper = _FORCED[name]
    for group in list(hyper.latents.vectors):
        hyper.latents.set_alive(group, torch.ones_like(hyper.latents.alive(group)))
        with torch.no_grad():
            hyper.latents.vectors[group].normal_()
    cost = hyper.cost_model((size, size))
    floor = resolve_budget(BudgetTarget("macs", ratio=1.0), cost, min_channels).floor
    dense = cost.macs(cost.dense_widths)
    ratio = floor / dense + fraction * (0.99 - floor / dense)  # strictly above the floor
    budget = resolve_budget(BudgetTarget("macs", ratio=ratio), cost, min_channels)
    ctl = BudgetController(hyper.latents, cost, budget, search_steps=1, lr=2e-4,
                           config=ControllerConfig(min_channels=min_channels))
    status = ctl.land_now()
    assert status.cost <= budget.limit  # never over the user's budget
    assert status.cost >= budget.lower
    assert all(w >= min(min_channels, hyper.latents.groups[g].size) for g, w in status.widths.items())


def test_the_least_important_channels_per_unit_of_cost_die_first():
    hyper = _hyper("scratch", ngf=8)
    cost = hyper.cost_model((32, 32))
    quiet = {"block2", "block5", "block7"}
    planted = {g: 2 if g in quiet else w for g, w in cost.dense_widths.items()}
    budget = resolve_budget(BudgetTarget("macs", absolute=cost.macs(planted)), cost, 2)
    ctl = BudgetController(hyper.latents, cost, budget, search_steps=1, lr=2e-4,
                           config=ControllerConfig(min_channels=2))
    for name, importance in ctl.importance.items():
        importance.fill_(1e-6 if name in quiet else 1.0)
        importance[0] = 2.0  # every group's channel 0 matters most
    status = ctl.land_now()
    assert budget.lower <= status.cost <= budget.limit
    thinned = {g for g in ctl.importance if status.widths[g] < hyper.latents.groups[g].size}
    assert thinned == quiet and all(status.widths[g] == 2 for g in quiet), status.widths
    assert all(bool(hyper.latents.alive(g)[0]) for g in ctl.importance)
    # equal scores inside the quiet groups: those deaths count as decided by a tie
    assert status.deaths == sum(hyper.latents.groups[g].size - 2 for g in quiet)
    assert status.tied_deaths == status.deaths  # even the last: it died beside an equal that stayed


def test_the_ranking_is_the_loss_a_removal_adds_per_unit_of_cost():
    # A trunk channel saves ~10x the MACs of a block channel. Give it (saving ratio)^1.5 times the
    # block channel's importance: per unit of cost it carries more of the loss, so the block channel
    # goes first and the trunk channel after it (ranking by the root of the importance would remove
    # the trunk channel alone, which lands by itself).
    hyper = _hyper("scratch", ngf=8)
    cost = hyper.cost_model((32, 32))
    savings = cost.savings_vector("macs", cost.vector(cost.dense_widths))
    s_trunk, s_block = int(savings[cost.index["trunk"]]), int(savings[cost.index["block0"]])
    assert s_trunk > 4 * s_block
    budget = resolve_budget(BudgetTarget("macs", absolute=cost.macs(cost.dense_widths) - s_trunk), cost, 2)
    ctl = BudgetController(hyper.latents, cost, budget, search_steps=1, lr=2e-4,
                           config=ControllerConfig(min_channels=2))
    for importance in ctl.importance.values():
        importance.fill_(1e6)  # everything else matters far more
    ctl.importance["block0"][0] = 1.0
    ctl.importance["trunk"][0] = (s_trunk / s_block) ** 1.5
    status = ctl.land_now()
    assert budget.lower <= status.cost <= budget.limit
    assert status.widths["block0"] == cost.dense_widths["block0"] - 1
    assert status.widths["trunk"] == cost.dense_widths["trunk"] - 1
    assert status.deaths == 2


def test_the_mask_probe_records_the_removal_gradient_without_changing_the_output():
    hyper = _hyper("scratch", ngf=4).eval()
    dead = torch.ones(16, dtype=torch.bool)
    dead[[1, 5]] = False
    hyper.latents.set_alive("block3", dead)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        reference = hyper(x)
    out = hyper(x)
    torch.testing.assert_close(out, reference, rtol=0, atol=0)  # the probe multiplies by exactly 1
    out.square().mean().backward()
    gradients = hyper.latents.take_probe_gradients()
    assert set(gradients) == set(list(hyper.latents.vectors))
    assert torch.all(gradients["block3"][[1, 5]] == 0)  # a dead channel has nothing left to remove
    assert all(float(g.abs().sum()) > 0 for g in gradients.values())
    # the probe's gradient is the loss's derivative with respect to a channel's mask: a small step of
    # one mask entry changes the loss by about that much
    eps, channel = 1e-3, 2
    probe = hyper.latents.probes["block3"]
    with torch.no_grad():
        probe[channel] -= eps
    moved = hyper(x).square().mean().detach()  # with autograd on, as in training: the probe applies
    with torch.no_grad():
        probe[channel] += eps
    loss = reference.square().mean()
    assert float(loss - moved) == pytest.approx(eps * float(gradients["block3"][channel]), rel=0.05)
    assert all(hyper.latents.take_probe_gradients()[n].abs().sum() == 0 for n in gradients)  # reset


def test_diagnostics_tell_a_uniform_search_from_one_that_chose():
    from coronet.gan.handover import search_diagnostics
    from coronet.pruning import uniform_widths

    hyper = _hyper("scratch", ngf=8)
    cost = hyper.cost_model((32, 32))
    dense = cost.macs(cost.dense_widths)
    uniform = uniform_widths(cost, int(0.3 * dense), 2)
    flat = search_diagnostics(cost, uniform, tied_deaths=30, deaths=60, min_channels=2)
    assert flat["tie_decided_fraction"] == 0.5 and flat["uniform_distance"] < 0.02
    chosen = dict(uniform, block0=2, block1=2, trunk=32)
    d = search_diagnostics(cost, chosen, tied_deaths=0, deaths=60, min_channels=2)
    assert d["keep_ratios"]["block0"] == 2 / 32 and d["uniform_distance"] > 0.1


def test_the_host_copy_of_the_masks_follows_every_change():
    hyper = _hyper()
    latents = hyper.latents
    dense = latents.widths()
    mask = torch.ones_like(latents.alive("block3"))
    mask[[0, 3]] = False
    latents.set_alive("block3", mask)
    assert torch.equal(latents.alive_on_host("block3"), mask)
    assert latents.widths() == {**dense, "block3": dense["block3"] - 2}
    saved = {k: v.clone() for k, v in latents.state_dict().items()}
    latents.set_alive("block3", torch.ones_like(mask))
    assert latents.widths() == dense
    latents.load_state_dict(saved)  # replaces the masks: the copy is read again
    assert latents.widths()["block3"] == dense["block3"] - 2
    assert torch.equal(latents.alive_on_host("block3"), latents.alive("block3").cpu())


def test_one_search_lands_on_several_budgets_in_turn_largest_first():
    size, steps, lr = 32, 300, 2e-4
    hyper = _hyper("dense", 8)
    cost = hyper.cost_model((size, size))
    budgets = [resolve_budget(BudgetTarget("macs", ratio=r), cost, 2) for r in (0.5, 0.3, 0.15)]
    ctl = BudgetController(hyper.latents, cost, budgets, search_steps=steps, lr=lr,
                           config=ControllerConfig(min_channels=2))
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(hyper.parameters(), lr=lr, betas=(0.5, 0.999))
    x, y = torch.randn(2, 3, size, size, generator=g), torch.tanh(torch.randn(2, 3, size, size, generator=g))
    landings = []
    for _ in range(steps):
        opt.zero_grad()
        (hyper(x) - y).abs().mean().backward()
        opt.step()
        status = ctl.step(lr)
        if status.landed:
            landings.append((ctl.stage, status.cost, status.step, status.forced))
            if not ctl.has_next:
                break
            ctl.next_budget()
    assert [stage for stage, *_ in landings] == [0, 1, 2]
    for (stage, landed_cost, _, forced), budget in zip(landings, budgets, strict=True):
        assert budget.lower <= landed_cost <= budget.limit and not forced, stage
    assert landings[0][2] < landings[1][2] < landings[2][2]  # on one path, the largest first
    with pytest.raises(ValueError, match="largest first"):
        BudgetController(hyper.latents, cost, budgets[::-1], search_steps=steps, lr=lr)
    saved = ctl.state_dict()
    again = BudgetController(_hyper("dense", 8).latents, cost, budgets, search_steps=steps, lr=lr)
    again.load_state_dict(saved)
    assert again.stage == 2 and again.budget == budgets[2]
