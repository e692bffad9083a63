"""Speed of general graphs (:func:`emulator.backends.loihi.graph_run.run_graph`) against Lava's CPU simulation.

For 256, 1024 and 4096 neurons, one general network runs the same steps in the emulator and in Lava 0.10
(``Loihi2SimCfg(select_tag='fixed_pt')``, built by :func:`emulator.lava.to_lava`): an input stream of n/2
neurons (5 % of them send a graded spike each step) feeds a sigma-delta population of n/2 neurons (graded
Dense, RELU, its own vth and exponents), which drives a LIF population of n/2 neurons (binary Dense: any
non-zero graded payload adds the weight), which feeds back to the sigma-delta population (binary Dense, its own exponent); all weights mixed-sign, raw in
[-300, 300] (clipped and truncated as Lava does). Both runs end in the same state (every variable compared).
The table gives wall times (Lava's without its compile and first step), steps and synaptic events per second
(non-zero payloads times fan-out), the speed-up, and the events per second of the emulator's layered EqProp
kernel on a network of the same sizes and activity (the fast path: the machine's event rate for this work).

Two activity levels (``--activity``): about 45 % of the neurons firing per step, and about 16 % (higher
thresholds, a weaker sigma-delta -> LIF coupling), the EqProp benchmark's level. Lava's cost does not depend on
activity; the emulator's is proportional to it.

Usage: python -m benchmarks.speed.bench_graph [--steps 200] [--sizes 256,1024,4096] [--activity high,low]
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from benchmarks._machine import print_machine
from benchmarks.speed.bench_lava import timed_lava
from emulator.backends.loihi.graph import Dense, Graph, Lif, RingBuffer, SigmaDelta
from emulator.backends.loihi.graph_run import run_graph

INPUT_RATE = 0.05
#: the sigma-delta threshold, the sigma-delta -> LIF weight exponent and the LIF threshold of each activity level:
#: about 45 % of the neurons firing per step, or about 16 % (as in the EqProp benchmark, ``bench_lava.py``)
ACTIVITY = {"high": (4, -2, 200), "low": (256, -5, 2000)}


def network(n: int, steps: int, rng, activity: str = "high") -> Graph:
    half = n // 2
    sd_vth, sd_lif_exp, lif_vth = ACTIVITY[activity]
    data = rng.integers(-256, 257, (half, steps)) * (rng.random((half, steps)) < INPUT_RATE)
    w = lambda rows, cols: rng.integers(-300, 301, (rows, cols))  # noqa: E731
    populations = (RingBuffer(data=data, name="input"),
                   SigmaDelta(size=half, vth=sd_vth, bias=rng.integers(-2, 8, half), state_exp=2, spike_exp=1, name="sd"),
                   Lif(size=half, du=600, dv=300, vth=lif_vth, bias_mant=rng.integers(-60, 20, half), bias_exp=3,
                       name="lif"))
    connections = (Dense("input", "sd", w(half, half), weight_exp=-5, num_message_bits=24, name="in_sd"),
                   Dense("sd", "lif", w(half, half), weight_exp=sd_lif_exp, name="sd_lif"),
                   Dense("lif", "sd", w(half, half), weight_exp=-4, name="lif_sd"))
    return Graph(populations, connections)


def events(graph: Graph, run) -> int:
    """Synaptic events of a run: every non-zero payload times its Dense's receivers."""
    return sum(int(run.counts[d.source].sum()) * d.weights.shape[0] for d in graph.connections)


def time_emulator(graph: Graph, steps: int, repeats: int = 7):
    run_graph(graph, steps, record=False)  # numba compilation
    best, run = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        run = run_graph(graph, steps, record=False)
        best = min(best, time.perf_counter() - start)
    return best, run


def time_lava(graph: Graph, steps: int):
    from emulator.backends.loihi.lava import require_lava

    require_lava()
    from emulator.lava import to_lava

    processes = to_lava(graph)
    neurons = [p for p in graph.populations if not isinstance(p, RingBuffer)]

    class Runner:
        def run(self, n):
            from lava.magma.core.run_conditions import RunSteps
            from lava.magma.core.run_configs import Loihi2SimCfg

            processes["sd"].run(condition=RunSteps(num_steps=n), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))

        def stop(self):
            processes["sd"].stop()

    def read(_):
        return {p.name: {v: np.asarray(getattr(processes[p.name], v).get()).astype(np.int64)
                         for v in p.variables if v != "s_out"} for p in neurons}

    return timed_lava(Runner(), steps, read)


def kernel_rate(n: int, steps: int, firing: float, rng) -> float:
    """Synaptic events per second of the layered EqProp kernel (input n/2 -> two layers of n/2, forward and
    feedback), its couplings tuned to about the same firing fraction: the machine's rate for this work."""
    from benchmarks.speed.bench_lava import activity, input_train
    from benchmarks.speed.bench_lava import network as layered
    from emulator.backends.loihi.sigma_delta import relax_fixed
    from emulator.errors import DivergenceError

    best = None
    for exp in range(-8, 0):
        net = layered(n, 1.0, exp, np.random.default_rng(n))
        train = input_train(net.layers[0], steps, rng)
        try:
            count, fraction = activity(net, train, steps)
        except DivergenceError:  # couplings this strong leave the 24-bit range
            break
        if best is None or abs(fraction - firing) < abs(best[2] - firing):
            best = (net, train, fraction, count)
    net, train, _, count = best
    relax_fixed(net, train[:, None, :], max_steps=steps)
    start = time.perf_counter()
    relax_fixed(net, train[:, None, :], max_steps=steps)
    return count / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--sizes", default="256,1024,4096")
    parser.add_argument("--activity", default="high,low", help=f"activity levels to run: {', '.join(ACTIVITY)}")
    args = parser.parse_args(argv)
    print_machine()
    header = ("neurons", "activity", "firing / step", "events/step", "emulator s", "Lava s", "emulator steps/s", "Lava steps/s",
              "emulator events/s", "EqProp kernel events/s", "speed-up", "same state")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n, activity in itertools.product((int(s) for s in args.sizes.split(",")), args.activity.split(",")):
        rng = np.random.default_rng(n)
        graph = network(n, args.steps, rng, activity)
        t_emu, run = time_emulator(graph, args.steps)
        t_lava, lava_state = time_lava(graph, args.steps)
        same = all(np.array_equal(run.state[p][v][0], x) for p, variables in lava_state.items()
                   for v, x in variables.items())
        count = events(graph, run)
        firing = sum(int(run.counts[p].sum()) for p in ("sd", "lif")) / (args.steps * n)
        rate = kernel_rate(n, args.steps, firing, rng)
        row = (n, activity, f"{firing:.1%}", f"{count / args.steps:,.0f}", f"{t_emu:.4f}", f"{t_lava:.2f}",
               f"{args.steps / t_emu:,.0f}", f"{args.steps / t_lava:,.0f}", f"{count / t_emu:.2e}", f"{rate:.2e}",
               f"{t_lava / t_emu:,.0f}x", "yes" if same else "NO")
        print("| " + " | ".join(str(c) for c in row) + " |", flush=True)


if __name__ == "__main__":
    main()
