"""Placement of a network of populations on the neuro-cores of one or more chips.

A network is a :class:`Topology`: populations (the layers of an EqProp network, or the populations of any
:class:`~emulator.backends.loihi.graph.Graph`) and which populations' spikes reach which. Each population is
split evenly over as few cores as its limits allow: neurons per core, synaptic
memory per core (a neuron's fan-in weights live in its core) and input axons per core.
Cores are numbered layer by layer and laid out row by row on each chip's mesh; chips sit side
by side, so a message's route length is the Manhattan distance between its two cores.
A spike goes as one message to every core that holds some of its receivers (Loihi's axon
routing); the receiving core then does one synaptic op per receiving neuron.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from emulator.errors import CapacityError


@dataclass(frozen=True, kw_only=True)
class CoreLimits:
    """Resources of one core and of the system (the ``parameters`` of a Loihi chip file)."""

    neurons_per_core: int
    synapse_bytes_per_core: int
    axons_in_per_core: int
    axons_out_per_core: int
    cores_per_chip: int
    mesh_columns: int
    max_chips: int
    weight_bits: int


@dataclass(frozen=True)
class Topology:
    """Populations and the connections between them, as placement and counting need them.

    Attributes
    ----------
    sizes : tuple of int
        Neurons per population.
    senders : tuple of tuple of int
        For each population, the populations whose spikes reach it, once per connection (its fan-in is the sum of
        their sizes).
    inputs : tuple of int
        Populations that are input sources: they send but do not update.
    names : tuple of str
        How errors name each population.
    remedy : str
        What an error tells the user to change to make the network smaller.
    """

    sizes: tuple[int, ...]
    senders: tuple[tuple[int, ...], ...]
    inputs: tuple[int, ...] = (0,)
    names: tuple[str, ...] = ()
    remedy: str = "use smaller network.layers"

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        if not self.names:
            object.__setattr__(self, "names", tuple(f"layer {k}" for k in range(len(self.sizes))))

    def fan_in(self, k: int) -> int:
        """Synapses into one neuron of population ``k``."""
        return sum(self.sizes[j] for j in self.senders[k])

    def receivers(self, k: int) -> list[int]:
        """Populations that receive the spikes of population ``k``, once per connection."""
        return [j for j, senders in enumerate(self.senders) for s in senders if s == k]


def layered(layers) -> Topology:
    """The topology of a layered network: layer ``k`` hears layers ``k - 1`` and ``k + 1``; the input hears none."""
    depth = len(layers)
    return Topology(tuple(layers), tuple(() if k == 0 else tuple(j for j in (k - 1, k + 1) if j < depth)
                                         for k in range(depth)))


@dataclass(frozen=True)
class Mapping:
    """Where every neuron sits, and the routing cost of a spike from each core.

    Attributes
    ----------
    topology : Topology
        The network placed.
    layer_cores : tuple of (first, count) per population
        The cores of each population (layer), ``first .. first + count - 1``.
    core_size : (n_cores,) int
        Neurons per core.
    core_synapses : (n_cores,) int
        Synapses (fan-in weights) stored per core.
    chip_of, row, column : (n_cores,) int
        Position of each core.
    messages, hops, chip_messages, max_hops : (n_cores,) int
        Per spike fired in a core: messages sent (destination cores), their total route length
        in mesh hops, how many of them leave the chip, and the longest route.
    """

    topology: Topology
    layer_cores: tuple[tuple[int, int], ...]
    core_size: np.ndarray
    core_synapses: np.ndarray
    chip_of: np.ndarray
    row: np.ndarray
    column: np.ndarray
    messages: np.ndarray
    hops: np.ndarray
    chip_messages: np.ndarray
    max_hops: np.ndarray

    @property
    def n_cores(self) -> int:
        return int(self.core_size.size)

    @property
    def n_chips(self) -> int:
        return int(self.chip_of.max()) + 1

    @property
    def layers(self) -> tuple[int, ...]:
        """Neurons per population."""
        return self.topology.sizes

    def starts(self, k: int) -> np.ndarray:
        """Index of each core's first neuron within layer ``k`` (for ``np.add.reduceat``)."""
        first, count = self.layer_cores[k]
        return np.concatenate([[0], np.cumsum(self.core_size[first:first + count])[:-1]])

    @cached_property
    def population_of(self) -> np.ndarray:
        """(n_cores,) int64: the population each core holds neurons of."""
        return np.repeat(np.arange(len(self.layer_cores)), [count for _, count in self.layer_cores])

    @cached_property
    def feeds(self) -> np.ndarray:
        """(n_populations, n_cores) int64: the connections from population ``k`` into the neurons of core ``c``
        (each of its spikes is that many synaptic ops per neuron there)."""
        feeds = np.zeros((len(self.layer_cores), self.n_cores), np.int64)
        for k in range(len(self.layer_cores)):
            for j in self.topology.receivers(k):
                first, count = self.layer_cores[j]
                feeds[k, first:first + count] += 1
        return feeds

    @cached_property
    def updated(self) -> np.ndarray:
        """(n_cores,) bool: cores whose neurons update every step (not those of an input source)."""
        return np.array([k not in self.topology.inputs for k in self.population_of], np.bool_)

    def core_of(self) -> list[np.ndarray]:
        """Core of every neuron, per population: a list of (n_k,) int64."""
        return [np.repeat(np.arange(first, first + count), self.core_size[first:first + count])
                for first, count in self.layer_cores]

    def summary(self) -> dict:
        return {"cores": self.n_cores, "chips": self.n_chips,
                "cores_per_layer": [count for _, count in self.layer_cores],
                "neurons_per_core": self.core_size.tolist(), "synapses_per_core": self.core_synapses.tolist()}


def map_network(network, limits: CoreLimits, *, where: str = "the chip") -> Mapping:
    """Split every population over cores and place them; :class:`CapacityError` naming the limit if it cannot.

    ``network`` is a :class:`Topology`, or the layer sizes of a layered network. A population whose cores would
    need more output axons (neurons x destination cores) than a core has is split over more cores, until it
    fits or a core would hold no neuron.
    """
    if isinstance(network, Topology):
        return _map(network, limits, where)
    return _map_layers(tuple(int(n) for n in network), limits, where)


@lru_cache(maxsize=64)
def _map_layers(sizes: tuple, limits: CoreLimits, where: str) -> Mapping:
    """A layered network's mapping, which its sizes and the limits fix: computed once for every batch a training
    re-programs (its arrays are made read-only, as the programs share them)."""
    mapping = _map(layered(sizes), limits, where)
    for value in vars(mapping).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return mapping


def _map(top: Topology, limits: CoreLimits, where: str) -> Mapping:
    capacity = [_capacity(top, k, limits, where) for k in range(len(top.sizes))]
    while True:
        mapping = _place(top, capacity, limits, where)
        out_axons = mapping.core_size * mapping.messages
        c = int(out_axons.argmax())
        if out_axons[c] <= limits.axons_out_per_core:
            return mapping
        k = next(k for k, (first, count) in enumerate(mapping.layer_cores) if first <= c < first + count)
        capacity[k] = limits.axons_out_per_core // mapping.messages[c]
        if capacity[k] == 0:
            raise CapacityError(
                f"a neuron of {top.names[k]} sends to {mapping.messages[c]:,} cores but a core of {where} has "
                f"{limits.axons_out_per_core:,} output axons (parameters.axons_out_per_core); {top.remedy}")


def count_cores(network, limits: CoreLimits, *, where: str = "the chip") -> int:
    """Cores a network (a :class:`Topology` or layer sizes) needs at least (each population over as few cores as
    its neuron, synapse and input-axon limits allow), without placing it; :class:`CapacityError` naming the limit
    it exceeds."""
    top = network if isinstance(network, Topology) else layered(network)
    n_cores = sum(-(-n // _capacity(top, k, limits, where)) for k, n in enumerate(top.sizes))
    _check_cores(n_cores, top, limits, where)
    return n_cores


def _check_cores(n_cores: int, top: Topology, limits: CoreLimits, where: str):
    available = limits.cores_per_chip * limits.max_chips
    if n_cores > available:
        raise CapacityError(
            f"the network {list(top.sizes)} needs {n_cores:,} cores but {where} has {available:,} "
            f"({limits.max_chips} chips x {limits.cores_per_chip} cores: parameters.max_chips, "
            f"parameters.cores_per_chip); {top.remedy}")


def _capacity(top: Topology, k: int, limits: CoreLimits, where: str) -> int:
    """Neurons of population ``k`` one core can hold."""
    f = top.fan_in(k)
    if f > limits.axons_in_per_core:
        raise CapacityError(
            f"a neuron of {top.names[k]} receives from {f:,} neurons but a core of {where} has "
            f"{limits.axons_in_per_core:,} input axons (parameters.axons_in_per_core); {top.remedy}")
    per_neuron = -(-f * limits.weight_bits // 8)
    if per_neuron > limits.synapse_bytes_per_core:
        raise CapacityError(
            f"a neuron of {top.names[k]} needs {per_neuron:,} bytes of synapses but a core of {where} has "
            f"{limits.synapse_bytes_per_core:,} (parameters.synapse_bytes_per_core); {top.remedy}")
    return min(limits.neurons_per_core, limits.synapse_bytes_per_core // per_neuron if per_neuron else
               limits.neurons_per_core)


def _place(top: Topology, capacity, limits: CoreLimits, where: str) -> Mapping:
    sizes, synapses, layer_cores = [], [], []
    for k, n in enumerate(top.sizes):
        count = -(-n // capacity[k])
        layer_cores.append((len(sizes), count))
        split = [len(part) for part in np.array_split(np.arange(n), count)]
        sizes += split
        synapses += [s * top.fan_in(k) for s in split]
    n_cores = len(sizes)
    _check_cores(n_cores, top, limits, where)
    ids = np.arange(n_cores)
    chip_of = ids // limits.cores_per_chip
    row, column = np.divmod(ids % limits.cores_per_chip, limits.mesh_columns)
    column = column + chip_of * limits.mesh_columns  # chips side by side
    messages, hops, chip_messages, max_hops = (np.zeros(n_cores, np.int64) for _ in range(4))
    for k, (first, count) in enumerate(layer_cores):
        dest = np.array([c for j in top.receivers(k) for c in range(*_span(layer_cores[j]))], np.int64)
        for c in range(first, first + count):
            route = np.abs(row[dest] - row[c]) + np.abs(column[dest] - column[c])
            messages[c], hops[c], max_hops[c] = dest.size, route.sum(), route.max(initial=0)
            chip_messages[c] = np.count_nonzero(chip_of[dest] != chip_of[c])
    return Mapping(top, tuple(layer_cores), np.asarray(sizes), np.asarray(synapses), chip_of, row, column,
                   messages, hops, chip_messages, max_hops)


def _span(cores: tuple[int, int]) -> tuple[int, int]:
    first, count = cores
    return first, first + count
