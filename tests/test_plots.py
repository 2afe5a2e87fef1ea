"""Figure builders: data on the artists, in-place updates, no pyplot state, fast PNG rendering."""

import numpy as np
import pytest
import torch
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure

from stdpwidgets.core import STDPRule, stdp_window
from stdpwidgets.plots import (
    PNGRenderer, figure_to_png, kernel_figure, pairing_figure, trace_figure, weight_matrix_figure, window_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_window_figure_shows_the_core_window_and_updates_in_place():
    rule = STDPRule(16.8, 33.7, 0.01, 0.0105, w_min=0.0, w_max=1.0)
    lags = np.linspace(-50, 50, 101)
    values = stdp_window(lags, rule).numpy()
    fig = window_figure(lags, values)
    assert isinstance(fig, Figure)
    np.testing.assert_array_equal(fig.stdp_artists["window"].get_ydata(), values)
    again = window_figure(lags, 2 * values, figure=fig)
    assert again is fig
    np.testing.assert_array_equal(fig.stdp_artists["window"].get_ydata(), 2 * values)
    assert not _pylab_helpers.Gcf.get_all_fig_managers()  # nothing registered with pyplot


def test_trace_figure_rasters_hold_spike_times():
    t = np.arange(1, 11, dtype=float)
    spikes = np.zeros(10)
    spikes[[2, 7]] = 1
    fig = trace_figure(t, spikes, np.ones(10), spikes[::-1], np.ones(10), np.linspace(0, 1, 10))
    np.testing.assert_array_equal(fig.stdp_artists["pre_spikes"].get_xdata(), [3.0, 8.0])
    np.testing.assert_array_equal(fig.stdp_artists["post_spikes"].get_xdata(), [3.0, 8.0])
    with pytest.raises(ValueError, match="shape"):
        trace_figure(t, spikes[:5], np.ones(10), spikes, np.ones(10), np.ones(10))


def test_builders_refuse_a_figure_from_another_builder():
    fig = kernel_figure(np.random.rand(4, 1, 3, 3))
    with pytest.raises(ValueError, match="window_figure"):
        window_figure([0.0, 1.0], [0.0, 1.0], figure=fig)


def test_weight_matrix_histogram_counts_every_synapse():
    w = np.random.default_rng(0).random((5, 40))
    fig = weight_matrix_figure(w, bins=10)
    counts = fig.stdp_artists["counts"]
    assert counts.sum() == w.size
    np.testing.assert_array_equal(counts, np.histogram(w, bins=10, range=(0, 1))[0])


def test_pairing_figure_switches_sweep_axis():
    t = np.arange(5.0)
    zeros = np.zeros(5)
    fig = pairing_figure(t, zeros, zeros, zeros, zeros, zeros, [-10.0, 10.0], [-0.1, 0.1])
    pairing_figure(t, zeros, zeros, zeros, zeros, zeros, [1.0, 10.0], [0.1, 0.2], log_sweep=True, figure=fig)
    assert fig.stdp_artists["sweep"].axes.get_xscale() == "log"


def test_renderer_blits_when_limits_stay_and_matches_a_full_draw():
    rule = STDPRule(16.8, 33.7, 0.01, 0.0105)
    lags = np.linspace(-50, 50, 101)
    fig = window_figure(lags, stdp_window(lags, rule).numpy())
    renderer = PNGRenderer(fig)
    first = renderer.render()
    assert first.startswith(PNG_MAGIC)
    window_figure(lags, 0.99 * stdp_window(lags, rule).numpy(), figure=fig)
    blitted = renderer.render()
    assert renderer.blits == 1 and renderer.full_draws == 1
    renderer.invalidate()
    full = renderer.render()
    from PIL import Image
    import io
    a = np.asarray(Image.open(io.BytesIO(blitted)))
    b = np.asarray(Image.open(io.BytesIO(full)))
    assert a.shape == b.shape
    assert np.mean(a != b) < 1e-3  # blitting reproduces the full draw
    assert figure_to_png(fig).startswith(PNG_MAGIC)


def test_kernel_figure_accepts_tensors():
    kernels = torch.rand(3, 1, 4, 4)
    fig = kernel_figure(kernels)
    np.testing.assert_allclose(fig.stdp_artists["kernels"][1].get_array(), kernels[1, 0].numpy(), rtol=1e-6)
