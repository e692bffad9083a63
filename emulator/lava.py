"""Bring a Lava network to the emulator, and an emulator network to Lava.

``from_lava(processes)`` walks a process graph built with Lava 0.10's ``SigmaDelta``, ``LIF``, ``Dense`` and
``RingBuffer`` and returns the emulator's :class:`~emulator.backends.loihi.graph.Graph`, which runs bit-exactly on
the emulated Loihi (:func:`run_graph`, or placed on a chip's cores and counted with
``LoihiBackend().compile_graph`` and ``run_graph``); ``to_lava(graph)`` builds the Lava processes of a graph.
See :mod:`emulator.backends.loihi.lava.graph`.
"""
from emulator.backends.loihi.graph import Dense, Graph, Lif, RingBuffer, SigmaDelta
from emulator.backends.loihi.graph_run import GraphRun, run_graph
from emulator.backends.loihi.lava.graph import from_lava, to_lava

__all__ = ["Dense", "Graph", "GraphRun", "Lif", "RingBuffer", "SigmaDelta", "from_lava", "run_graph", "to_lava"]
