"""The counting model of lava-dl's PilotNet SNN on Loihi 2: shapes, placement and per-core counts.

``chips/loihi2.yaml`` prices Loihi 2 operations with Loihi 1's per-op figures; the one measured
Loihi 2 figure set at hand is lava-dl's PilotNet LIF benchmark (1 chip, 74 cores, 16 steps per
frame). This module counts, for that network's shape and a given spiking activity, the
operations :class:`~emulator.backends.loihi.backend.LoihiBackend` counts, so that
``benchmarks/experiments/pilotnet_check.py`` can price them with the chip file and compare with the
measurement. Counting is pure numpy on shapes.

Counting model (one time step, steady state):

- every neuron updates every step (LIF state decays); it is *active* if it received at least
  one spike or fired, otherwise *idle*. The input layer is on-chip LIF neurons driven by a
  bias (the image), so all of them are active every step;
- a spike of a neuron costs one synaptic op per receiving neuron (its exact fan-out from the
  conv or dense shapes, padding included), done by the receiving core;
- a spike goes as one message to every core that holds at least one of its receivers, each
  message routed over the Manhattan distance between the two cores on an 8-column mesh
  (cores numbered layer by layer from the input, row by row), as :mod:`.mapping` does;
- a step lasts as long as its slowest core's work plus the longest route plus the barrier,
  as :func:`~emulator.backends.loihi.backend.count` computes it; one barrier sync per step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emulator.backends.loihi.backend import LoihiBackend
from emulator.backends.loihi.counting import core_seconds

#: the operations priced here: what the Loihi back-end counts during inference
OPS = tuple(op for op in LoihiBackend.ops if op != "weight_writes")

#: where every measured and architectural figure below comes from
REPO = "lava-nc/lava-dl"
BENCHMARK_NB = "tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb"
BENCHMARK_COMMIT = "dad9dfad9d81744bc8f21876f1e4bac46beeda8d"
RUN_NB = "tutorials/lava/lib/dl/netx/pilotnet_snn/run.ipynb"
RUN_COMMIT = "0174ac5c8feca7b99b86f44209e567d216caef66"

#: measured on one Loihi 2 chip (partition 'oheogulch'), stored outputs of BENCHMARK_NB cells 9, 13, 14
MEASURED = {
    "fps": 408.91,
    "steps_per_frame": 16,
    "total_power_w": 0.679234,
    "dynamic_power_w": 0.447156,
    "static_power_w": 0.232078,
    "energy_total_j": 1.661103e-3,
    "energy_dynamic_j": 1.093544e-3,
    "cores": 74,
}
MEASURED["step_s"] = 1.0 / (MEASURED["fps"] * MEASURED["steps_per_frame"])


# ----------------------------------------------------------------------------------------------
# The network: shapes and placement


@dataclass(frozen=True)
class Layer:
    """One layer of neurons and the synapses that feed it from the layer before.

    Attributes
    ----------
    name : str
    shape : (W, H, C)
        Neurons; a dense layer is ``(n, 1, 1)``.
    kind : {"input", "conv", "dense"}
    kernel, stride, padding : (W, H) pairs
        Of the convolution from the previous layer (conv only).
    tile_w : int
        Conv and input layers: each core holds ``tile_w`` columns of W with all of H and C
        (the last core fewer). 0 for dense layers.
    cores : int
        Dense layers: neurons split as evenly as ``np.array_split`` does over this many cores.
    """

    name: str
    shape: tuple[int, int, int]
    kind: str = "input"
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    tile_w: int = 0
    cores: int = 0

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def core_of_x(self) -> np.ndarray:
        """Local core index of each W coordinate, shape (W,)."""
        w = self.shape[0]
        if self.tile_w:
            return np.arange(w) // self.tile_w
        return np.concatenate([np.full(len(part), i) for i, part in
                               enumerate(np.array_split(np.arange(w), self.cores))])

    @property
    def n_cores(self) -> int:
        return int(self.core_of_x()[-1]) + 1


def conv_out(n: int, k: int, s: int, p: int) -> int:
    """Output length of a convolution along one axis."""
    return (n + 2 * p - k) // s + 1


def input_layer(name, shape, *, tile_w) -> Layer:
    return Layer(name, tuple(shape), "input", tile_w=tile_w)


def conv(name, prev: Layer, channels, *, kernel=(3, 3), stride=(1, 1), padding=(0, 0), tile_w) -> Layer:
    (w, h, _), (kw, kh), (sw, sh), (pw, ph) = prev.shape, kernel, stride, padding
    shape = (conv_out(w, kw, sw, pw), conv_out(h, kh, sh, ph), channels)
    return Layer(name, shape, "conv", tuple(kernel), tuple(stride), tuple(padding), tile_w=tile_w)


def dense(name, n, *, cores) -> Layer:
    return Layer(name, (n, 1, 1), "dense", cores=cores)


def pilotnet_snn() -> list[Layer]:
    """PilotNet LIF as deployed in the benchmark: shapes, kernels, strides, padding and the
    per-core tiles of the compiler's "Per core distribution" table (BENCHMARK_NB cells 3 and 8)."""
    layers = [input_layer("input", (200, 66, 3), tile_w=16)]                      # 13 cores
    layers.append(conv("conv1", layers[-1], 24, stride=(2, 2), tile_w=4))          # 99x32x24, 25 cores
    layers.append(conv("conv2", layers[-1], 36, stride=(2, 2), tile_w=4))          # 49x15x36, 13 cores
    layers.append(conv("conv3", layers[-1], 48, stride=(2, 2), tile_w=8))          # 24x7x48, 3 cores
    layers.append(conv("conv4", layers[-1], 64, stride=(1, 2), padding=(0, 1), tile_w=8))  # 22x4x64, 3
    layers.append(conv("conv5", layers[-1], 64, stride=(1, 1), tile_w=16))         # 20x2x64, 2 cores
    layers += [dense("dense1", 100, cores=12), dense("dense2", 50, cores=1),
               dense("dense3", 10, cores=1), dense("output", 1, cores=1)]
    return layers


def axis_map(n_in: int, n_out: int, k: int, s: int, p: int) -> np.ndarray:
    """(n_in, n_out) bool: output ``o`` reads input ``x`` along one conv axis (``0 <= x + p - o s < k``)."""
    d = np.arange(n_in)[:, None] + p - np.arange(n_out)[None, :] * s
    return (d >= 0) & (d < k)


@dataclass(frozen=True)
class Connection:
    """Synapses from layer ``k - 1`` into layer ``k`` and the routes of the spikes that use them.

    Attributes
    ----------
    bx, by : bool arrays (W_src, W_dst), (H_src, H_dst) or None
        Conv connectivity along W and H (a conv connects every input to every output channel).
    fan_in : (W_dst, H_dst) float
        Synapses into one neuron of each (x, y) position of the destination layer.
    messages : (W_src, H_src) float
        Messages a spike of a source neuron at (x, y) becomes (distinct destination cores).
    hops : (W_src, H_src) float
        Total mesh hops of those messages.
    route : (n_cores_src,) float
        Longest route of any message a source core sends (for the step's latency).
    """

    bx: np.ndarray | None
    by: np.ndarray | None
    fan_in: np.ndarray
    messages: np.ndarray
    hops: np.ndarray
    route: np.ndarray


@dataclass(frozen=True)
class Wiring:
    """A network placed on a chip's mesh: layers, their cores and their connections."""

    layers: tuple[Layer, ...]
    first_core: tuple[int, ...]
    row: np.ndarray
    col: np.ndarray
    connections: tuple[Connection | None, ...]  # connections[k] feeds layer k; None for the input

    @property
    def n_cores(self) -> int:
        return int(self.row.size)

    def core_layer(self) -> np.ndarray:
        """Index of the layer each core belongs to, shape (n_cores,)."""
        return np.concatenate([np.full(layer.n_cores, k) for k, layer in enumerate(self.layers)])


def wire(layers, mesh_columns: int = 8) -> Wiring:
    """Place ``layers`` on cores numbered layer by layer, laid out row by row on the mesh."""
    layers = tuple(layers)
    first = tuple(int(f) for f in np.cumsum([0] + [layer.n_cores for layer in layers])[:-1])
    n_cores = first[-1] + layers[-1].n_cores
    row, col = np.divmod(np.arange(n_cores), mesh_columns)
    dist = np.abs(row[:, None] - row[None, :]) + np.abs(col[:, None] - col[None, :])
    connections = [None]
    for k in range(1, len(layers)):
        src, dst = layers[k - 1], layers[k]
        src_core = first[k - 1] + src.core_of_x()                          # (W_src,)
        dst_cores = first[k] + np.arange(dst.n_cores)
        if dst.kind == "conv":
            (ws, hs, cs), (wd, hd, _) = src.shape, dst.shape
            bx = axis_map(ws, wd, dst.kernel[0], dst.stride[0], dst.padding[0])
            by = axis_map(hs, hd, dst.kernel[1], dst.stride[1], dst.padding[1])
            onehot = dst.core_of_x()[:, None] == np.arange(dst.n_cores)[None, :]
            reaches = (bx.astype(np.int64) @ onehot) > 0                   # (W_src, dst cores)
            heard = by.any(1)                                              # (H_src,)
            fan_in = np.outer(bx.sum(0), by.sum(0)) * cs
        elif dst.kind == "dense":
            bx = by = None
            reaches = np.ones((src.shape[0], dst.n_cores), bool)
            heard = np.ones(src.shape[1], bool)
            fan_in = np.full((dst.shape[0], 1), src.size)
        else:
            raise ValueError(f"layer {dst.name!r}: only the first layer can be an input layer")
        d = dist[src_core][:, dst_cores]                                   # (W_src, dst cores)
        hops_x = (reaches * d).sum(1)
        route_x = np.where(reaches, d, 0).max(1)
        route = np.zeros(src.n_cores)
        np.maximum.at(route, src.core_of_x(), route_x * heard.any())
        connections.append(Connection(bx, by, fan_in.astype(float),
                                      np.outer(reaches.sum(1), heard).astype(float),
                                      np.outer(hops_x, heard).astype(float), route))
    # the last layer's spikes go nowhere: its messages, hops and routes stay zero
    return Wiring(layers, first, row, col, tuple(connections))


# ----------------------------------------------------------------------------------------------
# Counting one step


@dataclass(frozen=True)
class StepCounts:
    """Operations of one time step, per core (the Loihi back-end's op names).

    ``per_core[op]`` is a (n_cores,) float array: exact integers when counted from spike
    indicators, expected values when counted from spike probabilities. Messages, hops and
    spikes belong to the sending core, synaptic ops and neuron updates to the receiving one.
    ``route`` is the longest route (hops) of a message each core sent this step.
    """

    per_core: dict
    route: np.ndarray

    def total(self, op: str) -> float:
        return float(self.per_core[op].sum())

    def totals(self) -> dict[str, float]:
        return {op: self.total(op) for op in OPS}


def _by_core(layer: Layer, per_neuron: np.ndarray) -> np.ndarray:
    """Sum a (W, H, C)-broadcastable array over each of the layer's cores, shape (layer cores,)."""
    per_x = np.broadcast_to(per_neuron, layer.shape).sum((1, 2))
    return np.bincount(layer.core_of_x(), weights=per_x, minlength=layer.n_cores)


def _heard(conn: Connection, s: np.ndarray) -> np.ndarray:
    """sum of ``s`` over the presynaptic neurons of each destination (x, y): shape (W_dst, H_dst)."""
    if conn.bx is None:
        return np.full(conn.fan_in.shape, float(s.sum()))
    return conn.bx.T.astype(float) @ s.sum(2) @ conn.by.astype(float)


def step_counts(wiring: Wiring, spikes, *, expected: bool = False) -> StepCounts:
    """Count one time step's operations per core.

    Parameters
    ----------
    wiring : Wiring
    spikes : list of arrays, one per layer, each broadcastable to the layer's (W, H, C)
        Which neurons fire this step: 0/1 indicators (exact counts) or, with
        ``expected=True``, firing probabilities (expected counts, neurons independent).

    Returns
    -------
    StepCounts
    """
    layers = wiring.layers
    if len(spikes) != len(layers):
        raise ValueError(f"spikes: one array per layer ({len(layers)}), got {len(spikes)}")
    spikes = [np.broadcast_to(np.asarray(s, float), layer.shape) for s, layer in zip(spikes, layers)]
    ops = {op: np.zeros(wiring.n_cores) for op in OPS}
    route = np.zeros(wiring.n_cores)
    for k, (layer, s) in enumerate(zip(layers, spikes)):
        cores = slice(wiring.first_core[k], wiring.first_core[k] + layer.n_cores)
        ops["spikes"][cores] = _by_core(layer, s)
        conn = wiring.connections[k]
        if conn is None:  # input neurons integrate their bias: every one is active every step
            active = np.ones(layer.shape)
        else:
            synops = _heard(conn, spikes[k - 1])[:, :, None]  # one op per spike heard, per neuron
            ops["synaptic_ops"][cores] = _by_core(layer, np.broadcast_to(synops, layer.shape))
            if expected:
                log_silent = _heard(conn, np.log1p(-np.minimum(spikes[k - 1], 1 - 1e-12)))
                active = 1 - np.exp(log_silent)[:, :, None] * (1 - s)
            else:
                active = (synops > 0) | (s > 0)
        n_active = _by_core(layer, active)
        ops["neuron_updates_active"][cores] = n_active
        ops["neuron_updates_idle"][cores] = _by_core(layer, np.ones(1)) - n_active
        if k + 1 < len(layers):
            out = wiring.connections[k + 1]
            ops["messages"][cores] = _by_core(layer, out.messages[:, :, None] * s)
            ops["hops"][cores] = _by_core(layer, out.hops[:, :, None] * s)
            route[cores] = np.where(ops["spikes"][cores] > 0, out.route, 0)
    ops["barrier_syncs"][0] = 1  # one mesh-wide barrier per step
    return StepCounts(ops, route)


# ----------------------------------------------------------------------------------------------
# Pricing


def dynamic_energy_j(counts: StepCounts, energy_per_op: dict) -> float:
    """Joules of the counted operations: ``sum_op count[op] * energy[op]``."""
    return sum(counts.total(op) * energy_per_op[op] for op in OPS)


def core_work_s(counts: StepCounts, time_per_op: dict) -> np.ndarray:
    """Seconds of work of each core in the step, shape (n_cores,), as the Loihi back-end sums it."""
    c = counts.per_core
    return core_seconds(time_per_op, active=c["neuron_updates_active"], idle=c["neuron_updates_idle"],
                        synaptic_ops=c["synaptic_ops"], spikes=c["spikes"], messages=c["messages"])


def step_time_s(counts: StepCounts, time_per_op: dict) -> float:
    """Slowest core's work + the longest route + the barrier: one step's latency, seconds.

    One chip, so no chip-to-chip hop (``chip_messages`` stays 0)."""
    t = time_per_op
    return float(core_work_s(counts, t).max()) + float(counts.route.max()) * t["hops"] + t["barrier_syncs"]


def uniform_activity(layers, rate: float) -> list[np.ndarray]:
    """Every neuron of every layer spikes with probability ``rate`` per step."""
    return [np.full(layer.shape, float(rate)) for layer in layers]
