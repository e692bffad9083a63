"""Workload files (``workloads/*.yaml``): what to run on a chip, and how.

A workload has a ``kind``: ``classification`` (the default: train a layered network with
``training.algorithm``, EqProp unless it says otherwise, and evaluate it; :class:`Workload`), ``maxcut`` (anneal a
MaxCut / Ising problem from several seeded starts; :class:`MaxCutWorkload`) or ``snn_inference`` (run a spiking
network someone already has, a NIR file, on a dataset's test split: :class:`InferenceWorkload`). Each section is a schema dataclass;
:func:`load_workload` validates a file (and ``--set`` overrides) against them and raises one
:class:`~emulator.errors.ConfigError` naming file, line, key path and what is allowed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from emulator.errors import ConfigError
from emulator.schema import (LINE_CHARS, NAME_CHARS, SEED_MAX, OverriddenSource, Source, apply_overrides, build, fail,
                             load_yaml, shown, spec)

#: most samples of a split: more than any dataset the emulator reads (MNIST has 60,000)
MAX_SAMPLES = 10_000_000
#: most samples in one batch: a whole training set of the largest dataset, and more
MAX_BATCH = 100_000
#: most edges a generated graph may be expected to have: five times those of the complete graph of 2,000 nodes
#: (K2000, a benchmark of Ising machines); the edges are generated before a chip's capacity is checked
MAX_EDGES = 10_000_000
#: most steps of one relaxation phase: the step logs of a phase grow with it, and a relaxation that has not
#: settled in 10,000 steps will not
MAX_STEPS = 10_000


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    name: Literal["digits", "mnist", "fashion_mnist"] = spec("dataset to train and test on")
    n_train: int | None = spec("training samples (the first n of the standard split); null for all",
                               default=None, ge=1, le=MAX_SAMPLES)
    n_test: int | None = spec("test samples; null for all", default=None, ge=1, le=MAX_SAMPLES)
    preprocessing: Literal["unit_range", "binarize"] = spec("pixel scaling", default="unit_range")


@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    layers: list[int] = spec("layer sizes, input first, output (one unit per class) last; at most a million "
                             "units (a Loihi 2 chip's neurons) in at most 64 layers", ge=1, le=1_000_000, min_len=2,
                             max_len=64)
    activation: Literal["hard_sigmoid"] = spec("unit activation rho(s) = clip(s, 0, 1)", default="hard_sigmoid")
    init_gain: float = spec("scale of the Glorot-uniform initial weights; at 100 every unit saturates at the "
                            "first step", default=1.0, gt=0, le=100)


@dataclass(frozen=True, kw_only=True)
class ConstantBeta:
    """beta stays ``eqprop.beta`` for the whole training."""

    model: Literal["constant"] = spec("beta fixed at eqprop.beta", default="constant")

    def at(self, beta: float, epoch: int, epochs: int) -> float:
        """The nudging strength of ``epoch`` (1-based) of ``epochs``: ``beta``."""
        return beta


@dataclass(frozen=True, kw_only=True)
class LinearBeta:
    """beta annealed in equal steps, from ``eqprop.beta`` in the first epoch to ``final`` in the last."""

    model: Literal["linear"] = spec("beta annealed linearly over the epochs", default="linear")
    final: float = spec("beta of the last epoch", gt=0, lt=1)

    def at(self, beta: float, epoch: int, epochs: int) -> float:
        """The nudging strength of ``epoch`` (1-based) of ``epochs``."""
        return beta + (self.final - beta) * (epoch - 1) / max(epochs - 1, 1)


@dataclass(frozen=True, kw_only=True)
class EqPropSpec:
    beta: float = spec("nudging strength", gt=0, lt=1)
    beta_schedule: ConstantBeta | LinearBeta = spec("how beta changes over the epochs of training",
                                                    default=ConstantBeta())
    symmetric: bool = spec("nudge with +beta and -beta (Laborieux et al. 2021) instead of +beta only",
                           default=True)
    free_steps: int = spec("step limit of the free phase; the shipped workloads need 30-40", ge=1, le=MAX_STEPS)
    nudged_steps: int = spec("step limit of each nudged phase", ge=1, le=MAX_STEPS)
    theta: float = spec("lazy threshold: a unit sends once its state moved more than theta", ge=0, lt=1)
    damping: float = spec("fraction of the old state a unit keeps each step", default=0.5, ge=0, lt=1)


@dataclass(frozen=True, kw_only=True)
class ConstantStepSize:
    """The step size stays the chip's for the whole phase."""

    model: Literal["constant"] = spec("the chip's step size at every step", default="constant")

    def at(self, start: float, t: int, steps: int) -> float:
        """The step size of step ``t`` (0-based) of a phase of ``steps`` steps that starts at ``start``: ``start``."""
        return start


@dataclass(frozen=True, kw_only=True)
class GeometricStepSize:
    """The step size annealed geometrically over each phase, from the chip's at its first step to ``final`` at
    its last (O'Connor et al. 2019 anneal the step size so that the spiking network settles on the fixed point)."""

    model: Literal["geometric"] = spec("step size annealed geometrically over each phase", default="geometric")
    final: float = spec("step size at the last step of each phase", gt=0, le=1)

    def at(self, start: float, t: int, steps: int) -> float:
        """The step size of step ``t`` (0-based) of a phase of ``steps`` steps that starts at ``start``."""
        return start * (self.final / start) ** (t / max(steps - 1, 1))


@dataclass(frozen=True, kw_only=True)
class SpikingSpec:
    """How the spiking chips (binary spikes, a unit's state its firing rate) run a workload; other chips
    ignore it."""

    window: int | None = spec("steps at the end of each phase whose spikes give a unit's rate, the state the "
                              "read-out and the learning rule use; null: the last half of each phase", default=None,
                              ge=1, le=MAX_STEPS)
    step_size: ConstantStepSize | GeometricStepSize = spec(
        "schedule of the step size within each phase: the synaptic current's decay per step and the gain of its "
        "input", default=ConstantStepSize())


@dataclass(frozen=True, kw_only=True)
class SpectralNormSpec:
    enabled: bool = spec("rescale each weight matrix whose spectral norm exceeds limit", default=False)
    limit: float = spec("largest spectral norm allowed; above 100 it limits nothing a trained layer reaches",
                        default=1.0, gt=0, le=100)


#: the training algorithms: what each does is in :mod:`emulator.training.algorithms`
ALGORITHMS = ("eqprop", "backprop", "noise_injection", "implicit")


@dataclass(frozen=True, kw_only=True)
class TrainingSpec:
    epochs: int = spec("passes over the training set", ge=0, le=10_000)
    batch_size: int = spec("samples per weight update", ge=1, le=MAX_BATCH)
    learning_rates: list[float] = spec("one learning rate per weight layer, input side first; above 10 one update "
                                       "moves a weight by more than 10 / beta, far past the scale of the weights",
                                       gt=0, le=10, min_len=1)
    lr_decay: float = spec("learning rates are multiplied by this after each epoch", default=1.0, gt=0, le=1)
    seed: int = spec("seed of initial weights and shuffling", default=0, ge=0, le=SEED_MAX)
    spectral_norm: SpectralNormSpec = field(default_factory=SpectralNormSpec)
    algorithm: Literal["eqprop", "backprop", "noise_injection", "implicit"] = spec(
        "eqprop: free and nudged phases on the chip, the local contrastive rule; backprop: the same network "
        "feed-forward, trained by backpropagation; noise_injection: backprop with Gaussian noise on every drive "
        "(section noise_injection); implicit: the free phase on the chip, the exact implicit gradient through a "
        "differentiable proxy of the chip (section implicit)", default="eqprop")


@dataclass(frozen=True, kw_only=True)
class BackpropSpec:
    loss: Literal["squared_error", "cross_entropy"] = spec(
        "squared_error: 1/2 |s_L - y|^2 on the output states, as EqProp's cost (an output unit whose drive is below 0 "
        "for every sample has slope 0 and never learns); cross_entropy: softmax cross-entropy on the output drives "
        "(the feed-forward pass's logits), which has no such dead units", default="squared_error")


@dataclass(frozen=True, kw_only=True)
class NoiseInjectionSpec:
    drive_std: float = spec("std of the Gaussian noise added to every unit's drive in each training pass, drive units "
                            "(a drive of 1 takes a unit from 0 to full activation); at 10 the noise drowns every "
                            "signal", default=0.1, gt=0, le=10)


@dataclass(frozen=True, kw_only=True)
class ImplicitSpec:
    gains: bool = spec("the proxy uses the weights and per-device gains the chip reports after programming (false: "
                       "the host's weights)", default=True)
    quantisation: bool = spec("the proxy models the chip's converters, as straight-through estimators", default=True)
    noise: bool = spec("the proxy models the read noise of the drives (its mean effect on the activations)",
                       default=True)
    read_noise_std: float | None = spec("the read noise the proxy believes, std per weight and read as a fraction of "
                                        "the full-scale weight; null: the chip's own statistics", default=None,
                                        ge=0, le=1)
    tolerance: float = spec("relative residual at which the adjoint solve of a sample stops", default=1e-6, gt=0,
                            lt=1)
    max_iterations: int = spec("iterations of the adjoint solve at most; it converges in tens on the shipped "
                               "networks", default=200, ge=1, le=10_000)


@dataclass(frozen=True, kw_only=True)
class EvaluationSpec:
    batch_size: int = spec("samples relaxed at once during evaluation", default=500, ge=1, le=MAX_BATCH)
    train_subset: int | None = spec("training samples used to measure train accuracy; null for all",
                                    default=2000, ge=1, le=MAX_SAMPLES)


@dataclass(frozen=True, kw_only=True)
class Workload:
    name: str = spec("workload name used in reports and run folders", min_len=1, max_len=NAME_CHARS)
    dataset: DatasetSpec = spec("dataset section")
    network: NetworkSpec = spec("network section")
    eqprop: EqPropSpec = spec("EqProp relaxation section")
    training: TrainingSpec = spec("training section")
    description: str = spec("one line shown by `emulator workloads`", default="", max_len=LINE_CHARS)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    backprop: BackpropSpec = field(default_factory=BackpropSpec)
    noise_injection: NoiseInjectionSpec = field(default_factory=NoiseInjectionSpec)
    implicit: ImplicitSpec = field(default_factory=ImplicitSpec)
    spiking: SpikingSpec = field(default_factory=SpikingSpec)
    origin: Source | None = field(default=None, compare=False, repr=False, metadata={"internal": True})

    kind = "classification"

    def where(self, *path) -> str:
        """``file:line`` (or the ``--set`` option) of a key path, for error messages."""
        return self.origin.where(tuple(path)) if self.origin else self.name


@dataclass(frozen=True, kw_only=True)
class RandomGraphSpec:
    nodes: int = spec("number of nodes; G-set's largest graphs have 20,000", ge=2, le=20_000)
    density: float = spec("probability that a pair of nodes is an edge (Erdos-Renyi G(n, p))", gt=0, le=1)
    weights: Literal["unit", "pm1"] = spec("edge weights: all 1, or +1 / -1 at random", default="unit")
    seed: int = spec("seed of the generator", default=0, ge=0, le=SEED_MAX)


@dataclass(frozen=True, kw_only=True)
class GraphSpec:
    file: str | None = spec("graph file, relative to the workload file: G-set text (`n m`, then one `i j w` "
                            "per edge, nodes 1..n) or a .npy symmetric weight matrix", default=None)
    random: RandomGraphSpec | None = spec("a generated random graph instead of a file", default=None)


@dataclass(frozen=True, kw_only=True)
class BestKnownSpec:
    cut: float = spec("best cut known for the graph (the exact maximum where known; 0 if no edge weight is "
                      "positive)", ge=0)
    source: str = spec("how it was obtained (brute force, a paper, the best of many long runs of a solver)")


@dataclass(frozen=True, kw_only=True)
class AnnealSpec:
    runs: int = spec("independent anneals, each from its own random phases", default=10, ge=1, le=10_000)
    seed: int = spec("seed of the initial phases and the phase noise", default=0, ge=0, le=SEED_MAX)
    duration: float = spec("length of one anneal, in time units of the chip (1 / coupling_rate); the integrator's "
                           "work grows with it, and 1,000 is 10 times the shipped anneals", gt=0, le=1000)
    noise: float = spec("phase noise at the start, radians per sqrt(time unit); falls linearly to 0 at "
                        "`duration`; at 10 the phases are uniformly random within a time unit", default=0.0,
                        ge=0, le=10)
    shil: float = spec("second-harmonic injection-locking strength S (binarises the phases to 0 or pi); at 100 it "
                       "pins every phase at once and the integrator's steps shrink as 1 / S", ge=0, le=100)
    shil_ramp: float = spec("time units over which S ramps up from 0 (0: S from the start)", default=0.0, ge=0,
                            le=1000)
    theta: float = spec("lazy threshold: an oscillator re-broadcasts its phase once it moved more than "
                        "theta radians", default=0.0, ge=0, lt=3.14159)


@dataclass(frozen=True, kw_only=True)
class MaxCutWorkload:
    """A MaxCut problem annealed on an Ising machine (``kind: maxcut``)."""

    name: str = spec("workload name used in reports and run folders", min_len=1, max_len=NAME_CHARS)
    graph: GraphSpec = spec("graph section: `file` or `random`")
    anneal: AnnealSpec = spec("anneal section: runs, schedule of phase noise and SHIL, relative to couplings that "
                              "are the edge weights over their mean magnitude (so the weights' scale does not matter)")
    best_known: BestKnownSpec | None = spec("the best cut known, to report the ratio to it", default=None)
    description: str = spec("one line shown by `emulator workloads`", default="", max_len=LINE_CHARS)
    origin: Source | None = field(default=None, compare=False, repr=False, metadata={"internal": True})

    kind = "maxcut"

    def where(self, *path) -> str:
        return self.origin.where(tuple(path)) if self.origin else self.name

    def graph_path(self) -> Path:
        """``graph.file`` resolved against the folder of the workload file."""
        return beside(self.origin, self.graph.file)


@dataclass(frozen=True, kw_only=True)
class NirFileSpec:
    file: str = spec("the network: a NIR file (HDF5, as `nir.write` writes it), relative to the workload file")
    dt: float | None = spec("seconds of one time step; null to take the graph's own (metadata dt)", default=None,
                            gt=0, le=1)


@dataclass(frozen=True, kw_only=True)
class InferenceDataSpec:
    dataset: Literal["digits", "mnist", "fashion_mnist"] = spec("dataset whose test split is classified")
    samples: int | None = spec("test samples (the first n of the test split); null for all", default=None, ge=1,
                               le=MAX_SAMPLES)
    encoding: Literal["rate", "current"] = spec(
        "how a pixel in [0, 1] becomes the input: `rate`, a spike at each step with the pixel's value as probability "
        "(Bernoulli rate coding); `current`, the pixel's value itself at every step (a graded input; on Loihi a "
        "graded stream of payloads round(256 x))", default="rate")
    steps: int = spec("time steps each sample is presented", default=50, ge=1, le=MAX_STEPS)
    seed: int = spec("seed of the spike encoding", default=0, ge=0, le=SEED_MAX)
    batch: int = spec("samples run together on the host (changes no spike, count or accuracy)", default=100, ge=1,
                      le=MAX_BATCH)


@dataclass(frozen=True, kw_only=True)
class InferenceWorkload:
    """A spiking network run for inference on a dataset's test split (``kind: snn_inference``): the class is the
    output neuron with the most spikes (lowest index on ties)."""

    name: str = spec("workload name used in reports and run folders", min_len=1, max_len=NAME_CHARS)
    network: NirFileSpec = spec("network section: the NIR file and its time step")
    data: InferenceDataSpec = spec("data section: dataset, samples, encoding, steps")
    description: str = spec("one line shown by `emulator workloads`", default="", max_len=LINE_CHARS)
    origin: Source | None = field(default=None, compare=False, repr=False, metadata={"internal": True})

    kind = "snn_inference"

    def where(self, *path) -> str:
        return self.origin.where(tuple(path)) if self.origin else self.name

    def network_path(self) -> Path:
        """``network.file`` resolved against the folder of the workload file."""
        return beside(self.origin, self.network.file)


def beside(origin: Source | None, file: str) -> Path:
    """A file named in a workload, resolved against the folder of the workload file (the working folder if the
    workload was not read from a file)."""
    return (Path(origin.name).parent if origin else Path.cwd()) / file


#: workload kind -> schema
KINDS = {"classification": Workload, "maxcut": MaxCutWorkload, "snn_inference": InferenceWorkload}


def load_workload(path: str | Path, overrides: list[str] = ()) -> Workload | MaxCutWorkload | InferenceWorkload:
    """Load and validate a workload file, with ``key.path=value`` overrides applied."""
    data, source = load_yaml(path)
    if overrides:
        data, origin = apply_overrides(data, list(overrides))
        source = OverriddenSource(source, origin)
    kind = data.pop("kind", "classification")
    if not isinstance(kind, str) or kind not in KINDS:
        fail(source, ("kind",), f"must be one of {', '.join(map(repr, KINDS))}, got {shown(kind)}")
    if kind == "maxcut":
        workload = build(MaxCutWorkload, data, source)
        if (workload.graph.file is None) == (workload.graph.random is None):
            fail(source, ("graph",), "give exactly one of `file` (a graph file) and `random` (a generated graph)")
        _check_edges(workload.graph.random, source)
        return _with_origin(workload, source)
    if kind == "snn_inference":
        return _with_origin(build(InferenceWorkload, data, source), source)
    workload = build(Workload, data, source)
    n_weights = len(workload.network.layers) - 1
    if len(workload.training.learning_rates) != n_weights:
        fail(source, ("training", "learning_rates"),
             f"needs one learning rate per weight layer: {n_weights} for layers "
             f"{workload.network.layers}, got {len(workload.training.learning_rates)}")
    _check_used(workload, source)
    _check_window(workload, source)
    return _with_origin(workload, source)


#: settings only some algorithms use (a section: all its keys), and which
USED_BY = {("eqprop", "beta_schedule"): ("eqprop",), ("eqprop", "symmetric"): ("eqprop",),
           ("backprop",): ("backprop", "noise_injection"), ("noise_injection",): ("noise_injection",),
           ("implicit",): ("implicit",)}


def _check_used(workload: Workload, source: Source):
    """Refuse a setting the workload's ``training.algorithm`` does not use, set to another value than its default."""
    algorithm = workload.training.algorithm
    for path, users in USED_BY.items():
        if algorithm in users:
            continue
        section = getattr(workload, path[0])
        for f in dataclasses.fields(section):
            default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            if path[1:] in ((), (f.name,)) and getattr(section, f.name) != default:
                fail(source, (path[0], f.name),
                     f"{shown(getattr(section, f.name))} is used only by training.algorithm {' or '.join(users)}, and "
                     f"this workload's is {algorithm}; remove the key (its default is {shown(default)}), or set "
                     f"training.algorithm: {users[0]}")


def _check_window(workload: Workload, source: Source):
    """A spike window fits in the step budget of every phase."""
    window, e = workload.spiking.window, workload.eqprop
    budget = min(e.free_steps, e.nudged_steps)
    if window is not None and window > budget:
        key = "free_steps" if e.free_steps < e.nudged_steps else "nudged_steps"
        fail(source, ("spiking", "window"), f"{window} steps is longer than a phase: eqprop.{key} is {budget}, and the "
                                            f"rates are counted over the last `window` steps of each phase; set it "
                                            f"to at most {budget}, or raise eqprop.{key}")


def _check_edges(spec: RandomGraphSpec | None, source: Source):
    """Refuse a generated graph expected to have more than :data:`MAX_EDGES` edges."""
    if spec is None:
        return
    expected = spec.density * spec.nodes * (spec.nodes - 1) / 2
    if expected > MAX_EDGES:
        fail(source, ("graph", "random", "density"),
             f"{spec.nodes:,} nodes at density {spec.density:g} make about {expected:,.0f} edges, more than the "
             f"{MAX_EDGES:,} a generated graph may have; lower graph.random.density or graph.random.nodes")


def _with_origin(workload: Workload, source: Source) -> Workload:
    object.__setattr__(workload, "origin", source)
    return workload


def check_against_dataset(workload: Workload, n_features: int, n_classes: int, dataset: str):
    """Raise :class:`ConfigError` if the input or output layer does not match the dataset."""
    layers = workload.network.layers
    for index, want, what in ((0, n_features, "features"), (-1, n_classes, "classes")):
        if layers[index] != want:
            position = 0 if index == 0 else len(layers) - 1
            raise ConfigError(
                f"{workload.where('network', 'layers', position)}: network.layers[{position}] is "
                f"{layers[index]} but dataset {dataset} has {want} {what}; set it to {want}")
