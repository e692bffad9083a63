"""Exchanging networks with other neuromorphic tools, independent of any chip family.

``nir_graph`` reads a NIR graph (Pedersen et al. 2024) into a small typed representation,
:class:`~emulator.exchange.nir_graph.NirNetwork`; ``nir_sim`` runs it with NIR's float semantics
at a stated time step and counts what a chip would pay for. A family's deploy target writes NIR
(e.g. :mod:`emulator.backends.snn.nir`) and checks its file with these two. ``encoding`` turns
static inputs (intensities in [0, 1]) into spike trains to feed such a graph.
"""
