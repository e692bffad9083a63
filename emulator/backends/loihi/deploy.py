"""Deploying a run trained on the emulated Loihi 2 to Lava, as a bundle that runs without the emulator.

:func:`deploy` reads the finished run in a folder, compiles its network for the chip it was
trained on and writes a bundle:

- ``network.npz``: the network in the chip's integers, and test samples (their input graded
  spikes, or binary spike trains for LIF neurons, and labels) with the emulator's classes and final
  integer output activations (for LIF neurons: output spike counts, currents and voltages);
- ``processes.py``: a copy of :mod:`emulator.backends.loihi.lava.processes`, the ``ClippedSigmaDelta`` Lava
  process and its fixed-point model;
- ``run_lava.py`` and ``README.md`` (from ``emulator/backends/loihi/lava/bundle/``): a script that builds the
  network from Lava processes as :class:`emulator.backends.loihi.lava.network.LavaNetwork` does, runs each
  sample and compares it with the emulator, and how to run it.

It then runs the script in a new Python process (Lava fixes the multiprocessing start method
of the process that imports it) and returns the check the script wrote, ``lava_check.json``.
A bundle for hardware runs ``Loihi2HwCfg`` by default and is not run: no Loihi 2 is at hand.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from emulator.backends.base import Deployment
from emulator.backends.loihi import lava
from emulator.backends.loihi.lif import LifNet
from emulator.backends.spiking import input_train
from emulator.errors import ConfigError, EmulatorError
from emulator.files import check_bundle_folder, make_folder, remove, write_arrays, write_text

NETWORK, SCRIPT, CHECK = "network.npz", "run_lava.py", "lava_check.json"
LAVA_DIR = Path(lava.__file__).resolve().parent
#: copied into every bundle as they are
TEMPLATES = (LAVA_DIR / "processes.py", LAVA_DIR / "bundle" / SCRIPT, LAVA_DIR / "bundle" / "README.md")
#: the script's default target; a bundle for hardware sets it
HARDWARE_DEFAULT = ("\nHARDWARE = False\n", "\nHARDWARE = True\n")


def bundle_arrays(backend, run, data, samples: int) -> dict[str, np.ndarray]:
    """The arrays of ``network.npz``: the compiled network and the first ``samples`` test inputs.

    ``run`` is the trained run (its ``network``, ``chip``, ``workload`` and ``origin``) and
    ``data`` its dataset.

    Returns
    -------
    dict
        ``weights_k`` (n_{k+1}, n_k) stored 8-bit integers, ``weight_exp`` (L,), ``layers`` (L + 1,),
        ``free_steps``, ``labels`` (samples,), the emulator's ``emulator_class`` (samples,) and
        ``origin``, the run's name; and those of the neuron model (:func:`sigma_delta_arrays`,
        :func:`lif_arrays`).
    """
    if samples > data.n_test:
        raise ConfigError(f"--samples {samples}: the run's test split has only {data.n_test} samples")
    program = backend.compile(run.network, run.chip)
    steps = run.workload.eqprop.free_steps
    x = data.x_test[:samples]
    eq, _ = backend.relax(program, x, max_steps=steps)
    net = program.net
    arrays = {f"weights_{k}": w for k, w in enumerate(net.down)}
    model = lif_arrays(program, eq, x, steps) if isinstance(net, LifNet) else sigma_delta_arrays(program, eq, x)
    return arrays | model | {
        "weight_exp": np.array(net.weight_exp), "layers": np.array(net.layers), "free_steps": np.array(steps),
        "labels": data.y_test[:samples], "emulator_class": eq.output.argmax(axis=1), "origin": np.array(run.origin)}


def sigma_delta_arrays(program, eq, x) -> dict[str, np.ndarray]:
    """A sigma-delta network's part of ``network.npz``: ``bias_k`` (n_k,) for layers k = 1..L and ``vth``, both
    in activation units, ``act_max``, ``state_exp``, ``pair`` (units are pairs of ReLU neurons); ``spikes``
    (samples, n_0) input graded spikes and the emulator's final activations of the output neurons
    ``emulator_act`` (samples, N_L)."""
    net = program.net
    return {f"bias_{k}": b for k, b in enumerate(net.bias, start=1)} | {
        "vth": np.array(net.vth), "act_max": np.array(net.act_max), "state_exp": np.array(net.state_exp),
        "pair": np.array(net.pair), "spikes": program.spikes_of(x), "emulator_act": eq.fixed.act[-1]}


def lif_arrays(program, eq, x, steps: int) -> dict[str, np.ndarray]:
    """A LIF network's part of ``network.npz``: ``neuron`` ("lif"), ``bias_mant_k`` (n_k,) for layers k = 1..L,
    ``bias_exp`` (L,), ``du``, ``dv``, ``vth``, ``window``; ``trains`` (samples, free_steps, n_0) the inputs'
    binary spikes, and the emulator's output spike counts over the window ``emulator_counts`` and final output
    currents and voltages ``emulator_u``, ``emulator_v`` (samples, n_L)."""
    net, state = program.net, eq.neurons
    return {f"bias_mant_{k}": m for k, m in enumerate(net.bias_mant, start=1)} | {
        "neuron": np.array("lif"), "bias_exp": np.array(net.bias_exp), "du": np.array(net.du),
        "dv": np.array(net.dv), "vth": np.array(net.vth), "window": np.array(eq.window),
        "trains": input_train(x, 0, steps).transpose(1, 0, 2).astype(np.uint8),
        "emulator_counts": state.counts[-1], "emulator_u": state.u[-1], "emulator_v": state.v[-1]}


def write_bundle(out: Path, arrays: dict[str, np.ndarray], hardware: bool):
    """Write ``network.npz`` and copy the templates to ``out``, each file atomically; ``hardware``
    makes Loihi 2 the script's default. :class:`~emulator.errors.OutputError` if a file cannot be written."""
    make_folder(out)
    remove(out / CHECK)  # a previous bundle's check
    write_arrays(out / NETWORK, arrays)
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        if hardware and template.name == SCRIPT:
            text = text.replace(*HARDWARE_DEFAULT)
        write_text(out / template.name, text)


def run_check(out: Path, on_line=None) -> dict:
    """Run the bundle's script in Lava's fixed-point simulation; returns the check it wrote.

    ``on_line`` is called with each line the script prints (its per-sample results).
    """
    process = subprocess.Popen([sys.executable, SCRIPT, "--sim"], cwd=out, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    last = ""
    for line in process.stdout:
        last = line.strip() or last
        if on_line:
            on_line(line)
    status = process.wait()
    if not (out / CHECK).is_file():
        raise EmulatorError(f"{out / SCRIPT} failed in Lava (exit status {status}): {last}; run it by hand "
                            f"to see all it printed: python {out / SCRIPT} --sim")
    return json.loads((out / CHECK).read_text(encoding="utf-8"))


def deploy_to_lava(backend, run, data, out: Path, *, samples: int = 10, hardware: bool = False,
                   on_line=None) -> Deployment:
    """Write the bundle of the trained ``run`` (with its ``data``) to ``out`` and, unless ``hardware``,
    check it in Lava.

    Parameters
    ----------
    backend : LoihiBackend
        The back-end that compiles the run's network.
    samples : int
        Test samples to bundle and check.
    hardware : bool
        Make the bundle run on Loihi 2 (``Loihi2HwCfg``) by default, and do not run it here.
    on_line : callable, optional
        Called with each line the bundle's script prints.

    Returns
    -------
    Deployment
        ``check`` is what the script wrote to ``lava_check.json`` (``samples``, ``classes_equal``,
        ``states_equal``, ``lava_wall_s``, per-sample classes...); None with ``hardware``.
    """
    check_bundle_folder(out, (NETWORK, SCRIPT))
    if not hardware:
        lava.require_lava()
    write_bundle(out, bundle_arrays(backend, run, data, samples), hardware)
    if hardware:
        return Deployment(f"bundle for Loihi 2 hardware written to {out}; not checked, as no Loihi 2 (nor "
                          "Intel's lava-loihi) can be reached from here: run `python run_lava.py` there on a "
                          "Loihi 2 system, or `python run_lava.py --sim` for Lava's simulation")
    check = run_check(out, on_line)
    passed = bool(check["classes_equal"] and check["states_equal"])
    return Deployment(f"bundle for Lava in {out}; the check is in {out / CHECK}", check=check, passed=passed,
                      problem="" if passed else f"Lava differs from the emulator on samples "
                                                f"{check['different_samples']}")
