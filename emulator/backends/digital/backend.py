"""The digital reference chip: an event-driven accelerator with weights in on-chip SRAM.

It runs the lazy relaxation exactly as specified (host floats, no quantisation) and counts
messages, synaptic ops, unit updates, steps and weight writes; ``chips/digital.yaml`` prices
them from Horowitz's 45 nm per-operation energies (ISSCC 2014). It also runs the network
feed-forward and backpropagates through it (:mod:`emulator.backends.digital.feedforward`), the
baseline EqProp is compared with, computes the arithmetic of weight updates on chip
(``gradient_macs``), and reports its programmed network exactly (:meth:`DigitalBackend.calibrate`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from emulator.backends.base import ArrayModel, Backend, Calibration, Program, patched
from emulator.backends.digital import feedforward as dense, relax as engine
from emulator.counters import Counters
from emulator.backends.digital.relax import LayeredNet, relax
from emulator.errors import CapacityError
from emulator.exchange.nir_run import NirRun, run_float
from emulator.network import synapses
from emulator.schema import spec

DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True, kw_only=True)
class DigitalParameters:
    precision: Literal["float32", "float64"] = spec("number format of weights and states", default="float32")
    sram_bytes: int = spec("on-chip memory for weights, biases and unit state; a tebibyte is far beyond any "
                           "chip's SRAM", ge=1, le=2**40)


@dataclass(frozen=True, kw_only=True)
class DigitalProgram(Program):
    """A layered network in the chip's SRAM.

    Attributes
    ----------
    net : LayeredNet
        Weights, biases, threshold and damping in the chip's number format.
    memory_bytes : int
        On-chip memory the network takes: weights, biases, and per unit its state, heard value and drive.
    sram_bytes : int
        The chip's on-chip memory, bytes.
    """

    net: LayeredNet
    memory_bytes: int
    sram_bytes: int

    def summary(self) -> dict:
        return {"memory_bytes": self.memory_bytes, "sram_bytes": self.sram_bytes,
                "precision": np.dtype(self.net.dtype).name}


class DigitalBackend(Backend):
    family = "digital"
    ops = ("steps", "unit_updates", "messages", "synaptic_ops", "weight_writes", "forward_macs", "backward_macs",
           "gradient_macs", "activation_writes", "activation_reads")
    Parameters = DigitalParameters
    capabilities = frozenset({"feedforward", "calibrate", "nir"})

    def run_nir(self, network, chip, x: dict, dt: float) -> NirRun:
        """NIR's float semantics: a spike or a graded value sent is a message, a neuron's step a unit update."""
        return run_float(network, x, dt, graded=True,
                         ops={"messages": ("spikes", "messages"), "synaptic_ops": ("synaptic_ops",),
                              "unit_updates": ("neuron_updates",), "steps": ("steps",)})

    def host_variants(self) -> dict:
        """Deliver every step's messages with a matrix product, or always with the event list."""
        return {"dense products": lambda: patched(engine, DENSE_ABOVE=-1.0, DENSE_ABOVE_BATCHED=-1.0),
                "event lists": lambda: patched(engine, DENSE_ABOVE=math.inf, DENSE_ABOVE_BATCHED=math.inf)}

    def check_fits(self, layers, chip) -> None:
        params = self.parameters_of(chip)
        memory = sram_needed(layers, params)
        if memory > params.sram_bytes:
            raise CapacityError(
                f"the network {list(layers)} needs {memory:,} bytes of on-chip memory but chip "
                f"{chip.name!r} has {params.sram_bytes:,} ({chip.where('parameters', 'sram_bytes')}); "
                "use smaller network.layers or a chip with more parameters.sram_bytes")

    def compile(self, network, chip, previous: DigitalProgram | None = None) -> DigitalProgram:
        self.check_fits(network.layers, chip)
        params = self.parameters_of(chip)
        net, changed = LayeredNet.stored(network.weights, network.biases, network.theta, network.damping,
                                         DTYPES[params.precision], None if previous is None else previous.net)
        return DigitalProgram(programming=Counters(weight_writes=changed), net=net,
                              memory_bytes=sram_needed(network.layers, params), sram_bytes=params.sram_bytes)

    def relax(self, program: DigitalProgram, x, *, max_steps, nudge=None, init=None):
        return relax(program.net, x, max_steps=max_steps, nudge=nudge, init=init)

    def count_update(self, program: DigitalProgram, products: int) -> Counters:
        """The chip accumulates each product into a gradient buffer: ``gradient_macs``."""
        return dense.update_counts(program.net.layers, products)

    def feedforward(self, program: DigitalProgram, x, *, drive_noise=None, output_drive: bool = False):
        return dense.feedforward(program.net, x, drive_noise, output_drive=output_drive)

    def backpropagate(self, program: DigitalProgram, states, error, *, error_at_drive: bool = False):
        return dense.backpropagate(program.net, states, error, error_at_drive=error_at_drive)

    def calibrate(self, program: DigitalProgram) -> tuple[Calibration, Counters]:
        """The stored weights and biases, exactly (no measurement: the chip holds the numbers)."""
        net = program.net
        arrays = tuple(ArrayModel(forward=w.astype(np.float64), backward=w.astype(np.float64), gain=np.ones(w.shape),
                                  full_scale=float(np.abs(w).max()), read_variance=None,
                                  row_edges=np.array([0, w.shape[1]]), col_edges=np.array([0, w.shape[0]]))
                       for w in net.down)
        return Calibration(arrays=arrays, bias=tuple(b.astype(np.float64) for b in net.bias)), Counters()


def sram_needed(layers, params: DigitalParameters) -> int:
    """On-chip memory of a network of these layer sizes, bytes: weights, biases, and per unit its state,
    heard value and drive, in the chip's number format."""
    units = sum(layers[1:])
    return np.dtype(DTYPES[params.precision]).itemsize * (synapses(layers) + units + 3 * units)

