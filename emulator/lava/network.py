"""A fixed-point layered network as Lava processes.

A :class:`~emulator.engine.sigma_delta.FixedNet` becomes a ``RingBuffer`` input that sends its
graded spikes at the first step, one :class:`~emulator.lava.processes.ClippedSigmaDelta`
population per relaxing layer, and two ``Dense`` processes (24-bit graded messages) per
coupling, forward and feedback. Run with ``Loihi2SimCfg(select_tag='fixed_pt')``, Lava picks
``PyDenseModelBitAcc`` and the clipped sigma-delta model, and the emulator's states equal
Lava's at every step (``tests/test_lava.py``).
"""
from __future__ import annotations

import numpy as np

from emulator.lava import require_lava


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
        from emulator.lava.processes import ClippedSigmaDelta  # after require_lava: it imports Lava
        from lava.proc.dense.process import Dense
        from lava.proc.io.source import RingBuffer

        s = net.state_exp
        train = np.atleast_2d(np.asarray(x_spikes, np.int32))
        data = np.zeros((net.layers[0], max(steps, len(train))), np.int32)
        data[:, :len(train)] = train.T
        self.source = RingBuffer(data=data)
        bias = net.bias if bias is None else bias
        self.layers = [ClippedSigmaDelta(shape=(n,), vth=net.vth >> s, bias=np.asarray(b) >> s,
                                         act_max=net.act_max, state_exp=s, name=f"layer{k}")
                       for k, (n, b) in enumerate(zip(net.layers[1:], bias), start=1)]
        senders = [self.source] + self.layers
        self.dense = []
        for k, (w, exp) in enumerate(zip(net.down, net.weight_exp)):
            forward = Dense(weights=w, weight_exp=exp, num_message_bits=24, name=f"W{k}")
            senders[k].s_out.connect(forward.s_in)
            forward.a_out.connect(self.layers[k].a_in)
            self.dense.append(forward)
            if k >= 1:
                feedback = Dense(weights=np.ascontiguousarray(w.T), weight_exp=exp, num_message_bits=24,
                                 name=f"W{k}T")
                self.layers[k].s_out.connect(feedback.s_in)
                feedback.a_out.connect(self.layers[k - 1].a_in)
                self.dense.append(feedback)
        self.steps = steps
        self.monitors = {}
        if probe:
            from lava.proc.monitor.process import Monitor

            for k, layer in enumerate(self.layers, start=1):
                self.monitors[k] = {}
                for name in ("sigma", "act", "s_out"):
                    self.monitors[k][name] = Monitor()
                    self.monitors[k][name].probe(getattr(layer, name), steps)

    def run(self, steps: int):
        """Run ``steps`` more steps (the first call compiles the network)."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        self.layers[0].run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))

    def trace(self) -> dict:
        """What the probes recorded: ``{layer k: {"sigma", "act", "s_out": (steps, n_k) int}}``."""
        return {k: {name: np.asarray(mon.get_data()[self.layers[k - 1].name][name]).reshape(self.steps, -1)
                    for name, mon in probes.items()} for k, probes in self.monitors.items()}

    def set_bias(self, k: int, bias):
        """Set the bias of layer ``k`` (activation units) between runs, e.g. to nudge the output."""
        self.layers[k - 1].bias.set(np.asarray(bias, np.int32))

    def activations(self) -> list[np.ndarray]:
        """Activation of every relaxing layer now (the runtime must be alive)."""
        return [np.asarray(layer.act.get()).astype(np.int64) for layer in self.layers]

    def stop(self):
        self.layers[0].stop()
