"""The energy and latency of a Lava network someone already has, on the emulated Loihi 2.

A small network is built with Lava's own classes, as a Lava user writes it: a graded input stream, a
sigma-delta layer (its own threshold and exponents, ``cum_error``), a LIF layer fed by binary spikes, and a
feedback connection with its own exponent. :func:`emulator.lava.from_lava` reads it; the ``loihi2`` chip
places it on cores, runs it bit-exactly with Lava's fixed-point models, counts what every core does and
prices it with ``chips/loihi2.yaml``. Lava is needed only to build the processes (Python 3.10)::

    python examples/lava_network_energy.py [--steps 100]
"""
import argparse

import numpy as np
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.proc.sdn.process import ActivationMode, SigmaDelta

from emulator.chip import get_backend, load_chip
from emulator.energy import account
from emulator.lava import from_lava
from emulator.report import format_si


def lava_network(rng):
    """RingBuffer(32) -> SigmaDelta(64) -> LIF(16), and LIF -> SigmaDelta feedback, with raw mixed weights."""
    stream = RingBuffer(data=rng.integers(-40, 80, (32, 20)) * (rng.random((32, 20)) < 0.3))
    sd = SigmaDelta(shape=(64,), vth=4, bias=rng.integers(0, 4, 64), act_mode=ActivationMode.RELU, cum_error=True,
                    spike_exp=1, state_exp=2, name="sd")
    lif = LIF(shape=(16,), du=400, dv=200, vth=30, bias_mant=rng.integers(0, 40, 16), bias_exp=2, name="lif")
    for a, b, shape, exp, bits in ((stream, sd, (64, 32), -3, 16), (sd, lif, (16, 64), 0, 0),
                                   (lif, sd, (64, 16), -2, 0)):
        dense = Dense(weights=rng.integers(-300, 300, shape), weight_exp=exp, num_message_bits=bits)
        a.s_out.connect(dense.s_in)
        dense.a_out.connect(b.a_in)
    return lif


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    graph = from_lava(lava_network(np.random.default_rng(0)))
    chip = load_chip("chips/loihi2.yaml")
    backend = get_backend(chip.backend)
    program = backend.compile_graph(graph, chip)
    run, counters = backend.run_graph(program, args.steps)
    print(f"{len(graph.populations)} populations, {len(graph.connections)} Dense, on {program.mapping.n_cores} cores:")
    for p, core in zip(graph.populations, program.mapping.layer_cores):
        fired = int(run.counts[p.name].sum())
        print(f"  {type(p).__name__:<10} {p.name:<12} {p.size:4d} neurons, core {core[0]}, {fired:6d} spikes")
    for op in ("spikes", "messages", "synaptic_ops", "neuron_updates_active", "neuron_updates_idle", "barrier_syncs"):
        print(f"  {op:<22} {counters[op]:>10,}")
    energy = account(counters, chip, backend, 1, phase="inference")
    print(f"{args.steps} steps: {format_si(energy['total_j'], 'J')}, {format_si(energy['emulated_s'], 's')} on "
          f"{chip.name} (static power {format_si(energy['breakdown_j']['static'], 'J')} of it)")


if __name__ == "__main__":
    main()
