"""A run: train a workload on a chip, evaluate it, and build the typed result the report shows.

The workload's ``training.algorithm`` says how (:mod:`emulator.training.algorithms`): EqProp,
backprop or noise injection (whose network the chip then evaluates feed-forward), or implicit
training through a proxy of the chip.

Finished epochs are checkpointed in the run folder (``checkpoint.npz``) so an interrupted run
loses nothing and ``resume`` continues it to the same result as an uninterrupted run: the
shuffling of epoch ``e`` depends only on ``(seed, e)``. An epoch after which the training has
diverged (:mod:`emulator.training.divergence`) is not checkpointed: the run stops with the epochs
before it kept.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import emulator
from emulator.backends.base import Nudge
from emulator.chip import Chip, get_backend, model_mismatch
from emulator.counters import Counters
from emulator.datasets import Dataset, load_dataset
from emulator.energy import account, check_priced, chip_constants
from emulator.errors import ConfigError, DatasetError
from emulator.files import make_folder, remove
from emulator.memory import in_words, machine_bytes
from emulator.network import init_network, lipschitz, synapses
from emulator.results import (REPORT, DatasetSummary, Deployment, EnergyReport, EpochRecord, Metrics, NetworkShape,
                              Relaxation, RunResult, TrainingEnergy, TrainingTime)
from emulator.schema import Source, dotted
from emulator.tasks.checkpoint import (CHECKPOINT, STATE, Identity, TrainedRun, damaged, first_difference,
                                       read_checkpoint, saved_workload, write_checkpoint)
from emulator.training.algorithms import check_runs, inference_of
from emulator.training.backprop import backprop_gradient, drive_noise
from emulator.training.divergence import chance_level, check_divergence
from emulator.training.eqprop import Phases, PowerIteration, eqprop_gradient, one_hot, sgd_step
from emulator.training.implicit import implicit_gradient
from emulator.workload import Workload, check_against_dataset

#: test samples relaxed without threshold to draw the theta = 0 traffic beside the lazy one
THETA0_SAMPLES = 500
#: programs and relaxations alive at once: the program, the one it replaces and the counter check's; the
#: free, +beta and -beta equilibria of an update
ALIVE = 3
#: float64 copies of the host's weights alive at once: the master weights, their update, the updated ones
HOST_COPIES = 3


def phases_of(workload: Workload, epoch: int = 1) -> Phases:
    """The relaxation settings of training epoch ``epoch`` (1-based), beta as ``eqprop.beta_schedule`` has it."""
    e = workload.eqprop
    beta = e.beta_schedule.at(e.beta, epoch, workload.training.epochs)
    return Phases(beta, e.symmetric, e.free_steps, e.nudged_steps)


def algorithm_settings(workload: Workload) -> dict:
    """The section of the workload's training algorithm that the report shows beside ``training``
    (``{"implicit": {...}}``, ``{"noise_injection": {...}}``), or {} for one with no section of its own."""
    name = workload.training.algorithm
    settings = {name: asdict(getattr(workload, name))} if name in ("implicit", "noise_injection") else {}
    if name in ("backprop", "noise_injection"):
        settings["backprop"] = asdict(workload.backprop)
    return settings


def load_data(workload: Workload) -> Dataset:
    d = workload.dataset
    try:
        data = load_dataset(d.name, n_train=d.n_train, n_test=d.n_test, preprocessing=d.preprocessing)
    except DatasetError as exc:
        path = ("dataset", exc.key) if exc.key else ("dataset",)
        raise DatasetError(f"{workload.where(*path)}: {'.'.join(path)}: {exc}", key=exc.key) from None
    check_against_dataset(workload, data.n_features, data.n_classes, d.name)
    return data


def check_memory(workload: Workload, chip: Chip, backend, data: Dataset):
    """Raise :class:`ConfigError`, naming the key to change, if the run would need more memory than the
    machine has (:func:`emulator.memory.machine_bytes`): estimated from the layers, the batch sizes and
    the step budgets (:meth:`Backend.memory <emulator.backends.base.Backend.memory>`), before the network
    is allocated."""
    available = machine_bytes()
    if available is None:
        return
    w, ev = workload, workload.evaluation
    evaluated = max(data.n_test, min(ev.train_subset or data.n_train, data.n_train))
    batch = max(min(w.training.batch_size, data.n_train), min(ev.batch_size, evaluated))
    steps = max(w.eqprop.free_steps, w.eqprop.nudged_steps)
    need = backend.memory(w.network.layers, chip, batch=batch, max_steps=steps)
    network = ALIVE * need.program + HOST_COPIES * 8 * synapses(w.network.layers)
    relaxations = ALIVE * need.relaxation
    data_bytes = data.x_train.nbytes + data.x_test.nbytes
    total = network + relaxations + data_bytes
    if total <= available:
        return
    if network >= relaxations:
        key, change = ("network", "layers"), "use fewer or smaller network.layers"
    else:
        key = ("training", "batch_size") if batch == min(w.training.batch_size, data.n_train) else \
            ("evaluation", "batch_size")
        change = f"use a smaller {'.'.join(key)}, or fewer eqprop steps"
    raise ConfigError(
        f"{w.where(*key)}: {'.'.join(key)}: this run on chip {chip.name!r} needs about {in_words(total)} of memory, "
        f"more than the {in_words(available)} this machine has (the network and its programs {in_words(network)}, "
        f"relaxations of {batch:,} samples x {steps:,} steps {in_words(relaxations)}, the data "
        f"{in_words(data_bytes)}); {change}")


def evaluate(backend, program, x, y, *, steps: int, batch_size: int,
             progress: str | None = None) -> tuple[float, Counters, Relaxation]:
    """Free-phase inference on ``x``; returns accuracy, counters and relaxation statistics (without
    the theta = 0 reference)."""
    counters = Counters()
    correct, n_steps, n_quiescent = 0, 0, 0
    trace = np.zeros(steps, np.int64)
    batches = range(0, len(x), batch_size)
    # progress bars only on a terminal (tqdm's disable=None), never when progress is None
    for start in tqdm(batches, desc=progress, leave=False, disable=True if progress is None else None,
                      unit="batch"):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        eq, c = backend.relax(program, xb, max_steps=steps)
        counters += c
        correct += int((eq.output.argmax(axis=1) == yb).sum())
        n_steps += int(eq.steps.sum())
        n_quiescent += int(eq.quiescent.sum())
        trace += eq.trace
    n = max(len(x), 1)
    return correct / n, counters, Relaxation(mean_steps=n_steps / n, quiescent_fraction=n_quiescent / n,
                                             messages_per_step=tuple((trace / n).tolist()),
                                             messages_per_step_theta0=None, theta0_samples=None)


def evaluate_feedforward(backend, program, x, y, *, batch_size: int, progress: str | None = None,
                         by_drive: bool = False) -> tuple[float, Counters, None]:
    """Feed-forward inference on ``x`` (one pass per sample); returns accuracy, counters and None (no relaxation).
    The class is the output unit of the highest state, or with ``by_drive`` of the highest drive (the logits of a
    network trained with cross-entropy, whose states may tie at 1)."""
    counters = Counters()
    correct = 0
    for start in tqdm(range(0, len(x), batch_size), desc=progress, leave=False,
                      disable=True if progress is None else None, unit="batch"):
        states, c = backend.feedforward(program, x[start:start + batch_size], output_drive=by_drive)
        counters += c
        correct += int((states[-1].argmax(axis=1) == y[start:start + batch_size]).sum())
    return correct / max(len(x), 1), counters, None


def evaluate_trained(trained: TrainedRun, chip: Chip, out_dir: Path, progress: bool = True,
                     data: Dataset | None = None) -> RunResult:
    """Naive deployment: program ``trained``'s network once onto ``chip`` and evaluate it there.

    Returns the result of a run with no training on ``chip`` (its training counters are the one
    programming), with :attr:`~emulator.results.RunResult.deployed` saying where it was trained.
    """
    check_same_model(trained, chip)
    start = time.perf_counter()
    run = Run(trained.workload, chip, out_dir, data=data, deployment=True)
    run.network = trained.network
    run.program = run.backend.compile(trained.network, chip)
    run.training = Counters() + run.program.programming
    result = run.result(time.perf_counter() - start, progress=progress)
    return replace(result, time=replace(result.time, wall_s=time.perf_counter() - start),
                   deployed=Deployment(trained_folder=str(trained.folder), trained_on=trained.chip.name,
                                       epochs=trained.epochs))


def check_same_model(trained: TrainedRun, chip: Chip) -> None:
    """ConfigError if ``chip``'s family relaxes another model than the one ``trained``'s network was
    trained for (its parameters would mean something else there: the accuracy would be meaningless)."""
    mismatch = model_mismatch(trained.chip, chip)
    if mismatch:
        raise ConfigError(f"the network in {trained.folder} cannot be evaluated on {chip.name}: {mismatch}, so its "
                          f"weights mean something else there; train on the chip itself "
                          f"(python -m emulator run {trained.workload.name} --chip {chip.name})")


class Run:
    """Training and evaluation of one workload on one chip, checkpointed in ``out_dir``.

    ``epoch`` counts the finished epochs, ``saved_epoch`` those in the checkpoint on disk. With
    ``deployment``, the run only evaluates a network trained elsewhere (by relaxation, whatever
    trained it), so the chip need not run the workload's training algorithm.
    """

    def __init__(self, workload: Workload, chip: Chip, out_dir: Path, data: Dataset | None = None, *,
                 deployment: bool = False):
        self.workload, self.chip, self.out_dir = workload, chip, Path(out_dir)
        self.backend = get_backend(chip.backend)
        self.deployment = deployment
        self.inference = "relaxation" if deployment else inference_of(workload.training.algorithm)
        if not deployment:
            check_runs(workload.training.algorithm, chip, self.backend, workload.where("training", "algorithm"))
        self.data = data if data is not None else load_data(workload)
        self.backend.check_fits(workload.network.layers, chip)
        check_memory(workload, chip, self.backend, self.data)
        w = workload
        self.network = init_network(w.network.layers, np.random.default_rng(w.training.seed),
                                    theta=w.eqprop.theta, damping=w.eqprop.damping, gain=w.network.init_gain,
                                    spiking=w.spiking)
        self.initial_norms = tuple(lipschitz(self.network))
        self.epoch = self.saved_epoch = 0
        self.history: list[EpochRecord] = []
        self.training = Counters()
        self.n_trained = 0
        self.program = self.backend.compile(self.network, chip)
        self.training += self.program.programming
        self.check_counters()

    def check_counters(self):
        """One step of a free and a nudged phase, the arithmetic of an update and, for another training
        algorithm than EqProp, one of its updates with one-step phases, on one training sample and a copy
        of the program compiled apart (the run's own program and its noise draws are untouched): a
        back-end that counts an op the chip file does not price fails here, in seconds, not after an epoch."""
        x, y = self.data.x_train[:1], one_hot(self.data.y_train[:1], self.data.n_classes)
        program = self.backend.compile(self.network, self.chip)
        free, counters = self.backend.relax(program, x, max_steps=1)
        _, nudged = self.backend.relax(program, x, max_steps=1, nudge=Nudge(self.workload.eqprop.beta, y), init=free)
        counters += nudged + program.programming + self.backend.count_update(program, 2)
        e = self.workload.eqprop
        if not self.deployment and self.workload.training.algorithm != "eqprop":
            phases = Phases(e.beta, e.symmetric, 1, 1)
            counters += self.update_direction(program, self.network, x, y, phases, np.random.default_rng(0))[2]
        if self.inference == "feedforward":
            counters += self.backend.feedforward(program, x)[1]
        check_priced(counters, self.chip, self.backend)

    # -- checkpoints -------------------------------------------------------------------------
    def identity(self) -> dict:
        """What a checkpoint must match to be resumed: the workload settings, the chip and its parameters."""
        w = {k: v for k, v in asdict(self.workload).items() if k not in ("origin", "description")}
        w["training"] = {k: v for k, v in w["training"].items() if k != "epochs"}
        return {"workload": w, "chip": self.chip.name, "chip_parameters": self.chip.parameters}

    def difference(self, saved: Identity) -> str | None:
        """The first setting in which a checkpoint's identity differs from this run's, in words
        (``"eqprop.theta: 0.01 in the checkpoint, 0.02 now"``), or None if it is this run's.

        Settings are compared with every default filled in: a setting added to the emulator after
        the checkpoint was written matches while it keeps its default; one since removed differs.
        """
        here = json.loads(json.dumps(self.identity()))  # the checkpoint's types: lists, not tuples
        if saved.chip != here["chip"]:
            return f"chip: {saved.chip!r} in the checkpoint, {here['chip']!r} now"
        try:
            theirs = self._with_defaults(saved.workload, saved.chip_parameters or {})
        except ConfigError as exc:  # a setting this emulator does not know, or one it needs missing
            return str(exc)
        ours = self._with_defaults(here["workload"], here["chip_parameters"])
        for (what, a), b in zip(theirs.items(), ours.values()):
            found = first_difference(a, b)
            if found:
                path, old, new = found
                return f"{what}{dotted(path)}: {old!r} in the checkpoint, {new!r} now"
        return None

    def _with_defaults(self, workload: dict, chip_parameters: dict) -> dict:
        """A run's identity with every default filled in: ``{"": workload settings, "the chip's
        parameters.": chip parameters}``, keyed by how a difference in them is named."""
        source = Source(f"{self.out_dir / CHECKPOINT} entry {STATE!r}")
        settings = asdict(saved_workload(workload, self.workload.training.epochs, source))
        chip = replace(self.chip, parameters=self.backend.upgrade(chip_parameters), origin=source)
        return {"": settings, "the chip's parameters.": asdict(self.backend.parameters_of(chip))}

    def save(self):
        """Checkpoint the finished epochs, atomically. A report of an earlier run in the folder is
        removed first: a ``report.json`` always belongs to the checkpoint beside it."""
        state = {"identity": self.identity(), "epoch": self.epoch, "history": [h.to_dict() for h in self.history],
                 "training": self.training.to_dict(), "n_trained": self.n_trained}
        make_folder(self.out_dir)
        remove(self.out_dir / REPORT)
        write_checkpoint(self.out_dir, state, self.network)
        self.saved_epoch = self.epoch

    def restore(self):
        """Continue from the checkpoint in ``out_dir``.

        Raises
        ------
        ConfigError
            If there is none, if it is damaged or another run's (naming the first setting that
            differs), or if it holds more finished epochs than this run's ``training.epochs``.
        """
        option = f"--resume {self.out_dir}"
        if not (self.out_dir / CHECKPOINT).exists():
            raise ConfigError(f"{option}: no {CHECKPOINT} there; start a new run instead")
        checkpoint = read_checkpoint(self.out_dir)
        difference = self.difference(checkpoint.state.identity)
        if difference:
            raise ConfigError(f"{option}: that run used other settings ({difference}); resume it with the same "
                              "workload file, --chip, --set and --chip-set options")
        saved, epochs = checkpoint.epoch, self.workload.training.epochs
        finished = f"{saved} finished epoch{'s' * (saved != 1)}"
        if saved > epochs:
            raise ConfigError(f"{option}: the checkpoint holds {finished}, more than training.epochs = {epochs} "
                              f"({self.workload.where('training', 'epochs')}); set training.epochs to {saved} or "
                              f"more (--set training.epochs={saved}) to finish that run")
        if checkpoint.state.n_trained != saved * self.data.n_train:
            raise damaged(self.out_dir, "--resume", f"entry {STATE!r}: n_trained: {checkpoint.state.n_trained} "
                          f"samples, not {finished} of {self.data.n_train}", "start a new run with another --out")
        self.network = self.network.with_parameters(checkpoint.weights, checkpoint.biases)
        self.epoch = self.saved_epoch = saved
        self.n_trained = checkpoint.state.n_trained
        self.history = list(checkpoint.history)
        self.training = checkpoint.training
        # re-programmed over the initial program, as the run was: a chip that fixes its scales at the
        # first programming (the crossbar's full-scale weights) keeps the run's
        self.program = self.backend.compile(self.network, self.chip, previous=self.program)

    # -- training ----------------------------------------------------------------------------
    def train_epoch(self, progress: bool = True) -> EpochRecord:
        w, data = self.workload, self.data
        epoch = self.epoch + 1
        rng = np.random.default_rng([w.training.seed, epoch])
        order = rng.permutation(data.n_train)
        rates = [lr * w.training.lr_decay ** (epoch - 1) for lr in w.training.learning_rates]
        sn = w.training.spectral_norm
        power = PowerIteration(self.network.weights, rng) if sn.enabled else None
        phases = phases_of(w, epoch)
        targets = one_hot(data.y_train, data.n_classes)
        start = time.perf_counter()
        bs = w.training.batch_size
        batches = tqdm(range(0, data.n_train, bs), desc=f"epoch {epoch}/{w.training.epochs}",
                       disable=None if progress else True, leave=False, unit="batch")
        for first in batches:
            idx = order[first:first + bs]
            dw, db, counters = self.update_direction(self.program, self.network, data.x_train[idx], targets[idx],
                                                     phases, rng)
            network = sgd_step(self.network, dw, db, rates)
            if power is not None:
                network = network.with_parameters(power.normalise(network.weights, sn.limit), network.biases)
            self.network = network
            self.program = self.backend.compile(network, self.chip, previous=self.program)
            self.training += counters + self.program.programming
            self.n_trained += len(idx)
        train_s = time.perf_counter() - start
        train_acc, _, _ = self.evaluate("train")
        test_acc, _, _ = self.evaluate("test")
        norms = tuple(lipschitz(self.network))
        check_divergence(epoch, test_acc, chance_level(data.y_test), norms, self.initial_norms)
        self.epoch = epoch
        self.history.append(EpochRecord(epoch=epoch, train_accuracy=train_acc, test_accuracy=test_acc,
                                        lipschitz=norms, train_wall_s=train_s, wall_s=time.perf_counter() - start))
        self.save()
        return self.history[-1]

    def update_direction(self, program, network, x, y, phases: Phases, rng: np.random.Generator):
        """The update direction of the workload's training algorithm on a batch, estimating ``-dL/dtheta``.

        Parameters
        ----------
        program : the chip's program of ``network`` (the host's parameters).
        x : (batch, n_0) inputs; y : (batch, n_L) one-hot targets.
        phases : the relaxation settings of the epoch.
        rng : draws the noise of ``noise_injection``.

        Returns
        -------
        (dW, db, counters) : shaped like the parameters, and what the chip did.
        """
        w = self.workload
        algorithm = w.training.algorithm
        if algorithm == "eqprop":
            dw, db, _, counters = eqprop_gradient(self.backend, program, x, y, phases)
            return dw, db, counters
        if algorithm == "implicit":
            return implicit_gradient(self.backend, program, network, x, y, free_steps=phases.free_steps,
                                     settings=w.implicit)
        noise = drive_noise(rng, network.layers, len(x), w.noise_injection.drive_std) \
            if algorithm == "noise_injection" else None
        return backprop_gradient(self.backend, program, x, y, drive_noise=noise, loss=w.backprop.loss)

    def train(self, progress: bool = True, on_epoch=None):
        for _ in range(self.epoch, self.workload.training.epochs):
            record = self.train_epoch(progress)
            if on_epoch:
                on_epoch(record)

    def evaluate(self, split: str, *, program=None, limit: int | None = None, progress: str | None = None):
        """Inference on the test set, or on the ``evaluation.train_subset`` first training samples."""
        data, ev = self.data, self.workload.evaluation
        if split == "train":
            x, y, limit = data.x_train, data.y_train, ev.train_subset
        else:
            x, y = data.x_test, data.y_test
        if self.inference == "feedforward":
            return evaluate_feedforward(self.backend, program or self.program, x[:limit], y[:limit],
                                        batch_size=ev.batch_size, progress=progress,
                                        by_drive=self.workload.backprop.loss == "cross_entropy")
        return evaluate(self.backend, program or self.program, x[:limit], y[:limit],
                        steps=self.workload.eqprop.free_steps, batch_size=ev.batch_size, progress=progress)

    # -- result ------------------------------------------------------------------------------
    def result(self, wall_s: float, progress: bool = True) -> RunResult:
        """Evaluate on the test set and assemble the run's result; ``wall_s`` is the host time the
        run took before, to which this evaluation's is added."""
        start = time.perf_counter()
        w, data, net = self.workload, self.data, self.network
        test_acc, inference, relaxation = self.evaluate("test", progress="test" if progress else None)
        train_acc, _, _ = self.evaluate("train")
        # the same network without the lazy threshold, for the traffic figure (where theta acts on the chip)
        if w.eqprop.theta > 0 and relaxation is not None and self.program.uses_theta:
            exact = self.backend.compile(replace(net, theta=0.0), self.chip)
            _, _, reference = self.evaluate("test", program=exact, limit=THETA0_SAMPLES)
            relaxation = replace(relaxation, messages_per_step_theta0=reference.messages_per_step,
                                 theta0_samples=min(THETA0_SAMPLES, data.n_test))
        e_inf = account(inference, self.chip, self.backend, data.n_test, phase="inference")
        e_train = account(self.training, self.chip, self.backend, self.n_trained, phase="training")
        return RunResult(
            workload=w.name, chip=self.chip.name, backend=self.chip.backend, seed=w.training.seed,
            algorithm=w.training.algorithm, inference=self.inference,
            emulator_version=emulator.__version__,
            created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            dataset=DatasetSummary(**data.to_report()),
            network=NetworkShape(layers=tuple(net.layers), n_units=net.n_units, n_synapses=net.n_synapses),
            eqprop=asdict(w.eqprop),
            training=asdict(w.training) | algorithm_settings(w) | {"samples_trained": self.n_trained},
            metrics=Metrics(test_accuracy=test_acc, train_accuracy=train_acc, epochs=self.epoch),
            history=tuple(self.history),
            counters={"inference": inference.totals(), "training": self.training.totals()},
            per_core={"inference": {op: n for op, n in inference.to_dict().items() if isinstance(n, list)}},
            relaxation={} if relaxation is None else {"inference": relaxation},
            energy=TrainingEnergy(**chip_constants(self.chip), inference=EnergyReport.from_dict(e_inf),
                                  training=EnergyReport.from_dict(e_train)),
            time=TrainingTime(emulated_s_per_inference=e_inf["emulated_s_per_sample"],
                              emulated_s_training=e_train["emulated_s"],
                              wall_s=wall_s + time.perf_counter() - start),
            program=self.program.summary(),
            deployed=None,
        )
