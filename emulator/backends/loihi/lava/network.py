"""A fixed-point layered network as Lava processes.

A :class:`~emulator.backends.loihi.sigma_delta.FixedNet` becomes a ``RingBuffer`` input that sends its
graded spikes at the first step, the neurons of each relaxing layer, and ``Dense`` processes
(24-bit graded messages) for every coupling, forward and feedback. The neurons are one
:class:`~emulator.backends.loihi.lava.processes.ClippedSigmaDelta` population per layer, or, for a ``pair``
network, two of Lava's standard ``SigmaDelta`` populations with ReLU activations (``A`` with
bias ``b``, ``B`` with ``b - act_max``, sending through ``W`` and ``-W``). Run with
``Loihi2SimCfg(select_tag='fixed_pt')``, Lava picks its fixed-point models, and the
emulator's states equal Lava's at every step (``tests/backends/loihi/test_lava.py``).
"""
from __future__ import annotations

import numpy as np

from emulator.backends.loihi.lava import require_lava


class LavaNetwork:
    """The Lava processes of a fixed-point layered network, for one input.

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
        train = np.atleast_2d(np.asarray(x_spikes, np.int32))
        data = np.zeros((net.layers[0], max(steps, len(train))), np.int32)
        data[:, :len(train)] = train.T
        self.source = RingBuffer(data=data)
        bias = net.bias if bias is None else bias
        self.layers = [self._populations(k, n, b) for k, (n, b) in enumerate(zip(net.layers[1:], bias), start=1)]
        senders = [[self.source]] + self.layers
        for k, (w, exp) in enumerate(zip(net.down, net.weight_exp)):
            self._couple(Dense, senders[k], self.layers[k], w, exp, f"W{k}")
            if k >= 1:
                self._couple(Dense, self.layers[k], self.layers[k - 1], np.ascontiguousarray(w.T), exp, f"W{k}T")
        self.steps = steps
        self.monitors = {}
        if probe:
            from lava.proc.monitor.process import Monitor

            for k, populations in enumerate(self.layers, start=1):
                self.monitors[k] = {name: [Monitor() for _ in populations] for name in ("sigma", "act", "s_out")}
                for name, monitors in self.monitors[k].items():
                    for monitor, population in zip(monitors, populations):
                        monitor.probe(getattr(population, name), steps)

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

    @staticmethod
    def _couple(Dense, senders, receivers, weights, exp, name):
        """A Dense process from each sending population (``W``, and ``-W`` from a pair's ``B``) to every
        population of the receiving layer."""
        for sign, sender in zip((1, -1), senders):
            dense = Dense(weights=sign * weights, weight_exp=exp, num_message_bits=24, name=name + "AB"[sign < 0])
            sender.s_out.connect(dense.s_in)
            for receiver in receivers:
                dense.a_out.connect(receiver.a_in)

    def run(self, steps: int):
        """Run ``steps`` more steps (the first call compiles the network)."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        self.source.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))

    def trace(self) -> dict:
        """What the probes recorded: ``{layer k: {"sigma", "act", "s_out": (steps, N_k) int}}``, the
        ``A`` then the ``B`` neurons of a pair side by side, as the emulator holds them."""
        return {k: {name: np.concatenate([np.asarray(mon.get_data()[population.name][name]).reshape(self.steps, -1)
                                          for mon, population in zip(monitors, self.layers[k - 1])], axis=1)
                    for name, monitors in probes.items()} for k, probes in self.monitors.items()}

    def set_bias(self, k: int, bias):
        """Set the bias of layer ``k``'s units (activation units) between runs, e.g. to nudge the output."""
        for population, b in zip(self.layers[k - 1], np.split(self.net.neuron_bias(bias), len(self.layers[k - 1]))):
            population.bias.set(np.asarray(b, np.int32))

    def activations(self) -> list[np.ndarray]:
        """Activation of every relaxing layer's neurons now (the runtime must be alive)."""
        return [np.concatenate([np.asarray(p.act.get()).astype(np.int64) for p in populations])
                for populations in self.layers]

    def stop(self):
        self.source.stop()
