"""Run a deployed EqProp network in Lava and check it against the emulator it was trained on.

Usage: ``python run_lava.py [--sim | --hw]``, from any folder. Needs numpy and lava-nc 0.10
(Python 3.10); it does not need the emulator.

``network.npz`` (beside this file) holds a layered network in Loihi 2's integers and a few
test samples. For each sample this script builds the network's Lava processes: a
``RingBuffer`` input that sends the sample's graded spikes at step 1 and nothing after; per
relaxing layer either two of Lava's standard ``SigmaDelta`` populations with ReLU activations
(``pair``: ``A`` with bias ``b`` and ``B`` with bias ``b - act_max``, whose difference is the
unit's hard sigmoid) or one ``ClippedSigmaDelta`` population (``processes.py``); and per
coupling ``W_k`` a forward ``Dense(W_k)`` and, above the input, a feedback ``Dense(W_k.T)``
(with ``pair``, from ``A`` through ``W`` and from ``B`` through ``-W``). It runs
``free_steps`` steps, reads the output neurons' activations, takes the most active unit as
the class, and compares class and activations with the emulator's. The result goes to
``lava_check.json`` beside this file; the exit status is 0 when everything is equal.

A network of LIF neurons (``neuron`` is ``lif`` in ``network.npz``) is built the same way from
Lava's ``LIF`` populations and binary ``Dense`` processes (``num_message_bits=0``), its input a
``RingBuffer`` of each sample's binary spike trains; the class is the output neuron that fired most
in the last ``window`` steps, and the check compares those counts and the output neurons' final
currents and voltages.

``--sim`` runs ``Loihi2SimCfg(select_tag='fixed_pt')``, Lava's bit-accurate fixed-point
simulation on the CPU, which the emulator equals bit for bit. ``--hw`` runs
``Loihi2HwCfg()`` on a Loihi 2 system: it needs Intel's lava-loihi extension and a Loihi 2
host, and was not tested (see README.md).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor
from lava.proc.sdn.process import ActivationMode, SigmaDelta
from lava.utils import loihi

from processes import ClippedSigmaDelta

HERE = Path(__file__).resolve().parent
#: run on Loihi 2 unless --sim is given (``deploy --hw`` writes True here)
HARDWARE = False


def build(net: dict, x_spikes: np.ndarray) -> tuple:
    """The Lava processes of the network for one input.

    Parameters
    ----------
    net : dict
        The arrays of ``network.npz``: ``weights_k`` (n_{k+1}, n_k) 8-bit integers,
        ``weight_exp`` (L,), ``bias_k`` (n_k,) and ``vth`` in activation units, ``act_max``
        (the activation of a saturated unit), ``state_exp``, ``pair``, ``layers`` (L + 1,) and
        ``free_steps``.
    x_spikes : (n_0,) int
        Graded spikes the input sends at step 1.

    Returns
    -------
    (source, output) : the input process, and the output layer's neuron populations.
    """
    layers, s, pair = net["layers"], int(net["state_exp"]), bool(net["pair"])
    data = np.zeros((layers[0], int(net["free_steps"])), np.int32)
    data[:, 0] = x_spikes
    source = RingBuffer(data=data)
    vth, act_max = int(net["vth"]), int(net["act_max"])
    # the neurons scale vth and bias up by 2**state_exp, so they are given in spike units
    if pair:
        neurons = [[SigmaDelta(shape=(int(n),), vth=vth >> s, bias=b >> s, act_mode=ActivationMode.RELU, state_exp=s)
                    for b in (net[f"bias_{k}"], net[f"bias_{k}"] - act_max)]
                   for k, n in enumerate(layers[1:], start=1)]
    else:
        neurons = [[ClippedSigmaDelta(shape=(int(n),), vth=vth >> s, bias=net[f"bias_{k}"] >> s, act_max=act_max,
                                      state_exp=s)] for k, n in enumerate(layers[1:], start=1)]
    senders = [[source]] + neurons
    for k, exp in enumerate(net["weight_exp"]):
        w = net[f"weights_{k}"]
        couple(senders[k], neurons[k], w, int(exp))
        if k >= 1:  # the input is clamped: no feedback to it
            couple(neurons[k], neurons[k - 1], np.ascontiguousarray(w.T), int(exp))
    return source, neurons[-1]


def couple(senders: list, receivers: list, weights: np.ndarray, exp: int, bits: int = 24):
    """A Dense process from each sending population (``W``; ``-W`` from a pair's ``B``) to every
    receiving population, with graded (``bits``-bit) or binary (0) messages."""
    for sign, sender in zip((1, -1), senders):
        dense = Dense(weights=sign * weights, weight_exp=exp, num_message_bits=bits)
        sender.s_out.connect(dense.s_in)
        for receiver in receivers:
            dense.a_out.connect(receiver.a_in)


def relax(net: dict, x_spikes: np.ndarray, run_cfg) -> np.ndarray:
    """Activations of the output neurons (the ``A`` then the ``B`` population of a pair), int,
    after ``free_steps`` steps of one input."""
    source, output = build(net, x_spikes)
    try:
        source.run(condition=RunSteps(num_steps=int(net["free_steps"])), run_cfg=run_cfg)
        return np.concatenate([np.asarray(p.act.get()).astype(np.int64) for p in output])  # before stop()
    finally:
        source.stop()


def build_lif(net: dict, train: np.ndarray) -> tuple:
    """The Lava processes of a LIF network for one input: its binary spike trains ``train`` (free_steps, n_0).

    Returns
    -------
    (source, output) : the input process, and the output layer's LIF population.
    """
    source = RingBuffer(data=np.ascontiguousarray(np.asarray(train, np.int32).T))
    neurons = [[LIF(shape=(int(n),), du=int(net["du"]), dv=int(net["dv"]), vth=int(net["vth"]),
                    bias_mant=net[f"bias_mant_{k}"].astype(np.int32), bias_exp=int(net["bias_exp"][k - 1]))]
               for k, n in enumerate(net["layers"][1:], start=1)]
    senders = [[source]] + neurons
    for k, exp in enumerate(net["weight_exp"]):
        w = net[f"weights_{k}"]
        couple(senders[k], neurons[k], w, int(exp), bits=0)
        if k >= 1:
            couple(neurons[k], neurons[k - 1], np.ascontiguousarray(w.T), int(exp), bits=0)
    return source, neurons[-1][0]


def relax_lif(net: dict, train: np.ndarray, run_cfg) -> np.ndarray:
    """The output neurons' spike counts over the last ``window`` steps, then their final currents and voltages,
    one (3 n_L,) int array, after ``free_steps`` steps of one input."""
    steps, window = int(net["free_steps"]), int(net["window"])
    source, output = build_lif(net, train)
    monitor = Monitor()
    monitor.probe(output.s_out, steps)
    try:
        source.run(condition=RunSteps(num_steps=steps), run_cfg=run_cfg)
        spikes = np.asarray(monitor.get_data()[output.name]["s_out"]).reshape(steps, -1)
        final = [np.asarray(var.get()).astype(np.int64) for var in (output.u, output.v)]  # before stop()
    finally:
        source.stop()
    return np.concatenate([spikes[steps - window:].sum(axis=0).astype(np.int64)] + final)


def unit_values(net: dict, acts: np.ndarray) -> np.ndarray:
    """Output neurons' activations (samples, P n) -> the units' (samples, n): a pair's ``A - B``."""
    if not bool(net["pair"]):
        return acts
    n = acts.shape[1] // 2
    return acts[:, :n] - acts[:, n:]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = p.add_mutually_exclusive_group()
    target.add_argument("--hw", action="store_true", help="run on Loihi 2 (Loihi2HwCfg; needs lava-loihi)")
    target.add_argument("--sim", action="store_true", help="run Lava's fixed-point CPU simulation")
    args = p.parse_args(argv)
    hardware = args.hw or (HARDWARE and not args.sim)
    if hardware and not loihi.is_installed():
        sys.exit("error: --hw needs Intel's lava-loihi extension (and a Loihi 2 system), which is not "
                 "installed here; run with --sim for Lava's fixed-point simulation")
    run_cfg = Loihi2HwCfg() if hardware else Loihi2SimCfg(select_tag="fixed_pt")
    config = "Loihi2HwCfg()" if hardware else "Loihi2SimCfg(select_tag='fixed_pt')"
    with np.load(HERE / "network.npz") as f:
        net = dict(f)
    print(f"{net['origin']}; {len(net['labels'])} samples, {int(net['free_steps'])} steps each, {config}")

    start = time.perf_counter()
    if str(net.get("neuron", "")) == "lif":
        states = np.stack([relax_lif(net, train, run_cfg) for train in net["trains"]])
        classes = states[:, :len(net["emulator_counts"][0])].argmax(axis=1)
        mine = np.concatenate([net["emulator_counts"], net["emulator_u"], net["emulator_v"]], axis=1)
    else:
        states = np.stack([relax(net, x, run_cfg) for x in net["spikes"]])
        classes = unit_values(net, states).argmax(axis=1)
        mine = net["emulator_act"]
    wall_s = time.perf_counter() - start
    same_class = classes == net["emulator_class"]
    same_state = (states == mine).all(axis=1)
    for i, (label, mine, theirs) in enumerate(zip(net["labels"], classes, net["emulator_class"])):
        print(f"sample {i}: label {label}  Lava {mine}  emulator {theirs}  "
              f"{'equal' if same_class[i] and same_state[i] else 'DIFFERENT'}")
    check = {"config": config, "samples": len(classes), "steps": int(net["free_steps"]),
             "classes_equal": bool(same_class.all()), "states_equal": bool(same_state.all()),
             "different_samples": np.flatnonzero(~(same_class & same_state)).tolist(),
             "labels": net["labels"].tolist(), "lava_class": classes.tolist(),
             "emulator_class": net["emulator_class"].tolist(),
             "lava_accuracy": float((classes == net["labels"]).mean()), "lava_wall_s": wall_s}
    (HERE / "lava_check.json").write_text(json.dumps(check, indent=2) + "\n", encoding="utf-8")
    print(f"classes equal: {check['classes_equal']}; final output states equal: {check['states_equal']}; "
          f"Lava wall {wall_s:.1f} s; written to {HERE / 'lava_check.json'}")
    return 0 if check["classes_equal"] and check["states_equal"] else 1


if __name__ == "__main__":  # Lava imports every module beside processes.py while it looks for models
    sys.exit(main())
