"""What a chip's run of a NIR graph gives back, and the float run of the chips that keep NIR's floats.

:class:`NirRun` is the answer of ``Backend.run_nir`` on every family that runs NIR graphs: the values of the
graph's ``Output`` nodes at every step, and the :class:`~emulator.counters.Counters` of the chip's ops. The
``digital`` and ``snn`` families run the graph with NIR's own float semantics (:func:`run_float`, through
:func:`~emulator.exchange.nir_sim.simulate`) and count in their own op names; the Loihi family quantises it
(:mod:`emulator.backends.loihi.nir`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emulator.counters import Counters
from emulator.errors import NirError
from emulator.exchange.nir_graph import NirNetwork
from emulator.exchange.nir_sim import simulate


@dataclass(frozen=True)
class NirRun:
    """A chip's run of a NIR graph on a batch of inputs.

    Attributes
    ----------
    outputs : dict of str to (steps, B, n) float64
        Every ``Output`` node's values at every step the chip ran (spikes 0 or 1, or potentials in NIR's units).
    counters : Counters
        The chip's ops over the batch, in the names its chip files price.
    steps : int
        Steps run (the input's, plus what the chip's delays add).
    quantisation : dict
        What the chip changed of the graph (Loihi's integer formats: per population and link); empty for float runs.
    summary : dict
        How the graph sits on the chip (cores, populations), for the report.
    programming : Counters
        Ops of writing the graph onto the chip, paid once.
    """

    outputs: dict
    counters: Counters
    steps: int
    quantisation: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    programming: Counters = field(default_factory=Counters)


def run_float(network: NirNetwork, x: dict, dt: float, *, ops: dict, graded: bool) -> NirRun:
    """Run ``network`` with NIR's float semantics and count in a chip's op names.

    Parameters
    ----------
    x : dict of str to (T, B, n) float
        Values of every ``Input`` at every step.
    dt : float
        Seconds per step.
    ops : dict of str to tuple of str
        The chip's op name for the sum of which simulation counts (``spikes``, ``messages``, ``synaptic_ops``,
        ``neuron_updates``, ``steps``); a count no op names is not priced.
    graded : bool
        Whether the chip sends graded values between populations; if not, a population that sends its potential
        to another one is an error.
    """
    sim = simulate(network, x, dt=dt)
    if not graded:
        for name, pop in network.populations.items():
            if not pop.spiking and sim.fan_out[name].any():
                raise NirError(f"{pop.model} {name!r} sends its potential to other populations, but this chip sends "
                               "binary spikes only: end the graph at it (a read-out), or run it on the digital chip")
    counts = sim.counts
    counters = Counters({op: sum(counts[name] for name in names) for op, names in ops.items()})
    return NirRun(outputs={name: sim.values[name] for name in network.outputs}, counters=counters,
                  steps=int(np.shape(next(iter(sim.values.values())))[0]),
                  summary={"semantics": f"NIR's equations, forward Euler at dt = {dt:g} s, float64"})
