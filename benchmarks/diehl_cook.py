"""Diehl & Cook (2015) on scikit-learn's 8x8 digits: fit time and test accuracy vs neuron count,
with k-means and logistic regression on the same split, measured in the same run.

    python benchmarks/diehl_cook.py [--device cuda] [--neurons 25 100 400] [--seeds 0]
                                    [--out benchmarks/results/diehl_cook_cpu.txt] [--append]
                                    [--no-baselines]

Split: ``train_test_split(stratify=labels, test_size=0.3, random_state=0)`` over all 1797
digits (1257 train, 540 test). Baselines:

k-means      : ``sklearn.cluster.KMeans(n_clusters=n, n_init=10, random_state=seed)`` on the raw
               pixels; each centroid is a "neuron" whose response to an image is 1 if it is the
               nearest centroid, and the labelling and vote are DiehlCook2015's own
               (``_assign_labels`` / ``_vote``): each centroid takes the class it answers most.
logistic     : ``sklearn.linear_model.LogisticRegression(max_iter=5000)`` on the raw pixels
               (supervised: an upper reference, not a peer).

Not a test (no assertions on time): machines differ. Run it alone on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from stdpwidgets.sim import DiehlCook2015, load_labelled_digits


def split():
    images, labels = load_labelled_digits()
    train, test = train_test_split(np.arange(labels.numel()), test_size=0.3, stratify=labels.numpy(),
                                   random_state=0)
    return images, labels, torch.as_tensor(train), torch.as_tensor(test)


def diehl_cook(images, labels, train, test, n_neurons, seed, device):
    net = DiehlCook2015(n_neurons=n_neurons, seed=seed, device=device)
    net.fit(images[train], progress=False)
    start = time.perf_counter()
    accuracy = net.label_neurons(images[train], labels[train]).score(images[test], labels[test])
    return dict(fit_s=net.fit_seconds_, eval_s=time.perf_counter() - start, accuracy=accuracy,
                labelled=int((net.neuron_labels_ >= 0).sum()))


def kmeans(images, labels, train, test, n_clusters, seed):
    x = images.reshape(images.shape[0], -1).numpy()
    start = time.perf_counter()
    km = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(x[train.numpy()])
    fit_s = time.perf_counter() - start
    voter = DiehlCook2015(n_neurons=n_clusters)  # only its labelling and vote are used

    def one_hot(rows):
        return torch.nn.functional.one_hot(torch.as_tensor(km.predict(x[rows.numpy()])).long(), n_clusters).float()

    voter._assign_labels(one_hot(train), labels[train])
    accuracy = float((voter._vote(one_hot(test)) == labels[test]).float().mean())
    return dict(fit_s=fit_s, accuracy=accuracy)


def logistic(images, labels, train, test):
    x = images.reshape(images.shape[0], -1).numpy()
    start = time.perf_counter()
    model = LogisticRegression(max_iter=5000).fit(x[train.numpy()], labels[train].numpy())
    fit_s = time.perf_counter() - start
    return dict(fit_s=fit_s, accuracy=float(model.score(x[test.numpy()], labels[test].numpy())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--neurons", type=int, nargs="+", default=[25, 100, 400])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default=None, help="text file for the table (default: print only)")
    parser.add_argument("--append", action="store_true", help="add to --out instead of replacing it")
    parser.add_argument("--no-baselines", action="store_true", help="skip k-means and logistic regression")
    args = parser.parse_args()
    images, labels, train, test = split()
    lines = [
        f"# benchmarks/diehl_cook.py --device {args.device} --neurons {' '.join(map(str, args.neurons))} "
        f"--seeds {' '.join(map(str, args.seeds))}",
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs"
        + (f", {torch.cuda.get_device_name()}" if args.device.startswith("cuda") else ""),
        f"# split: stratified 70/30, random_state=0: {train.numel()} train, {test.numel()} test images",
        f"# load average at start (other processes share the CPUs): {os.getloadavg()[0]:.1f}",
        f"{'model':<28}{'neurons':>8}{'seed':>6}{'fit s':>9}{'eval s':>9}{'test acc':>10}",
    ]
    print("\n".join(lines), flush=True)

    def row(model, n, seed, result):
        eval_s = f"{result['eval_s']:9.1f}" if "eval_s" in result else f"{'':>9}"
        line = f"{model:<28}{n:>8}{seed:>6}{result['fit_s']:9.1f}{eval_s}{result['accuracy']:10.4f}"
        lines.append(line)
        print(line, flush=True)

    for n in args.neurons:
        for seed in args.seeds:
            row(f"DiehlCook2015 ({args.device})", n, seed, diehl_cook(images, labels, train, test, n, seed, args.device))
        for seed in args.seeds if not args.no_baselines else ():
            row("k-means + same labelling", n, seed, kmeans(images, labels, train, test, n, seed))
    if not args.no_baselines:
        row("logistic regression (raw)", 0, 0, logistic(images, labels, train, test))
    lines.append(f"# load average at the end: {os.getloadavg()[0]:.1f}")
    if args.out:
        with open(args.out, "a" if args.append else "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
