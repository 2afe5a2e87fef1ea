r"""RewardExplorer: one pre/post pairing, a reward after a delay, and the eligibility trace between them.

Reward-modulated (three-factor) STDP keeps the pairing's weight change in an eligibility trace
:math:`e` that decays with :math:`\tau_e`; a reward :math:`r` that arrives :math:`d` ms after
the pairing moves the weight by :math:`r\,c\,e^{-d/\tau_e}`, where :math:`c` is the pair window
at the pairing's lag (book chapter 11).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Dict, Optional, Union

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..core import STDPLearner, STDPRule
from ..plots.reward import reward_figure
from .base import Explorer
from .controls import apply_initial_values, dropdown, float_slider, log_slider

__all__ = ["RewardExplorer", "REWARD_RULE", "DOPAMINE_TAU_MS", "pairing_eligibility", "delayed_reward_change"]

#: The pair rule the explorer uses (additive; the weight starts at 0.5 and never reaches a bound).
REWARD_RULE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.05, a_minus=0.03, w_min=0.0, w_max=1.0)
#: Decay time of the dopamine-like reward, ms (Izhikevich 2007: 0.2 s).
DOPAMINE_TAU_MS = 200.0
#: Step of the simulation, ms.
DT_MS = 1.0
#: Step of the pairing's first spike, and the simulated duration in steps (covers the longest
#: lag, the longest delay and 2 dopamine time constants after it).
FIRST_SPIKE_STEP = 50
DURATION_STEPS = 50 + 50 + 1000 + 400
W0 = 0.5
SILENT_POST_WARNING = r"STDPLearner on .* has seen no postsynaptic spike"


def pairing_eligibility(rule: STDPRule, delta_t_ms: float) -> float:
    r"""What one pairing at lag :math:`\Delta = t_{post} - t_{pre}` (ms) adds to the eligibility trace.

    The additive pair window: :math:`A_+ e^{-\Delta/\tau_+}` for :math:`\Delta > 0`,
    :math:`-A_- e^{\Delta/\tau_-}` for :math:`\Delta < 0`, and 0 for :math:`\Delta = 0` (a pre and
    a post spike in the same step make no pair). It enters the trace at the pairing's later spike.
    """
    if delta_t_ms > 0:
        return rule.a_plus * math.exp(-delta_t_ms / rule.tau_pre)
    if delta_t_ms < 0:
        return -rule.a_minus * math.exp(delta_t_ms / rule.tau_post)
    return 0.0


def delayed_reward_change(
    rule: STDPRule, delta_t_ms: float, delay_ms, tau_e_ms: float, reward: float, *,
    reward_tau_ms: Optional[float] = None, steps_after: Optional[int] = None, dt: float = DT_MS,
):
    r"""Closed-form weight change of one pairing followed by a reward ``delay_ms`` after its later spike.

    A pulse (``reward_tau_ms=None``): :math:`\Delta w = r\,c\,q_e^{d/dt}` with
    :math:`q_e = e^{-dt/\tau_e}` and :math:`c` from :func:`pairing_eligibility`. A reward that lasts,
    :math:`r_k = r(1 - q_d)q_d^k` for :math:`k = 0 \dots K` steps from the delay on
    (:math:`q_d = e^{-dt/\tau_d}`, total :math:`r` for :math:`K \to \infty`):
    :math:`\Delta w = r\,c\,q_e^{d/dt}\,(1 - q_d)\,\frac{1 - (q_e q_d)^{K+1}}{1 - q_e q_d}`,
    with :math:`K` = ``steps_after`` (default: infinity).

    ``delay_ms`` may be a number or a numpy array (whole multiples of ``dt``).
    """
    c = pairing_eligibility(rule, delta_t_ms)
    q_e = math.exp(-dt / tau_e_ms)
    change = reward * c * np.power(q_e, np.asarray(delay_ms, dtype=np.float64) / dt)
    if reward_tau_ms is not None:
        q_d = math.exp(-dt / reward_tau_ms)
        tail = 1.0 if steps_after is None else 1.0 - (q_e * q_d) ** (np.asarray(steps_after, dtype=np.float64) + 1)
        change = change * (1.0 - q_d) * tail / (1.0 - q_e * q_d)
    return change


class RewardExplorer(Explorer):
    r"""One pairing at lag :math:`\Delta`, then a reward :math:`r` after a delay :math:`d`.

    A 1x1 ``nn.Linear`` (weight 0.5) learns with ``STDPLearner(..., eligibility_tau=tau_e)`` and
    :data:`REWARD_RULE`; the explorer steps it through 1.5 s and records the eligibility trace
    and the weight. Left: spikes, reward, eligibility (with the closed form
    :math:`c\,e^{-(t - t_c)/\tau_e}` after the pairing's later spike :math:`t_c`, dashed) and the
    weight. Right: :func:`delayed_reward_change` over delays of 0 to 1 s, the run marked.

    Parameters
    ----------
    delta_t : float
        :math:`t_{post} - t_{pre}`, ms (-50 to 50, whole ms; default 10).
    delay : float
        Reward delay after the pairing's later spike, ms (0 to 1000, steps of 10; default 500).
    tau_e : float
        Eligibility time constant :math:`\tau_e`, ms (20 to 5000, log slider; default 1000,
        Izhikevich's 1 s).
    reward : float
        Reward amplitude (-1 to 1; a negative reward punishes; default 1).
    reward_shape : {"pulse", "dopamine"}
        The reward in one step, or spread as :math:`r(1 - q_d)q_d^k` over the following steps,
        decaying with :data:`DOPAMINE_TAU_MS` (a dopamine concentration; same total).
    device : str or torch.device

    Examples
    --------
    >>> from stdpwidgets.widgets import RewardExplorer
    >>> RewardExplorer(delay=1000, tau_e=200)      # doctest: +SKIP
    """

    def __init__(self, *, device: Union[str, torch.device] = "cpu", **initial: Any) -> None:
        controls = {
            "delta_t": float_slider("Δ = t_post − t_pre (ms)", 10.0, -50.0, 50.0, 1.0, ".0f"),
            "delay": float_slider("reward delay d (ms)", 500.0, 0.0, 1000.0, 10.0, ".0f"),
            "tau_e": log_slider("τe (ms)", 1000.0, 20.0, 5000.0),
            "reward": float_slider("reward r", 1.0, -1.0, 1.0, 0.1, ".1f"),
            "reward_shape": dropdown("reward shape", "pulse", (("a pulse (one step)", "pulse"),
                                                               (f"dopamine-like (τd = {DOPAMINE_TAU_MS:.0f} ms)",
                                                                "dopamine"))),
        }
        apply_initial_values(controls, initial, type(self).__name__)
        super().__init__(controls, device=device)
        self.refresh()

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:
        lag, delay = int(round(params["delta_t"])), int(round(params["delay"]))
        tau_e, amplitude, shape = float(params["tau_e"]), float(params["reward"]), params["reward_shape"]
        steps = DURATION_STEPS
        pre_step = FIRST_SPIKE_STEP + max(0, -lag)
        post_step = FIRST_SPIKE_STEP + max(0, lag)
        paired_step = max(pre_step, post_step)  # the pair enters the trace at its later spike
        reward_step = paired_step + delay
        dtype = torch.float64
        pre = torch.zeros(steps, 1, 1, dtype=dtype, device=self.device)
        post = torch.zeros(steps, 1, 1, dtype=dtype, device=self.device)
        pre[pre_step], post[post_step] = 1.0, 1.0
        reward = np.zeros(steps)
        reward_tau = None
        if shape == "pulse":
            reward[reward_step] = amplitude
        else:
            reward_tau = DOPAMINE_TAU_MS
            q_d = math.exp(-DT_MS / reward_tau)
            k = np.arange(steps - reward_step)
            reward[reward_step:] = amplitude * (1.0 - q_d) * q_d ** k
        layer = nn.Linear(1, 1, bias=False).to(device=self.device, dtype=dtype)
        with torch.no_grad():
            layer.weight.fill_(W0)
        learner = STDPLearner(layer, REWARD_RULE, dt=DT_MS, eligibility_tau=tau_e)
        eligibility, weight = np.zeros(steps), np.zeros(steps)
        rewards = reward.tolist()
        with warnings.catch_warnings():
            # one pairing, then seconds without a post spike by design: not the mistake the
            # learner's silent-post warning is there to catch
            warnings.filterwarnings("ignore", message=SILENT_POST_WARNING, category=RuntimeWarning)
            for t in range(steps):  # stepped, not run(), to read the eligibility after every step
                learner.step(pre[t], post[t], reward=rewards[t])
                eligibility[t] = learner.eligibility.item()
                weight[t] = layer.weight.detach().item()
        c = pairing_eligibility(REWARD_RULE, float(lag))
        after = np.arange(steps) - paired_step
        closed_eligibility = np.where(after >= 0, c * math.exp(-DT_MS / tau_e) ** np.maximum(after, 0), 0.0)
        delays = np.arange(0.0, 1001.0, 10.0)
        steps_after = steps - 1 - (paired_step + delays)
        sweep = delayed_reward_change(REWARD_RULE, float(lag), delays, tau_e, amplitude,
                                      reward_tau_ms=reward_tau, steps_after=steps_after)
        closed = float(delayed_reward_change(REWARD_RULE, float(lag), float(delay), tau_e, amplitude,
                                             reward_tau_ms=reward_tau, steps_after=steps - 1 - reward_step))
        return {
            "time_ms": np.arange(steps) * DT_MS,
            "pre_spikes": pre.reshape(steps).cpu().numpy(),
            "post_spikes": post.reshape(steps).cpu().numpy(),
            "reward": reward,
            "eligibility": eligibility,
            "eligibility_closed_form": closed_eligibility,
            "weight": weight,
            "pairing_eligibility": c,
            "weight_change": float(weight[-1] - W0),
            "closed_form_change": closed,
            "delays_ms": delays,
            "sweep_change": sweep,
            "delay_ms": float(delay),
        }

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:
        params = self.parameters
        title = (f"Δ = {params['delta_t']:+.0f} ms, reward {params['reward']:+.1f} after d = {params['delay']:.0f} ms, "
                 f"τe = {params['tau_e']:.4g} ms: Δw = {data['weight_change']:+.5f}")
        return reward_figure(
            data["time_ms"], data["pre_spikes"], data["post_spikes"], data["reward"], data["eligibility"],
            data["eligibility_closed_form"], data["weight"], data["delays_ms"], data["sweep_change"],
            current_delay_ms=data["delay_ms"], current_change=data["weight_change"], title=title,
            figure=figure, dpi=self.dpi,
        )

    def _status(self, data: Dict[str, Any]) -> str:
        return (f"weight change: learner {data['weight_change']:+.6f}, closed form {data['closed_form_change']:+.6f} "
                f"(the pairing left c = {data['pairing_eligibility']:+.5f} in the eligibility trace)")
