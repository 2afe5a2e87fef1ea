"""Unsupervised digit recognition with STDP (Diehl & Cook 2015), scikit-learn style.

``DiehlCook2015(n_neurons=100).fit(images)`` learns without labels; ``label_neurons`` gives
each excitatory neuron the class it answers most; ``predict`` votes with the labelled neurons.
Time in ms, rates in Hz, potentials in mV.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any, Callable, Optional, Tuple

import torch
from torch import nn

from ..core import STDPLearner, STDPRule
from ..nn import AdaptiveLIF, KWinnersTakeAll, LateralInhibition, WeightNormalization
from ._checks import check_bool, check_choice, check_count, check_device, check_positive, make_generator
from .readout import _check_labels

__all__ = ["DiehlCook2015", "text_progress"]

ENCODINGS = ("poisson", "latency")
INITS = ("uniform", "images")
_EVAL_BATCH = 512  # images presented in parallel by transform (no learning there)


def text_progress(every: int = 200, stream: Any = None) -> Callable[[int, int], None]:
    """A progress callback for :meth:`DiehlCook2015.fit` that prints a plain line such as
    ``DiehlCook2015.fit: 400/3771 images`` (images times epochs) each time ``every`` more images
    are done, and at the end."""
    every = check_count("every", every, minimum=1)
    state = {"next": every}

    def report(done: int, total: int) -> None:
        if done >= state["next"] or done == total:
            print(f"DiehlCook2015.fit: {done}/{total} images", file=stream or sys.stderr, flush=True)
            state["next"] = (done // every + 1) * every

    return report


def _progress_reporter(progress: Any, total: int) -> Tuple[Callable[[int], None], Callable[[], None]]:
    """``(update(done), close())`` for the ``progress`` argument of ``fit`` (see there)."""
    if progress is None or progress is False:
        return (lambda done: None), (lambda: None)
    ours = False
    if progress is True or (isinstance(progress, str) and progress == "auto"):
        try:  # optional: tqdm draws a bar (a notebook one via tqdm.auto); never required
            progress = importlib.import_module("tqdm.auto").tqdm(total=total, desc="DiehlCook2015.fit", unit="img")
            ours = True
        except ImportError:
            report = text_progress(max(1, total // 10))
            return (lambda done: report(done, total)), (lambda: None)
    if hasattr(progress, "update") and callable(progress.update) and hasattr(progress, "n"):  # tqdm-like
        last = [0]

        def update(done: int) -> None:
            progress.update(done - last[0])
            last[0] = done

        return update, (progress.close if ours else (lambda: None))  # a caller's bar stays theirs
    if hasattr(progress, "value") and hasattr(progress, "max"):  # an ipywidgets IntProgress
        progress.max = total

        def set_value(done: int) -> None:
            progress.value = done

        return set_value, (lambda: None)
    if callable(progress):
        return (lambda done: progress(done, total)), (lambda: None)
    raise TypeError(
        "progress must be True/'auto', False/None, a callable progress(done, total), a tqdm bar "
        f"or an ipywidgets IntProgress, got {type(progress).__name__}"
    )


class DiehlCook2015:
    r"""Unsupervised digit recognition by STDP in a winner-take-all network (Diehl & Cook 2015).

    The network: every pixel is a Poisson input (rate ``intensity * max_rate_hz``, or a latency
    code); all inputs drive ``n_neurons`` excitatory :class:`~stdpwidgets.nn.AdaptiveLIF`
    neurons through one ``nn.Linear`` (delta synapses: an input spike moves the potential by
    its weight in mV). Competition replaces Diehl & Cook's inhibitory population: in each 1 ms
    step only the neuron furthest above threshold may fire
    (:class:`~stdpwidgets.nn.KWinnersTakeAll`, ``k_winners``), and each spike inhibits all other
    neurons by ``inhibition`` mV in the next step (:class:`~stdpwidgets.nn.LateralInhibition`).
    The adaptive thresholds (``theta_plus``, ``tau_theta``) keep one neuron from winning every
    image. While fitting, the input weights learn by pair STDP (:class:`~stdpwidgets.STDPRule`
    through :class:`~stdpwidgets.STDPLearner`) and each neuron's incoming weights are scaled
    back to sum to ``weight_total`` after every presentation
    (:class:`~stdpwidgets.nn.WeightNormalization`).

    The rule is Diehl & Cook's "pre-synaptic trace" form expressed as a pair rule: at each
    post spike, potentiation by ``a_plus`` times the presynaptic trace (``tau_pre``), at
    each pre spike depression by ``a_minus`` times the postsynaptic trace (``tau_post``),
    additive, clipped to ``[0, w_max]``. Their constant offset ``x_tar`` (depression of
    synapses whose inputs were silent before the post spike) is left to the normalisation,
    which scales every weight of a neuron down when its active synapses grow.
    ``traces_first=True``: the input spikes that push a neuron over threshold arrive in the
    same 1 ms step as its spike, and they are the ones that caused it, so they count as
    causal pairs (Diehl & Cook's Brian code also adds a pre spike to its trace before a post
    spike reads it).

    Images are presented ``batch_size`` at a time, each with its own membrane potentials and
    traces (the weights and thresholds are shared; the learner sums the weight changes of
    the batch). Each presentation lasts ``steps`` ms and starts from rest (Diehl & Cook's
    150 ms pause between images lets everything decay; here the state is reset instead).
    An image that makes fewer than ``min_spikes`` spikes is presented again with its rate
    raised by ``rate_step_hz``, up to ``max_retries`` times (as Diehl & Cook do), in fitting
    and in evaluation; thresholds stay frozen in evaluation.

    The defaults were tuned on scikit-learn's 8x8 digits (stratified 70/30 split,
    ``random_state=0``; ``benchmarks/diehl_cook.py``, seeds 0-2, 100 neurons); Diehl & Cook's
    MNIST values do not carry over to 64 pixels:

    - ``max_rate_hz=400`` with ``weight_total=2.5`` mV: 64 pixels send far fewer spikes than
      784, so the rates are higher (theirs: 63.75 Hz) and the weights smaller, which lets a
      matching neuron reach threshold in 10-20 ms from a few hundred input spikes;
    - ``a_plus=0.0003`` mV per unit of trace (the trace of a 400 Hz input is about 8 with
      ``tau_pre=20``), ``a_minus=0.0001``: a winner moves a few per cent of the way to each
      image it wins; 10x larger steps gave prototypes that are just the last images;
    - ``theta_plus=0.1`` mV, ``tau_theta=1e7`` ms (no decay within a fit, as theirs): with
      0.05 mV, 10 of 100 neurons never fired in 3 epochs (84 % test accuracy);
    - ``inhibition=40`` mV: in effect one winner per image (20 mV: 91.0 % mean accuracy over
      seeds 0-2, 40 mV: 92.9 %);
    - ``batch_size=16``, ``epochs=3``, ``steps=100`` ms: about 70 s on two (shared) CPU cores.

    Measured (``benchmarks/results/diehl_cook_cpu.txt``): 100 neurons 94.1 / 91.7 / 92.8 % test
    accuracy for seeds 0 / 1 / 2 (k-means with the same labelling 96.3 %, logistic regression
    97.0 %). The defaults are not tuned for other sizes: 25 neurons 79 %, 400 neurons 80 % with
    a fit of 22 minutes (most presentations then fall below ``min_spikes`` and are repeated).

    Parameters
    ----------
    n_neurons : int
        Excitatory neurons (>= 1).
    seed : int
        Seeds the initial weights and every Poisson draw: the same seed and data give the same
        network.
    device : str or torch.device
        Where the network runs (``"cpu"``, ``"cuda"``).
    epochs : int
        Passes over the training images in ``fit``.
    steps : int
        Presentation time per image, ms (= steps of ``dt = 1`` ms).
    encoding : {"poisson", "latency"}
        Rate code, or one spike per pixel at ``round((1 - intensity) * (steps - 1))`` ms
        (pixels of intensity 0 stay silent; no retries then, since the code has no rate).
    on_off : bool
        Give each pixel a second, OFF input driven by ``1 - intensity`` (retina-like ON/OFF
        channels). Off by default: in our runs it lowered the accuracy.
    init : {"uniform", "images"}
        Initial weights: uniform in [0, 0.3) as Diehl & Cook (then normalised), or each neuron
        near one randomly drawn training image (no labels used; fewer neurons start far from
        every image).
    max_rate_hz : float
        Input rate of a pixel of intensity 1, Hz.
    rate_step_hz : float
        Rate increase per retry of a too-quiet image, Hz.
    min_spikes : int
        Spikes an image must cause before its presentation counts.
    max_retries : int
        Presentations after the first for a too-quiet image.
    batch_size : int
        Images presented in parallel.
    weight_total : float
        Sum of each neuron's input weights, mV (kept by the normalisation).
    w_max : float
        Upper bound of one weight, mV.
    a_plus, a_minus : float
        Potentiation at a post spike per unit of presynaptic trace, depression at a pre
        spike per unit of postsynaptic trace (mV).
    learning_rate_decay : float
        Factor on ``a_plus`` and ``a_minus`` per epoch, in (0, 1].
    tau_pre, tau_post : float
        Trace time constants, ms.
    theta_plus : float
        Threshold increase per spike, mV.
    tau_theta : float
        Decay of the threshold offsets, ms.
    inhibition : float
        Lateral inhibition per spike of another neuron, mV.
    k_winners : int
        Neurons that may fire in one step of one image.
    tau_mem, v_rest, v_reset, v_threshold, refractory
        Of the excitatory neurons (ms, mV); see :class:`~stdpwidgets.nn.AdaptiveLIF`.

    Attributes (after ``fit`` / ``label_neurons``)
    ----------------------------------------------
    weights_ : Tensor
        ``(n_neurons, H * W)`` input weights, mV.
    theta_ : Tensor
        ``(n_neurons,)`` learned threshold offsets, mV.
    neuron_labels_ : Tensor
        ``(n_neurons,)`` the class of each neuron, -1 for a neuron that never fired.
    classes_ : Tensor
        The classes seen by ``label_neurons``.
    fit_seconds_ : float
        Wall time of the last ``fit``.

    Examples
    --------
    >>> from stdpwidgets.sim import load_labelled_digits
    >>> images, labels = load_labelled_digits()
    >>> net = DiehlCook2015(n_neurons=100, seed=0).fit(images[:1200], progress=False)
    >>> accuracy = (net.label_neurons(images[:1200], labels[:1200]).predict(images[1200:])
    ...             == labels[1200:]).float().mean()
    """

    def __init__(
        self,
        n_neurons: int = 100,
        seed: int = 0,
        device: Any = "cpu",
        *,
        epochs: int = 3,
        steps: int = 100,
        encoding: str = "poisson",
        on_off: bool = False,
        init: str = "uniform",
        max_rate_hz: float = 400.0,
        rate_step_hz: float = 100.0,
        min_spikes: int = 3,
        max_retries: int = 5,
        batch_size: int = 16,
        weight_total: float = 2.5,
        w_max: float = 1.0,
        a_plus: float = 0.0003,
        a_minus: float = 0.0001,
        learning_rate_decay: float = 1.0,
        tau_pre: float = 20.0,
        tau_post: float = 20.0,
        theta_plus: float = 0.1,
        tau_theta: float = 1e7,
        inhibition: float = 40.0,
        k_winners: int = 1,
        tau_mem: float = 100.0,
        v_rest: float = -65.0,
        v_reset: float = -65.0,
        v_threshold: float = -52.0,
        refractory: float = 5.0,
    ) -> None:
        self.n_neurons = check_count("n_neurons", n_neurons, minimum=1)
        make_generator(None, seed, torch.device("cpu"))  # checks seed
        self.seed = int(seed)
        self.device = check_device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device = {device!r} but CUDA is not available here; use device='cpu'")
        self.epochs = check_count("epochs", epochs, minimum=1)
        self.steps = check_count("steps", steps, minimum=1)
        self.encoding = check_choice("encoding", encoding, ENCODINGS)
        self.on_off = check_bool("on_off", on_off)
        self.init = check_choice("init", init, INITS)
        self.max_rate_hz = check_positive("max_rate_hz", max_rate_hz, "Hz")
        self.rate_step_hz = check_positive("rate_step_hz", rate_step_hz, "Hz", allow_zero=True)
        self.min_spikes = check_count("min_spikes", min_spikes)
        self.max_retries = check_count("max_retries", max_retries)
        self.batch_size = check_count("batch_size", batch_size, minimum=1)
        self.weight_total = check_positive("weight_total", weight_total, "mV")
        self.w_max = check_positive("w_max", w_max, "mV")
        self.a_plus = check_positive("a_plus", a_plus, "mV", allow_zero=True)
        self.a_minus = check_positive("a_minus", a_minus, "mV", allow_zero=True)
        self.learning_rate_decay = check_positive("learning_rate_decay", learning_rate_decay)
        if self.learning_rate_decay > 1:
            raise ValueError(f"learning_rate_decay must lie in (0, 1] (a factor per epoch), got {learning_rate_decay}")
        self.tau_pre = check_positive("tau_pre", tau_pre, "ms")
        self.tau_post = check_positive("tau_post", tau_post, "ms")
        self.theta_plus = check_positive("theta_plus", theta_plus, "mV", allow_zero=True)
        self.tau_theta = check_positive("tau_theta", tau_theta, "ms")
        self.inhibition = check_positive("inhibition", inhibition, "mV", allow_zero=True)
        self.k_winners = check_count("k_winners", k_winners, minimum=1)
        # the neuron model checks its own parameters (names included); build one now to fail early
        self._neuron_args = dict(tau_mem=tau_mem, v_rest=v_rest, v_reset=v_reset, v_threshold=v_threshold,
                                 refractory=refractory)
        AdaptiveLIF(1, **self._neuron_args)
        self.weights_: Optional[torch.Tensor] = None
        self.theta_: Optional[torch.Tensor] = None
        self.neuron_labels_: Optional[torch.Tensor] = None
        self.classes_: Optional[torch.Tensor] = None
        self.image_shape_: Optional[Tuple[int, int]] = None
        self.fit_seconds_: Optional[float] = None

    def __repr__(self) -> str:
        state = "fitted" if self.weights_ is not None else "not fitted"
        return f"DiehlCook2015(n_neurons={self.n_neurons}, seed={self.seed}, device={str(self.device)!r}; {state})"

    # ------------------------------------------------------------------ checks

    def _check_images(self, images: Any, name: str = "images", *, fitting: bool = False) -> torch.Tensor:
        if type(images).__module__ == "numpy":
            images = torch.as_tensor(images)
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"{name} must be a tensor or NumPy array shaped (N, H, W) in [0, 1], got {type(images).__name__}")
        if images.dim() != 3 or images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
            raise ValueError(f"{name} must be shaped (N, H, W) with N >= 1, got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise TypeError(f"{name} must be floating point in [0, 1], got {images.dtype}; scale them, e.g. images / 16.0")
        if not bool(torch.isfinite(images).all()):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        if bool((images < 0).any()) or bool((images > 1).any()):
            raise ValueError(f"{name} must hold intensities in [0, 1], got values in "
                             f"[{float(images.min()):g}, {float(images.max()):g}]; scale them first")
        if not fitting and self.image_shape_ is not None and tuple(images.shape[1:]) != self.image_shape_:
            raise ValueError(f"{name} are {tuple(images.shape[1:])} but the network was fitted on {self.image_shape_} images")
        pixels = images.to(self.device, torch.float32).reshape(images.shape[0], -1)
        return torch.cat([pixels, 1.0 - pixels], dim=1) if self.on_off else pixels

    def _require_fitted(self, what: str) -> None:
        if self.weights_ is None:
            raise RuntimeError(f"call fit(images) before {what}: the network has not learned any weights yet")

    # ------------------------------------------------------------------ the network

    def _network(self, weights: torch.Tensor, theta: torch.Tensor):
        """Layer, neurons and competition starting from these weights and thresholds."""
        layer = nn.Linear(weights.shape[1], self.n_neurons, bias=False).to(self.device)
        with torch.no_grad():
            layer.weight.copy_(weights)
        neurons = AdaptiveLIF(self.n_neurons, theta_plus=self.theta_plus, tau_theta=self.tau_theta,
                              device=self.device, **self._neuron_args)
        neurons.theta.copy_(theta)
        return layer, neurons, KWinnersTakeAll(self.k_winners), LateralInhibition(self.inhibition)

    def _present(self, pixels: torch.Tensor, rates_hz: torch.Tensor, layer, neurons, kwta, inhibit,
                 learner: Optional[STDPLearner], generator: torch.Generator) -> torch.Tensor:
        """Present a batch of images for ``steps`` ms from rest; spike counts ``(batch, n_neurons)``."""
        batch = pixels.shape[0]
        neurons.reset_state()
        if learner is not None:
            learner.reset()
        counts = torch.zeros(batch, self.n_neurons, device=self.device)
        spikes = torch.zeros(batch, self.n_neurons, device=self.device)
        if self.encoding == "latency":
            latency = torch.round((1.0 - pixels) * (self.steps - 1))
            latency = torch.where(pixels > 0, latency, torch.full_like(latency, -1.0))
        else:
            p_spike = (rates_hz[:, None] * pixels * 1e-3).clamp_(max=1.0)  # dt = 1 ms
        weight = layer.weight
        for t in range(self.steps):
            if self.encoding == "latency":
                pre = (latency == t).to(torch.float32)
            else:
                pre = (torch.rand(pixels.shape, device=self.device, generator=generator) < p_spike).to(torch.float32)
            drive = inhibit(pre @ weight.t(), spikes)
            spikes = neurons(jump=drive, competition=kwta)
            if learner is not None:
                learner.step(pre, spikes)
            counts += spikes
        return counts

    def _run(self, pixels: torch.Tensor, layer, neurons, kwta, inhibit, learner, generator,
             norm: Optional[WeightNormalization]) -> torch.Tensor:
        """Present one batch, again for the too-quiet images with higher rates; the counts."""
        rates = torch.full((pixels.shape[0],), self.max_rate_hz, device=self.device)
        counts = self._present(pixels, rates, layer, neurons, kwta, inhibit, learner, generator)
        if norm is not None:
            norm()
        if self.encoding == "latency":
            return counts
        for _ in range(self.max_retries):
            quiet = (counts.sum(1) < self.min_spikes).nonzero().flatten()
            if quiet.numel() == 0:
                break
            rates[quiet] += self.rate_step_hz
            counts[quiet] = self._present(pixels[quiet], rates[quiet], layer, neurons, kwta, inhibit, learner, generator)
            if norm is not None:
                norm()
        return counts

    # ------------------------------------------------------------------ API

    def fit(self, images: Any, progress: Any = "auto") -> "DiehlCook2015":
        """Learn the input weights and thresholds from unlabelled images (a fresh start each call).

        Parameters
        ----------
        images : Tensor or ndarray
            ``(N, H, W)`` intensities in [0, 1].
        progress : bool, "auto", callable, tqdm bar or ipywidgets IntProgress
            ``"auto"``/``True``: a tqdm bar if tqdm is installed (optional), else a plain line
            on stderr at every tenth of the work (:func:`text_progress`); ``False``/``None``:
            silent; a callable is called as ``progress(done, total)`` after each batch; a tqdm
            bar is advanced; an ``ipywidgets.IntProgress`` gets ``max = total`` and its
            ``value`` set (pass one from a notebook: this module never imports ipywidgets).

        Returns
        -------
        DiehlCook2015
            ``self``, fitted.
        """
        pixels = self._check_images(images, fitting=True)  # a refit may change the image size
        total = self.epochs * pixels.shape[0]
        update, close = _progress_reporter(progress, total)
        start = time.perf_counter()
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        init = torch.rand(self.n_neurons, pixels.shape[1], generator=generator, device=self.device) * 0.3
        if self.init == "images":  # each neuron starts near one training image (drawn without labels)
            picks = torch.randint(pixels.shape[0], (self.n_neurons,), generator=generator, device=self.device)
            init = init * 0.1 + pixels[picks]
        # built aside and stored at the end: an interrupted fit leaves the previous network
        layer, neurons, kwta, inhibit = self._network(init, torch.zeros(self.n_neurons, device=self.device))
        norm = WeightNormalization(layer, self.weight_total)
        norm()
        neurons.train()
        done = 0
        try:
            for epoch in range(self.epochs):
                scale = self.learning_rate_decay ** epoch
                rule = STDPRule(tau_pre=self.tau_pre, tau_post=self.tau_post, a_plus=self.a_plus * scale,
                                a_minus=self.a_minus * scale, w_min=0.0, w_max=self.w_max)
                learner = STDPLearner(layer, rule, dt=1.0, traces_first=True)
                order = torch.randperm(pixels.shape[0], generator=generator, device=self.device)
                for first in range(0, pixels.shape[0], self.batch_size):
                    batch = pixels[order[first:first + self.batch_size]]
                    self._run(batch, layer, neurons, kwta, inhibit, learner, generator, norm)
                    done += batch.shape[0]
                    update(done)
        finally:
            close()
        self.weights_ = layer.weight.detach().clone()
        self.theta_ = neurons.theta.detach().clone()
        self.image_shape_ = tuple(images.shape[1:])
        self.neuron_labels_ = self.classes_ = None
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def transform(self, images: Any) -> torch.Tensor:
        """Spike counts of every neuron for every image, ``(N, n_neurons)`` (no learning, frozen
        thresholds; too-quiet images presented again with higher rates). Seeded: the same call
        gives the same counts."""
        self._require_fitted("transform")
        pixels = self._check_images(images)
        layer, neurons, kwta, inhibit = self._network(self.weights_, self.theta_)
        neurons.eval()
        # its own stream (not fit's), the same for every call: seeded counts, seeded predictions
        generator = torch.Generator(device=self.device).manual_seed((self.seed + 1) % 2**64)
        # nothing learns here, so the batch can be as large as memory allows (speed only)
        batch = max(self.batch_size, _EVAL_BATCH)
        counts = [self._run(pixels[i:i + batch], layer, neurons, kwta, inhibit, None, generator, None)
                  for i in range(0, pixels.shape[0], batch)]
        return torch.cat(counts).cpu()

    def label_neurons(self, images: Any, labels: Any) -> "DiehlCook2015":
        """Give each neuron the class whose images make it fire most (mean count per image of
        the class); a neuron that fires for none gets -1 and no vote. Returns ``self``."""
        self._require_fitted("label_neurons")
        counts = self.transform(images)
        labels = _check_labels(torch.as_tensor(labels) if not isinstance(labels, torch.Tensor) else labels,
                               rows=counts.shape[0]).cpu()
        self._assign_labels(counts, labels)
        return self

    def _assign_labels(self, counts: torch.Tensor, labels: torch.Tensor) -> None:
        classes = torch.unique(labels)
        mean = torch.stack([counts[labels == c].float().mean(0) for c in classes])  # (classes, neurons)
        best = mean.argmax(0)  # ties: the lower class
        silent = mean.max(0).values <= 0
        self.classes_ = classes
        self.neuron_labels_ = torch.where(silent, torch.full_like(best, -1), classes[best])

    def _vote(self, counts: torch.Tensor) -> torch.Tensor:
        """Per image, the class whose labelled neurons have the largest mean count (Diehl & Cook's
        vote; ties, and images no labelled neuron answers, go to the lowest class)."""
        votes = torch.zeros(counts.shape[0], self.classes_.numel())
        for i, c in enumerate(self.classes_.tolist()):
            members = self.neuron_labels_ == c
            if bool(members.any()):
                votes[:, i] = counts[:, members].float().mean(1)
        return self.classes_[votes.argmax(1)]

    def predict(self, images: Any) -> torch.Tensor:
        """Class of each image, ``(N,)`` int64 on the CPU, by the vote of the labelled neurons."""
        self._require_fitted("predict")
        if self.neuron_labels_ is None:
            raise RuntimeError("call label_neurons(images, labels) before predict: the neurons have no classes yet")
        return self._vote(self.transform(images))

    def score(self, images: Any, labels: Any) -> float:
        """Fraction of ``images`` whose predicted class is ``labels``."""
        predicted = self.predict(images)
        labels = _check_labels(torch.as_tensor(labels) if not isinstance(labels, torch.Tensor) else labels,
                               rows=predicted.shape[0]).cpu()
        return float((predicted == labels).float().mean())
