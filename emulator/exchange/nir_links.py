"""The maps of a NIR graph folded into links: which population hears which source, through which weights.

A chip does not run NIR's maps one by one: a neuro-core's synapses hold the product of the ``Affine``,
``Linear``, ``Scale`` and ``Flatten`` nodes between two populations, as one weight matrix. :func:`links` walks
every path of maps from each source (an ``Input`` or a population) to the populations it reaches and returns one
:class:`Link` per (source, target, delay): the summed product of the weights along the paths, the constant input
the ``Affine`` biases along them add, and the steps of the ``Delay`` nodes on them. Paths with the same delay add
up. An ``Output`` fed by a population directly reads that population; one fed through maps is a readout the host
computes from the population's values (:attr:`Readout.weight`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.errors import NirError
from emulator.exchange.nir_graph import NirNetwork
from emulator.exchange.nir_sim import delay_steps


@dataclass(frozen=True)
class Link:
    """What population ``target`` receives from ``source`` through the maps between them.

    Attributes
    ----------
    source, target : str
        An ``Input`` or population name, and a population name.
    weight : (n_target, n_source) float64
        The product of the maps' weights, summed over the paths (in NIR's units: current per source value).
    bias : (n_target,) float64
        The constant current the paths' ``Affine`` biases add, every step.
    delay : int
        Steps of the ``Delay`` nodes on the paths.
    """

    source: str
    target: str
    weight: np.ndarray
    bias: np.ndarray
    delay: int


@dataclass(frozen=True)
class Readout:
    """An ``Output`` node: the population it reads, and the map from that population's values to its values.

    Attributes
    ----------
    output, source : str
    weight : (n_output, n_source) float64
        Identity where the output reads the population directly.
    bias : (n_output,) float64
    """

    output: str
    source: str
    weight: np.ndarray
    bias: np.ndarray


def _through(network: NirNetwork, name: str, weight: np.ndarray, bias: np.ndarray, delay: int, dt: float):
    """A path's weight, bias and delay after map ``name``."""
    node = network.maps[name]
    if node.kind in ("Affine", "Linear"):
        bias = node.weight @ bias + (node.bias if node.kind == "Affine" else 0.0)
        return node.weight @ weight, bias, delay
    if node.kind == "Scale":
        scale = node.scale.ravel()
        return scale[:, None] * weight, scale * bias, delay
    if node.kind == "Delay":
        steps = np.unique(delay_steps(node, dt))
        if steps.size > 1:
            raise NirError(f"Delay node {node.name!r} delays its elements by different steps ({steps.tolist()}); a "
                           "chip delays a connection as a whole: split it into one Delay per delay")
        return weight, bias, delay + int(steps[0])
    return weight, bias, delay  # Flatten


def _paths(network: NirNetwork, source: str, dt: float):
    """Every (end node, weight, bias, delay) where a path of maps from ``source`` reaches a population or an Output."""
    n = int(np.prod(network.shape_out(source)))
    stack = [(source, np.eye(n), np.zeros(n), 0, ())]
    while stack:
        node, weight, bias, delay, seen = stack.pop()
        for a, b in network.edges:
            if a != node:
                continue
            if b in network.maps:
                if b in seen:
                    raise NirError(f"maps {' -> '.join((*seen, b))} form a cycle with no population in it: a chip "
                                   "cannot run it; close recurrent loops through a neuron population")
                stack.append((b, *_through(network, b, weight, bias, delay, dt), (*seen, b)))
            else:
                yield b, weight, bias, delay


def links(network: NirNetwork, dt: float) -> tuple[list[Link], list[Readout]]:
    """The links between the sources and populations of ``network``, and its readouts (see the module docstring).

    Raises
    ------
    NirError
        A cycle of maps with no population in it, a ``Delay`` with different delays per element, or an ``Output``
        that is fed by more than one population or by an ``Input``.
    """
    merged, readouts = {}, {}
    for source in (*network.inputs, *network.populations):
        for end, weight, bias, delay in _paths(network, source, dt):
            if end in network.outputs:
                if source in network.inputs or (end in readouts and readouts[end][0] != source):
                    raise NirError(f"Output {end!r} is fed by {source!r}"
                                   + (" and another population" if end in readouts else ", an Input") +
                                   ": a chip's outputs are what one of its populations does; end the graph at one")
                _, w, b = readouts.get(end, (source, 0.0, 0.0))
                readouts[end] = (source, w + weight, b + bias)
                continue
            key = (source, end, delay)
            w, b = merged.get(key, (0.0, 0.0))
            merged[key] = (w + weight, b + bias)
    found = [Link(s, t, w, np.broadcast_to(b, w.shape[:1]).copy(), d) for (s, t, d), (w, b) in merged.items()]
    return found, [Readout(o, s, w, np.broadcast_to(b, w.shape[:1]).copy()) for o, (s, w, b) in readouts.items()]
