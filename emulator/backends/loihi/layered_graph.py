"""The layered EqProp network as one instance of the general :class:`~emulator.backends.loihi.graph.Graph`.

The relaxation kernels of :mod:`~emulator.backends.loihi.sigma_delta` and :mod:`~emulator.backends.loihi.lif` are
fast paths for this one shape; :func:`layered_graph` writes the same network as populations and ``Dense``
processes, and the tests check that both run to the same states at every step. A ``pair`` sigma-delta network
(``neuron: relu_pair``) and a LIF network (``neuron: lif``) are made of Lava's standard processes only; the
``clipped`` neuron is a process the emulator adds to Lava and has no general form.
"""
from __future__ import annotations

import numpy as np

from emulator.backends.loihi.graph import Dense, Graph, Lif, RingBuffer, SigmaDelta
from emulator.backends.loihi.lif import LifNet
from emulator.backends.loihi.sigma_delta import FixedNet
from emulator.errors import ConfigError


def _stream(train: np.ndarray, steps: int) -> RingBuffer:
    """A stream sending ``train`` (T, n) at its first T steps and nothing after, for ``steps`` steps."""
    data = np.zeros((train.shape[1], max(steps, len(train))), np.int64)
    data[:, :len(train)] = train.T
    return RingBuffer(data=data, name="input")


def _couplings(net, senders: list[list[str]], receivers: list[list[str]], bits: int) -> list[Dense]:
    """Forward ``W_k`` from every sending population of layer ``k`` to every population of layer ``k + 1``, and
    (above the input) feedback ``W_k^T``; a pair's ``B`` population sends ``-W``."""
    dense = []
    for k, (w, exp) in enumerate(zip(net.down, net.weight_exp)):
        links = [(senders[k], receivers[k], w, f"W{k}")]
        if k >= 1:
            links.append((senders[k + 1], receivers[k - 1], np.ascontiguousarray(w.T), f"W{k}T"))
        for sources, targets, weights, name in links:
            for sign, source in zip((1, -1), sources):
                dense += [Dense(source=source, target=target, weights=sign * weights.astype(np.int64), weight_exp=exp,
                                num_message_bits=bits, name=f"{name}{'AB'[sign < 0]}->{target}") for target in targets]
    return dense


def layered_graph(net: FixedNet | LifNet, inputs: np.ndarray, steps: int) -> Graph:
    """The general graph of a layered network run from rest on one input.

    Parameters
    ----------
    net : FixedNet (with ``pair``) or LifNet
    inputs : (T, n_0) int
        What the input sends at each of its first ``T`` steps (graded spikes, or a binary train for LIF).
    steps : int
        Steps the graph will run (the stream is silent after its ``T`` steps).
    """
    train = np.atleast_2d(np.asarray(inputs, np.int64))
    if isinstance(net, LifNet):
        layers = [[Lif(size=n, du=net.du, dv=net.dv, vth=net.vth, bias_mant=m, bias_exp=e, name=f"layer{k}")]
                  for k, (n, m, e) in enumerate(zip(net.layers[1:], net.bias_mant, net.bias_exp), start=1)]
        bits = 0
    elif net.pair:
        s = net.state_exp
        layers = [[SigmaDelta(size=n, vth=net.vth >> s, bias=b >> s, act_mode="relu", state_exp=s,
                              name=f"layer{k}{half}") for half, b in zip("AB", np.split(net.neuron_bias(bias), 2))]
                  for k, (n, bias) in enumerate(zip(net.layers[1:], net.bias), start=1)]
        bits = 24
    else:
        raise ConfigError("the clipped sigma-delta neuron is a process the emulator adds to Lava; only pair "
                          "(neuron: relu_pair) and LIF (neuron: lif) networks are general graphs")
    source = _stream(train, steps)
    names = [[source.name]] + [[p.name for p in layer] for layer in layers]
    dense = _couplings(net, names, names[1:], bits)
    return Graph(populations=(source, *(p for layer in layers for p in layer)), connections=tuple(dense))
