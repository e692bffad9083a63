"""Oscillator Ising machines (OIM): clock-less relaxation of coupled phase oscillators.

A layered EqProp network is mapped onto oscillators as in Wang, Wanjura & Marquardt (2024) and
Gower (2025):

- every relaxing unit (layers 1..L) is one oscillator with phase ``phi``; its read-out, the
  unit's *state*, is ``s = cos(phi)`` in [-1, 1];
- a weight ``W_k[i, j]`` (k >= 1) is the coupling ``J`` between oscillator ``i`` of layer
  ``k+1`` and oscillator ``j`` of layer ``k`` (symmetric, as the energy requires);
- the input is clamped oscillators (Wang, Wanjura & Marquardt's "inputs as clamped phases"):
  pixel ``x_j`` in [0, 1] holds input oscillator ``j`` at phase ``phi_in_j = x_j * input_phase_scale``
  (default pi/2: a blank pixel in phase with the biases, a full one in quadrature), coupled to
  layer 1 by ``W_0``, so layer 1 feels the complex field ``W_0 exp(i phi_in) + b_1``; the biases
  ``b_k`` are references at ``psi = 0`` (a negative one is a reference at ``psi = pi``);
- the free phase starts with every phase reset to 0 and relaxes by the overdamped gradient
  flow of :mod:`emulator.backends.oim.oscillators`;
- the nudge is one more injected reference per output, of strength ``beta`` and phase
  ``psi_j = (1 - y_j) pi/2``: the energy gains ``beta * C`` with
  ``C = -sum_j cos(phi_j - psi_j)``, which pulls the target output to ``phi = 0`` (``s = 1``)
  and the others to ``phi = pi/2`` (``s = 0``): the targets are the one-hot ``y`` in read-out
  units, as in the reference model. It is what the chip can do physically, and it needs no
  read-out of the free phase.

Why these phases. If every field were real (inputs and biases all at ``psi = 0`` or pi), the
equilibria reached from a common start would be *collinear* (every phase 0 or pi), and there a
real nudge only changes field magnitudes: no phase moves and EqProp's update is exactly 0. An
earlier mapping injected the input as amplitudes ``x_j`` at one fixed phase (pi/4): then a
hidden oscillator's field is ``a exp(i pi/4) + b`` with a single scalar ``a = W_0 x``, so its
feed-forward read-out is one fixed, non-monotonic function of ``a`` (a sign unit while
``b = 0``), and a blank pixel drives nothing. Clamped input phases give every hidden oscillator
two independent projections of the image (blank pixels drive the in-phase part, inked ones the
quadrature part), and learning became faster and steadier. A cost with targets at 0 and pi
would put a wrong output sitting at ``phi = 0`` on the unstable point of its nudge, where the
torque, and so the update, vanishes: targets at 0 and pi/2 keep every torque finite. The
measurements behind both choices are in ``benchmarks/RESULTS.md``, section "Why the phase
mapping" (``benchmarks/experiments/oim_mapping.py`` compares mappings on an idealised XY network).
Phases start at 0 (the biases' reference) before a free phase.

The learning rule is ``-dE/dtheta`` of this energy (:meth:`OimBackend.contrastive_update`):
``cos(phi_i - phi_in_j)`` for the input weights, ``cos(phi_i - phi_j)`` for the couplings
between oscillators and ``s = cos(phi)`` for the biases; the argmax of ``s`` over the outputs
is the class. A test checks it against finite differences of the free equilibrium's cost.

The workload's ``eqprop.theta`` (state units, over the [0, 1] range of the reference model) is
``theta * pi`` radians of phase here (the read-out's range, 0 to pi). The workload's step
budgets become time limits: ``max_steps * time_per_step`` time units (``1 / coupling_rate``).
``eqprop.damping`` has no meaning on oscillators and is not used.

**Ising problems** (MaxCut workloads): one oscillator per node, couplings ``J_ij = -w_ij``
(antiferromagnetic, so that neighbours' phases part), no biases. Each of ``runs`` anneals
starts from random phases (every oscillator broadcasts its first phase: one event each),
lasts ``duration`` time units with phase noise falling linearly to 0 and SHIL ramping up (it
pulls every phase to 0 or pi), and ends with one read-out of every phase: the spin is the
sign of ``cos(phi)``.

Counters: ``oscillator_seconds`` (oscillators running, the clamped inputs included, x settling
time, in s), ``coupling_events``
(phase broadcasts, plus one per input oscillator when its phase is clamped before a free phase,
and one per nudged output when a nudge is injected), ``coupling_ops`` (events x fan-out),
``phase_readouts`` (every relaxing oscillator once per relaxation: the trainer reads all of
them; the clamped inputs are known) and ``weight_writes`` (couplings and biases
programmed). ``settle_s`` (the settling times, summed over samples) is the emulated time.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from emulator.backends.base import Backend, Equilibrium, Program
from emulator.backends.loops import changed
from emulator.counters import Counters
from emulator.backends.oim.oscillators import Couplings, PhaseState, Settings, relax_phases
from emulator.errors import CapacityError, DivergenceError
from emulator.network import synapses
from emulator.schema import SEED_MAX, spec


@dataclass(frozen=True, kw_only=True)
class OimParameters:
    max_oscillators: int = spec("oscillators on the chip (Moy 2022: 1,968)", ge=1, le=2**20)
    max_couplings: int = spec("programmable coupling cells (oscillator pairs and input injections)", ge=1,
                              le=2**40)
    coupling_rate: float = spec("phase velocity per unit of coupling, 1/s: one time unit is 1/coupling_rate "
                                "seconds; from a slow mechanical oscillator's 1/s to beyond any oscillator's THz",
                                ge=1, le=1e12)
    time_per_step: float = spec("time units one step of the workload's step budget buys; the integrator's work "
                                "grows with it", default=0.5, gt=0, le=10)
    input_phase_scale: float = spec("phase of an input oscillator clamped to a pixel of 1, radians (a pixel x "
                                    "is clamped at x * input_phase_scale; the biases and the nudge are at psi = 0)",
                                    default=float(np.pi / 2), gt=0, le=np.pi)
    shil: float = spec("second-harmonic injection-locking strength S (energy units); at 100 it pins every phase "
                       "at once and the integrator's steps shrink as 1 / S", default=0.0, ge=0, le=100)
    shil_ramp: float = spec("time units over which S ramps up from 0 (0: constant)", default=0.0, ge=0, le=1000)
    phase_noise: float = spec("phase noise, radians per sqrt(time unit) (0: noiseless); at 1 a phase diffuses a "
                              "radian per time unit, as far as the couplings turn it: the read-out is noise",
                              default=0.0, ge=0, le=1)
    settle_tolerance: float = spec("a relaxation has settled when no phase moves faster than this, "
                                   "radians per time unit", default=1e-3, gt=0, le=1)
    step_tolerance: float = spec("largest local integration error of a phase per step, radians; the steps "
                                 "grow as its cube root, and below 1e-6 a relaxation takes 10 times the steps "
                                 "of the shipped 1e-3", default=1e-4, ge=1e-6, lt=0.1)
    max_phase_step: float = spec("largest phase change in one integration step, radians; the steps grow as its "
                                 "inverse", default=0.1, ge=0.01, le=1.0)
    seed: int = spec("seed of the phase noise", default=0, ge=0, le=SEED_MAX)


@dataclass(frozen=True, kw_only=True)
class OscillatorProgram(Program):
    """Oscillators and their couplings on the chip, as a layered network or an Ising problem share them.

    Attributes
    ----------
    couplings : Couplings
        The symmetric couplings ``J`` (n, n) between the ``n`` oscillators that relax, energy units.
    fan_out : (n,) int64
        Receivers of each oscillator's broadcast.
    settings : Settings
        Integration and laziness settings (times in units of ``1 / coupling_rate``).
    coupling_rate : float
        Phase velocity per unit of coupling, 1/s: one time unit is ``1 / coupling_rate`` seconds.
    seed : int
        The chip's seed of the phase noise and of the anneals' random starts.
    max_oscillators, max_couplings : int
        The chip's limits, for the report.
    """

    couplings: Couplings
    fan_out: np.ndarray
    settings: Settings
    coupling_rate: float
    seed: int
    max_oscillators: int
    max_couplings: int

    @property
    def n(self) -> int:
        return self.couplings.n

    @property
    def n_running(self) -> int:
        """Oscillators running during a relaxation or anneal."""
        return self.n


@dataclass(frozen=True, kw_only=True)
class OimProgram(OscillatorProgram):
    """A layered network on oscillators (``couplings`` join the oscillators of layers 1..L,
    concatenated, in blocks; ``settings`` leave ``t_max`` and ``n_bins`` to each relaxation).

    Attributes
    ----------
    w_in : (n_1, n_0) float64
        Couplings of the clamped input oscillators to layer 1 (``W_0``), energy units.
    bias : (n,) float64
        Biases of the oscillators of layers 1..L, references at ``psi = 0``, energy units.
    layers : tuple of int
        Layer sizes ``n_0..n_L``.
    time_per_step : float
        Time units one step of the workload's step budget buys.
    input_phase_scale : float
        Phase of an input oscillator clamped to a pixel of 1, radians (see :func:`input_phases`).
    """

    w_in: np.ndarray
    bias: np.ndarray
    layers: tuple
    time_per_step: float
    input_phase_scale: float

    @property
    def edges(self) -> np.ndarray:
        """Offsets of the layers 1..L in the oscillator vector, (L + 1,)."""
        return np.concatenate([[0], np.cumsum(self.layers[1:])])

    @property
    def n_running(self) -> int:
        """Oscillators running during a relaxation: layers 1..L and the clamped inputs."""
        return self.n + self.layers[0]

    @property
    def n_couplings(self) -> int:
        return int(self.w_in.size + sum(m.size for _, _, m in self.couplings.blocks) // 2)

    def summary(self) -> dict:
        s = self.settings
        return {"oscillators": self.n_running, "clamped_inputs": self.layers[0],
                "max_oscillators": self.max_oscillators,
                "couplings": self.n_couplings, "max_couplings": self.max_couplings,
                "input_phases": f"x * {self.input_phase_scale:.4g} rad", "read_out": "s = cos(phi)",
                "theta_rad": s.theta, "shil": s.shil, "shil_ramp": s.shil_ramp,
                "phase_noise": s.noise,
                "coupling_rate_per_s": self.coupling_rate, "time_per_step": self.time_per_step,
                "integrator": "Bogacki-Shampine 3(2), per-sample step control",
                "eqprop.damping": "unused (overdamped continuous-time dynamics)"}


@dataclass(frozen=True, kw_only=True)
class OimEquilibrium(Equilibrium):
    """An :class:`Equilibrium` whose states are the read-outs ``cos(phi)``, with the phases.

    ``steps`` is the time each sample ran in the workload's steps (``ceil(t / time_per_step)``),
    ``trace`` the broadcasts per such step; ``quiescent`` means settled.

    Attributes
    ----------
    phases : (B, n) float64
        Live phases of the oscillators of layers 1..L, radians (not wrapped).
    heard_phases : (B, n) float64
        The phases they last broadcast, radians.
    settle_time : (B,) float64
        Time each sample ran, time units (``1 / coupling_rate``).
    input_phase_scale : float
        Phase of an input clamped to a pixel of 1, radians.
    input_field : (B, n_1) complex128
        Field the clamped inputs put on layer 1 (:func:`input_field`), energy units; kept so that
        a nudged phase continuing this equilibrium on the same program does not compute it again.
    input_couplings : (n_1, n_0) float64
        The program's ``w_in`` that made ``input_field`` (compared by identity before reuse).
    """

    phases: np.ndarray
    heard_phases: np.ndarray
    settle_time: np.ndarray
    input_phase_scale: float
    input_field: np.ndarray
    input_couplings: np.ndarray


@dataclass(frozen=True, kw_only=True)
class IsingProgram(OscillatorProgram):
    """A MaxCut problem on oscillators: ``J = -W`` of the graph, one oscillator per node (the anneal
    sets the schedule of ``settings``)."""

    def summary(self) -> dict:
        return {"oscillators": self.n, "max_oscillators": self.max_oscillators,
                "couplings": int(self.fan_out.sum()) // 2, "max_couplings": self.max_couplings,
                "read_out": "spin = sign(cos(phi))", "theta_rad": self.settings.theta,
                "coupling_rate_per_s": self.coupling_rate,
                "integrator": "Bogacki-Shampine 3(2) with Euler-Maruyama phase noise, per-run step control"}


def input_phases(x: np.ndarray, scale: float) -> np.ndarray:
    """Phases, radians, at which pixels ``x`` in [0, 1] clamp the input oscillators: ``x * scale``."""
    return np.asarray(x, np.float64) * scale


def input_field(program: "OimProgram", x: np.ndarray) -> np.ndarray:
    """The complex field the clamped inputs put on layer 1, ``W_0 exp(i phi_in)``, (B, n_1): one
    real product of the stacked cos and sin (``W_0`` is real)."""
    phi = input_phases(x, program.input_phase_scale)
    parts = np.concatenate([np.cos(phi), np.sin(phi)]) @ program.w_in.T
    return parts[:len(phi)] + 1j * parts[len(phi):]


def _cos_diff_change(upper_a, lower_a, upper_b, lower_b):
    """``sum_b cos(upper_a_bi - lower_a_bj) - cos(upper_b_bi - lower_b_bj)``, (n_upper, n_lower), phases
    (B, n_upper) and (B, n_lower): one matrix product of the stacked cos and sin
    (``cos(u - l) = cos u cos l + sin u sin l``); a lower layer both share (the clamped inputs,
    the same array) is factored out, halving the product."""
    if lower_a is lower_b:
        upper = np.concatenate([np.cos(upper_a) - np.cos(upper_b), np.sin(upper_a) - np.sin(upper_b)])
        lower = np.concatenate([np.cos(lower_a), np.sin(lower_a)])
    else:
        upper = np.concatenate([np.cos(upper_a), np.sin(upper_a), -np.cos(upper_b), -np.sin(upper_b)])
        lower = np.concatenate([np.cos(lower_a), np.sin(lower_a), np.cos(lower_b), np.sin(lower_b)])
    return upper.T @ lower


def _split(values, like) -> list:
    """(B, n) -> per layer 1..L, with the sizes of ``like[1:]``."""
    edges = np.cumsum([0] + [s.shape[1] for s in like[1:]])
    return [values[:, a:b] for a, b in zip(edges[:-1], edges[1:])]


class OimBackend(Backend):
    family = "oim"
    ops = ("oscillator_seconds", "coupling_events", "coupling_ops", "phase_readouts", "weight_writes")
    measures = ("settle_s",)
    Parameters = OimParameters
    model = "an XY energy of phase oscillators, read out as cos(phi)"

    def check_fits(self, layers, chip) -> None:
        p = self.parameters_of(chip)
        oscillators = sum(layers)  # one per relaxing unit; the clamped inputs run too
        if oscillators > p.max_oscillators:
            raise CapacityError(
                f"the network {list(layers)} needs {oscillators:,} oscillators (one per unit, the clamped inputs "
                f"included) but chip {chip.name!r} has {p.max_oscillators:,} "
                f"({chip.where('parameters', 'max_oscillators')}); use smaller network.layers or a chip with more "
                "parameters.max_oscillators")
        if synapses(layers) > p.max_couplings:
            raise CapacityError(
                f"the network {list(layers)} needs {synapses(layers):,} coupling cells but chip {chip.name!r} has "
                f"{p.max_couplings:,} ({chip.where('parameters', 'max_couplings')}); use smaller "
                "network.layers or a chip with more parameters.max_couplings")

    def compile(self, network, chip, previous: OimProgram | None = None) -> OimProgram:
        self.check_fits(network.layers, chip)
        p = self.parameters_of(chip)
        layers = tuple(network.layers)
        n = sum(layers[1:])  # relaxing oscillators
        for w, b in zip(network.weights, network.biases):
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise DivergenceError("a coupling or bias is NaN or infinite: lower training.learning_rates, "
                                      "or enable training.spectral_norm")
        edges = np.concatenate([[0], np.cumsum(layers[1:])])
        blocks = []
        for k, w in enumerate(network.weights[1:], start=1):  # W_k couples layer k+1 (rows) and layer k
            upper, lower = slice(edges[k], edges[k + 1]), slice(edges[k - 1], edges[k])
            w = np.asarray(w, np.float64)
            blocks += [(upper, lower, w), (lower, upper, np.ascontiguousarray(w.T))]
        couplings = Couplings(n, tuple(blocks))
        fan_out = np.concatenate([np.full(size, (layers[k + 1] if k + 1 < len(layers) else 0)
                                          + (layers[k - 1] if k >= 2 else 0), np.int64)
                                  for k, size in enumerate(layers[1:], start=1)])
        settings = Settings(theta=float(np.pi * network.theta), shil=p.shil, shil_ramp=p.shil_ramp,
                            noise=p.phase_noise, settle_tolerance=p.settle_tolerance,
                            step_tolerance=p.step_tolerance, max_phase_step=p.max_phase_step)
        w_in = np.asarray(network.weights[0], np.float64)
        bias = np.concatenate([np.asarray(b, np.float64) for b in network.biases])
        program = OimProgram(couplings=couplings, w_in=w_in, bias=bias, layers=layers, fan_out=fan_out,
                             settings=settings, time_per_step=p.time_per_step,
                             input_phase_scale=p.input_phase_scale,
                             coupling_rate=p.coupling_rate,
                             seed=p.seed, max_oscillators=p.max_oscillators, max_couplings=p.max_couplings)
        return replace(program, programming=Counters(weight_writes=_writes(program, previous)))

    def relax(self, program: OimProgram, x, *, max_steps, nudge=None, init=None):
        x = np.asarray(x, np.float64)
        layers = program.layers
        if x.ndim != 2 or x.shape[1] != layers[0]:
            raise ValueError(f"x must have shape (batch, {layers[0]}), got {x.shape}")
        batch = x.shape[0]
        if nudge is not None and np.shape(nudge.target) != (batch, layers[-1]):
            raise ValueError(f"nudge.target must have shape ({batch}, {layers[-1]}), got {np.shape(nudge.target)}")
        if init is not None and init.phases.shape[0] != batch:
            raise ValueError(f"init holds {init.phases.shape[0]} samples but x has {batch}")
        if init is not None and init.input_couplings is program.w_in and np.array_equal(init.states[0], x):
            field = init.input_field  # a nudged phase continuing a free one: same inputs, same field
        else:
            field = input_field(program, x)
        bias = np.broadcast_to(program.bias, (batch, program.n)).astype(np.complex128)
        bias[:, :layers[1]] += field
        counters = Counters(oscillator_seconds=0.0, coupling_events=0, coupling_ops=0, phase_readouts=0)
        if nudge is not None:
            bias[:, program.n - layers[-1]:] += nudge.beta * np.exp(1j * (np.pi / 2) * (1.0 - np.asarray(nudge.target, np.float64)))
            counters += {"coupling_events": batch * layers[-1], "coupling_ops": batch * layers[-1]}
        if init is None:
            phi0, heard0 = np.zeros((batch, program.n)), None
            n_input = batch * layers[0]  # every input oscillator broadcasts its clamped phase once
            counters += {"coupling_events": n_input, "coupling_ops": n_input * layers[1]}
        else:
            phi0, heard0 = init.phases, init.heard_phases
        settings = replace(program.settings, t_max=max_steps * program.time_per_step,
                           bin_width=program.time_per_step, n_bins=max_steps)
        rng = _noise_generator(program.seed, x, nudge) if settings.noise > 0 else None
        with np.errstate(over="ignore", invalid="ignore"):
            state = relax_phases(program.couplings, bias, phi0, settings, heard0=heard0, rng=rng)
        if not np.isfinite(state.phi).all():
            raise DivergenceError("the oscillator phases became NaN or infinite: lower training.learning_rates, "
                                  "or enable training.spectral_norm")
        counters += count(program, state)
        return self._equilibrium(program, x, bias, field, state), counters

    def contrastive_update(self, a: OimEquilibrium, b: OimEquilibrium, scale: float):
        """EqProp's rule from ``-dE/dtheta``, batch mean: ``cos(phi_i - phi_j) = cos cos + sin sin``
        for the couplings, to the clamped inputs (``phi_j = phi_in_j``) as between oscillators, and
        ``s = cos(phi)`` for the biases (psi = 0). ``a`` and ``b`` must have the same inputs."""
        n = a.phases.shape[0]
        phi_in = input_phases(a.states[0], a.input_phase_scale)
        layers_a, layers_b = [phi_in] + _split(a.phases, a.states), [phi_in] + _split(b.phases, b.states)
        dw = [scale * _cos_diff_change(layers_a[k], layers_a[k - 1], layers_b[k], layers_b[k - 1]) / n
              for k in range(1, len(layers_a))]
        db = tuple(scale * (np.cos(pa) - np.cos(pb)).mean(axis=0) for pa, pb in zip(layers_a[1:], layers_b[1:]))
        return tuple(dw), db

    def compile_ising(self, graph, chip, *, theta: float = 0.0) -> IsingProgram:
        p = self.parameters_of(chip)
        for need, have, what, key in ((graph.n, p.max_oscillators, "oscillators (one per node)", "max_oscillators"),
                                      (graph.m, p.max_couplings, "coupling cells (one per edge)", "max_couplings")):
            if need > have:
                raise CapacityError(
                    f"graph {graph.name} needs {need:,} {what} but chip {chip.name!r} has {have:,} "
                    f"({chip.where('parameters', key)}); use a smaller graph or a chip with more parameters.{key}")
        couplings = Couplings.dense(-graph.adjacency())
        settings = Settings(theta=theta, step_tolerance=p.step_tolerance, max_phase_step=p.max_phase_step)
        return IsingProgram(programming=Counters(weight_writes=graph.m), couplings=couplings,
                            fan_out=graph.degrees(), settings=settings, coupling_rate=p.coupling_rate,
                            seed=p.seed, max_oscillators=p.max_oscillators, max_couplings=p.max_couplings)

    def anneal(self, program: IsingProgram, schedule, *, runs: int, seed: int):
        """``runs`` anneals of ``schedule.duration`` time units from phases uniform on the circle,
        the noise falling from ``schedule.noise`` to 0 and SHIL ramping to ``schedule.shil``;
        the starts and the noise come from ``seed`` (and the chip's seed)."""
        rng = np.random.default_rng([program.seed, seed])
        phi0 = rng.uniform(-np.pi, np.pi, (runs, program.n))
        settings = replace(program.settings, shil=schedule.shil, shil_ramp=schedule.shil_ramp,
                           noise=schedule.noise, noise_decay=schedule.duration, t_max=schedule.duration,
                           settle_tolerance=0.0, n_bins=0)
        state = relax_phases(program.couplings, np.zeros((runs, program.n), np.complex128), phi0, settings, rng=rng)
        spins = np.where(np.cos(state.phi) >= 0, 1, -1).astype(np.int8)
        first = Counters(coupling_events=runs * program.n, coupling_ops=runs * int(program.fan_out.sum()))
        return spins, first + count(program, state)

    def emulated_seconds(self, counters, chip) -> float:
        """Settling time plus the ops not overlapped with it (read-outs, weight writes)."""
        t = chip.time_per_op()
        return float(counters.get("settle_s", 0.0)) + sum(counters.get(op, 0) * t[op] for op in sorted(t))

    @staticmethod
    def _equilibrium(program: OimProgram, x, bias, field, state: PhaseState) -> OimEquilibrium:
        edges = program.edges
        states = [x] + [np.cos(state.phi[:, a:b]) for a, b in zip(edges[:-1], edges[1:])]
        heard = [x] + [np.cos(state.heard[:, a:b]) for a, b in zip(edges[:-1], edges[1:])]
        heard_drive = bias.real + program.couplings.apply(np.cos(state.heard))
        drive = [heard_drive[:, a:b] for a, b in zip(edges[:-1], edges[1:])]
        steps = np.ceil(state.t / program.time_per_step - 1e-9).astype(np.int64)  # in the workload's steps
        return OimEquilibrium(states, heard, drive, steps, state.settled, state.trace,
                              phases=state.phi, heard_phases=state.heard, settle_time=state.t,
                              input_phase_scale=program.input_phase_scale, input_field=field,
                              input_couplings=program.w_in)


def _noise_generator(seed: int, x: np.ndarray, nudge) -> np.random.Generator:
    """The phase noise of one relaxation: a function of the chip's seed, the inputs and the nudge,
    so a run is reproducible bit for bit and different batches see different noise."""
    digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16)
    if nudge is not None:
        digest.update(np.float64(nudge.beta).tobytes())
        digest.update(np.ascontiguousarray(nudge.target, np.float64).tobytes())
    return np.random.default_rng([seed] + np.frombuffer(digest.digest(), np.uint32).tolist())


def count(program: OscillatorProgram, state: PhaseState) -> Counters:
    """What the chip did in one relaxation (or anneal) of ``B`` samples (see the module docstring)."""
    seconds = state.t / program.coupling_rate  # (B,)
    return Counters(oscillator_seconds=float(program.n_running * seconds.sum()),
                    coupling_events=int(state.events.sum()),
                    coupling_ops=int((state.events @ program.fan_out).sum()),
                    phase_readouts=int(program.n * state.phi.shape[0]),
                    settle_s=float(seconds.sum()))


def _writes(program: OimProgram, previous: OimProgram | None) -> int:
    """Coupling cells and bias registers whose value changed (all of them on the first program).

    A coupling between two oscillators is one cell (the two blocks of a pair count once)."""
    pairs = program.couplings.blocks[::2]
    if previous is None or previous.layers != program.layers:
        return int(program.w_in.size + program.bias.size + sum(m.size for _, _, m in pairs))
    old = previous.couplings.blocks[::2]
    return (changed(program.w_in, previous.w_in) + changed(program.bias, previous.bias)
            + sum(changed(m, o) for (_, _, m), (_, _, o) in zip(pairs, old)))
