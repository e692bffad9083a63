"""Speed of the emulator's fixed-point LIF relaxation against Lava's and Brian2's runs of the same network.

For 256, 1024 and 4096 relaxing neurons, with dense and sparse (10 % non-zero) connectivity, one
recurrent network of LIF neurons with binary spikes (an input of ``n/2`` spike sources and two
relaxing layers of ``n/2`` LIF neurons, coupled forward and back: every neuron of the first layer
drives every neuron of the second and hears it back) runs the same number of steps in

- :func:`emulator.backends.loihi.lif.relax_lif` (the ``loihi2`` chip's ``neuron: lif``),
- Lava 0.10 with ``Loihi2SimCfg(select_tag='fixed_pt')`` (``PyLifModelBitAcc``, binary ``Dense``),
- Brian2 (:func:`emulator.backends.loihi.brian.lif_to_brian2`, the same integers as Brian2 equations),
  with its ``cython`` code target (compiled C++) and with ``numpy``.

All of them end in the same currents and voltages of every neuron (checked; Brian2's spike counts are
checked against the emulator's too). The times exclude each simulator's set-up and first step (Lava's
compile and runtime start, Brian2's code generation); Brian2's is what its profiler gives its code objects
(see :func:`time_brian2`), the emulator's the best of 3 runs.
The table gives the firing fraction per step, synaptic events per step (fired spikes times their
fan-out), each simulator's wall time and the speed-ups.

Usage: python -m benchmarks.speed.bench_lif [--steps 200] [--sizes 256,1024,4096] [--targets cython,numpy]
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from benchmarks._machine import print_machine
from benchmarks.speed.bench_lava import timed_lava
from emulator.backends.loihi.lif import LifNet, relax_lif
from emulator.backends.loihi.quantise import as_stored

#: fraction of the input neurons that spike at each step
INPUT_RATE = 0.05
SPARSE_DENSITY = 0.1
#: current decay (819/4096 per step), voltage leak (205/4096), threshold 1024 << 6: loihi2-lif's
DU, DV, VTH = 818, 204, 1024
#: bias 45 << 7 = 5,760 per step: alone it brings a neuron to the threshold in about 16 steps
BIAS_MANT, BIAS_EXP = 45, 7


def network(n_neurons: int, density: float, rng) -> LifNet:
    """Input of ``n/2`` spike sources, two LIF layers of ``n/2``; 8-bit weights of mixed sign and mean 0, with
    the exponent ``floor(log2(2 / sqrt(fan-in)))`` so that the summed input's spread is the same at every size
    and density: 5-10 % of the relaxing neurons fire per step."""
    half = n_neurons // 2
    layers = (half,) * 3
    exp = int(np.floor(np.log2(2 / np.sqrt(half * density))))

    def weights(rows, cols):
        w = rng.integers(-128, 128, (rows, cols))
        return as_stored(w * (rng.random((rows, cols)) < density))

    down = tuple(weights(layers[k + 1], layers[k]) for k in range(2))
    return LifNet(down=down, weight_exp=(exp, exp), bias_mant=(np.full(half, BIAS_MANT),) * 2,
                  bias_exp=(BIAS_EXP,) * 2, du=DU, dv=DV, vth=VTH)


def input_train(n_inputs: int, steps: int, rng) -> np.ndarray:
    """(steps, n_inputs) bool: each step 5 % of the inputs spike."""
    return rng.random((steps, n_inputs)) < INPUT_RATE


def time_emulator(net: LifNet, train: np.ndarray, repeats: int = 3):
    """Best wall time of ``repeats`` runs (after numba's compilation), and the final state."""
    steps = len(train)
    relax_lif(net, train[:, None, :], window=steps)
    best, state = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        state = relax_lif(net, train[:, None, :], window=steps)
        best = min(best, time.perf_counter() - start)
    return best, state


def time_lava(net: LifNet, train: np.ndarray):
    """Wall time of ``steps`` steps in Lava (the first step's excluded, scaled back), and every layer's (u, v)."""
    from emulator.backends.loihi.lava.network import LavaLifNetwork

    return timed_lava(LavaLifNetwork(net, train, len(train)), len(train), LavaLifNetwork.states)


def time_brian2(net: LifNet, train: np.ndarray, target: str):
    """Brian2's time per step with ``target``, every layer's (u, v) after all of ``train`` and the spike count
    of every neuron. After a first step (code generation, and compilation for cython) it runs the rest with
    Brian2's profiler on: the time is the sum of its code objects' times (state updates, synapses, threshold,
    reset, monitors), what the simulation costs without what each ``run`` call costs once."""
    import brian2 as b2

    from emulator.backends.loihi.brian import STEP_MS, lif_to_brian2

    steps = len(train)
    b2.prefs.codegen.target = target
    network, layers, monitors = lif_to_brian2(net, train)
    network.run(STEP_MS * b2.ms)
    network.run((steps - 1) * STEP_MS * b2.ms, profile=True)
    seconds = sum(float(t / b2.second) for _, t in network.profiling_info)
    states = [(np.asarray(g.u, np.int64), np.asarray(g.v, np.int64)) for g in layers]
    counts = [np.asarray(m.count, np.int64) for m in monitors]
    return seconds / (steps - 1), states, counts


def events_and_firing(net: LifNet, state, steps: int) -> tuple[int, float]:
    """Synaptic events (spikes times their fan-out) over the run, and the mean fraction of relaxing neurons that
    fire per step."""
    sizes = net.layers
    fired = state.fired.sum((0, 1))  # one core per layer: input, layer 1, layer 2
    fan_out = np.array([sizes[1], sizes[2], sizes[1]])
    return int(fired @ fan_out), fired[1:].sum() / (steps * sum(sizes[1:]))


def same_states(emulated, other) -> bool:
    return all((u == ou).all() and (v == ov).all() for u, v, (ou, ov) in
               zip((u[0] for u in emulated.u), (v[0] for v in emulated.v), other))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps of every simulator")
    parser.add_argument("--sizes", default="256,1024,4096")
    parser.add_argument("--targets", default="cython,numpy", help="Brian2 code targets to run")
    args = parser.parse_args(argv)
    print_machine()
    print(f"steps: {args.steps}; input: {INPUT_RATE:.0%} of the input neurons spike "
          f"per step; LIF du {DU}, dv {DV}, vth {VTH}, bias {BIAS_MANT} << {BIAS_EXP}")
    targets = [t for t in args.targets.split(",") if t]
    header = (("neurons", "connectivity", "firing / step", "events / step", "emulator s", "Lava s")
              + tuple(f"Brian2 {t} s / step" for t in targets)
              + ("emulator events/s", "vs Lava") + tuple(f"vs Brian2 {t}" for t in targets) + ("bit-exact",))
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n, (name, density) in itertools.product((int(s) for s in args.sizes.split(",")),
                                                (("dense", 1.0), ("sparse 10 %", SPARSE_DENSITY))):
        rng = np.random.default_rng(n)
        net = network(n, density, rng)
        train = input_train(net.layers[0], args.steps, rng)
        t_emu, state = time_emulator(net, train)
        events, firing = events_and_firing(net, state, args.steps)
        t_lava, lava_states = time_lava(net, train)
        exact = same_states(state, lava_states)
        per_step = []
        for target in targets:
            seconds, states, counts = time_brian2(net, train, target)
            exact &= same_states(state, states) and all((c == k[0]).all() for c, k in zip(counts, state.counts))
            per_step.append(seconds)
        emu_step = t_emu / args.steps
        row = ((n, name, f"{firing:.1%}", f"{events / args.steps:,.0f}", f"{t_emu:.4f}", f"{t_lava:.2f}")
               + tuple(f"{s:.2e}" for s in per_step)
               + (f"{events / t_emu:.2e}", f"{t_lava / t_emu:,.0f}x")
               + tuple(f"{s / emu_step:,.0f}x" for s in per_step) + ("yes" if exact else "NO",))
        print("| " + " | ".join(str(c) for c in row) + " |", flush=True)


if __name__ == "__main__":
    main()
