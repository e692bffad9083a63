"""The plug-in API of back-end families: :class:`Backend`, :class:`Program`, :class:`Equilibrium`, :class:`Nudge`.

A back-end family implements :class:`Backend`: ``compile`` maps host float parameters onto
the chip (checking its resources) and ``relax`` runs one relaxation phase on it, returning
the equilibrium and the :class:`~emulator.counters.Counters` of what the chip did. The
trainer, the energy accounting and the reports use nothing else, except
:meth:`Backend.contrastive_update`, the derivative of the chip's energy by its parameters that
the learning rule needs (the layered Hopfield energy's unless a family overrides it), and, for
the families that solve Ising problems (MaxCut workloads), :meth:`Backend.compile_ising` and
:meth:`Backend.anneal`.

Training algorithms other than EqProp use a family's optional :attr:`Backend.capabilities`:
``"feedforward"`` (:meth:`Backend.feedforward` and :meth:`Backend.backpropagate`: backprop on
the chip) and ``"calibrate"`` (:meth:`Backend.calibrate`: the programmed network as the chip
reports it, a :class:`Calibration`, from which a differentiable proxy of the chip is built).
"""
from __future__ import annotations

import abc
import contextlib
import math
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from emulator.counters import Counters
from emulator.errors import ConfigError
from emulator.network import contrastive_update, synapses
from emulator.schema import Source, build


class LayeredCouplings:
    """The shape of a layered network held as its couplings ``down``, a tuple of ``W_k`` of shape
    (n_{k+1}, n_k), for the back-ends' network classes to share."""

    down: tuple

    @cached_property
    def up(self) -> tuple:
        """``W_k^T`` of each coupling, (n_k, n_{k+1}): row ``i`` is the forward fan-out of unit ``i`` of layer ``k``.
        Made when first read: a network re-programmed every batch whose event loops read another layout (the
        Loihi family's int8 mantissas) never makes it. A family may hold its own ``up`` instead."""
        return tuple(np.ascontiguousarray(w.T) for w in self.down)

    @property
    def layers(self) -> tuple[int, ...]:
        """Units per layer, the input's first."""
        return (self.down[0].shape[1],) + tuple(w.shape[0] for w in self.down)

    def fan_out(self, k: int) -> int:
        """Receivers of one message (or spike) of layer ``k``: the next layer, and the previous one unless it is
        the input."""
        sizes = self.layers
        return (sizes[k + 1] if k + 1 < len(sizes) else 0) + (sizes[k - 1] if k >= 2 else 0)


@dataclass(frozen=True)
class Nudge:
    """Nudging of the output layer towards ``target`` (batch, n_L) with strength ``beta`` (|beta| < 1)."""

    beta: float
    target: np.ndarray


@dataclass(frozen=True)
class Equilibrium:
    """Outcome of a relaxation of ``B`` samples, in host floats.

    A family may subclass it to carry the chip state a nudged phase continues from.

    Attributes
    ----------
    states, heard : list of (B, n_k) arrays, layers 0..L
        Unit states and the values their neighbours last heard (layer 0 is the input).
    drive : list of (B, n_k) arrays, layers 1..L
        What each unit has integrated from the messages it received, plus its bias.
    steps : (B,) int64
        Steps each sample ran.
    quiescent : (B,) bool
        True where the sample ended at quiescence (no message, and no unit left to send),
        False where it hit the step limit.
    trace : (max_steps,) int64
        Messages sent at each step, summed over the batch.
    """

    states: list
    heard: list
    drive: list
    steps: np.ndarray
    quiescent: np.ndarray
    trace: np.ndarray

    @property
    def output(self) -> np.ndarray:
        """The output layer's states, (B, n_L)."""
        return self.states[-1]


class Memory(NamedTuple):
    """Host memory a back-end takes for a network, bytes: an estimate from the sizes alone, made before
    anything is allocated (see :meth:`Backend.memory`).

    Attributes
    ----------
    program : int
        One program of the network on the chip.
    relaxation : int
        One relaxation of a batch, with what it logs.
    """

    program: int
    relaxation: int


class Converter(NamedTuple):
    """A data converter (DAC or ADC) as a proxy of the chip models it: clip to ``[low, high]``, then
    round to a multiple of ``1 / steps`` (``steps`` per unit of the converted quantity).

    ``steps = 0`` is an exact converter: neither clipped nor rounded (the default).
    """

    steps: float = 0.0
    low: float = -math.inf
    high: float = math.inf

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """The converted values of ``v`` (any shape)."""
        if self.steps == 0.0:
            return v
        return np.rint(np.clip(v, self.low, self.high) * self.steps) / self.steps

    def clipped(self, v: np.ndarray) -> np.ndarray:
        """``v`` clipped to the range, not rounded (as it is, for an exact converter)."""
        return v if self.steps == 0.0 else np.clip(v, self.low, self.high)

    def passes(self, v: np.ndarray) -> np.ndarray:
        """The straight-through derivative at ``v``: 1.0 inside ``[low, high]`` (everywhere, exact), 0.0 where it clips."""
        if self.steps == 0.0:
            return np.ones_like(v)
        return ((v >= self.low) & (v <= self.high)).astype(v.dtype)


@dataclass(frozen=True)
class ArrayModel:
    """One weight matrix ``W_k`` of a programmed network as the chip reports it (see :class:`Calibration`).

    Layer ``k`` drives a *forward* read, sensed by layer ``k+1``; layer ``k+1`` drives a *backward*
    read (the feedback ``W_k^T s_{k+1}``), sensed by layer ``k``. Every matrix is shaped like the
    host's ``W_k``, ``(n_{k+1}, n_k)``, in drive units per state unit.

    Attributes
    ----------
    forward, backward : (n_{k+1}, n_k) float64
        The weights a forward and a backward read sense (equal, unless e.g. IR drop differs
        between the two directions).
    gain : (n_{k+1}, n_k) float64
        How a change of the host's weight moves the weights the chip reads (1 on an ideal chip;
        a device's measured conductance over its target on an analog one; 0 where the weight clips).
    full_scale : float
        The weight of a cell at full scale (what read noise is stated relative to), drive units.
    read_variance : (n_{k+1}, n_k) float64 or None
        Variance of the read noise of each weight, per read, drive units squared; None: noiseless.
    row_edges : (n_row_blocks + 1,) int64
        Blocks of layer ``k`` whose forward sums are converted apart (a tile's partial sums),
        ``[0, ..., n_k]``.
    col_edges : (n_col_blocks + 1,) int64
        Blocks of layer ``k+1`` whose backward sums are converted apart, ``[0, ..., n_{k+1}]``.
    adc_forward, adc_backward : Converter
        The converters of a block's partial sums, forward and backward.
    """

    forward: np.ndarray
    backward: np.ndarray
    gain: np.ndarray
    full_scale: float
    read_variance: np.ndarray | None
    row_edges: np.ndarray
    col_edges: np.ndarray
    adc_forward: Converter = Converter()
    adc_backward: Converter = Converter()


@dataclass(frozen=True)
class Calibration:
    """A programmed network as the chip reports it after programming: what a differentiable proxy of
    the chip is built from (:meth:`Backend.calibrate`).

    Attributes
    ----------
    arrays : tuple of L :class:`ArrayModel`
        Weight matrix ``k`` as the chip reads it.
    bias : tuple of L (n_{k+1},) float64
        Biases of layers 1..L, drive units.
    dac : Converter
        The converter of a unit's state before it drives a read (the input's too).
    """

    arrays: tuple[ArrayModel, ...]
    bias: tuple[np.ndarray, ...]
    dac: Converter = Converter()


#: float64 copies of the weights a program keeps, by default: as stored, their feedback copies, and the
#: conductances, gains and noise variances of an analog array
PROGRAM_COPIES = 12
#: float64 arrays per unit and sample a relaxation keeps, by default: states, heard values, drives, their
#: changes, what was sent, the nudge, scratch
STATE_ARRAYS = 16


@dataclass(frozen=True)
class Program:
    """A network as compiled onto a chip.

    Attributes
    ----------
    programming : Counters
        Operations spent writing this program onto the chip (e.g. ``weight_writes``);
        counted as training cost each time the trainer re-programs the chip.
    """

    programming: Counters = field(default_factory=Counters)

    def summary(self) -> dict:
        """What the report shows of the mapping (memory, cores, ...)."""
        return {}

    @property
    def uses_theta(self) -> bool:
        """Whether the lazy threshold ``eqprop.theta`` acts on this program. False where spikes carry no value
        to threshold (binary spikes): a run then relaxes no theta = 0 copy to compare its traffic with."""
        return True


@dataclass(frozen=True)
class Deployment:
    """What a deploy target (:attr:`Backend.deploy_targets`) wrote, and what its check found.

    Attributes
    ----------
    summary : str
        One line for the user: what was written where.
    check : dict or None
        The comparison of the deployed network with the emulator's, if the target ran one.
    passed : bool or None
        Whether the deployed network behaved as the emulator's; None if not checked.
    problem : str
        What differed, when it did not pass.
    """

    summary: str
    check: dict | None = None
    passed: bool | None = None
    problem: str = ""


class Backend(abc.ABC):
    """One substrate family. Subclasses set ``family``, ``ops`` and ``Parameters``."""

    family: str
    #: names of the operations ``relax`` and ``compile`` count; a chip file prices each of them
    ops: tuple[str, ...]
    #: schema dataclass of the ``parameters`` section of this family's chip files
    Parameters: type
    #: other quantities ``relax`` measures, not priced per op (e.g. a critical path in seconds,
    #: or per-core vectors of the counts)
    measures: tuple[str, ...] = ()
    #: frameworks a trained network of this family deploys to (``deploy --to NAME``):
    #: ``NAME -> function(backend, run, data, out, *, samples, hardware, on_line) -> Deployment``
    deploy_targets: dict = {}
    #: what the family can do beyond relaxing: ``"feedforward"`` (:meth:`feedforward` and
    #: :meth:`backpropagate`), ``"calibrate"`` (:meth:`calibrate`) and ``"nir"`` (:meth:`run_nir`)
    capabilities: frozenset[str] = frozenset()
    #: the model whose parameters the family relaxes: a network trained on a family of another model
    #: means something else here, so naive deployment (``evaluate``) between the two is refused
    model: str = "a layered Hopfield energy of hard-sigmoid units"

    def host_variants(self) -> dict:
        """The host's alternative ways of computing the same thing, which must not change a count.

        Returns ``name -> zero-argument context manager factory``; inside the context the
        family uses that variant (e.g. a dense product instead of an event list). The back-end
        contract (:func:`emulator.testing.check_backend`) relaxes under each and compares the
        counters. None by default.
        """
        return {}

    def upgrade(self, parameters: dict) -> dict:
        """A chip's ``parameters`` as an earlier version of this family wrote them (in a checkpoint),
        in today's layout; families whose layout changed override it. As they are by default."""
        return parameters

    def parameters_of(self, chip):
        """The chip's ``parameters`` section validated against :attr:`Parameters` (:meth:`build_parameters`),
        built once per chip object: a training compiles at every batch."""
        built = self.__dict__.setdefault("_built_parameters", {})
        key = id(chip)
        if key not in built or built[key][0]() is not chip:  # a dead chip's id may be reused
            forget = weakref.ref(chip, lambda _, key=key: built.pop(key, None))
            built[key] = forget, self.build_parameters(chip)
        return built[key][1]

    def build_parameters(self, chip):
        """Validate the chip's ``parameters`` section against :attr:`Parameters`; families that fill in
        defaults or check across keys override it."""
        source = chip.origin or Source(chip.name)
        return build(self.Parameters, chip.parameters, source, ("parameters",))

    def check_fits(self, layers, chip) -> None:
        """Raise :class:`~emulator.errors.CapacityError`, naming the limit, if a network of these layer sizes
        cannot fit ``chip``; from the sizes alone, before the network is allocated. By default nothing:
        ``compile`` checks what it maps."""

    def memory(self, layers, chip, *, batch: int, max_steps: int) -> Memory:
        """Host memory of a program of a network of ``layers`` and of one relaxation of ``batch`` samples for up
        to ``max_steps`` steps, estimated from the sizes alone (before anything is allocated).

        By default :data:`PROGRAM_COPIES` float64 copies of the weights, and :data:`STATE_ARRAYS` float64
        arrays per unit and sample plus a trace entry per step and sample; a family that keeps more
        (per-core logs of every step) adds it.
        """
        return Memory(program=8 * PROGRAM_COPIES * synapses(layers),
                      relaxation=8 * batch * (STATE_ARRAYS * sum(layers) + max_steps))

    def run_nir(self, network, chip, x: dict, dt: float):
        """Run a NIR graph (a :class:`~emulator.exchange.nir_graph.NirNetwork`) on ``chip`` for a batch of inputs
        ``x`` (``Input`` name -> (T, B, n) values) at ``dt`` seconds per step; a
        :class:`~emulator.exchange.nir_run.NirRun`. Families with the ``"nir"`` capability implement it."""
        raise NotImplementedError(f"back-end family {self.family!r} does not run NIR graphs")

    def emulated_seconds(self, counters, chip) -> float:
        """Emulated time of ``counters``: by default every op in sequence, ``sum count * time``."""
        t = chip.time_per_op()
        return sum(counters.get(op, 0) * t[op] for op in sorted(t))  # fixed order: same bits

    def contrastive_update(self, a, b, scale: float):
        """EqProp's local rule between equilibria ``a`` and ``b``: ``scale * (-dE/dtheta(a) + dE/dtheta(b))``,
        batch mean, shaped like the weights and biases. By default the layered Hopfield energy's
        ``s_{k+1} s_k^T`` and ``s_{k+1}`` on the equilibria's states; a chip whose energy has
        other parameter derivatives (e.g. oscillators) overrides it."""
        return contrastive_update(a.states, b.states, scale)

    def count_update(self, program: Program, products: int) -> Counters:
        """Ops the chip spends on the arithmetic of a weight update built from ``products`` per-sample outer
        products ``s_{k+1} s_k^T`` (and bias terms) of every layer: 2 per sample for EqProp (two phases),
        1 for backprop. By default none: the host computes the update and the chip only stores it (the
        writes ``compile`` counts)."""
        return Counters()

    def feedforward(self, program: Program, x: np.ndarray, *, drive_noise=None,
                    output_drive: bool = False) -> tuple[list, Counters]:
        """One feed-forward pass ``s_{k+1} = rho(W_k s_k + b_k [+ noise_{k+1}])`` of inputs ``x`` (B, n_0),
        without feedback or relaxation (capability ``"feedforward"``).

        Parameters
        ----------
        drive_noise : list of (B, n_k) arrays, layers 1..L, optional
            Added to each unit's drive (noise-injection training).
        output_drive : bool
            Give the output layer's drive ``h_L`` (the logits) in place of its state ``rho(h_L)``.

        Returns
        -------
        (states, counters) : the states of layers 0..L, (B, n_k) each, and what the chip did.
        """
        raise NotImplementedError(f"back-end family {self.family!r} has no feed-forward pass")

    def backpropagate(self, program: Program, states, error: np.ndarray, *, error_at_drive: bool = False):
        """Backpropagation through the feed-forward pass that gave ``states`` (capability ``"feedforward"``).

        Parameters
        ----------
        states : list of (B, n_k) arrays, layers 0..L
            As :meth:`feedforward` returned them.
        error : (B, n_L) array
            ``dL/ds_L`` of each sample; with ``error_at_drive``, ``dL/dh_L`` (the output's slope not applied).

        Returns
        -------
        (dW, db, counters) : ``dL/dtheta`` averaged over the batch, shaped like the parameters, and
        what the chip did.
        """
        raise NotImplementedError(f"back-end family {self.family!r} has no backward pass")

    def calibrate(self, program: Program) -> tuple[Calibration, Counters]:
        """The programmed network as the chip reports it (capability ``"calibrate"``), and the ops of
        measuring it."""
        raise NotImplementedError(f"back-end family {self.family!r} does not report its programmed network")

    def compile_ising(self, graph, chip, *, theta: float = 0.0) -> Program:
        """Map the Ising problem of MaxCut on ``graph`` (minimise ``sum_(i,j) w_ij s_i s_j``) onto ``chip``.

        The MaxCut task passes the graph with its weights divided by their mean magnitude, the
        unit of the anneal's schedule (:mod:`emulator.tasks.maxcut`).

        Families that do not solve Ising problems keep this default, which says so."""
        raise ConfigError(f"chip {chip.name!r} (back-end family {self.family!r}) does not solve Ising problems; "
                          "run MaxCut workloads on a chip of a family that does, such as oim (--chip oim-cmos)")

    def anneal(self, program: Program, schedule, *, runs: int, seed: int):
        """Anneal ``runs`` independent times from seeded random starts with ``schedule`` (a workload's
        ``anneal`` section); returns ``(spins (runs, n) in {-1, +1}, Counters)``."""
        raise NotImplementedError(f"back-end family {self.family!r} does not anneal")

    @abc.abstractmethod
    def compile(self, network, chip, previous: Program | None = None) -> Program:
        """Map ``network`` (host floats) onto ``chip``; ``previous`` is the program it replaces."""

    @abc.abstractmethod
    def relax(self, program: Program, x: np.ndarray, *, max_steps: int, nudge=None, init=None):
        """Relax inputs ``x`` (batch, n_0); returns ``(Equilibrium, Counters)``."""


@contextlib.contextmanager
def patched(module, **values):
    """Set module-level constants of ``module`` (e.g. a kernel-choice threshold) inside the context."""
    old = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)
