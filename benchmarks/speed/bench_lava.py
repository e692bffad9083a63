"""Speed of the emulator's fixed-point relaxation against Lava's CPU simulation of the same network.

For 256, 1024 and 4096 relaxing neurons, with dense and sparse (10 % non-zero) connectivity,
one network (input -> two sigma-delta layers with forward and feedback Dense couplings) runs
the same number of steps in :func:`emulator.backends.loihi.sigma_delta.relax_fixed` and in Lava 0.10
with ``Loihi2SimCfg(select_tag='fixed_pt')``. The input is a spike train: every step, 5 % of
the input neurons send a graded spike, so the network stays active for the whole run. Both
runs end in the same state (checked: every neuron's activation); the table gives both wall
times (Lava's without its compile and first step), steps per second, synaptic events per
second (fired spikes times fan-out) and the speed-up.

The table gives the fraction of relaxing neurons that fire per step; ``--weight-exps`` runs
other coupling strengths (weight exponents), which changes it. It also measures, in the same run, this
machine's synaptic-event limit for the work: the kernel's own delivery loop
(:func:`emulator.backends.loihi.sigma_delta._deliver`: int8 fan-out rows of mantissas added into int32 sums) on the
network's largest coupling with every sender firing at every step, nothing else done; and the fraction of
it the whole relaxation reaches.

Usage: python -m benchmarks.speed.bench_lava [--steps 200] [--sizes 256,1024,4096] [--weight-exps -6]
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from benchmarks._machine import print_machine
from emulator.backends.loihi.quantise import as_stored
from emulator.backends.loihi.sigma_delta import FixedNet, relax_fixed

INPUT_RATE = 0.05
SPARSE_DENSITY = 0.1


def network(n_neurons: int, density: float, weight_exp: int, rng, pair: bool = False) -> FixedNet:
    """Input of ``n/2`` neurons, two relaxing layers of ``n/2``; weights even in [-64, 64] with
    exponent ``weight_exp`` (a larger one couples the layers more strongly: more neurons fire).
    With ``pair`` each relaxing unit is two ReLU neurons (as on the loihi2 chip): n/2 units."""
    half = n_neurons // 2
    layers = (half,) + (half // 2 if pair else half,) * 2

    def weights(rows, cols):
        w = rng.integers(-32, 33, (rows, cols)) * 2
        return as_stored(w * (rng.random((rows, cols)) < density))

    down = tuple(weights(layers[k + 1], layers[k]) for k in range(2))
    return FixedNet(down=down, weight_exp=(weight_exp, weight_exp), bias=(np.full(layers[1], 512),) * 2,
                    vth=16, act_max=4096, pair=pair)


def input_train(n_inputs: int, steps: int, rng) -> np.ndarray:
    """(steps, n_inputs) graded spikes: each step 5 % of the inputs send a value in [-256, 256]."""
    return rng.integers(-256, 257, (steps, n_inputs)) * (rng.random((steps, n_inputs)) < INPUT_RATE)


def activity(net: FixedNet, train: np.ndarray, steps: int) -> tuple[int, float]:
    """Synaptic events (fired spikes times their fan-out) over the whole run, and the mean
    fraction of relaxing neurons that fire per step (one core per layer in the logs)."""
    sizes = net.neurons
    fan_out = np.array([sizes[1], sizes[2], sizes[1]])  # input -> 1; layer 1 -> 2; layer 2 -> 1
    fired = relax_fixed(net, train[:, None, :], max_steps=steps).fired.sum((0, 1))
    return int(fired @ fan_out), fired[1:].sum() / (steps * sum(sizes[1:]))


def event_limit(net: FixedNet, steps: int, repeats: int = 9) -> float:
    """Synaptic events per second of the delivery loop alone: every sender of the largest coupling fires a payload
    at every one of ``steps`` steps (best of ``repeats``)."""
    from emulator.backends.loihi.sigma_delta import _deliver

    weights = max(net.fan_out[0], key=lambda w: w.size)
    spikes = np.ones(weights.shape[0], np.int64)
    acc = np.zeros(weights.shape[1], np.int32)
    _deliver(acc, weights, spikes)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            _deliver(acc, weights, spikes)
        best = min(best, time.perf_counter() - start)
    return steps * weights.size / best


def time_emulator(net, train, steps, repeats=3):
    relax_fixed(net, train[:, None, :], max_steps=steps)  # numba compilation
    best, state = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        state = relax_fixed(net, train[:, None, :], max_steps=steps)
        best = min(best, time.perf_counter() - start)
    return best, [a[0] for a in state.act]


def timed_lava(lava, steps: int, read):
    """Wall time of ``steps`` steps of a built Lava network (its first step, which compiles and starts the
    runtime, excluded and the rest scaled back to ``steps``) and ``read(lava)`` at the end; stops the runtime."""
    try:
        lava.run(1)
        start = time.perf_counter()
        lava.run(steps - 1)
        seconds = time.perf_counter() - start
        result = read(lava)
    finally:
        lava.stop()
    return seconds * steps / (steps - 1), result


def time_lava(net, train, steps):
    from emulator.backends.loihi.lava.network import LavaNetwork

    return timed_lava(LavaNetwork(net, train, steps), steps, LavaNetwork.activations)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--sizes", default="256,1024,4096")
    parser.add_argument("--weight-exps", default="-6", help="coupling strengths to run (weight exponents)")
    parser.add_argument("--pair", action="store_true", help="units as pairs of ReLU neurons (the loihi2 chip)")
    args = parser.parse_args(argv)
    print_machine()
    print(f"steps: {args.steps}; "
          f"input: {INPUT_RATE:.0%} of input neurons send per step; "
          f"{'pairs of ReLU neurons' if args.pair else 'clipped neurons'}")
    header = ("neurons", "connectivity", "weight_exp", "firing / step", "events/step", "emulator s", "Lava s",
              "emulator steps/s", "Lava steps/s", "emulator events/s", "Lava events/s", "speed-up",
              "event limit /s", "of the limit", "same state")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n, (name, density), exp in itertools.product(
            (int(s) for s in args.sizes.split(",")), (("dense", 1.0), ("sparse 10 %", SPARSE_DENSITY)),
            (int(e) for e in args.weight_exps.split(","))):
        rng = np.random.default_rng(n)
        net = network(n, density, exp, rng, args.pair)
        train = input_train(net.layers[0], args.steps, rng)
        events, firing = activity(net, train, args.steps)
        t_emu, act_emu = time_emulator(net, train, args.steps)
        t_lava, act_lava = time_lava(net, train, args.steps)
        same = all((a == b).all() for a, b in zip(act_emu, act_lava))
        limit = event_limit(net, args.steps)
        row = (n, name, exp, f"{firing:.1%}", f"{events / args.steps:,.0f}", f"{t_emu:.4f}", f"{t_lava:.2f}",
               f"{args.steps / t_emu:,.0f}", f"{args.steps / t_lava:,.0f}", f"{events / t_emu:.2e}",
               f"{events / t_lava:.2e}", f"{t_lava / t_emu:,.0f}x", f"{limit:.2e}", f"{events / t_emu / limit:.0%}",
               "yes" if same else "NO")
        print("| " + " | ".join(str(c) for c in row) + " |", flush=True)


if __name__ == "__main__":
    main()
