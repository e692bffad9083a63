"""Seeded random general networks of Lava processes, and the traces Lava 0.10 recorded of them.

``random_graph(seed)`` draws a graph of one or two input streams and two to four neuron populations that
covers what a Lava user writes: per-population parameters, SigmaDelta with UNIT and RELU activations, with and
without ``cum_error``, nonzero ``spike_exp`` and ``state_exp``; LIF with every decay, including ``du = 4095``,
``dv = 0`` and biases that are multiples of 64 so that voltages land exactly on the threshold; binary and
graded ``Dense`` with raw weights beyond 8 bits (clipped), odd mixed-sign weights (truncated), inhibitory
and excitatory matrices, fewer weight bits and their own exponents; feed-forward chains, skip connections,
feedback and self-connections. A draw whose sigma-delta registers would leave 24 bits is redrawn.

Run as a script (Python 3.10 with Lava) to record Lava's traces of the graphs into
``tests/data/lava_graph_traces.npz``: ``python tests/backends/loihi/random_graphs.py``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from emulator.backends.loihi.graph import Dense, Graph, Lif, RingBuffer, SigmaDelta
from emulator.backends.loihi.graph_run import run_graph
from emulator.errors import DivergenceError

#: graphs recorded, steps run, and where their traces are kept
SEEDS = tuple(range(20))
STEPS = 24
TRACES = Path(__file__).parents[2] / "data" / "lava_graph_traces.npz"


def _stream(rng, name: str) -> RingBuffer:
    n, t = int(rng.integers(2, 6)), int(rng.integers(3, 9))
    if rng.random() < 0.5:
        data = (rng.random((n, t)) < 0.4).astype(np.int64)
    else:
        data = rng.integers(-40, 41, (n, t)) * (rng.random((n, t)) < 0.6)
    return RingBuffer(data=data, name=name)


def _population(rng, name: str):
    n = int(rng.integers(2, 7))
    if rng.random() < 0.5:
        return SigmaDelta(size=n, vth=int(rng.integers(0, 6)), bias=rng.integers(-4, 5, n),
                          act_mode=str(rng.choice(["relu", "unit"])), cum_error=bool(rng.random() < 0.4),
                          spike_exp=int(rng.integers(0, 3)), state_exp=int(rng.integers(0, 3)), name=name)
    exact = rng.random() < 0.4  # no current memory and no leak: voltages are sums of 64-multiples
    return Lif(size=n, du=4095 if exact else int(rng.integers(0, 4096)), dv=0 if exact else int(rng.integers(0, 4096)),
               vth=int(rng.integers(1, 40)), bias_mant=rng.integers(-20, 21, n) * (64 if exact else 1),
               bias_exp=int(rng.integers(0, 3)) * (not exact), name=name)


def _weights(rng, shape) -> np.ndarray:
    sign = rng.choice(["mixed", "excitatory", "inhibitory"])
    w = rng.integers(-300, 301, shape) * (rng.random(shape) < 0.7)
    return np.abs(w) if sign == "excitatory" else -np.abs(w) if sign == "inhibitory" else w


def _draw(rng) -> Graph:
    streams = [_stream(rng, f"in{i}") for i in range(int(rng.integers(1, 3)))]
    neurons = [_population(rng, f"pop{i}") for i in range(int(rng.integers(2, 5)))]
    pairs = [(streams[0].name, neurons[0].name)]  # a feed-forward chain, then skips, feedback and self-loops
    pairs += [(a.name, b.name) for a, b in zip(neurons, neurons[1:])]
    pairs += [(s.name, neurons[int(rng.integers(len(neurons)))].name) for s in streams[1:]]
    for _ in range(int(rng.integers(1, 4))):
        a, b = rng.integers(len(neurons), size=2)
        pairs.append((neurons[a].name, neurons[b].name))
    by_name = {p.name: p for p in streams + neurons}
    connections = []
    for k, (a, b) in enumerate(pairs):
        graded = isinstance(by_name[a], (SigmaDelta, RingBuffer)) and rng.random() < 0.6
        connections.append(Dense(source=a, target=b, weights=_weights(rng, (by_name[b].size, by_name[a].size)),
                                 weight_exp=int(rng.integers(-6, 1)) - 2 * graded,
                                 num_weight_bits=int(rng.choice([8, 8, 7, 5])),
                                 num_message_bits=24 if graded else 0, name=f"dense{k}"))
    return Graph(populations=tuple(streams + neurons), connections=tuple(connections))


def random_graph(seed: int) -> Graph:
    """A random general graph (see the module docstring) whose registers stay in range for :data:`STEPS` steps."""
    rng = np.random.default_rng(seed)
    while True:
        graph = _draw(rng)
        try:
            run_graph(graph, STEPS)
        except DivergenceError:
            continue
        return graph


def record_lava_traces(path: Path = TRACES):
    """Run every graph of :data:`SEEDS` in Lava and keep its traces (int32) in ``path``."""
    from emulator.backends.loihi.lava.graph import LavaGraph

    arrays = {}
    for seed in SEEDS:
        trace = LavaGraph(random_graph(seed), STEPS).run()
        arrays.update({f"{seed}/{pop}/{var}": values.astype(np.int32) for pop, variables in trace.items()
                       for var, values in variables.items()})
    np.savez_compressed(path, **arrays)


if __name__ == "__main__":
    record_lava_traces()
