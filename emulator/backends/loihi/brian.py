"""The Loihi chip's fixed-point LIF network (``neuron: lif``) written in Brian2, integer for integer.

:func:`lif_to_brian2` builds, from a :class:`~emulator.backends.loihi.lif.LifNet`, a Brian2 network
that runs Lava's ``PyLifModelBitAcc`` arithmetic: a ``SpikeGeneratorGroup`` for the inputs' trains,
a ``NeuronGroup`` per relaxing layer and ``Synapses`` that add a spike's integer weight to the
receiver's accumulator of its ``Dense`` (forward ``a_up``, feedback ``a_down``). Each step, before
the threshold, an operation does what ``Dense`` and ``LIF`` do with the accumulators of the spikes of
the step before (the one-step synaptic delay)::

    u = sgn(u keep_u) floor(|u keep_u| / 4096) + 64 (floor(a_up 2**e_up) + floor(a_down 2**e_down))
    u = u - 2**24 [u > 2**23] + 2**24 [u <= -2**23]
    v = clip(sgn(v keep_v) floor(|v keep_v| / 4096) + u + bias, -(2**23 - 1), 2**23 - 1)
    threshold v > vth << 6; reset v = 0

with ``keep_u = 4096 - du - 1`` and ``keep_v = 4096 - dv``. The variables are float64 holding integers
below 2**36, which float64 represents exactly, and every operation on them (products, sums, division by
a power of two, floor) is exact: Brian2 then fires the same spikes as the emulator and Lava and ends in
the same currents and voltages, bit for bit (``tests/backends/loihi/test_lif.py``). It is the third
simulator of ``benchmarks/speed/bench_lif.py``.
"""
from __future__ import annotations

import numpy as np

from emulator.backends.loihi.lif import ALIGN, DECAY_BITS, UV_BITS
from emulator.backends.spiking import code_target

#: Brian2 time of one step
STEP_MS = 1.0

NEURON = """
u : 1
v : 1
a_up : 1
a_down : 1
bias : 1 (constant)
"""


def _step_code(keep_u: int, keep_v: int, exp_up: int, exp_down: int) -> str:
    """One LIF step of a layer whose ``Dense`` accumulators have exponents ``exp_up`` and ``exp_down``."""
    unity, wrap, limit = 1 << DECAY_BITS, 1 << (UV_BITS - 1), (1 << (UV_BITS - 1)) - 1
    return "\n".join((
        f"u = sign(u * {keep_u}) * floor(abs(u * {keep_u}) / {unity}) + {1 << ALIGN} * "
        f"(floor(a_up * {2.0 ** exp_up!r}) + floor(a_down * {2.0 ** exp_down!r}))",
        f"u = u - {2 * wrap} * int(u > {wrap}) + {2 * wrap} * int(u <= -{wrap})",
        f"v = clip(sign(v * {keep_v}) * floor(abs(v * {keep_v}) / {unity}) + u + bias, -{limit}, {limit})",
        "a_up = 0",
        "a_down = 0"))


def lif_to_brian2(net, train: np.ndarray, *, bias=None, target: str = "numpy"):
    """The Brian2 network of ``net`` for one input, from rest.

    Parameters
    ----------
    net : LifNet
    train : (steps, n_0) bool
        The input's spikes at each step.
    bias : list of (n_k,) int, layers 1..L, optional
        Biases in voltage units (``bias_mant << bias_exp``); ``net.bias`` by default.
    target : str
        Brian2 code target: ``numpy`` (no compiler) or ``cython``.

    Returns
    -------
    (network, layers, monitors) : the ``brian2.Network``, its ``NeuronGroup`` per relaxing layer and a
    ``SpikeMonitor`` per relaxing layer; run it with ``network.run(steps * STEP_MS * brian2.ms)`` after
    setting ``brian2.prefs.codegen.target`` to ``target``.
    """
    with code_target(target) as b2:  # building generates code too
        dt = STEP_MS * b2.ms
        step, index = np.nonzero(np.asarray(train, bool))
        source = b2.SpikeGeneratorGroup(net.layers[0], index, step * dt, dt=dt, name="inputs")
        depth = len(net.down)
        keep_u, keep_v = (1 << DECAY_BITS) - net.du - 1, (1 << DECAY_BITS) - net.dv
        layers = []
        for k, (n, b) in enumerate(zip(net.layers[1:], net.bias if bias is None else bias), start=1):
            group = b2.NeuronGroup(n, NEURON, threshold=f"v > {net.vth << ALIGN}", reset="v = 0", dt=dt, name=f"layer{k}")
            group.bias = np.asarray(b, np.float64)
            exp_down = net.weight_exp[k] if k < depth else 0
            group.run_regularly(_step_code(keep_u, keep_v, net.weight_exp[k - 1], exp_down), when="groups",
                                name=f"lif{k}")
            layers.append(group)
        synapses = []
        senders = [source] + layers
        for k, w in enumerate(net.down):
            synapses.append(_couple(b2, senders[k], layers[k], w, "a_up", dt, f"W{k}"))
            if k >= 1:
                synapses.append(_couple(b2, layers[k], layers[k - 1], w.T, "a_down", dt, f"W{k}T"))
        monitors = [b2.SpikeMonitor(g, name=f"spikes{k}") for k, g in enumerate(layers, start=1)]
        return b2.Network(source, *layers, *synapses, *monitors), layers, monitors


def _couple(b2, pre, post, weights: np.ndarray, accumulator: str, dt, name: str):
    """Synapses from ``pre`` to ``post`` (weights (n_post, n_pre), zero ones left out) adding to ``accumulator``."""
    post_index, pre_index = np.nonzero(np.asarray(weights))
    synapses = b2.Synapses(pre, post, "w : 1 (constant)", on_pre=f"{accumulator}_post += w", dt=dt, name=name)
    synapses.connect(i=pre_index, j=post_index)
    synapses.w = np.asarray(weights, np.float64)[post_index, pre_index]
    return synapses
