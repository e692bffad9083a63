"""A fixed-point layered network as Lava processes.

:class:`LavaNetwork` builds a sigma-delta network, :class:`LavaLifNetwork` a network of LIF neurons.
A :class:`~emulator.backends.loihi.sigma_delta.FixedNet` becomes a ``RingBuffer`` input that sends its
graded spikes at the first step, the neurons of each relaxing layer, and ``Dense`` processes
(24-bit graded messages) for every coupling, forward and feedback. The neurons are one
:class:`~emulator.backends.loihi.lava.processes.ClippedSigmaDelta` population per layer, or, for a ``pair``
network, two of Lava's standard ``SigmaDelta`` populations with ReLU activations (``A`` with
bias ``b``, ``B`` with ``b - act_max``, sending through ``W`` and ``-W``). Run with
``Loihi2SimCfg(select_tag='fixed_pt')``, Lava picks its fixed-point models, and the
emulator's states equal Lava's at every step (``tests/backends/loihi/test_lava.py``).

A :class:`~emulator.backends.loihi.lif.LifNet` becomes a ``RingBuffer`` sending the inputs' binary
spike trains, a ``LIF`` population per relaxing layer and binary ``Dense`` processes
(``num_message_bits=0``) for every coupling, forward and feedback
(``tests/backends/loihi/test_lava_lif.py``).
"""
from __future__ import annotations

import numpy as np

from emulator.backends.loihi.lava import require_lava


class _Layered:
    """What both kinds of network share: the input source, a list of populations per relaxing layer
    (``layers``), probes, running and reading back. Subclasses set ``source``, ``layers``, ``steps`` and
    ``monitors``."""

    def _couple_all(self, Dense, net, bits: int):
        """Forward and (above the input) feedback ``Dense`` processes for every coupling of ``net``."""
        senders = [[self.source]] + self.layers
        for k, (w, exp) in enumerate(zip(net.down, net.weight_exp)):
            self._couple(Dense, senders[k], self.layers[k], w, exp, f"W{k}", bits)
            if k >= 1:
                self._couple(Dense, self.layers[k], self.layers[k - 1], np.ascontiguousarray(w.T), exp, f"W{k}T",
                             bits)

    @staticmethod
    def _couple(Dense, senders, receivers, weights, exp, name, bits):
        """A Dense process from each sending population (``W``, and ``-W`` from a pair's ``B``) to every
        population of the receiving layer."""
        for sign, sender in zip((1, -1), senders):
            dense = Dense(weights=sign * weights, weight_exp=exp, num_message_bits=bits, name=name + "AB"[sign < 0])
            sender.s_out.connect(dense.s_in)
            for receiver in receivers:
                dense.a_out.connect(receiver.a_in)

    def _probe(self, names, steps: int):
        """Record the variables ``names`` of every relaxing population for ``steps`` steps."""
        from lava.proc.monitor.process import Monitor

        for k, populations in enumerate(self.layers, start=1):
            self.monitors[k] = {name: [Monitor() for _ in populations] for name in names}
            for name, monitors in self.monitors[k].items():
                for monitor, population in zip(monitors, populations):
                    monitor.probe(getattr(population, name), steps)

    def run(self, steps: int):
        """Run ``steps`` more steps (the first call compiles the network)."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        self.source.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))

    def trace(self) -> dict:
        """What the probes recorded: ``{layer k: {name: (steps, N_k) int}}``, the populations of a layer (a pair's
        ``A`` then ``B`` neurons) side by side, as the emulator holds them."""
        return {k: {name: np.concatenate([np.asarray(mon.get_data()[population.name][name]).reshape(self.steps, -1)
                                          for mon, population in zip(monitors, self.layers[k - 1])], axis=1)
                    for name, monitors in probes.items()} for k, probes in self.monitors.items()}

    def stop(self):
        self.source.stop()


class LavaNetwork(_Layered):
    """The Lava processes of a fixed-point sigma-delta layered network, for one input.

    Parameters
    ----------
    net : FixedNet
    x_spikes : (n_0,) int, or (T, n_0) int
        Graded spikes the input sends at the first step, or at each of the first ``T`` steps.
    steps : int
        Length of the input buffer (the input is silent after the spikes given).
    bias : list of (n_k,) int, optional
        Biases of layers 1..L in activation units; ``net.bias`` by default.
    probe : bool
        Record every layer's sigma, activation and graded spikes for ``steps`` steps (:meth:`trace`).
    """

    def __init__(self, net, x_spikes, steps: int, bias=None, probe: bool = False):
        require_lava()
        from lava.proc.dense.process import Dense
        from lava.proc.io.source import RingBuffer

        self.net = net
        self.source = RingBuffer(data=_ring(x_spikes, net.layers[0], steps))
        bias = net.bias if bias is None else bias
        self.layers = [self._populations(k, n, b) for k, (n, b) in enumerate(zip(net.layers[1:], bias), start=1)]
        self._couple_all(Dense, net, 24)
        self.steps = steps
        self.monitors = {}
        if probe:
            self._probe(("sigma", "act", "s_out"), steps)

    def _populations(self, k: int, n: int, bias) -> list:
        """The neuron processes of layer ``k``: one clipped population, or the ``A`` and ``B`` pair."""
        net, s = self.net, self.net.state_exp
        if not net.pair:
            from emulator.backends.loihi.lava.processes import ClippedSigmaDelta  # after require_lava: it imports Lava

            return [ClippedSigmaDelta(shape=(n,), vth=net.vth >> s, bias=np.asarray(bias) >> s,
                                      act_max=net.act_max, state_exp=s, name=f"layer{k}")]
        from lava.proc.sdn.process import ActivationMode, SigmaDelta

        # the neuron scales vth and bias up by 2**state_exp, so they are given in spike units
        return [SigmaDelta(shape=(n,), vth=net.vth >> s, bias=b >> s, act_mode=ActivationMode.RELU,
                           state_exp=s, name=f"layer{k}{half}")
                for half, b in zip("AB", np.split(net.neuron_bias(bias), 2))]

    def set_bias(self, k: int, bias):
        """Set the bias of layer ``k``'s units (activation units) between runs, e.g. to nudge the output."""
        for population, b in zip(self.layers[k - 1], np.split(self.net.neuron_bias(bias), len(self.layers[k - 1]))):
            population.bias.set(np.asarray(b, np.int32))

    def activations(self) -> list[np.ndarray]:
        """Activation of every relaxing layer's neurons now (the runtime must be alive)."""
        return [np.concatenate([np.asarray(p.act.get()).astype(np.int64) for p in populations])
                for populations in self.layers]


class LavaLifNetwork(_Layered):
    """The Lava processes of a layered network of fixed-point LIF neurons with binary spikes, for one input.

    Parameters
    ----------
    net : LifNet
    train : (T, n_0) bool
        The inputs' spikes at each of the first ``T`` steps (:func:`emulator.backends.spiking.input_train`).
    steps : int
        Length of the input buffer (the inputs are silent after the train; Lava's ``RingBuffer`` repeats it
        after that many steps).
    bias_mant : list of (n_k,) int, optional
        Bias mantissas of layers 1..L; ``net.bias_mant`` by default (the exponents are ``net.bias_exp``).
    probe : bool
        Record every layer's current, voltage and spikes for ``steps`` steps (:meth:`trace`: ``u``, ``v``, ``s_out``).
    """

    def __init__(self, net, train, steps: int, bias_mant=None, probe: bool = False):
        require_lava()
        from lava.proc.dense.process import Dense
        from lava.proc.io.source import RingBuffer
        from lava.proc.lif.process import LIF

        self.source = RingBuffer(data=_ring(np.asarray(train, np.int32), net.layers[0], steps))
        mantissas = net.bias_mant if bias_mant is None else bias_mant
        self.layers = [[LIF(shape=(n,), du=net.du, dv=net.dv, vth=net.vth, bias_mant=np.asarray(m, np.int32),
                            bias_exp=e, name=f"layer{k}")]
                       for k, (n, m, e) in enumerate(zip(net.layers[1:], mantissas, net.bias_exp), start=1)]
        self._couple_all(Dense, net, 0)
        self.steps = steps
        self.monitors = {}
        if probe:
            self._probe(("u", "v", "s_out"), steps)

    def set_bias_mant(self, k: int, mantissas):
        """Set the bias mantissas of layer ``k`` between runs (its exponent stays), e.g. to nudge the outputs."""
        self.layers[k - 1][0].bias_mant.set(np.asarray(mantissas, np.int32))

    def states(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(u, v)`` of every relaxing layer now, int64 (the runtime must be alive)."""
        return [(np.asarray(p.u.get()).astype(np.int64), np.asarray(p.v.get()).astype(np.int64))
                for (p,) in self.layers]


def _ring(spikes, n_inputs: int, steps: int) -> np.ndarray:
    """A ``RingBuffer``'s data (n_inputs, max(steps, T)) int32: the (T, n_inputs) or (n_inputs,) spikes the input
    sends at each of the first T steps, then nothing."""
    train = np.atleast_2d(np.asarray(spikes, np.int32))
    data = np.zeros((n_inputs, max(steps, len(train))), np.int32)
    data[:, :len(train)] = train.T
    return data
