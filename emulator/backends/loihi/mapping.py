"""Placement of a layered network on the neuro-cores of one or more chips.

Each layer is split evenly over as few cores as its limits allow: neurons per core, synaptic
memory per core (a neuron's fan-in weights live in its core) and input axons per core.
Cores are numbered layer by layer and laid out row by row on each chip's mesh; chips sit side
by side, so a message's route length is the Manhattan distance between its two cores.
A spike goes as one message to every core that holds some of its receivers (Loihi's axon
routing); the receiving core then does one synaptic op per receiving neuron.
"""
from __future__ import annotations

from dataclasses import dataclass

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
class Mapping:
    """Where every neuron sits, and the routing cost of a spike from each core.

    Attributes
    ----------
    layer_cores : tuple of (first, count) per layer 0..L
        The cores of each layer, ``first .. first + count - 1``.
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

    layers: tuple[int, ...]
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

    def starts(self, k: int) -> np.ndarray:
        """Index of each core's first neuron within layer ``k`` (for ``np.add.reduceat``)."""
        first, count = self.layer_cores[k]
        return np.concatenate([[0], np.cumsum(self.core_size[first:first + count])[:-1]])

    def summary(self) -> dict:
        return {"cores": self.n_cores, "chips": self.n_chips,
                "cores_per_layer": [count for _, count in self.layer_cores],
                "neurons_per_core": self.core_size.tolist(), "synapses_per_core": self.core_synapses.tolist()}


def fan_in(layers, k: int) -> int:
    """Synapses into one neuron of layer ``k``: from both neighbours (none for the input)."""
    if k == 0:
        return 0
    return layers[k - 1] + (layers[k + 1] if k + 1 < len(layers) else 0)


def neighbours(layers, k: int) -> list[int]:
    """Layers that receive the spikes of layer ``k`` (the input layer receives nothing)."""
    return [j for j in (k - 1, k + 1) if 1 <= j < len(layers)]


def map_network(layers, limits: CoreLimits, *, where: str = "the chip") -> Mapping:
    """Split every layer over cores and place them; :class:`CapacityError` naming the limit if it cannot.

    A layer whose cores would need more output axons (neurons x destination cores) than a core
    has is split over more cores, until it fits or a core would hold no neuron.
    """
    layers = tuple(int(n) for n in layers)
    capacity = [_capacity(layers, k, limits, where) for k in range(len(layers))]
    while True:
        mapping = _place(layers, capacity, limits, where)
        out_axons = mapping.core_size * mapping.messages
        c = int(out_axons.argmax())
        if out_axons[c] <= limits.axons_out_per_core:
            return mapping
        k = next(k for k, (first, count) in enumerate(mapping.layer_cores) if first <= c < first + count)
        capacity[k] = limits.axons_out_per_core // mapping.messages[c]
        if capacity[k] == 0:
            raise CapacityError(
                f"a neuron of layer {k} sends to {mapping.messages[c]:,} cores but a core of {where} has "
                f"{limits.axons_out_per_core:,} output axons (parameters.axons_out_per_core); use smaller "
                "network.layers")


def count_cores(layers, limits: CoreLimits, *, where: str = "the chip") -> int:
    """Cores a network of these layer sizes needs at least (each layer over as few cores as its neuron,
    synapse and input-axon limits allow), without placing it; :class:`CapacityError` naming the limit
    it exceeds."""
    layers = tuple(int(n) for n in layers)
    n_cores = sum(-(-n // _capacity(layers, k, limits, where)) for k, n in enumerate(layers))
    _check_cores(n_cores, layers, limits, where)
    return n_cores


def _check_cores(n_cores: int, layers, limits: CoreLimits, where: str):
    available = limits.cores_per_chip * limits.max_chips
    if n_cores > available:
        raise CapacityError(
            f"the network {list(layers)} needs {n_cores:,} cores but {where} has {available:,} "
            f"({limits.max_chips} chips x {limits.cores_per_chip} cores: parameters.max_chips, "
            "parameters.cores_per_chip); use smaller network.layers")


def _capacity(layers, k: int, limits: CoreLimits, where: str) -> int:
    """Neurons of layer ``k`` one core can hold."""
    f = fan_in(layers, k)
    if f > limits.axons_in_per_core:
        raise CapacityError(
            f"a neuron of layer {k} receives from {f:,} neurons but a core of {where} has "
            f"{limits.axons_in_per_core:,} input axons (parameters.axons_in_per_core); use smaller "
            "network.layers")
    per_neuron = -(-f * limits.weight_bits // 8)
    if per_neuron > limits.synapse_bytes_per_core:
        raise CapacityError(
            f"a neuron of layer {k} needs {per_neuron:,} bytes of synapses but a core of {where} has "
            f"{limits.synapse_bytes_per_core:,} (parameters.synapse_bytes_per_core); use smaller "
            "network.layers")
    return min(limits.neurons_per_core, limits.synapse_bytes_per_core // per_neuron if per_neuron else
               limits.neurons_per_core)


def _place(layers, capacity, limits: CoreLimits, where: str) -> Mapping:
    sizes, synapses, layer_cores = [], [], []
    for k, n in enumerate(layers):
        count = -(-n // capacity[k])
        layer_cores.append((len(sizes), count))
        split = [len(part) for part in np.array_split(np.arange(n), count)]
        sizes += split
        synapses += [s * fan_in(layers, k) for s in split]
    n_cores = len(sizes)
    _check_cores(n_cores, layers, limits, where)
    ids = np.arange(n_cores)
    chip_of = ids // limits.cores_per_chip
    row, column = np.divmod(ids % limits.cores_per_chip, limits.mesh_columns)
    column = column + chip_of * limits.mesh_columns  # chips side by side
    messages, hops, chip_messages, max_hops = (np.zeros(n_cores, np.int64) for _ in range(4))
    for k, (first, count) in enumerate(layer_cores):
        dest = np.array([c for j in neighbours(layers, k) for c in range(*_span(layer_cores[j]))], np.int64)
        for c in range(first, first + count):
            route = np.abs(row[dest] - row[c]) + np.abs(column[dest] - column[c])
            messages[c], hops[c], max_hops[c] = dest.size, route.sum(), route.max(initial=0)
            chip_messages[c] = np.count_nonzero(chip_of[dest] != chip_of[c])
    return Mapping(layers, tuple(layer_cores), np.asarray(sizes), np.asarray(synapses), chip_of, row, column,
                   messages, hops, chip_messages, max_hops)


def _span(cores: tuple[int, int]) -> tuple[int, int]:
    first, count = cores
    return first, first + count
