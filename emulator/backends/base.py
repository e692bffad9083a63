"""The plug-in API of back-end families: :class:`Backend`, :class:`Program`, :class:`Equilibrium`, :class:`Nudge`.

A back-end family implements :class:`Backend`: ``compile`` maps host float parameters onto
the chip (checking its resources) and ``relax`` runs one relaxation phase on it, returning
the equilibrium and the :class:`~emulator.counters.Counters` of what the chip did. The
trainer, the energy accounting and the reports use nothing else, except
:meth:`Backend.contrastive_update`, the derivative of the chip's energy by its parameters that
the learning rule needs (the layered Hopfield energy's unless a family overrides it), and, for
the families that solve Ising problems (MaxCut workloads), :meth:`Backend.compile_ising` and
:meth:`Backend.anneal`.
"""
from __future__ import annotations

import abc
import contextlib
import weakref
from dataclasses import dataclass, field
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
