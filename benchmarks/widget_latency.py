"""Median latency from a control change to a finished redraw, for every explorer (headless).

For WindowExplorer, TraceExplorer and PairingExplorer every control is set, one after the
other, to a few other values (and back); each change is timed from ``control.value = ...``
until the Image widget holds the new PNG bytes. ConvExplorer and LayerExplorer are trained
once at their default settings and report the time per training step.

Goal: median <= 100 ms for Window, Trace and Pairing at their defaults on a 2-core machine.

Usage::

    python benchmarks/widget_latency.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import ipywidgets

from stdpwidgets.widgets import ConvExplorer, LayerExplorer, PairingExplorer, TraceExplorer, WindowExplorer

GOAL_MS = 100.0


def candidate_values(control):
    if isinstance(control, ipywidgets.Checkbox):
        return [not control.value, control.value]
    if isinstance(control, ipywidgets.Dropdown):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return [v for v in values if v != control.value] + [control.value]
    if isinstance(control, ipywidgets.FloatLogSlider):
        low, high = 10 ** control.min, 10 ** control.max
        return [min(high, control.value * 1.4), max(low, control.value / 1.4), control.value]
    span = control.max - control.min
    step = max(control.step, round(span / 20 / control.step) * control.step)
    up = control.value + step if control.value + step <= control.max else control.value - 2 * step
    down = control.value - step if control.value - step >= control.min else control.value + 2 * step
    return [up, down, control.value]


def measure(explorer, repeats: int):
    times, failures = [], 0
    for _ in range(repeats):
        for name, control in explorer.controls.items():
            for value in candidate_values(control):
                if value == control.value:
                    continue
                before = explorer.image.value
                start = time.perf_counter()
                control.value = value
                elapsed = (time.perf_counter() - start) * 1e3
                if explorer.error is not None or explorer.image.value is before:
                    failures += 1
                    continue
                times.append(elapsed)
    return times, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    ok = True
    for cls in (WindowExplorer, TraceExplorer, PairingExplorer):
        explorer = cls()
        times, failures = measure(explorer, args.repeats)
        median = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        r = explorer._renderer
        print(f"{cls.__name__:16s} median {median:6.1f} ms  p90 {p90:6.1f} ms  over {len(times)} changes "
              f"({failures} refused/unchanged; {r.blits} blits, {r.full_draws} full draws)  "
              f"{'OK' if median <= GOAL_MS else 'OVER GOAL'}")
        ok &= median <= GOAL_MS
    for cls, kwargs in ((LayerExplorer, {"train": False}), (ConvExplorer, {})):
        explorer = cls(**kwargs)
        start = time.perf_counter()
        explorer.train_button.click()
        total = time.perf_counter() - start
        print(f"{cls.__name__:16s} training {total:6.2f} s, {explorer.data['ms_per_step'] * 1000:.0f} µs per "
              f"step ({explorer.data['steps']} steps), train + redraw {explorer.last_redraw_ms:.0f} ms; "
              f"{explorer.message.value.split('>', 1)[1].rsplit('<', 1)[0]}")
    print("goal met" if ok else "goal NOT met")


if __name__ == "__main__":
    main()
