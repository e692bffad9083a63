"""The generic spiking chip: IF or LIF neurons with binary spikes, in host floats.

``compile`` stores the host's weights and biases in the chip's float format (checking its neuron and
synapse memory); ``relax`` runs the spiking relaxation of :mod:`emulator.backends.snn.neurons` and
counts what a clock-driven digital SNN core does:

- ``spikes``: binary spikes fired, the inputs' included (each an address event into the fabric);
- ``synaptic_ops``: one per spike and receiving neuron (its fan-out);
- ``neuron_updates``: every relaxing neuron at every step (its current decays and its potential
  integrates, whether or not a spike arrived);
- ``steps``: time steps run, summed over samples;
- ``weight_writes``: stored weights and biases that changed at a re-programming.

A unit's state is its firing rate over the spike window (:mod:`emulator.backends.spiking`); the
learning rule is the layered Hopfield one on the rates. ``eqprop.theta`` and ``eqprop.damping`` are
not used: spikes carry no value to threshold, and the synaptic current's step size ``du`` (the
chip's, or the workload's ``spiking.step_size`` schedule) plays the damping's part.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from emulator.backends import spiking
from emulator.backends.base import Backend, Program
from emulator.backends.loops import changed
from emulator.backends.snn.neurons import SpikingNet, count, relax_spiking
from emulator.backends.snn.nir import deploy_to_nir
from emulator.counters import Counters
from emulator.exchange.nir_run import NirRun, run_float
from emulator.errors import CapacityError, DivergenceError
from emulator.network import TO_CONVERGE
from emulator.schema import Source, fail, spec

DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True, kw_only=True)
class SnnParameters:
    neuron: Literal["if", "lif"] = spec(
        "if: the potential integrates the hard sigmoid clip(u + b, 0, 1) of the drive (O'Connor et al. 2019's "
        "first-order sigma-delta quantiser); lif: it integrates u + b and leaks dv per step")
    du: float = spec("step size of the synaptic current: it decays by du per step and integrates du times the "
                     "weighted spikes (1: no filtering)", gt=0, le=1)
    dv: float = spec("leak of the membrane potential per step (lif; an if neuron has none)", default=0.0, ge=0, lt=1)
    reset: Literal["subtract", "zero"] = spec("after a spike the potential loses the threshold, or is set to 0",
                                              default="subtract")
    precision: Literal["float32", "float64"] = spec("number format of weights, currents and potentials",
                                                    default="float32")
    neurons: int = spec("neurons the chip holds, the inputs' included", ge=1, le=2**30)
    synapses: int = spec("weights the chip stores: each coupling above the input twice (forward and feedback)",
                         ge=1, le=2**40)


@dataclass(frozen=True, kw_only=True)
class SnnProgram(Program):
    """A layered network on the spiking chip.

    Attributes
    ----------
    net : SpikingNet
        Weights, biases and neuron constants in the chip's float format.
    du : float
        The chip's step size.
    spiking : object
        The workload's ``spiking`` settings (window, step-size schedule), or None.
    neuron : str
        ``if`` or ``lif``.
    """

    net: SpikingNet
    du: float
    spiking: object
    neuron: str

    @property
    def uses_theta(self) -> bool:
        return False

    def summary(self) -> dict:
        window = getattr(self.spiking, "window", None)
        schedule = getattr(self.spiking, "step_size", None)
        return {"neuron": self.neuron, "reset": "subtract" if self.net.subtract else "zero", "vth": self.net.vth,
                "du": self.du, "dv": self.net.leak, "precision": np.dtype(self.net.dtype).name,
                "spike_window": f"last {window} steps of each phase" if window else "last half of each phase",
                "step_size": getattr(schedule, "model", "constant"),
                "eqprop.theta": "not used: spikes are binary", "eqprop.damping": "not used: du filters the current"}


class SnnBackend(Backend):
    family = "snn"
    ops = ("spikes", "synaptic_ops", "neuron_updates", "steps", "weight_writes")
    Parameters = SnnParameters
    deploy_targets = {"nir": deploy_to_nir}
    capabilities = frozenset({"nir"})

    def run_nir(self, network, chip, x: dict, dt: float) -> NirRun:
        """NIR's float semantics; binary spikes between populations (a graded read-out goes to the host)."""
        return run_float(network, x, dt, graded=False,
                         ops={op: (op,) for op in ("spikes", "synaptic_ops", "neuron_updates", "steps")})

    def build_parameters(self, chip) -> SnnParameters:
        """The chip's parameters, refusing a leak on an ``if`` neuron."""
        p = super().build_parameters(chip)
        if p.neuron == "if" and p.dv:
            fail(chip.origin or Source(chip.name), ("parameters", "dv"),
                 f"an `if` neuron has no leak, got {p.dv}; set it to 0, or use neuron: lif")
        return p

    def check_fits(self, layers, chip) -> None:
        p = self.parameters_of(chip)
        for what, need, have in (("neurons", sum(layers), p.neurons), ("synapses", stored_weights(layers), p.synapses)):
            if need > have:
                raise CapacityError(f"the network {list(layers)} needs {need:,} {what} but chip {chip.name!r} has "
                                    f"{have:,} ({chip.where('parameters', what)}); use smaller network.layers")

    def compile(self, network, chip, previous: SnnProgram | None = None) -> SnnProgram:
        self.check_fits(network.layers, chip)
        p = self.parameters_of(chip)
        dtype = DTYPES[p.precision]
        with np.errstate(over="ignore"):
            down = tuple(np.ascontiguousarray(w, dtype) for w in network.weights)
            bias = tuple(np.ascontiguousarray(b, dtype) for b in network.biases)
        if not all(np.isfinite(a).all() for a in down + bias):
            raise DivergenceError(f"a weight or bias is NaN or beyond the range of {p.precision}: {TO_CONVERGE}")
        net = SpikingNet(down=down, bias=bias, vth=1.0, leak=p.dv, subtract=p.reset == "subtract",
                         clip=p.neuron == "if")
        return SnnProgram(programming=Counters(weight_writes=_writes(net, previous)), net=net, du=p.du,
                          spiking=network.spiking, neuron=p.neuron)

    def relax(self, program: SnnProgram, x, *, max_steps, nudge=None, init=None):
        net = program.net
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != net.layers[0]:
            raise ValueError(f"x must have shape (batch, {net.layers[0]}), got {x.shape}")
        start = spiking.start_of(x, init)
        bias = [np.broadcast_to(b, (x.shape[0], b.size)) for b in net.bias]
        current = spiking.nudge_current(nudge, init, net.layers[-1])
        if current is not None:
            bias[-1] = bias[-1] + current
        window = spiking.window_of(program.spiking, max_steps)
        with np.errstate(over="ignore", invalid="ignore"):
            state = relax_spiking(net, spiking.input_train(x, start, max_steps),
                                  spiking.step_sizes(program.spiking, program.du, max_steps), window=window,
                                  bias=bias, init=None if init is None else init.neurons)
        if not all(np.isfinite(a).all() for a in state.u + state.v):
            raise DivergenceError(f"the relaxation overflowed (a current became NaN or infinite): {TO_CONVERGE}")
        return _equilibrium(x, state, start, max_steps, window), count(net, state)


def _equilibrium(x, state, start: int, steps: int, window: int) -> spiking.SpikingEquilibrium:
    states = [np.asarray(x, np.float64)] + spiking.rates(state.counts, window)
    batch = states[0].shape[0]
    return spiking.SpikingEquilibrium(
        states=states, heard=states, drive=[np.asarray(u, np.float64) + b for u, b in zip(state.u, state.bias)],
        steps=np.full(batch, steps, np.int64), quiescent=np.zeros(batch, bool),
        trace=state.fired.sum((1, 2)).astype(np.int64), neurons=state, elapsed=start + steps, window=window)


def stored_weights(layers) -> int:
    """Weights a network of these layer sizes stores: ``W_0`` once, every other coupling forward and back."""
    return sum((1 if k == 0 else 2) * a * b for k, (a, b) in enumerate(zip(layers[:-1], layers[1:])))


def _writes(net: SpikingNet, previous: SnnProgram | None) -> int:
    """Stored weights and biases written: all at the first programming, then those that changed (a weight
    of a coupling above the input is stored twice)."""
    old = previous.net if previous is not None else None
    if old is None or old.layers != net.layers:
        return stored_weights(net.layers) + sum(b.size for b in net.bias)
    weights = [changed(a, b) for a, b in zip(net.down, old.down)]
    return (sum((1 if k == 0 else 2) * n for k, n in enumerate(weights))
            + sum(changed(a, b) for a, b in zip(net.bias, old.bias)))
