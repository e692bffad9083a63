"""A network trained on the Loihi family's LIF neurons (``neuron: lif``) written as NIR, and checked both ways.

Lava's fixed-point LIF (:mod:`emulator.backends.loihi.lif`) is NIR's ``CubaLIF`` in integer units. With
``S = vth << 6`` the integer voltage of one NIR volt (so ``v_threshold = 1``) and one chip step ``dt`` =
:data:`DT` seconds, every relaxing layer ``k`` is written as::

    CubaLIF(tau_syn = dt 4096 / (du + 1), tau_mem = dt 4096 / dv, r = 4096 / dv, w_in = 1,
            v_leak = (bias_mant << bias_exp) / S * 4096 / dv, v_threshold = 1, v_reset = 0)

and each ``Dense`` (forward ``W_k``, feedback ``W_k^T``) as ``Linear(W_int 2**weight_exp 64 / S 4096 / (du + 1))``
behind a ``Delay(dt)`` (Lava's one-step synaptic delay; NIR's edges carry none), so that NIR's forward-Euler
equations (:mod:`emulator.exchange.nir_sim`) are Lava's with the integers' rounding taken out: Lava truncates
each decay and each shifted sum to an integer, NIR does not. The graph is recurrent (EqProp's symmetric
feedback; NIR has no weight tying, so ``W_k`` is stored twice).

The check of ``deploy --to nir`` reads the file back and runs it twice on test samples: quantised for the chip
(:func:`emulator.backends.loihi.nir.quantise_nir`, no weight clipped), which must fire the chip's spikes exactly,
step for step; and with NIR's float semantics, whose spikes and classes are reported beside the chip's.

The sigma-delta neurons (``relu_pair``, ``clipped``) have no NIR form: NIR 1.0 has no graded non-linear unit and no
sigma-delta coding. Their network is written as its nearest spiking relative, with what is lost stated in the
graph's metadata and the bundle's README (:data:`SIGMA_DELTA_LOSSES`): every unit an ``IF(r = 1/dt,
v_threshold = 1, v_reset = 0)`` driven by ``Affine(W_k, b_{k+1})`` forward and ``Linear(W_k^T)`` back, in
activation units (``W = W_int 2**(weight_exp - state_exp) ... / act_max``: the chip's weights exactly), the input
``x`` in [0, 1] at every step. Its firing rate approximates the hard sigmoid of its drive, and its class is the
output with the most spikes; the check reports how often that class is the chip's.
"""
from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np

from emulator.backends import spiking
from emulator.backends.base import Deployment
from emulator.backends.loihi.graph_run import run_graph
from emulator.backends.loihi.lif import ALIGN, DECAY_BITS, relax_lif
from emulator.backends.loihi.nir import quantise_nir
from emulator.backends.loihi.sigma_delta import relax_fixed
from emulator.errors import ConfigError
from emulator.exchange.nir_graph import read_nir, write_nir
from emulator.exchange.nir_sim import simulate
from emulator.files import check_bundle_folder, make_folder, remove, write_text

NETWORK, README, CHECK = "network.nir", "README.md", "nir_check.json"
#: seconds of one chip step in the exported graph
DT = 1e-3
UNITY = 2 ** DECAY_BITS
#: what the spiking relative of a sigma-delta network does not keep
SIGMA_DELTA_LOSSES = {
    "graded spikes": "the chip's neurons send graded changes of their activation (sigma-delta coding, with the "
                     "lazy threshold eqprop.theta); NIR 1.0 has no such neuron, so each unit is written as an IF "
                     "neuron whose binary spike rate stands for its activation",
    "the hard sigmoid": "a unit's activation is clip(sigma + b, 0, 1); the IF neuron's rate approximates it, fires at "
                        "most once per step and loses the potential above the threshold at each reset to 0",
    "the input": "the chip's input sends x once as graded spikes; the graph's input is x at every step"}


def to_nir(net, *, dt: float = DT) -> nir.NIRGraph:
    """The NIR graph of a :class:`~emulator.backends.loihi.lif.LifNet`, or the spiking relative of a
    :class:`~emulator.backends.loihi.sigma_delta.FixedNet` (see the module docstring)."""
    if not hasattr(net, "du"):
        return _sigma_delta_graph(net, dt)
    if net.dv == 0:
        raise ConfigError("a LIF network without voltage leak (dv = 0) has no CubaLIF form (its tau_mem would be "
                          "infinite): train with parameters.dv > 0 to export it")
    sizes, depth, scale = net.layers, len(net.down), float(net.state_unit)
    to_current = (1 << ALIGN) / scale * UNITY / (net.du + 1)
    nodes = {"input": nir.Input(np.array([sizes[0]])), "output": nir.Output(np.array([sizes[-1]])),
             "delay_0": nir.Delay(np.full(sizes[0], dt))}
    edges = [("input", "delay_0"), (f"layer_{depth}", "output")]
    for k in range(1, depth + 1):
        n, ones = sizes[k], np.ones(sizes[k])
        nodes[f"layer_{k}"] = nir.CubaLIF(
            tau_syn=dt * UNITY / (net.du + 1) * ones, tau_mem=dt * UNITY / net.dv * ones, r=UNITY / net.dv * ones,
            v_leak=net.bias[k - 1] / scale * UNITY / net.dv, w_in=ones, v_threshold=ones, v_reset=np.zeros(n))
        nodes[f"w_{k - 1}"] = nir.Linear(net.down[k - 1] * 2.0 ** net.weight_exp[k - 1] * to_current)
        edges += [(f"delay_{k - 1}", f"w_{k - 1}"), (f"w_{k - 1}", f"layer_{k}")]
        if k < depth:
            nodes[f"w_{k}_T"] = nir.Linear(net.down[k].T * 2.0 ** net.weight_exp[k] * to_current)
            edges += [(f"delay_{k + 1}", f"w_{k}_T"), (f"w_{k}_T", f"layer_{k}")]
        if k < depth or k > 1:
            nodes[f"delay_{k}"] = nir.Delay(np.full(n, dt))
            edges.append((f"layer_{k}", f"delay_{k}"))
    metadata = {"dt": dt, "source": "neuromorphic emulator, Loihi LIF (Lava PyLifModelBitAcc; EqProp free phase)",
                "du": int(net.du), "dv": int(net.dv), "vth": int(net.vth)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _sigma_delta_graph(net, dt: float) -> nir.NIRGraph:
    """The IF network standing for a sigma-delta one (weights and biases exactly the chip's, in activation units)."""
    sizes, depth = net.layers, len(net.down)
    scale = 2.0 ** -net.state_exp
    weights = [w * 2.0 ** e * scale for w, e in zip(net.down, net.weight_exp)]
    nodes = {"input": nir.Input(np.array([sizes[0]])), "output": nir.Output(np.array([sizes[-1]])),
             "delay_0": nir.Delay(np.full(sizes[0], dt))}
    edges = [("input", "delay_0"), (f"layer_{depth}", "output")]
    for k in range(1, depth + 1):
        n = sizes[k]
        nodes[f"layer_{k}"] = nir.IF(r=np.full(n, 1 / dt), v_threshold=np.ones(n), v_reset=np.zeros(n))
        nodes[f"w_{k - 1}"] = nir.Affine(weights[k - 1], np.asarray(net.bias[k - 1]) / net.act_max)
        edges += [(f"delay_{k - 1}", f"w_{k - 1}"), (f"w_{k - 1}", f"layer_{k}")]
        if k < depth:
            nodes[f"w_{k}_T"] = nir.Linear(weights[k].T.copy())
            edges += [(f"delay_{k + 1}", f"w_{k}_T"), (f"w_{k}_T", f"layer_{k}")]
        if k < depth or k > 1:
            nodes[f"delay_{k}"] = nir.Delay(np.full(n, dt))
            edges.append((f"layer_{k}", f"delay_{k}"))
    metadata = {"dt": dt, "source": "neuromorphic emulator, Loihi sigma-delta network (EqProp free phase) as its "
                "spiking relative", "lost": "; ".join(SIGMA_DELTA_LOSSES)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def check_sigma_delta(program, x: np.ndarray, steps: int, graph_file: Path) -> dict:
    """The spiking relative's classes (output spikes over the last half of ``steps`` steps, the input ``x`` (B, n_0)
    at every step) against the chip's (the free phase's output activations)."""
    net = program.net
    chip_class = program.net.unit_values(relax_fixed(net, program.spikes_of(x), max_steps=steps).act[-1]).argmax(1)
    spikes = simulate(read_nir(graph_file), np.repeat(np.asarray(x, np.float64)[None], steps, axis=0)).values
    nir_class = spikes[f"layer_{len(net.down)}"][steps // 2:].sum(axis=0).argmax(axis=1)
    return {"samples": int(x.shape[0]), "steps": steps, "dt": DT, "exact": False, "lost": SIGMA_DELTA_LOSSES,
            "classes_equal": bool((chip_class == nir_class).all()),
            "same_class_fraction": float((chip_class == nir_class).mean()), "chip_class": chip_class.tolist(),
            "nir_class": nir_class.tolist()}


def check(program, x: np.ndarray, steps: int, graph_file: Path) -> dict:
    """Run the NIR file on inputs ``x`` (B, n_0) quantised for the chip and in NIR's floats, against the chip.

    Returns
    -------
    dict
        ``samples``, ``steps``, ``dt``; ``chip_spikes``; ``quantised_equal`` and ``quantised_different_spikes``
        (the file quantised back onto the chip against the chip, every layer and step); ``float_different_spikes``,
        ``nir_spikes``, ``classes_equal``, ``chip_class``, ``nir_class`` (NIR's float semantics against the chip,
        classes by the output spikes over the spike window).
    """
    net = program.net
    train = spiking.input_train(x, 0, steps)
    window = spiking.window_of(program.spiking, steps)
    chip = [np.asarray(s, bool) for _, _, s in relax_lif(net, train, window=window, record=True).record]
    network = read_nir(graph_file)
    loihi = quantise_nir(network, DT, vth=net.vth, weight_bits=8, max_clipped=0.0)
    record = run_graph(loihi.graph, steps, inputs={"input": train.transpose(1, 2, 0)}).record
    back = [record[f"layer_{k}"]["s_out"] != 0 for k in range(1, len(chip) + 1)]
    floats = simulate(network, train.astype(np.float64)).values
    other = [floats[f"layer_{k}"] > 0 for k in range(1, len(chip) + 1)]
    differ = lambda a, b: int(sum((p != q).sum() for p, q in zip(a, b)))  # noqa: E731
    chip_class = chip[-1][-window:].sum(axis=0).argmax(axis=1)
    nir_class = other[-1][-window:].sum(axis=0).argmax(axis=1)
    return {"samples": int(x.shape[0]), "steps": steps, "dt": DT, "chip_spikes": int(sum(a.sum() for a in chip)),
            "quantised_equal": differ(chip, back) == 0, "quantised_different_spikes": differ(chip, back),
            "float_different_spikes": differ(chip, other), "nir_spikes": int(sum(b.sum() for b in other)),
            "classes_equal": bool((chip_class == nir_class).all()), "chip_class": chip_class.tolist(),
            "nir_class": nir_class.tolist()}


def readme(run, net, steps: int) -> str:
    """The bundle's README.md: what the graph holds, its units and time step, what its float semantics change."""
    return f"""# {run.workload.name} trained on {run.chip.name}, as NIR

`{NETWORK}` is the free phase (inference) of the EqProp network {run.origin}, as a NIR graph (Pedersen et al.,
Nature Communications 15, 8122, 2024), written with nir {nir.version}: read it with `nir.read("{NETWORK}")`.
Layers {list(net.layers)}; Lava LIF neurons with du = {net.du}, dv = {net.dv}, vth = {net.vth}, binary Dense.
Every layer `layer_k` is a CubaLIF in NIR volts (one volt = vth << 6 = {net.state_unit} of Lava's voltage units,
so v_threshold = 1); `w_k` the forward couplings W_k, `w_k_T` the feedback W_k^T, each behind a one-step `Delay`
(Lava's synaptic delay). The equations are in `emulator/backends/loihi/nir_export.py`.

## Time step

One chip step is dt = {DT:g} s (`metadata["dt"]`): tau_syn = dt 4096 / (du + 1), tau_mem = dt 4096 / dv. NIR's
edges carry no delay within a step; each `Delay` is one step.

## Inputs and outputs

- Input `input`: a spike (0 or 1) per input unit and step; the chip's encoding of a value x in [0, 1] (a regular
  train of rate round(256 x) / 256, `emulator.backends.spiking.input_train`) is not in the graph.
- Output `output`: the spikes of layer {len(net.down)}; the class is the arg-max of its spikes over the last
  {spiking.window_of(run.workload.spiking, steps)} of the {steps} steps. EqProp's nudged phases are not exported.

## What the float semantics change

Lava rounds every decay towards zero and every shifted synaptic sum down to an integer; NIR's equations do not
round. Quantised back for Loihi (the emulator's `snn_inference` on a Loihi chip, or `quantise_nir`), the graph is
the chip's network again, integer for integer; run in floats (snnTorch, Norse, the emulator's digital or snn
chip) its potentials drift from the chip's by those roundings, and some spikes move (`{CHECK}` counts them).
"""


def readme_sigma_delta(run, net, steps: int) -> str:
    """The bundle's README.md for a sigma-delta network: its spiking relative, and what NIR cannot express."""
    lost = "\n".join(f"- **{name}**: {why}." for name, why in SIGMA_DELTA_LOSSES.items())
    return f"""# {run.workload.name} trained on {run.chip.name}, as NIR (a spiking relative)

`{NETWORK}` stands for the free phase (inference) of the sigma-delta EqProp network {run.origin}, written with nir
{nir.version}: every unit an IF neuron (r = 1/dt, v_threshold = 1, v_reset = 0) driven by `w_k` (the chip's
W_k exactly, in activation units, with the next layer's biases) and `w_k_T` (W_k^T, the feedback), each behind a
one-step `Delay`. Layers {list(net.layers)}; one step is dt = {DT:g} s (`metadata["dt"]`). Input `input`: x in
[0, 1] at every step; output `output`: the last layer's spikes, whose arg-max over the last half of the {steps}
steps is the class.

## What NIR cannot express

{lost}

`{CHECK}` gives how often the class of this graph, run with NIR's semantics, is the chip's (`same_class_fraction`).
To keep the network exactly, deploy it to Lava (`deploy --to lava`), or train on a LIF chip (`loihi2-lif`), whose
NIR export comes back bit-exact.
"""


def deploy_to_nir(backend, run, data, out: Path, *, samples: int = 10, hardware: bool = False,
                  on_line=None) -> Deployment:
    """Write a run trained on a Loihi chip as ``out/network.nir`` and ``out/README.md``, and check the file on
    ``samples`` test samples (``out/nir_check.json``). LIF networks: ``passed`` when quantised back for the chip it
    fires the chip's spikes exactly. Sigma-delta networks are written as their spiking relative (``passed`` None:
    the check reports how often its class is the chip's)."""
    if hardware:
        raise ConfigError("--hw: a NIR file targets no one machine; deploy without --hw (or use --to lava --hw)")
    program = backend.compile(run.network, run.chip)
    if samples > data.n_test:
        raise ConfigError(f"--samples {samples}: the run's test split has only {data.n_test} samples")
    check_bundle_folder(out, (NETWORK, README))
    steps = run.workload.eqprop.free_steps
    make_folder(out)
    remove(out / CHECK)
    write_nir(out / NETWORK, to_nir(program.net))
    sigma_delta = not hasattr(program.net, "du")
    write_text(out / README, (readme_sigma_delta if sigma_delta else readme)(run, program.net, steps))
    result = (check_sigma_delta if sigma_delta else check)(program, data.x_test[:samples], steps, out / NETWORK)
    write_text(out / CHECK, json.dumps(result, indent=2) + "\n")
    if on_line:
        for i, (a, b) in enumerate(zip(result["chip_class"], result["nir_class"])):
            on_line(f"sample {i}: chip class {a}, NIR float class {b}\n")
    if sigma_delta:
        return Deployment(f"NIR graph in {out / NETWORK} (one chip step = dt = {DT * 1e3:g} ms); the check is in "
                          f"{out / CHECK}\nNIR cannot express the sigma-delta network of chip {run.chip.name!r} ("
                          f"{', '.join(SIGMA_DELTA_LOSSES)}; see {out / README}): written as its spiking relative, "
                          f"whose class is the chip's on {result['same_class_fraction']:.0%} of {samples} samples",
                          check=result)
    summary = (f"NIR graph in {out / NETWORK} (one chip step = dt = {DT * 1e3:g} ms); the check is in {out / CHECK}\n"
               f"run in NIR's floats, {result['float_different_spikes']} of the chip's {result['chip_spikes']} spikes "
               f"move and {sum(a != b for a, b in zip(result['chip_class'], result['nir_class']))} of {samples} "
               "classes differ")
    if result["quantised_equal"]:
        return Deployment(summary + f"\nread back and quantised for the chip, it fires the chip's spikes on {samples} "
                                    "samples", check=result, passed=True)
    return Deployment(summary, check=result, passed=False,
                      problem=f"read back and quantised for the chip, {result['quantised_different_spikes']} spikes "
                              "differ from the chip's: the export and the import disagree")
