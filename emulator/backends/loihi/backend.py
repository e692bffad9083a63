"""Loihi-2-style digital neuro-cores: sigma-delta neurons, 8-bit Dense synapses, a mesh of cores.

``compile`` quantises the host's float parameters (:mod:`emulator.backends.loihi.quantise`) and
places the network on cores and chips (:mod:`emulator.backends.loihi.mapping`); ``relax`` runs the
integer relaxation of :mod:`emulator.backends.loihi.sigma_delta`, bit-exact with Lava's fixed-point
models, and counts per core what the chip does at every barrier-synchronised step:

- neuron updates, active (input received, activation changed or fired) and idle;
- graded spikes fired, and the messages they become (one per destination core), with their
  route lengths in mesh hops and the messages that cross to another chip;
- synaptic ops (one per receiving neuron, done by the receiving core);
- barrier syncs (one per step), and weight writes when the trainer re-programs the chip.

A step lasts as long as its slowest core's work, plus the longest route of its messages,
plus the barrier; ``critical_path_s`` sums that over the steps run. EqProp's nudge is a bias
on the output neurons, ``beta * (y - s_free)``, set by the host from the free equilibrium it
reads out: it equals the gradient of the squared-error cost at the free equilibrium, so the
nudged phases move the network as the cost would, to first order in ``beta``.

A unit (EqProp's hard-sigmoid neuron) is either a pair of Lava's standard ReLU sigma-delta
neurons, ``A - B = clip(sigma + b, 0, act_max)`` (``neuron: relu_pair``: every process has a
Loihi 2 neuro-core model, at twice the neurons and synaptic ops), or one neuron with a clipped
activation (``neuron: clipped``: a process model the emulator adds to Lava, CPU only).

Sigma-delta neurons have no leak, so the chip runs the undamped iteration; the workload's
``eqprop.damping`` (a setting of the digital reference) is not used here. Both iterations
have the same fixed points.

With ``neuron: lif`` a unit is one of Lava's fixed-point LIF neurons with binary-spike ``Dense``
couplings (:mod:`emulator.backends.loihi.lif`): a spiking chip, whose states are firing rates over
the spike window (:mod:`emulator.backends.spiking`), whose nudge is a bias current on the output
neurons, and on which ``eqprop.theta`` (the threshold of graded messages) is not used. The counts
are the same per core.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Literal

import numpy as np

from emulator.backends import spiking
from emulator.backends.base import Backend, Equilibrium, Memory, Program
from emulator.backends.loops import changed
from emulator.counters import Counters
from emulator.network import contrastive_update
from emulator.backends.loihi.counting import PER_CORE, count
from emulator.backends.loihi.deploy import deploy_to_lava
from emulator.backends.loihi.graph import Graph
from emulator.backends.loihi.graph_program import GraphProgram, compile_graph, run_program
from emulator.backends.loihi.nir import input_levels, quantise_nir, read_out, stream_data
from emulator.backends.loihi.nir_export import deploy_to_nir
from emulator.backends.loihi.lif import LifNet, relax_lif
from emulator.backends.loihi.sigma_delta import FixedNet, FixedState, host_values, neurons, relax_fixed
from emulator.backends.loihi.mapping import CoreLimits, Mapping, count_cores, map_network
from emulator.backends.loihi.quantise import (LayerQuantisation, bias_clipped_fraction, lif_bias_clipped_fraction,
                                              lif_bias_exp, lif_weight_scale, quantise_bias, quantise_lif_bias,
                                              quantise_weights)
from emulator.errors import ConfigError
from emulator.exchange.nir_run import NirRun
from emulator.schema import spec

#: samples of a NIR inference run together (each records every variable of every neuron at every step)
NIR_BATCH = 32
#: bytes of the logs of one core in one step of one sample: what fired and what was active as the kernel
#: writes them (int32), and the per-step work of :func:`count` (int64 and float64 arrays)
LOG_BYTES = 80


@dataclass(frozen=True, kw_only=True)
class LoihiParameters:
    act_bits: int = spec("fraction bits of an activation: a saturated neuron holds 2**act_bits", default=14,
                         ge=4, le=16)
    state_exp: int = spec("right shift from a fired delta to its graded spike (Lava's state_exp)", default=2,
                          ge=0, le=7)
    weight_bits: int = spec("bits of a Dense weight (Lava's num_weight_bits); a weight matrix of mixed signs "
                            "loses its lowest bit, so 1 bit stores no weight of either sign", default=8, ge=2,
                            le=8)
    neuron: Literal["clipped", "relu_pair", "lif"] = spec(
        "a unit is one clipped sigma-delta neuron (a Lava process the emulator adds), a pair of Lava's "
        "standard ReLU SigmaDelta neurons (runs on Loihi 2's neuro-cores), or one of Lava's LIF neurons with "
        "binary spikes (a spiking chip: states are firing rates)", default="clipped")
    du: int = spec("neuron: lif: Lava's 12-bit current decay; the current decays by (du + 1) / 4096 per step, the "
                   "step size of the state's update", default=818, ge=0, le=4095)
    dv: int = spec("neuron: lif: Lava's 12-bit voltage decay; the voltage leaks dv / 4096 per step", default=204,
                   ge=0, le=4095)
    vth: int = spec("neuron: lif: Lava's 17-bit threshold (the neuron fires when v > vth << 6), the voltage of one "
                    "state unit", default=1024, ge=1, le=2**17 - 1)
    max_clipped_fraction: float = spec("fraction of a layer's weights quantisation may clip", default=1e-3,
                                       ge=0, lt=1)
    neurons_per_core: int = spec("neurons one core holds (Loihi 2: 8,192)", ge=1, le=2**20)
    synapse_bytes_per_core: int = spec("synaptic memory of one core, bytes (Loihi 2: 128 KiB)", ge=1, le=2**30)
    axons_in_per_core: int = spec("distinct source neurons one core can receive from", ge=1, le=2**20)
    axons_out_per_core: int = spec("output routes (neuron x destination core) one core holds", ge=1, le=2**20)
    cores_per_chip: int = spec("neuro-cores per chip (Loihi 2: 128)", ge=1, le=4096)
    mesh_columns: int = spec("cores per row of a chip's mesh", ge=1, le=4096)
    max_chips: int = spec("chips the system joins (Hala Point joins 1,152 Loihi 2)", ge=1, le=4096)

    def limits(self) -> CoreLimits:
        names = {f.name for f in fields(CoreLimits)}
        return CoreLimits(**{f.name: getattr(self, f.name) for f in fields(self) if f.name in names})


@dataclass(frozen=True, kw_only=True)
class LoihiProgram(Program):
    """A layered network in the chip's integers, placed on its cores.

    Attributes
    ----------
    net : FixedNet
        Weights, exponents, biases and thresholds as programmed.
    mapping : Mapping
        Where every layer's neurons sit (cores, chips) and the routes of their messages.
    quantisation : tuple of LayerQuantisation, layers 0..L-1
        How each layer's weights and biases were quantised (exponent, clipped fractions, error), for the report.
    time_s : dict of str to float
        Seconds per op of the chip's time table, for the critical path.
    """

    net: FixedNet
    mapping: Mapping
    quantisation: tuple[LayerQuantisation, ...]
    time_s: dict

    def summary(self) -> dict:
        return {"iteration": "undamped sigma-delta (eqprop.damping unused)",
                "neuron": "pair of ReLU sigma-delta neurons" if self.net.pair else "clipped sigma-delta",
                "act_bits": self.net.act_bits, "state_exp": self.net.state_exp, "vth": self.net.vth,
                "weights": [q.to_dict() for q in self.quantisation], **self.mapping.summary()}

    @cached_property
    def core_of(self) -> list[np.ndarray]:
        """Core of every neuron, per layer."""
        return self.mapping.core_of()

    def spikes_of(self, x: np.ndarray) -> np.ndarray:
        """Graded spikes the input neurons send for inputs ``x`` in [0, 1] (B, n_0)."""
        return np.round(np.asarray(x, np.float64) * (self.net.act_max >> self.net.state_exp)).astype(np.int64)

    def to_float(self, values) -> np.ndarray:
        return np.asarray(values, np.float64) / self.net.act_max


@dataclass(frozen=True, kw_only=True)
class LifProgram(LoihiProgram):
    """A layered network of LIF neurons in the chip's integers, placed on its cores (``neuron: lif``).

    Attributes
    ----------
    net : LifNet
        Weights, exponents, biases, decays and threshold as programmed.
    biases : tuple of (n_k,) float
        The host's biases (state units), which the nudge current is added to.
    spiking : object
        The workload's ``spiking`` settings (window, step-size schedule), or None.
    """

    net: LifNet
    biases: tuple
    spiking: object

    @property
    def uses_theta(self) -> bool:
        return False

    def summary(self) -> dict:
        net, window = self.net, getattr(self.spiking, "window", None)
        return {"neuron": "lif (Lava's PyLifModelBitAcc, binary Dense)", "du": net.du, "dv": net.dv, "vth": net.vth,
                "state_unit": net.state_unit,
                "spike_window": f"last {window} steps of each phase" if window else "last half of each phase",
                "eqprop.theta": "not used: spikes are binary", "eqprop.damping": "not used: du filters the current",
                "weights": [q.to_dict() | {"bias_exp": e} for q, e in zip(self.quantisation, net.bias_exp)],
                **self.mapping.summary()}


@dataclass(frozen=True, kw_only=True)
class LoihiEquilibrium(Equilibrium):
    """An :class:`Equilibrium` in host floats, with the chip's integer state it came from.

    Attributes
    ----------
    fixed : FixedState
        The neurons' integer state (and what they did), from which a nudged phase continues.
    """

    fixed: FixedState


class LoihiBackend(Backend):
    family = "loihi"
    ops = ("neuron_updates_active", "neuron_updates_idle", "spikes", "synaptic_ops", "messages", "hops",
           "chip_messages", "barrier_syncs", "weight_writes")
    measures = ("critical_path_s",) + tuple(f"{op}_per_core" for op in PER_CORE)
    Parameters = LoihiParameters
    deploy_targets = {"lava": deploy_to_lava, "nir": deploy_to_nir}
    capabilities = frozenset({"nir"})

    def check_fits(self, layers, chip) -> None:
        self._cores(layers, chip)

    def memory(self, layers, chip, *, batch: int, max_steps: int) -> Memory:
        """The default estimate, plus the per-core logs of every step and sample (:data:`LOG_BYTES`)."""
        default = super().memory(layers, chip, batch=batch, max_steps=max_steps)
        logs = LOG_BYTES * max_steps * batch * self._cores(layers, chip)
        return default._replace(relaxation=default.relaxation + logs)

    def _cores(self, layers, chip) -> int:
        """Cores a network of these layer sizes needs at least on ``chip``; CapacityError if they are too many."""
        p = self.parameters_of(chip)
        return count_cores(neurons(layers, p.neuron == "relu_pair"), p.limits(), where=f"chip {chip.name!r}")

    def compile(self, network, chip, previous: LoihiProgram | None = None) -> LoihiProgram:
        p = self.parameters_of(chip)
        if p.neuron == "lif":
            return compile_lif(network, chip, p, previous)
        pair = p.neuron == "relu_pair"
        act_max = 2 ** p.act_bits
        offset = -act_max if pair else 0  # a pair's B neuron has bias b - act_max
        down, exps, quant = [], [], []
        for w, b in zip(network.weights, network.biases):
            w_int, q = quantise_weights(w, state_exp=p.state_exp, weight_bits=p.weight_bits,
                                        max_clipped=p.max_clipped_fraction, symmetric=pair)
            down.append(w_int)  # already on the grid Lava stores
            exps.append(q.weight_exp)
            quant.append(replace(q, bias_clipped_fraction=bias_clipped_fraction(
                b, act_bits=p.act_bits, state_exp=p.state_exp, offset=offset)))
        unit = 2 ** p.state_exp
        vth = max(1, round(network.theta * 2 ** p.act_bits / unit)) * unit
        net = FixedNet(down=tuple(down), weight_exp=tuple(exps), vth=vth, act_max=act_max,
                       bias=tuple(quantise_bias(b, act_bits=p.act_bits, state_exp=p.state_exp, offset=offset)
                                  for b in network.biases), state_exp=p.state_exp, pair=pair)
        mapping = map_network(net.neurons, p.limits(), where=f"chip {chip.name!r}")
        return LoihiProgram(programming=Counters(weight_writes=_writes(net, previous)), net=net, mapping=mapping,
                            quantisation=tuple(quant), time_s=chip.time_per_op())

    def relax(self, program: LoihiProgram, x, *, max_steps, nudge=None, init=None):
        net = program.net
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != net.layers[0]:
            raise ValueError(f"x must have shape (batch, {net.layers[0]}), got {x.shape}")
        if isinstance(program, LifProgram):
            return relax_spiking(program, x, max_steps, nudge, init)
        bias = None
        if nudge is not None:
            if init is None:
                raise ValueError("a nudged phase on this chip starts from the free equilibrium: pass init")
            force = nudge.beta * (np.asarray(nudge.target, np.float64) - init.states[-1])
            bias = list(net.bias)
            bias[-1] = quantise_bias(program.to_float(net.bias[-1]) + force, act_bits=net.act_bits,
                                     state_exp=net.state_exp, offset=-net.act_max if net.pair else 0)
        # a phase that continues from an equilibrium sends no input: the free phase sent it
        spikes = program.spikes_of(x) if init is None else np.zeros((0,) + x.shape, np.int64)
        fixed = relax_fixed(net, spikes, max_steps=max_steps, bias=bias, init=None if init is None else init.fixed,
                            core_of=program.core_of)
        return self._equilibrium(program, x, fixed), count(program, fixed)

    def contrastive_update(self, a, b, scale: float):
        """The layered rule (:func:`emulator.network.contrastive_update`); between two sigma-delta equilibria with
        the first coupling's term as one product ``(s_1^a - s_1^b)^T x`` of the clamped input both phases heard.

        For pixel inputs (float32 ``k / 255``) and batches of up to 256 samples it is bit for bit the two
        products' difference: the units' states are multiples of ``2**-act_bits`` (14 bits) in [0, 1], a pixel
        has a 24-bit mantissa and is 0 or at least ``2**-8``, so every product and partial sum is exact in
        float64 (it spans at most 45 + 8 bits). Other inputs differ from it by rounding only. A LIF
        equilibrium's rates are not exact binary fractions; it keeps the two products."""
        return contrastive_update(a.states, b.states, scale,
                                  shared_input=isinstance(a, LoihiEquilibrium) and isinstance(b, LoihiEquilibrium))

    def emulated_seconds(self, counters, chip) -> float:
        return float(counters.get("critical_path_s", 0.0))

    def compile_graph(self, graph: Graph, chip) -> GraphProgram:
        """Place a general network (:class:`~emulator.backends.loihi.graph.Graph`) on the chip's cores."""
        return compile_graph(graph, self.parameters_of(chip).limits(), chip.time_per_op(), where=f"chip {chip.name!r}")

    def run_nir(self, network, chip, x: dict, dt: float) -> NirRun:
        """Quantise a NIR graph into Lava's LIF and Dense (:mod:`emulator.backends.loihi.nir`), place it, and run it
        on spike inputs (or graded ones, 8-bit, if they are not spikes), :data:`NIR_BATCH` samples at a time."""
        p = self.parameters_of(chip)
        levels = input_levels(x)
        nol = quantise_nir(network, dt, vth=p.vth, weight_bits=p.weight_bits, max_clipped=p.max_clipped_fraction,
                           input_levels=levels)
        program = self.compile_graph(nol.graph, chip)
        steps = next(iter(x.values())).shape[0] + nol.latency
        outputs, counters = [], Counters()
        batch = next(iter(x.values())).shape[1]
        for start in range(0, batch, NIR_BATCH):
            part = {name: values[:, start:start + NIR_BATCH] for name, values in x.items()}
            run, c = self.run_graph(program, steps, stream_data(network, part, steps, levels))
            outputs.append(read_out(nol, network, run.record))
            counters += c
        return NirRun(outputs={name: np.concatenate([o[name] for o in outputs], axis=1) for name in outputs[0]},
                      counters=counters, steps=steps, quantisation=nol.quantisation | {"latency_steps": nol.latency},
                      summary=program.summary(), programming=program.programming)

    def run_graph(self, program: GraphProgram, steps: int, inputs: dict | None = None):
        """Run a placed graph for ``steps`` steps: its :class:`~emulator.backends.loihi.graph_run.GraphRun` (every
        variable at every step) and the :class:`Counters` of what the chip did."""
        return run_program(program, steps, inputs)

    @staticmethod
    def _equilibrium(program, x, fixed: FixedState) -> LoihiEquilibrium:
        """Unit values in host floats: a pair's ``A - B``; the drive is the ``A`` neuron's ``sigma + b``."""
        x = np.asarray(x, np.float64)
        states, heard, drive = host_values(program.net, fixed)
        return LoihiEquilibrium([x] + states, [x] + heard, drive, fixed.steps, fixed.quiescent, fixed.trace,
                                fixed=fixed)


def compile_lif(network, chip, p: LoihiParameters, previous: LoihiProgram | None) -> LifProgram:
    """The network as LIF neurons: weights scaled so a rate ``r`` through ``w`` drives the current to ``w r``
    state units, biases in 13-bit mantissas with a per-layer exponent (the output's with room for a nudge
    of up to one state unit)."""
    schedule = getattr(network.spiking, "step_size", None)
    if getattr(schedule, "model", "constant") != "constant":
        raise ConfigError(f"spiking.step_size: {schedule.model!r} anneals the step size, but Lava's LIF fixes its "
                          f"decay du when a network is built (Lava 0.10 hangs when du is set at run time), so "
                          f"chip {chip.name!r} runs the constant step size of parameters.du; use "
                          "spiking.step_size={model: constant}, or anneal on the snn chip")
    unit, scale = p.vth << 6, lif_weight_scale(p.vth, p.du)
    down, exps, quant, bias_exp, mant = [], [], [], [], []
    for k, (w, b) in enumerate(zip(network.weights, network.biases)):
        w_int, q = quantise_weights(np.asarray(w) * scale, state_exp=0, weight_bits=p.weight_bits,
                                    max_clipped=p.max_clipped_fraction)
        e = lif_bias_exp(b, state_unit=unit, headroom=1.0 if k == len(network.weights) - 1 else 0.0)
        down.append(w_int)  # already on the grid Lava stores
        exps.append(q.weight_exp)
        quant.append(replace(q, bias_clipped_fraction=lif_bias_clipped_fraction(b, state_unit=unit, exp=e)))
        bias_exp.append(e)
        mant.append(quantise_lif_bias(b, state_unit=unit, exp=e))
    net = LifNet(down=tuple(down), weight_exp=tuple(exps), bias_mant=tuple(mant), bias_exp=tuple(bias_exp),
                 du=p.du, dv=p.dv, vth=p.vth)
    mapping = map_network(net.neurons, p.limits(), where=f"chip {chip.name!r}")
    return LifProgram(programming=Counters(weight_writes=_writes(net, previous)), net=net, mapping=mapping,
                      quantisation=tuple(quant), time_s=chip.time_per_op(),
                      biases=tuple(np.asarray(b, np.float64) for b in network.biases), spiking=network.spiking)


def relax_spiking(program: LifProgram, x, max_steps: int, nudge, init):
    """A phase of the LIF network: rates over the spike window; the nudge a bias current on the outputs."""
    net = program.net
    start = spiking.start_of(x, init)
    bias = list(net.bias)
    current = spiking.nudge_current(nudge, init, net.layers[-1])
    if current is not None:
        exp = net.bias_exp[-1]
        bias[-1] = quantise_lif_bias(program.biases[-1] + current, state_unit=net.state_unit, exp=exp) << exp
    window = spiking.window_of(program.spiking, max_steps)
    state = relax_lif(net, spiking.input_train(x, start, max_steps), window=window,
                      bias=[np.broadcast_to(b, (x.shape[0], b.shape[-1])) for b in bias],
                      init=None if init is None else init.neurons, core_of=program.core_of)
    states = [np.asarray(x, np.float64)] + spiking.rates(state.counts, window)
    drive = [(u + b) / net.state_unit for u, b in zip(state.u, state.bias)]
    eq = spiking.SpikingEquilibrium(states=states, heard=states, drive=drive, steps=state.steps,
                                    quiescent=state.quiescent, trace=state.trace, neurons=state,
                                    elapsed=start + max_steps, window=window)
    return eq, count(program, state)


def _writes(net: FixedNet | LifNet, previous: LoihiProgram | None) -> int:
    """Synapse and bias registers written.

    A weight of ``W_k`` is stored in every receiving neuron for every sending neuron of its
    unit pair: once per (sender, receiver) population, in both directions above the input.
    """
    old = previous.net if previous is not None else None
    pair = getattr(net, "pair", False)
    fresh = old is None or type(old) is not type(net) or old.layers != net.layers or getattr(old, "pair", False) != pair
    p = 2 if pair else 1
    writes = 0
    for k, w in enumerate(net.down):
        copies = p * (p if k else 1) * (2 if k else 1)
        writes += copies * (w.size if fresh else changed(w, old.down[k]))
    for k, b in enumerate(net.bias):
        writes += p * (b.size if fresh else changed(b, old.bias[k]))
    return writes
