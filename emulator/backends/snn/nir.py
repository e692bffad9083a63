"""The generic spiking chip's trained network written as NIR, and checked against the chip.

NIR (Pedersen, Abreu, Jobst et al., "Neuromorphic intermediate representation: a unified
instruction set for interoperable brain-inspired computing", Nature Communications 15, 8122,
2024) is the graph format other neuromorphic tools read (snnTorch, Norse, Sinabs, Rockpool, Spyx,
Lava-DL, SpiNNaker 2...). :func:`to_nir` writes a compiled ``snn`` program as a recurrent NIR graph
(the free phase, what inference runs), one step of the chip being ``dt`` = :data:`DT` seconds
(``metadata["dt"]``)::

    input -> delay_0 -> w_0 -> layer_1 -> delay_1 -> w_1   -> layer_2 ... layer_L -> output
                                  ^                                  |
                                  +---- w_1_T <- delay_2 <-----------+   (feedback W_k^T, k >= 1)

- ``delay_k``: ``Delay(dt)`` behind layer ``k``: the chip's one-step synaptic delay (NIR's edges carry
  none; :mod:`emulator.exchange.nir_sim`);
- ``w_k``: ``W_k`` forward (``Affine`` with the bias of layer ``k + 1`` where the chip has no synaptic
  filter, ``du = 1``; else ``Linear``), ``w_k_T``: ``Linear(W_k^T)`` feedback;
- ``layer_k``, by the chip's neuron and ``du`` (``v_threshold`` = the chip's ``vth``, ``v_reset`` = 0):

  ========================  ==================================================================
  ``du = 1``, no leak        ``IF(r = 1/dt)``: ``v <- v + I``
  ``du = 1``, leak ``dv``    ``LIF(tau = dt/dv, r = 1/dv, v_leak = 0)``: ``v <- v - dv v + I``
  ``du < 1``, leak ``dv``    ``CubaLIF(tau_syn = dt/du, tau_mem = dt/dv, r = 1/dv, v_leak = b/dv)``:
                             ``u <- u - du u + du I``; ``v <- v - dv v + u + b``
  ``du < 1``, no leak        ``current_k`` ``LI(tau = dt/du, r = 1, v_leak = 0)`` -> ``bias_k``
                             ``Affine(identity, b)`` -> ``IF(r = 1/dt)``
  ========================  ==================================================================

These are the chip's equations (:mod:`emulator.backends.snn.neurons`) but for what NIR 1.0 cannot
say (:func:`losses`): the ``if`` neuron's clip of its drive to ``[0, vth]``, reset by subtraction,
and a step size that changes during a phase. A network without them (``neuron: lif``,
``reset: zero``, a constant ``du``) fires the same spikes in NIR as on the chip, but where a
potential comes within float rounding of the threshold (the chip sums in its own order, and in
float32 by default). The input encoding (a value ``x`` becomes a regular spike train,
:func:`emulator.backends.spiking.input_train`) and the read-out (firing rates over the last steps of
the phase, arg-max) are not part of the graph; the bundle's README says so.

:func:`deploy_to_nir` is the ``nir`` deploy target: it writes ``network.nir`` and ``README.md``, reads the
file back with :func:`emulator.exchange.nir_graph.read_nir`, runs it with
:func:`emulator.exchange.nir_sim.simulate` on test samples and compares every spike with the chip's
relaxation (``nir_check.json``).
"""
from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np

from emulator.backends import spiking
from emulator.backends.base import Deployment
from emulator.backends.snn.neurons import count, relax_spiking
from emulator.errors import ConfigError
from emulator.exchange.nir_graph import read_nir, write_nir
from emulator.exchange.nir_sim import simulate
from emulator.files import check_bundle_folder, make_folder, remove, write_text

NETWORK, README, CHECK = "network.nir", "README.md", "nir_check.json"
#: seconds of one chip step in the exported graph (the Brian2 reference's 1 ms)
DT = 1e-3


def losses(program, steps: int) -> dict[str, str]:
    """What NIR 1.0 cannot express of a compiled ``snn`` program run for ``steps`` steps, ``short name ->
    explanation``; empty if NIR expresses it exactly."""
    net, lost = program.net, {}
    if net.clip:
        lost["the if neuron's clip"] = (
            f"the `if` neuron integrates clip(u + b, 0, {net.vth:g}), the hard sigmoid of its drive; NIR's IF "
            "integrates the drive unclipped (NIR has no clip), so a drive above the threshold or below 0 counts "
            "in full")
    if net.subtract:
        lost["reset by subtraction"] = (
            f"the chip resets by subtracting the threshold ({net.vth:g}); NIR 1.0 resets to v_reset (0 here), so "
            "the potential left above the threshold at a spike is lost (the layers' metadata say chip_reset: "
            "subtract, which NIR readers need not honour)")
    eps = spiking.step_sizes(program.spiking, program.du, steps)
    if not (eps == program.du).all():
        lost["the step-size schedule"] = (
            f"the workload's spiking.step_size schedule moves du from {eps[0]:g} to {eps[-1]:g} during a phase; "
            f"a NIR time constant is fixed, written with du = {program.du:g} throughout")
    return lost


def to_nir(program, *, dt: float = DT, lost: dict | None = None) -> nir.NIRGraph:
    """The NIR graph of a compiled ``snn`` program (see the module's docstring), float64 parameters.

    Parameters
    ----------
    program : SnnProgram
    dt : float
        Seconds of one chip step, written as ``metadata["dt"]``.
    lost : dict of str to str
        What the graph does not express (:func:`losses`), written as ``metadata["lost"]``.
    """
    net, du = program.net, float(program.du)
    sizes, depth = net.layers, len(net.down)
    nodes = {"input": nir.Input(np.array([sizes[0]])), "output": nir.Output(np.array([sizes[-1]])),
             "delay_0": nir.Delay(np.full(sizes[0], dt))}
    edges = [("input", "delay_0"), (f"layer_{depth}", "output")]
    for k in range(1, depth + 1):
        bias = np.asarray(net.bias[k - 1], np.float64)
        layer, inner, entry = _layer(k, bias, du=du, leak=float(net.leak), vth=float(net.vth), dt=dt,
                                     subtract=net.subtract)
        nodes |= layer
        edges += inner
        weight = np.asarray(net.down[k - 1], np.float64)
        nodes[f"w_{k - 1}"] = nir.Affine(weight, bias) if du == 1.0 else nir.Linear(weight)
        edges += [(f"delay_{k - 1}", f"w_{k - 1}"), (f"w_{k - 1}", entry)]
        if k < depth:
            nodes[f"w_{k}_T"] = nir.Linear(np.asarray(net.down[k], np.float64).T.copy())
            edges += [(f"delay_{k + 1}", f"w_{k}_T"), (f"w_{k}_T", entry)]
        if k < depth or k > 1:  # its spikes reach a layer above or below
            nodes[f"delay_{k}"] = nir.Delay(np.full(sizes[k], dt))
            edges.append((f"layer_{k}", f"delay_{k}"))
    metadata = {"dt": dt, "source": "neuromorphic emulator, snn chip (EqProp free phase)", "neuron": program.neuron,
                "reset": "subtract" if net.subtract else "zero", "du": du, "dv": float(net.leak),
                "vth": float(net.vth), "lost": "; ".join(lost or {}) or "nothing"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _layer(k: int, bias: np.ndarray, *, du: float, leak: float, vth: float, dt: float, subtract: bool):
    """The nodes and inner edges of relaxing layer ``k`` (its spiking population is ``layer_k``), and the name of
    the node its couplings feed."""
    n, name = bias.size, f"layer_{k}"
    ones = np.ones(n)
    fire = {"v_threshold": vth * ones, "v_reset": np.zeros(n),
            "metadata": {"chip_reset": "subtract"} if subtract else {}}
    if du < 1.0 and leak > 0:
        return {name: nir.CubaLIF(tau_syn=dt / du * ones, tau_mem=dt / leak * ones, r=ones / leak,
                                  v_leak=bias / leak, w_in=ones, **fire)}, [], name
    if du == 1.0:
        return {name: nir.LIF(tau=dt / leak * ones, r=ones / leak, v_leak=np.zeros(n), **fire) if leak > 0
                else nir.IF(r=ones / dt, **fire)}, [], name
    current, shift = f"current_{k}", f"bias_{k}"
    return ({current: nir.LI(tau=dt / du * ones, r=ones, v_leak=np.zeros(n)), shift: nir.Affine(np.eye(n), bias),
             name: nir.IF(r=ones / dt, **fire)}, [(current, shift), (shift, name)], current)


def check(program, x: np.ndarray, steps: int, graph_file: Path, on_line=None) -> dict:
    """Run the NIR file on inputs ``x`` and compare every spike with the chip's free phase.

    Parameters
    ----------
    program : SnnProgram
        The compiled network the file was written from.
    x : (B, n_0) float
        Inputs in [0, 1]; both run the chip's spike trains of them (:func:`emulator.backends.spiking.input_train`).
    steps : int
        Steps of the free phase.
    graph_file : Path
        The ``.nir`` file, read back with :func:`~emulator.exchange.nir_graph.read_nir`.
    on_line : callable, optional
        Called with one line per sample.

    Returns
    -------
    dict
        ``samples``, ``steps``, ``dt``, ``window``; ``exact`` (NIR expresses the program) and ``lost``;
        ``spikes_equal``, ``different_spikes`` (spikes one fired and the other did not, every layer and step),
        ``chip_spikes``, ``nir_spikes`` (fired by the relaxing layers), ``first_different_step`` (or None);
        ``classes_equal``, ``different_samples``, ``chip_class``, ``nir_class`` (arg-max of the output spikes
        over the window); ``chip_counts``, ``nir_counts``.
    """
    net = program.net
    train = spiking.input_train(x, 0, steps)
    window = spiking.window_of(program.spiking, steps)
    state = relax_spiking(net, train, spiking.step_sizes(program.spiking, program.du, steps), window=window,
                          record=True)
    ran = simulate(read_nir(graph_file), train.astype(np.float64))
    chip = [np.asarray(spikes, bool) for _, _, spikes in state.record]
    other = [ran.values[f"layer_{k}"] > 0 for k in range(1, len(chip) + 1)]
    wrong = sum((a != b).sum(axis=2) for a, b in zip(chip, other))  # (steps, B)
    chip_class = chip[-1][-window:].sum(axis=0).argmax(axis=1)
    nir_class = other[-1][-window:].sum(axis=0).argmax(axis=1)
    for i in range(x.shape[0]):
        if on_line:
            on_line(f"sample {i}: chip class {chip_class[i]}, NIR class {nir_class[i]}, "
                    f"{int(wrong[:, i].sum())} spikes differ\n")
    lost = losses(program, steps)
    differing = np.flatnonzero(wrong.sum(axis=1))
    return {"samples": int(x.shape[0]), "steps": steps, "dt": ran.dt, "window": window, "exact": not lost,
            "lost": list(lost.values()), "spikes_equal": not wrong.any(), "different_spikes": int(wrong.sum()),
            "chip_spikes": int(sum(a.sum() for a in chip)), "nir_spikes": int(sum(b.sum() for b in other)),
            "first_different_step": int(differing[0]) if differing.size else None,
            "classes_equal": bool((chip_class == nir_class).all()),
            "different_samples": np.flatnonzero(chip_class != nir_class).tolist(),
            "chip_class": chip_class.tolist(), "nir_class": nir_class.tolist(),
            "chip_counts": count(net, state).to_dict(), "nir_counts": ran.counts.to_dict()}


def readme(run, program, lost: dict, steps: int) -> str:
    """The bundle's README.md: what the graph holds, its time step, its inputs and outputs, what is lost."""
    net = program.net
    window = spiking.window_of(program.spiking, steps)
    kept = "\n".join(f"- **{name}**: {why}." for name, why in lost.items()) or (
        "Nothing of the free phase: NIR expresses this network exactly. Run with the semantics below, it fires the "
        "chip's spikes, but where a potential comes within float rounding of the threshold (the chip sums in its "
        f"own order, in {np.dtype(net.dtype).name}).")
    return f"""# {run.workload.name} trained on {run.chip.name}, as NIR

`{NETWORK}` is the free phase (inference) of the EqProp network {run.origin}, as a NIR graph (Pedersen et al.,
Nature Communications 15, 8122, 2024), written with nir {nir.version}: read it with `nir.read("{NETWORK}")`.
Layers {list(net.layers)}; chip neuron `{program.neuron}`, du = {program.du:g}, dv = {net.leak:g},
threshold {net.vth:g}, reset `{"subtract" if net.subtract else "zero"}`. The nodes and their equations are those
of `emulator/backends/snn/nir.py`: a `Delay` of one step behind every layer, `w_k` the forward couplings W_k,
`w_k_T` the feedback W_k^T (the graph is recurrent: EqProp's couplings are symmetric, and NIR has no weight tying,
so W_k is stored twice), `layer_k` the spiking populations.

## Time step

One chip step is dt = {DT:g} s (`metadata["dt"]`); time constants are in seconds (tau = dt / du, dt / dv). The
emulator runs the graph with forward Euler at that dt, NIR's edges carrying no delay within a step and each
`Delay` node one step (`emulator/exchange/nir_sim.py`): the chip's one-step synaptic delay. A framework that
discretises otherwise (another dt, exact exponential decay, a delay on every edge) runs a different network.

## Inputs and outputs

- Input `input`: a spike (0 or 1) per input unit and step. The chip's encoding of a value x in [0, 1] is not in the
  graph: a regular train of rate round(256 x) / 256 (`emulator.backends.spiking.input_train`).
- Output `output`: the spikes of layer {len(net.down)}. The chip's class is the arg-max of the output spikes over
  the last {window} of the {steps} steps of the free phase; that read-out is not in the graph.
- EqProp's nudged phases (training) are not exported.

## What NIR cannot express

{kept}

## The check

`{CHECK}`: the chip's free phase and this file, read back and run as above, on the first test samples: every
spike of every layer compared (`different_spikes`, `first_different_step`), the classes, and the counts of each
(`chip_counts`, `nir_counts`).
"""


def deploy_to_nir(backend, run, data, out: Path, *, samples: int = 10, hardware: bool = False,
                  on_line=None) -> Deployment:
    """Write the trained ``run`` (with its ``data``) as ``out/network.nir`` and ``out/README.md``, and check the file
    against the chip on ``samples`` test samples (``out/nir_check.json``).

    Returns
    -------
    Deployment
        ``check`` as :func:`check` returns it. ``passed`` says whether the spikes are identical where NIR expresses
        the network exactly, and is None where it cannot (the check then says how far apart they are).
    """
    if hardware:
        raise ConfigError("--hw: a NIR file targets no one machine; deploy without --hw and load network.nir in "
                          "the framework of the hardware (e.g. Lava-DL for Loihi 2, Sinabs for Speck)")
    if samples > data.n_test:
        raise ConfigError(f"--samples {samples}: the run's test split has only {data.n_test} samples")
    check_bundle_folder(out, (NETWORK, README))
    program = backend.compile(run.network, run.chip)
    steps = run.workload.eqprop.free_steps
    lost = losses(program, steps)
    make_folder(out)
    remove(out / CHECK)  # a previous bundle's
    write_nir(out / NETWORK, to_nir(program, lost=lost))
    write_text(out / README, readme(run, program, lost, steps))
    result = check(program, data.x_test[:samples], steps, out / NETWORK, on_line)
    write_text(out / CHECK, json.dumps(result, indent=2) + "\n")
    where = f"NIR graph in {out / NETWORK} (one chip step = dt = {DT * 1e3:g} ms); the check is in {out / CHECK}"
    differ = (f"{result['different_spikes']} spikes differ (one fired where the other did not, first at step "
              f"{result['first_different_step']}; the chip fired {result['chip_spikes']}, NIR "
              f"{result['nir_spikes']}) and the class differs on {len(result['different_samples'])} of {samples} "
              "samples")
    if lost:
        return Deployment(f"{where}\nNIR cannot express {len(lost)} feature(s) of chip {run.chip.name!r} ("
                          f"{', '.join(lost)}; see {out / README}): run with NIR's semantics, {differ}",
                          check=result)
    if result["spikes_equal"]:
        return Deployment(f"{where}\nread back and run with NIR's semantics, it fires the chip's spikes on "
                          f"{samples} samples", check=result, passed=True)
    return Deployment(where, check=result, passed=False,
                      problem=f"NIR expresses this network exactly, yet {differ}: a potential came within float "
                              f"rounding of the threshold ({np.dtype(program.net.dtype).name} on the chip, float64 "
                              "in the NIR run)")
