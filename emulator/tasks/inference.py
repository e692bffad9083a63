"""Spiking inference workloads: a network someone already has (a NIR file) run on a chip over a test split.

The network is read once (:func:`~emulator.exchange.nir_graph.read_nir`) and handed to the chip's back-end
(``Backend.run_nir``: NIR's float semantics on ``digital`` and ``snn``; Lava's integer LIF and Dense on the Loihi
family), batch by batch. Each test image (pixels in [0, 1]) is presented for ``data.steps`` steps as Bernoulli
rate-coded spikes (:func:`~emulator.exchange.encoding.rate_code`), seeded per sample (``(data.seed, index)``), so
the spikes of a sample do not depend on the batch size; or (``data.encoding: current``) as its pixel values at
every step. The class is the output neuron with the most spikes over
the whole run (the lowest index on ties). The report gives accuracy, spikes, synaptic ops, energy and latency per
inference, per core where the chip has cores, and what quantisation changed.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import numpy as np
from tqdm import tqdm

import emulator
from emulator.chip import Chip, backend_names, get_backend
from emulator.datasets import load_dataset
from emulator.energy import account, chip_constants
from emulator.errors import ConfigError
from emulator.exchange.encoding import rate_code
from emulator.exchange.nir_graph import NirNetwork, read_nir
from emulator.exchange.nir_sim import time_step
from emulator.results import (EnergyReport, InferenceEnergy, InferenceMetrics, InferenceResult, InferenceTime,
                              ProgrammingEnergy)
from emulator.workload import InferenceWorkload


def _ports(network: NirNetwork, workload: InferenceWorkload, n_features: int, n_classes: int) -> tuple[str, str]:
    """The one Input and the one Output, checked against the dataset's features and classes."""
    for ports, what, want in ((network.inputs, "Input", n_features), (network.outputs, "Output", n_classes)):
        if len(ports) != 1:
            raise ConfigError(f"{workload.where('network', 'file')}: the network has {len(ports)} {what} nodes; an "
                              f"snn_inference workload needs exactly one")
        (port,) = ports.values()
        if port.size != want:
            raise ConfigError(f"{workload.where('network', 'file')}: {what} {port.name!r} has {port.size} values but "
                              f"dataset {workload.data.dataset} has {want} {'features' if what == 'Input' else 'classes'}")
    return next(iter(network.inputs)), next(iter(network.outputs))


def encode(x: np.ndarray, first: int, steps: int, seed: int, encoding: str = "rate") -> np.ndarray:
    """(steps, B, n) inputs of samples ``first .. first + B - 1``: rate-coded spikes (each sample from its own seed),
    or with ``encoding="current"`` the values themselves at every step."""
    if encoding == "current":
        return np.repeat(np.asarray(x, np.float64)[None], steps, axis=0)
    return np.concatenate([rate_code(x[k:k + 1], steps, (seed, first + k)) for k in range(len(x))], axis=1)


def families_with_nir() -> list[str]:
    """The back-end families that run NIR graphs (the ``nir`` capability)."""
    return sorted(f for f in backend_names() if "nir" in get_backend(f).capabilities)


def run_inference(workload: InferenceWorkload, chip: Chip, *, progress: bool = True) -> InferenceResult:
    """Run ``workload`` on ``chip``; accuracy, counters, energy and latency per inference."""
    start = time.perf_counter()
    backend = get_backend(chip.backend)
    if "nir" not in backend.capabilities:
        raise ConfigError(f"chip {chip.name!r} ({chip.backend} back-end) does not run NIR graphs; the families that "
                          f"do: {', '.join(families_with_nir())}")
    network = read_nir(workload.network_path())
    dt = time_step(network, workload.network.dt)
    d = workload.data
    data = load_dataset(d.dataset, n_train=1, n_test=d.samples)
    source, output = _ports(network, workload, data.x_test.shape[1], data.n_classes)
    correct, counters, first_run = 0, None, None
    bar = tqdm(total=data.n_test, desc=f"{workload.name} on {chip.name}", unit="sample", disable=not progress)
    with bar:
        for first in range(0, data.n_test, d.batch):
            x = data.x_test[first:first + d.batch]
            run = backend.run_nir(network, chip, {source: encode(x, first, d.steps, d.seed, d.encoding)}, dt)
            predicted = run.outputs[output].sum(axis=0).argmax(axis=1)
            correct += int((predicted == data.y_test[first:first + d.batch]).sum())
            counters = run.counters if counters is None else counters + run.counters
            if first_run is None:  # the programming and the network's summary are every batch's
                first_run = run
            bar.update(len(x))
    n = data.n_test
    inference = account(counters, chip, backend, n, phase="inference")
    programming = account(first_run.programming, chip, backend, 1, phase="programming")
    return InferenceResult(
        workload=workload.name, chip=chip.name, backend=chip.backend, seed=d.seed,
        emulator_version=emulator.__version__, created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        network={"file": workload.network.file, "dt_s": dt, "inputs": {k: p.size for k, p in network.inputs.items()},
                 "outputs": {k: p.size for k, p in network.outputs.items()},
                 "populations": {k: {"model": p.model, "size": p.size} for k, p in network.populations.items()}},
        data={"dataset": d.dataset, "source": data.source, "samples": n, "encoding": d.encoding, "steps": d.steps,
              "seed": d.seed},
        metrics=InferenceMetrics(accuracy=correct / n, samples=n, steps=first_run.steps,
                                 spikes_per_inference=counters.get("spikes", counters.get("messages", 0)) / n,
                                 synaptic_ops_per_inference=counters.get("synaptic_ops", 0) / n),
        counters={"inference": counters.totals(), "programming": first_run.programming.totals()},
        per_core={op: values for op, values in counters.to_dict().items() if isinstance(values, list)},
        energy=InferenceEnergy(**chip_constants(chip), inference=EnergyReport.from_dict(inference),
                               programming=ProgrammingEnergy.from_dict(programming)),
        time=InferenceTime(emulated_s_per_inference=inference["emulated_s_per_sample"],
                           wall_s=time.perf_counter() - start),
        program=first_run.summary, quantisation=first_run.quantisation)
