"""A general :class:`~emulator.backends.loihi.graph.Graph` placed on a Loihi-style chip, run, and counted.

Placement is the layered network's (:mod:`emulator.backends.loihi.mapping`): every population, input streams
included, is split over as few cores as the chip's neuron, synapse and axon limits allow, with the same capacity
errors, naming the population. The counts are the same per core (:mod:`emulator.backends.loihi.counting`): a
spike of a population becomes one message to every core of every population a ``Dense`` connects it to, and
one synaptic op per receiving neuron; the critical path sums every step's slowest core, longest route and barrier.
"""
from __future__ import annotations

from dataclasses import dataclass

from emulator.backends.base import Program
from emulator.backends.loihi.counting import count
from emulator.backends.loihi.graph import Graph
from emulator.backends.loihi.graph_run import GraphRun, run_graph
from emulator.backends.loihi.mapping import CoreLimits, Mapping, Topology, map_network
from emulator.counters import Counters


def topology(graph: Graph) -> Topology:
    """Sizes of the graph's populations, and which populations each one hears (once per ``Dense``)."""
    senders = tuple(tuple(graph.index(d.source) for d in graph.connections if d.target == p.name)
                    for p in graph.populations)
    return Topology(graph.sizes, senders, inputs=graph.inputs,
                    names=tuple(f"population {p.name!r}" for p in graph.populations),
                    remedy="use smaller populations, or split them")


@dataclass(frozen=True, kw_only=True)
class GraphProgram(Program):
    """A graph on the chip's cores.

    Attributes
    ----------
    graph : Graph
    mapping : Mapping
        Where every population's neurons sit, and the routes of their messages.
    time_s : dict of str to float
        Seconds per op of the chip's time table, for the critical path.
    """

    graph: Graph
    mapping: Mapping
    time_s: dict

    def summary(self) -> dict:
        kinds = {p.name: type(p).__name__ for p in self.graph.populations}
        return {"populations": kinds, "connections": len(self.graph.connections), **self.mapping.summary()}


def compile_graph(graph: Graph, limits: CoreLimits, time_s: dict, *, where: str) -> GraphProgram:
    """Place ``graph`` on cores; :class:`~emulator.errors.CapacityError` naming the population and limit if it won't
    fit. Programming it writes every stored non-zero weight once."""
    writes = sum(int((d.stored != 0).sum()) for d in graph.connections)
    return GraphProgram(programming=Counters(weight_writes=writes), graph=graph,
                        mapping=map_network(topology(graph), limits, where=where), time_s=time_s)


def run_program(program: GraphProgram, steps: int, inputs: dict | None = None) -> tuple[GraphRun, Counters]:
    """Run the placed graph (see :func:`~emulator.backends.loihi.graph_run.run_graph`) and count what the chip did."""
    run = run_graph(program.graph, steps, inputs=inputs, core_of=program.mapping.core_of())
    return run, count(program, run)
