"""The result of a run, as typed data: what ``report.json`` holds, defined once.

A result is a tree of small frozen dataclasses (:class:`Node`) that turn into the JSON layout of
``report.json`` with :meth:`Node.to_dict` and back with :meth:`Node.from_dict`. The kinds of run:

- :class:`RunResult` (``kind`` "classification"): a network trained and evaluated on a chip, or,
  with :attr:`RunResult.deployed`, trained elsewhere and programmed once onto it;
- :class:`MaxCutResult` (``kind`` "maxcut"): a graph annealed on an Ising machine;
- :class:`InferenceResult` (``kind`` "snn_inference"): a spiking network someone already has, run on a chip.

:func:`from_dict` reads either from a loaded ``report.json``. Reports carry ``schema_version``
(:data:`SCHEMA_VERSION`); files written before it existed read as version 0, whose differences
are filled in on reading (see :meth:`RunResult.from_dict`). Free-form parts, whose keys depend on
the chip family or the workload (settings, the program summary, operation counters), stay plain
dicts.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import UnionType
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

import numpy as np

from emulator.errors import ReportError

#: the layout version written into every ``report.json``; reports without one are version 0
SCHEMA_VERSION = 1
#: the kind of a report with no ``kind`` key: classification reports never wrote one
DEFAULT_KIND = "classification"
#: the file of a run folder that holds its result; written last, so that its presence means the run finished
REPORT = "report.json"


def json_key(key: str) -> dict:
    """Field metadata: the field is stored under ``key`` in the JSON (for keys that are Python keywords)."""
    return {"key": key}


def omitted_if_none() -> dict:
    """Field metadata: the key is left out of the JSON, rather than written as null, when the value is None."""
    return {"omit_none": True}


@dataclass(frozen=True, kw_only=True)
class Node:
    """A part of a result that converts to and from its JSON object, one key per field, in field order."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready layout: nested nodes as dicts, tuples as lists (numpy scalars are left as they are)."""
        return {f.metadata.get("key", f.name): _plain(getattr(self, f.name)) for f in fields(self)
                if not (f.metadata.get("omit_none") and getattr(self, f.name) is None)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        """The node of a JSON object; a missing optional (``X | None``) key reads as None.

        Raises
        ------
        ValueError
            If a required key is missing, or a value that should be a JSON object or a list is
            not; the message gives the path of keys to it (``metrics: no 'epochs' key``).
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a JSON object, got {data!r}")
        hints = get_type_hints(cls)
        values = {}
        for f in fields(cls):
            key, hint = f.metadata.get("key", f.name), hints[f.name]
            if key in data:
                try:
                    values[f.name] = _typed(hint, data[key])
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
            elif _optional(hint):
                values[f.name] = None
            else:
                raise ValueError(f"no {key!r} key")
        return cls(**values)


def _plain(value: Any) -> Any:
    """``value`` with its nodes turned into dicts and its tuples into lists, all the way down."""
    if isinstance(value, Node):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def non_finite(value: Any, path: tuple = ()) -> tuple[tuple, float] | None:
    """The key path and value of the first number in ``value`` (a node, mapping, list or number) that is
    not finite, in the JSON layout (``("energy", "inference", "total_j")``); None if every number is."""
    if isinstance(value, Node):
        items = ((f.metadata.get("key", f.name), getattr(value, f.name)) for f in fields(value))
    elif isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = enumerate(value)
    elif isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return path, float(value)
    else:
        return None
    for key, item in items:
        found = non_finite(item, path + (key,))
        if found is not None:
            return found
    return None


def _optional(hint: Any) -> bool:
    """Whether the type ``hint`` admits None (``X | None``)."""
    return get_origin(hint) in (Union, UnionType) and type(None) in get_args(hint)


def _typed(hint: Any, value: Any) -> Any:
    """``value`` read from JSON as ``hint``: nodes built, tuples made, dicts copied, the rest as is."""
    if value is None:
        return None
    if _optional(hint):
        (hint,) = [h for h in get_args(hint) if h is not type(None)]
    origin, args = get_origin(hint), get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Node):
        return hint.from_dict(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise ValueError(f"expected a list, got {value!r}")
        return tuple(_typed(args[0], v) for v in value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a JSON object, got {value!r}")
        return {k: _typed(args[1], v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- shared parts


@dataclass(frozen=True, kw_only=True)
class EnergyReport(Node):
    """Energy of one phase of a run (all inferences, all training, all anneals).

    Attributes
    ----------
    total_j : float
        Energy of the whole phase, J: the sum of ``breakdown_j``.
    per_sample_j : float
        ``total_j`` per sample of the phase (inference, training sample, anneal), J.
    breakdown_j : dict of str to float
        Energy per operation, J: its count times its price, plus ``static`` (static power times
        the emulated time).
    """

    total_j: float
    per_sample_j: float
    breakdown_j: dict[str, float]


@dataclass(frozen=True, kw_only=True)
class ChipTable(Node):
    """The chip's price list as the run used it (the head of the report's ``energy`` section).

    Attributes
    ----------
    per_op_j : dict of str to float
        Energy per operation, J.
    time_per_op_s : dict of str to float
        Time per operation, s.
    static_power_w : float
        Static power, W.
    sources : dict of str to str
        Where each constant comes from: by op for energies, ``time.<op>`` for times,
        ``static_power``.
    """

    per_op_j: dict[str, float]
    time_per_op_s: dict[str, float]
    static_power_w: float
    sources: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Result(Node):
    """What every kind of result starts with: which workload ran on which chip, and when.

    Attributes
    ----------
    workload, chip : str
        Names of the workload and of the chip.
    backend : str
        The chip's back-end family.
    seed : int
        The run's seed (training seed, or anneal seed).
    emulator_version : str
        Version of the emulator that made the run.
    created : str
        When the result was made, UTC, ISO 8601 (``2026-11-25T22:00:00Z``).
    """

    kind: ClassVar[str]

    workload: str
    chip: str
    backend: str
    seed: int
    emulator_version: str
    created: str

    def __post_init__(self):
        found = non_finite(self)
        if found is not None:
            path, value = found
            raise ReportError(f"the {self.kind} result of {self.workload} on {self.chip}: {'.'.join(map(str, path))} "
                              f"is {value}, not a finite number; no report is written with it: check the chip's "
                              f"energy and time tables and the back-end family {self.backend!r}")

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` layout, led by ``schema_version`` and (except classification) ``kind``."""
        head = {"schema_version": SCHEMA_VERSION} | ({} if self.kind == DEFAULT_KIND else {"kind": self.kind})
        return head | super().to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        """Read a loaded ``report.json`` of this kind.

        Raises
        ------
        ValueError
            If ``data`` is another kind's report, was written by a newer emulator, or lacks a
            required key; a :class:`~emulator.errors.ReportError` if a figure in it is not finite.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a report is a JSON object, not {type(data).__name__}")
        version = data.get("schema_version", 0)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ValueError(f"report schema_version {version!r}: this emulator reads versions up to "
                             f"{SCHEMA_VERSION}; read it with a newer emulator")
        kind = data.get("kind", DEFAULT_KIND)
        if kind != cls.kind:
            raise ValueError(f"a {kind!r} report, not a {cls.kind!r} one")
        return super().from_dict(data)


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True, kw_only=True)
class DatasetSummary(Node):
    """The dataset a classification run used.

    Attributes
    ----------
    name, source : str
        The dataset's name and where it was read from.
    n_train, n_test : int
        Training and test samples used.
    n_features, n_classes : int
        Input size and number of classes.
    note : str or None
        A warning about the data (e.g. a stand-in for a dataset that was not found); None when
        there is nothing to warn about.
    """

    name: str
    source: str
    n_train: int
    n_test: int
    n_features: int
    n_classes: int
    note: str | None


@dataclass(frozen=True, kw_only=True)
class NetworkShape(Node):
    """The layered network's size.

    Attributes
    ----------
    layers : tuple of int
        Units per layer, input first.
    n_units : int
        Units outside the input layer.
    n_synapses : int
        Weights between consecutive layers.
    """

    layers: tuple[int, ...]
    n_units: int
    n_synapses: int


@dataclass(frozen=True, kw_only=True)
class Metrics(Node):
    """Final accuracy of a classification run.

    Attributes
    ----------
    test_accuracy : float
        Fraction of the test set classified correctly, in [0, 1].
    train_accuracy : float
        The same on the ``evaluation.train_subset`` first training samples.
    epochs : int
        Epochs trained on this chip (0 for a deployed network).
    """

    test_accuracy: float
    train_accuracy: float
    epochs: int


@dataclass(frozen=True, kw_only=True)
class EpochRecord(Node):
    """One epoch of training, as it ended.

    Attributes
    ----------
    epoch : int
        The epoch, from 1.
    train_accuracy, test_accuracy : float
        Accuracy after the epoch, in [0, 1].
    lipschitz : tuple of float
        Spectral norm of each layer's weights after the epoch, one per layer.
    train_wall_s : float
        Host time of the epoch's updates, s.
    wall_s : float
        Host time of the epoch, its evaluations included, s.
    """

    epoch: int
    train_accuracy: float
    test_accuracy: float
    lipschitz: tuple[float, ...]
    train_wall_s: float
    wall_s: float


@dataclass(frozen=True, kw_only=True)
class Relaxation(Node):
    """How the free-phase relaxations of a phase went, averaged over its samples.

    Attributes
    ----------
    mean_steps : float
        Mean steps to equilibrium per sample.
    quiescent_fraction : float
        Fraction of the samples that fell quiet (no message left) within the step limit.
    messages_per_step : tuple of float, shape (max_steps,)
        Mean messages per sample sent at each step.
    messages_per_step_theta0 : tuple of float, shape (max_steps,), or None
        The same for the network with no lazy threshold (theta = 0), to compare with; None
        (and left out of the JSON) when the run's own threshold is 0, and in reports written
        before it was recorded.
    theta0_samples : int or None
        Test samples ``messages_per_step_theta0`` averages over; None when that is None.
    """

    mean_steps: float
    quiescent_fraction: float
    messages_per_step: tuple[float, ...]
    messages_per_step_theta0: tuple[float, ...] | None = field(metadata=omitted_if_none())
    theta0_samples: int | None = field(metadata=omitted_if_none())


@dataclass(frozen=True, kw_only=True)
class TrainingEnergy(ChipTable):
    """The chip's price list and the energy of the inferences and of the training.

    Attributes
    ----------
    inference : EnergyReport
        All test-set inferences; per sample is per inference.
    training : EnergyReport
        All training on the chip, programming included; per sample is per training sample
        presented (for a deployed network, the one programming).
    """

    inference: EnergyReport
    training: EnergyReport


@dataclass(frozen=True, kw_only=True)
class TrainingTime(Node):
    """Emulated and host time of a classification run.

    Attributes
    ----------
    emulated_s_per_inference : float
        Emulated chip time of one inference, s.
    emulated_s_training : float
        Emulated chip time of all training, s.
    wall_s : float
        Host time of the whole run, s.
    """

    emulated_s_per_inference: float
    emulated_s_training: float
    wall_s: float


@dataclass(frozen=True, kw_only=True)
class Deployment(Node):
    """Where the network of a naive deployment was trained (``python -m emulator evaluate``).

    Attributes
    ----------
    trained_folder : str
        The folder of the training run (JSON key ``from``).
    trained_on : str
        The chip it was trained on.
    epochs : int
        Epochs it was trained for.
    """

    trained_folder: str = field(metadata=json_key("from"))
    trained_on: str
    epochs: int


@dataclass(frozen=True, kw_only=True)
class RunResult(Result):
    """A classification run: a network trained (or deployed) on a chip and evaluated there.

    Attributes
    ----------
    algorithm : str
        How the network was trained (``training.algorithm``): ``eqprop``, ``backprop``,
        ``noise_injection`` or ``implicit``; for a deployed network, on the chip it trained on.
    inference : str
        How this chip evaluated it: ``relaxation`` (to the free equilibrium) or ``feedforward`` (one
        pass, a network trained by backprop or noise injection on the chip it trained on).
    dataset : DatasetSummary
    network : NetworkShape
    eqprop : dict
        The workload's EqProp settings (beta, theta, steps...).
    training : dict
        The workload's training settings, plus ``samples_trained``.
    metrics : Metrics
    history : tuple of EpochRecord
        One record per epoch trained on this chip (none for a deployed network).
    counters : dict of str to dict
        Operation totals per phase (``inference``, ``training``): op -> count.
    per_core : dict of str to dict
        Per-core operation counts per phase (``inference``): op -> one count per core; empty for
        chips without cores.
    relaxation : dict of str to Relaxation
        Relaxation statistics per phase (``inference``).
    energy : TrainingEnergy
    time : TrainingTime
    program : dict
        The chip program's summary (family-specific).
    deployed : Deployment or None
        Set for a naive deployment of a network trained elsewhere; None (and left out of the
        JSON) for a run that trained on this chip.
    """

    kind: ClassVar[str] = "classification"

    algorithm: str
    inference: str
    dataset: DatasetSummary
    network: NetworkShape
    eqprop: dict[str, Any]
    training: dict[str, Any]
    metrics: Metrics
    history: tuple[EpochRecord, ...]
    counters: dict[str, dict[str, float]]
    per_core: dict[str, dict[str, list]]
    relaxation: dict[str, Relaxation]
    energy: TrainingEnergy
    time: TrainingTime
    program: dict[str, Any]
    deployed: Deployment | None = field(metadata=omitted_if_none())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        """Read a loaded classification ``report.json``; reports written before per-core counters
        were recorded read as having none, and those written before the training algorithm was
        recorded as EqProp runs, evaluated by relaxation."""
        if isinstance(data, Mapping):
            data = {"algorithm": "eqprop", "inference": "relaxation", "per_core": {"inference": {}}} | dict(data)
        return super().from_dict(data)


# --------------------------------------------------------------------------- MaxCut


@dataclass(frozen=True, kw_only=True)
class GraphSummary(Node):
    """The graph a MaxCut run cut.

    Attributes
    ----------
    name : str
        Its file, or the name of the generated graph.
    nodes, edges : int
        Its size.
    total_weight : float
        Sum of the edge weights.
    best_known_cut : float or None
        The best cut known for it; None when the workload gives none.
    best_known_source : str or None
        Where ``best_known_cut`` comes from; None with it.
    isolated_nodes : int or None
        Nodes in no edge: they run as oscillators (and are charged for) but cannot change the
        cut; None in reports written before it was recorded.
    note : str or None
        A warning about the graph (isolated nodes); None (and left out of the JSON) when there
        is nothing to warn about.
    """

    name: str
    nodes: int
    edges: int
    total_weight: float
    best_known_cut: float | None
    best_known_source: str | None
    isolated_nodes: int | None = field(metadata=omitted_if_none())
    note: str | None = field(metadata=omitted_if_none())


@dataclass(frozen=True, kw_only=True)
class MaxCutMetrics(Node):
    """Figures of merit of the anneals.

    Attributes
    ----------
    best_cut, mean_cut : float
        Best and mean cut over the runs.
    best_ratio, mean_ratio : float or None
        The same over the best-known cut; None when there is none.
    target_cut : float
        The cut a run must reach to succeed: the best known, or else the best of these runs.
    target_is_best_known : bool
        Whether ``target_cut`` is the best-known cut.
    success_probability : float
        Fraction of the runs that reached the target, in [0, 1].
    repetitions_99 : float or None
        Runs needed to reach the target at least once with 99 % probability; None when no run
        reached it.
    time_to_solution_s : float or None
        Emulated time of ``repetitions_99`` runs, s; None when no run reached the target.
    energy_to_solution_j : float or None
        Energy of ``repetitions_99`` runs, J; None when no run reached the target.
    """

    best_cut: float
    mean_cut: float
    best_ratio: float | None
    mean_ratio: float | None
    target_cut: float
    target_is_best_known: bool
    success_probability: float
    repetitions_99: float | None
    time_to_solution_s: float | None
    energy_to_solution_j: float | None


@dataclass(frozen=True, kw_only=True)
class AnnealRun(Node):
    """One anneal.

    Attributes
    ----------
    run : int
        Its index, from 0.
    cut : float
        The cut it read out.
    ratio : float or None
        ``cut`` over the best-known cut; None when there is none.
    spins : str or None
        The partition it read out, as :attr:`Partition.encoding` says; None in reports written
        before partitions were recorded.
    """

    run: int
    cut: float
    ratio: float | None
    spins: str | None = field(metadata=omitted_if_none())


@dataclass(frozen=True, kw_only=True)
class Partition(Node):
    """The best partition of the runs, written out so that its cut can be checked from the graph file.

    Attributes
    ----------
    encoding : str
        How ``spins`` (and each run's) reads: one character per node, in the graph's node order
        (node 1 of a G-set file first), ``1`` for spin +1 and ``0`` for spin -1.
    run : int
        The first run that read out the best cut.
    cut : float
        Its cut, the best of the runs.
    spins : str
        The spin of every node.
    """

    encoding: str
    run: int
    cut: float
    spins: str


@dataclass(frozen=True, kw_only=True)
class ProgrammingEnergy(Node):
    """Energy of programming the couplings, paid once.

    Attributes
    ----------
    total_j : float
        The programming's energy, J.
    breakdown_j : dict of str to float
        Per operation (and ``static``), J.
    """

    total_j: float
    breakdown_j: dict[str, float]


@dataclass(frozen=True, kw_only=True)
class AnnealEnergy(ChipTable):
    """The chip's price list and the energy of the anneals and of the programming.

    Attributes
    ----------
    anneal : EnergyReport
        All runs; per sample is per run.
    programming : ProgrammingEnergy
    """

    anneal: EnergyReport
    programming: ProgrammingEnergy


@dataclass(frozen=True, kw_only=True)
class AnnealTime(Node):
    """Emulated and host time of a MaxCut run.

    Attributes
    ----------
    emulated_s_per_run : float
        Emulated time of one anneal, s.
    emulated_s_programming : float
        Emulated time of programming the couplings, s.
    wall_s : float
        Host time of the whole run, s.
    """

    emulated_s_per_run: float
    emulated_s_programming: float
    wall_s: float


@dataclass(frozen=True, kw_only=True)
class MaxCutResult(Result):
    """A MaxCut run: one graph annealed several times on an Ising machine.

    Attributes
    ----------
    graph : GraphSummary
    anneal : dict
        The workload's anneal schedule (runs, seed, duration, noise, SHIL...) and ``weight_scale``,
        the mean absolute edge weight, which the couplings are divided by.
    metrics : MaxCutMetrics
    partition : Partition or None
        The best partition; None in reports written before partitions were recorded.
    runs : tuple of AnnealRun
        One per anneal, in order.
    counters : dict of str to dict
        Operation totals per phase (``anneal``, ``programming``): op -> count.
    energy : AnnealEnergy
    time : AnnealTime
    program : dict
        The chip program's summary (family-specific).
    """

    kind: ClassVar[str] = "maxcut"

    graph: GraphSummary
    anneal: dict[str, Any]
    metrics: MaxCutMetrics
    partition: Partition | None = field(metadata=omitted_if_none())
    runs: tuple[AnnealRun, ...]
    counters: dict[str, dict[str, float]]
    energy: AnnealEnergy
    time: AnnealTime
    program: dict[str, Any]


# --------------------------------------------------------------------------- spiking inference


@dataclass(frozen=True, kw_only=True)
class InferenceMetrics(Node):
    """What the network did per inference, and how well it classified.

    Attributes
    ----------
    accuracy : float
        Fraction of samples whose class (the output neuron with the most spikes) is the label.
    samples : int
        Inferences run.
    steps : int
        Time steps of one inference on the chip (the input's, plus the chip's added delays).
    spikes_per_inference, synaptic_ops_per_inference : float
        Spikes fired (inputs included) and synaptic ops, per inference.
    """

    accuracy: float
    samples: int
    steps: int
    spikes_per_inference: float
    synaptic_ops_per_inference: float


@dataclass(frozen=True, kw_only=True)
class InferenceEnergy(ChipTable):
    """The chip's price list, the energy of the inferences and of programming the network.

    Attributes
    ----------
    inference : EnergyReport
        All inferences; per sample is per inference.
    programming : ProgrammingEnergy
    """

    inference: EnergyReport
    programming: ProgrammingEnergy


@dataclass(frozen=True, kw_only=True)
class InferenceTime(Node):
    """Emulated and host time of an inference run.

    Attributes
    ----------
    emulated_s_per_inference : float
        Emulated latency of one inference, s.
    wall_s : float
        Host time of the whole run, s.
    """

    emulated_s_per_inference: float
    wall_s: float


@dataclass(frozen=True, kw_only=True)
class InferenceResult(Result):
    """A spiking network (a NIR file) run for inference on a chip.

    Attributes
    ----------
    network : dict
        The file, its time step, and its populations (model, size), inputs and outputs.
    data : dict
        Dataset, samples, encoding, steps and seed.
    metrics : InferenceMetrics
    counters : dict of str to dict
        Operation totals per phase (``inference``, ``programming``): op -> count.
    per_core : dict of str to list
        Per-core counts of the inferences, where the chip has cores (op -> one count per core).
    energy : InferenceEnergy
    time : InferenceTime
    program : dict
        How the network sits on the chip (family-specific).
    quantisation : dict
        What the chip's formats changed of the network (per population and link); empty on float chips.
    """

    kind: ClassVar[str] = "snn_inference"

    network: dict[str, Any]
    data: dict[str, Any]
    metrics: InferenceMetrics
    counters: dict[str, dict[str, float]]
    per_core: dict[str, list]
    energy: InferenceEnergy
    time: InferenceTime
    program: dict[str, Any]
    quantisation: dict[str, Any]


#: result classes by ``kind``
KINDS: dict[str, type[Result]] = {cls.kind: cls for cls in (RunResult, MaxCutResult, InferenceResult)}


def from_dict(data: Mapping[str, Any]) -> RunResult | MaxCutResult | InferenceResult:
    """The result of a loaded ``report.json``, of the class its ``kind`` names.

    Raises
    ------
    ValueError
        If the kind is unknown, or see :meth:`Result.from_dict`.
    """
    kind = data.get("kind", DEFAULT_KIND) if isinstance(data, Mapping) else DEFAULT_KIND
    if kind not in KINDS:
        raise ValueError(f"report kind {kind!r}: this emulator knows {', '.join(map(repr, KINDS))}")
    return KINDS[kind].from_dict(data)
