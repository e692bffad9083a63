"""NIR graphs read into a small, family-neutral representation: populations, maps, ports and edges.

NIR, the Neuromorphic Intermediate Representation (Pedersen, Abreu, Jobst et al., "Neuromorphic
intermediate representation: a unified instruction set for interoperable brain-inspired
computing", Nature Communications 15, 8122, 2024; the ``nir`` package), describes a network as a
graph of nodes (neuron models as ODEs, linear maps, delays) and edges, stored as HDF5 (``.nir``).

:func:`read_nir` takes a file or a ``nir.NIRGraph``, flattens nested graphs (a node ``lif`` of a
sub-graph ``rnn`` becomes ``rnn.lif``; the sub-graph's own ``Input`` and ``Output`` nodes are
contracted away, so edges join the nodes on either side), validates it and returns a
:class:`NirNetwork`:

- ``populations``: neuron nodes (``IF``, ``LIF``, ``LI``, ``CubaLI``, ``CubaLIF``, ``Threshold``), each with
  its float64 parameters in NIR's names, all of the population's shape;
- ``maps``: the nodes between them (``Affine``, ``Linear``, ``Scale``, ``Flatten`` as a reshape, ``Delay``);
- ``inputs`` and ``outputs``: the ``Input`` and ``Output`` nodes, with their shapes;
- ``edges``: ``(source, target)`` names; cycles (recurrent connections) are allowed, and the inputs a
  node receives over several edges add up.

Every other node type (convolutions, pooling, the integrator ``I``) is one :class:`~emulator.errors.NirError`
naming the node and what to do; so is a malformed graph (an edge to a missing node, shapes that
do not match along an edge, a parameter that is NaN or infinite, a time constant that is not
positive, a file that is not NIR). :mod:`emulator.exchange.nir_sim` runs the result.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np

from emulator.errors import NirError
from emulator.files import replaced

#: the parameters of each neuron model the emulator runs, in NIR's names
NEURONS = {
    "IF": ("r", "v_threshold", "v_reset"),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "LI": ("tau", "r", "v_leak"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "Threshold": ("threshold",),
}
#: neuron models whose output is binary spikes (the others output their potential)
SPIKING = frozenset({"IF", "LIF", "CubaLIF", "Threshold"})
#: parameters that are time constants (seconds, positive)
TIME_CONSTANTS = frozenset({"tau", "tau_syn", "tau_mem"})
MAPS = ("Affine", "Linear", "Scale", "Flatten", "Delay")
SUPPORTED = ("Input", "Output", *MAPS, *NEURONS, "NIRGraph")
#: what to do with a NIR node type the emulator does not run
UNSUPPORTED = {
    "Conv1d": "flatten convolutions to Affine first (a dense weight matrix over the flattened input)",
    "Conv2d": "flatten convolutions to Affine first (a dense weight matrix over the flattened input)",
    "SumPool2d": "flatten pooling to Affine first (weights 1 over each window)",
    "AvgPool2d": "flatten pooling to Affine first (weights 1/window size over each window)",
    "I": "write the integrator as IF with a threshold it never reaches, or as LI",
}


@dataclass(frozen=True)
class Port:
    """An ``Input`` or ``Output`` node: where values enter or leave the graph.

    Attributes
    ----------
    name : str
    shape : tuple of int
        Shape of one sample's values.
    """

    name: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Population:
    """A neuron node: ``size`` neurons of one NIR model.

    Attributes
    ----------
    name : str
    model : str
        ``IF``, ``LIF``, ``LI``, ``CubaLI``, ``CubaLIF`` or ``Threshold``.
    shape : tuple of int
        Shape of the population (NIR's, e.g. ``(n,)``, or ``(c, h, w)`` after a convolution).
    params : dict of str to float64 array of ``shape``
        The parameters :data:`NEURONS` names for the model, in NIR's units: ``tau``, ``tau_syn``,
        ``tau_mem`` in seconds; ``r`` (resistance), ``v_leak``, ``v_threshold``, ``v_reset``,
        ``threshold`` in the units of the potential; ``w_in`` the input weight of the synaptic current.
    """

    name: str
    model: str
    shape: tuple[int, ...]
    params: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def spiking(self) -> bool:
        """Whether the population's output is binary spikes (else its potential, a float)."""
        return self.model in SPIKING

    @property
    def stateful(self) -> bool:
        """Whether it holds a state across steps (every model but ``Threshold``)."""
        return self.model != "Threshold"


@dataclass(frozen=True)
class Map:
    """A node between populations: a linear map, a reshape or a delay.

    Attributes
    ----------
    name : str
    kind : str
        ``Affine`` (``W x + b``), ``Linear`` (``W x``), ``Scale`` (``s * x``, element-wise), ``Flatten`` (a
        reshape: the values, flattened in C order, stay as they are) or ``Delay`` (``x(t - delay)``).
    shape_in, shape_out : tuple of int
    weight : (n_out, n_in) float64 or None
        ``Affine`` and ``Linear``.
    bias : (n_out,) float64 or None
        ``Affine``.
    scale : float64 array of ``shape_in`` or None
        ``Scale``.
    delay : float64 array of ``shape_in`` or None
        ``Delay``: seconds, per element.
    """

    name: str
    kind: str
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    scale: np.ndarray | None = None
    delay: np.ndarray | None = None


@dataclass(frozen=True)
class NirNetwork:
    """A flattened, validated NIR graph.

    Attributes
    ----------
    inputs, outputs : dict of str to Port
    populations : dict of str to Population
    maps : dict of str to Map
    edges : tuple of (str, str)
        ``(source, target)``; a node adds up what its incoming edges carry. Cycles are allowed.
    dt : float or None
        The time step the graph's metadata states (``metadata["dt"]``, seconds), if it states one.
    metadata : dict
        The top graph's metadata.
    """

    inputs: dict[str, Port]
    outputs: dict[str, Port]
    populations: dict[str, Population]
    maps: dict[str, Map]
    edges: tuple[tuple[str, str], ...]
    dt: float | None = None
    metadata: dict = field(default_factory=dict)

    def node(self, name: str) -> Port | Population | Map:
        for group in (self.inputs, self.outputs, self.populations, self.maps):
            if name in group:
                return group[name]
        raise KeyError(name)

    def shape_in(self, name: str) -> tuple[int, ...]:
        node = self.node(name)
        return node.shape_in if isinstance(node, Map) else node.shape

    def shape_out(self, name: str) -> tuple[int, ...]:
        node = self.node(name)
        return node.shape_out if isinstance(node, Map) else node.shape

    def sources(self, name: str) -> list[str]:
        """The nodes ``name`` receives from, one per edge."""
        return [a for a, b in self.edges if b == name]


def read_nir(source) -> NirNetwork:
    """Read, flatten and validate a NIR graph.

    Parameters
    ----------
    source : str, Path or nir.NIRGraph
        A ``.nir`` file (HDF5, as ``nir.write`` writes it) or a graph.

    Returns
    -------
    NirNetwork

    Raises
    ------
    NirError
        The file cannot be read as NIR, the graph is malformed, or it holds a node the emulator does not run.
    """
    if isinstance(source, nir.NIRGraph):
        graph, where = source, "NIR graph"
    else:
        graph, where = _read_file(Path(source)), str(source)
    if not isinstance(graph, nir.NIRGraph):
        raise NirError(f"{where} holds a single {type(graph).__name__} node, not a NIRGraph; wrap it in a graph "
                       "with Input and Output nodes")
    nodes, edges, passthrough = _flatten(graph, "", where, top=True)
    for name in sorted(passthrough):
        into = [a for a, b in edges if b == name]
        out = [b for a, b in edges if a == name]
        edges = [e for e in edges if name not in e] + [(a, b) for a in into for b in out]
        del nodes[name]
    metadata = dict(graph.metadata or {})
    return _build(nodes, tuple(edges), _dt_of(metadata, where), metadata, where)


def _read_file(path: Path):
    if not path.is_file():
        raise NirError(f"{path}: no such file; give the path of a NIR file (HDF5, as nir.write writes it)")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise NirError(f"cannot read {path}: {exc.strerror or exc}; make it readable") from None
    try:
        return nir.read(path, type_check=False)
    except (OSError, KeyError, ValueError, AssertionError, TypeError, AttributeError) as exc:
        reason = str(exc) or type(exc).__name__
        raise NirError(f"{path} is not a NIR graph that nir {nir.version} can read ({reason}); write it with "
                       "nir.write") from None


def _dt_of(metadata: dict, where: str) -> float | None:
    if "dt" not in metadata:
        return None
    try:
        dt = float(np.asarray(metadata["dt"], np.float64).item())
    except (TypeError, ValueError):
        dt = math.nan
    if not (math.isfinite(dt) and dt > 0):
        raise NirError(f"{where}: metadata dt = {metadata['dt']!r} is not a positive time step in seconds")
    return dt


def _flatten(graph, prefix: str, where: str, *, top: bool):
    """The nodes (full name -> NIR node) and edges of ``graph`` with its sub-graphs inlined, and the names of
    the sub-graphs' own Input and Output nodes (to contract)."""
    nodes, edges, passthrough = {}, [], set()
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges, inner_pass = _flatten(node, full + ".", where, top=False)
            nodes |= inner
            edges += inner_edges
            passthrough |= inner_pass
            continue
        kind = type(node).__name__
        if kind not in SUPPORTED:
            hint = UNSUPPORTED.get(kind, f"the emulator runs {', '.join(SUPPORTED)}")
            raise NirError(f"{where}: node {full!r} is a NIR {kind} node, which the emulator does not run; {hint}")
        if not top and kind in ("Input", "Output"):
            passthrough.add(full)
        nodes[full] = node
    for edge in graph.edges:
        edges.append(tuple(_endpoint(graph, prefix, end, role, edge, where)
                           for end, role in zip(edge, ("source", "target"))))
    return nodes, edges, passthrough


def _endpoint(graph, prefix: str, name: str, role: str, edge, where: str) -> str:
    """The full name of the node an edge's end names: a sub-graph stands for its only Output (as a source) or
    Input (as a target); ``sub.node`` names a node inside a sub-graph."""
    if name in graph.nodes:
        node = graph.nodes[name]
    else:
        head, _, rest = name.partition(".")
        if rest and isinstance(graph.nodes.get(head), nir.NIRGraph):
            return _endpoint(graph.nodes[head], f"{prefix}{head}.", rest, role, edge, where)
        raise NirError(f"{where}: edge {tuple(edge)} names node {prefix + name!r}, which the graph does not have "
                       f"(it has {', '.join(sorted(prefix + n for n in graph.nodes))})")
    if not isinstance(node, nir.NIRGraph):
        return prefix + name
    ports = node.outputs if role == "source" else node.inputs
    if len(ports) != 1:
        kind = "Output" if role == "source" else "Input"
        raise NirError(f"{where}: edge {tuple(edge)} joins sub-graph {prefix + name!r}, which has {len(ports)} "
                       f"{kind} nodes ({', '.join(sorted(ports)) or 'none'}); name one as {prefix + name}.NODE")
    return _endpoint(node, f"{prefix}{name}.", next(iter(ports)), role, edge, where)


def _build(nodes: dict, edges: tuple, dt: float | None, metadata: dict, where: str) -> NirNetwork:
    groups = {"inputs": {}, "outputs": {}, "populations": {}, "maps": {}}
    flatten_dims = {}
    for name, node in nodes.items():
        group, converted = _convert(name, node, where)
        groups[group][name] = converted
        if type(node).__name__ == "Flatten":
            flatten_dims[name] = int(node.start_dim), int(node.end_dim)
    if not groups["inputs"] or not groups["outputs"]:
        raise NirError(f"{where}: the graph needs at least one Input and one Output node, got "
                       f"{len(groups['inputs'])} and {len(groups['outputs'])}")
    network = NirNetwork(**groups, edges=edges, dt=dt, metadata=metadata)
    _infer_flatten_shapes(network, flatten_dims, where)
    for a, b in edges:
        if b in network.inputs:
            raise NirError(f"{where}: edge {(a, b)} leads into Input node {b!r}; an Input receives only the data")
        if a in network.outputs:
            raise NirError(f"{where}: edge {(a, b)} leaves Output node {a!r}; connect the node before it instead")
        if network.shape_out(a) != network.shape_in(b):
            raise NirError(f"{where}: edge {(a, b)} joins an output of shape {network.shape_out(a)} to an input of "
                           f"shape {network.shape_in(b)}; the shapes along an edge must be equal")
    return network


def _convert(name: str, node, where: str):
    """``(group, Port | Population | Map)`` of one NIR node, its parameters checked."""
    kind = type(node).__name__

    def floats(field_name: str, value) -> np.ndarray:
        try:
            array = np.array(value, np.float64)
        except (TypeError, ValueError):
            array = np.array(math.nan)
        if not np.isfinite(array).all():
            raise NirError(f"{where}: node {name!r} ({kind}): parameter {field_name} holds NaN or infinite values "
                           "(or is not numeric); give finite numbers")
        return array

    if kind == "Input":
        return "inputs", Port(name, _shape(node.input_type["input"], name, where))
    if kind == "Output":
        return "outputs", Port(name, _shape(node.output_type["output"], name, where))
    if kind in NEURONS:
        params = {p: floats(p, getattr(node, p)) for p in NEURONS[kind]}
        shape = params[NEURONS[kind][0]].shape
        for p, value in params.items():
            if value.shape != shape:
                raise NirError(f"{where}: node {name!r} ({kind}): parameter {p} has shape {value.shape} but "
                               f"{NEURONS[kind][0]} has {shape}; give every parameter the population's shape")
            if p in TIME_CONSTANTS and not (value > 0).all():
                raise NirError(f"{where}: node {name!r} ({kind}): time constant {p} must be positive, got "
                               f"{value.min()}")
        return "populations", Population(name, kind, tuple(int(n) for n in shape), params)
    if kind in ("Affine", "Linear"):
        weight = floats("weight", node.weight)
        if weight.ndim != 2:
            raise NirError(f"{where}: node {name!r} ({kind}): weight has shape {weight.shape}; the emulator runs "
                           "2-D weights (n_out, n_in) only")
        bias = floats("bias", node.bias) if kind == "Affine" else None
        if bias is not None and bias.shape != weight.shape[:1]:
            raise NirError(f"{where}: node {name!r} (Affine): bias has shape {bias.shape}, the weight's "
                           f"{weight.shape} needs ({weight.shape[0]},)")
        return "maps", Map(name, kind, weight.shape[1:], weight.shape[:1], weight=weight, bias=bias)
    if kind == "Scale":
        scale = floats("scale", node.scale)
        return "maps", Map(name, kind, scale.shape, scale.shape, scale=scale)
    if kind == "Delay":
        delay = floats("delay", node.delay)
        if (delay < 0).any():
            raise NirError(f"{where}: node {name!r} (Delay): delays must not be negative, got {delay.min()}")
        return "maps", Map(name, kind, delay.shape, delay.shape, delay=delay)
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None  # Flatten
    shape = None if shape is None else _shape(shape, name, where)
    return "maps", Map(name, kind, shape, None)


def _shape(value, name: str, where: str) -> tuple[int, ...]:
    shape = np.atleast_1d(np.asarray(value))
    if shape.dtype.kind not in "iuf" or not (shape >= 1).all() or not np.equal(np.mod(shape, 1), 0).all():
        raise NirError(f"{where}: node {name!r} has shape {value!r}; a shape is a list of positive integers")
    return tuple(int(n) for n in shape)


def _flattened(shape: tuple[int, ...], start: int, end: int) -> tuple[int, ...]:
    """NIR's ``Flatten`` of one sample of ``shape``: dimensions ``start..end`` (inclusive, negative from the end)
    merged into one."""
    start, end = start % len(shape), end % len(shape)
    return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]


def _infer_flatten_shapes(network: NirNetwork, dims: dict, where: str) -> None:
    """Set the shapes of the Flatten nodes (in place): the input shape NIR gives, or their source's."""
    pending = dict(dims)
    while pending:
        progress = False
        for name, (start, end) in list(pending.items()):
            old = network.maps[name]
            shape = old.shape_in
            if shape is None:
                known = [network.shape_out(a) for a in network.sources(name)
                         if a not in pending]
                if not known:
                    continue
                shape = known[0]
            if not -len(shape) <= start < len(shape) or not -len(shape) <= end < len(shape):
                raise NirError(f"{where}: node {name!r} (Flatten): dimensions {start}..{end} are outside its input "
                               f"shape {shape}")
            network.maps[name] = Map(name, "Flatten", shape, _flattened(shape, start, end))
            del pending[name]
            progress = True
        if not progress:
            raise NirError(f"{where}: Flatten node(s) {', '.join(sorted(pending))} have no input shape and no source "
                           "to take it from; give Flatten its input_type")


def write_nir(path: Path, graph: nir.NIRGraph) -> Path:
    """Write ``graph`` as a NIR file (``nir.write``'s HDF5) to ``path`` atomically; returns ``path``."""
    data = io.BytesIO()
    nir.write(data, graph)
    with replaced(path) as f:
        f.write(data.getbuffer())
    return path
