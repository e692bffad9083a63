"""Training algorithms beside EqProp: backprop and noise injection on the digital chip, their counts and
gradients, the errors of a bad combination, checkpoints for every algorithm, and compare with a baseline."""
import json

import numpy as np
import pytest

import emulator.tasks.classification as runner
from emulator.chip import get_backend, load_chip
from emulator.cli import main
from emulator.counters import Counters
from emulator.errors import ConfigError
from emulator.network import Network, init_network
from emulator.training.backprop import backprop_gradient
from emulator.training.eqprop import Phases, eqprop_gradient
from emulator.workload import load_workload

SMALL = ["dataset.n_train=100", "dataset.n_test=60", "training.epochs=2"]


def digital(precision="float64"):
    chip = load_chip("chips/digital.yaml", [f"parameters.precision={precision}"])
    return chip, get_backend(chip.backend)


def feedforward_loss(net: Network, x, y, loss: str = "squared_error") -> float:
    """``1/2 |s_L - y|^2``, or the softmax cross-entropy of the output drives, batch mean, of the feed-forward
    pass, in plain numpy."""
    s = x
    for w, b in zip(net.weights, net.biases):
        h = s @ w.T + b
        s = np.clip(h, 0.0, 1.0)
    if loss == "cross_entropy":
        log_p = h - h.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        return float(-(log_p * y).sum(axis=1).mean())
    return 0.5 * float(((s - y) ** 2).sum(axis=1).mean())


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy"])
def test_backprop_gradient_equals_finite_differences_of_the_feedforward_loss(loss):
    rng = np.random.default_rng(3)
    layers = (5, 7, 6, 3)
    net = init_network(layers, rng, gain=1.5)
    net = net.with_parameters(net.weights, tuple(rng.uniform(0.0, 0.5, b.shape) for b in net.biases))
    x, y = rng.random((4, 5)), np.eye(3)[rng.integers(0, 3, 4)]
    chip, backend = digital()
    dw, db, _ = backprop_gradient(backend, backend.compile(net, chip), x, y, loss=loss)
    params = list(net.weights) + list(net.biases)
    eps, checked = 1e-6, 0
    for p, update in zip(params, dw + db):
        for index in np.ndindex(p.shape):
            old = p[index]
            p[index] = old + eps
            up = feedforward_loss(net, x, y, loss)
            p[index] = old - eps
            down = feedforward_loss(net, x, y, loss)
            p[index] = old
            assert -update[index] == pytest.approx((up - down) / (2 * eps), abs=1e-7)
            checked += abs(update[index]) > 1e-3
    assert checked > 20  # many parameters with a gradient: not a test of zeros


def test_backprop_counts_and_gradient_on_a_hand_checked_three_unit_chain():
    """x = 0.5 -> s1 = clip(0.8 x + 0.1) = 0.5 -> s2 = clip(0.6 s1 + 0.2) = 0.5, target 1: the error is
    -0.5, so dL/db1 = -0.5, dL/dw1 = -0.5 * 0.5, the error sent back is -0.5 * 0.6 = -0.3, dL/dw0 = -0.3 * 0.5,
    dL/db0 = -0.3. Per sample: 2 forward MACs, 2 activation writes (s1, s2), 1 backward MAC (to s1 only),
    4 gradient MACs (2 weights, 2 biases), 3 activation reads (x, s1, s2)."""
    net = Network((np.array([[0.8]]), np.array([[0.6]])), (np.array([0.1]), np.array([0.2])))
    chip, backend = digital()
    program = backend.compile(net, chip)
    assert program.programming == Counters(weight_writes=4)
    batch = 3
    x, y = np.full((batch, 1), 0.5), np.ones((batch, 1))
    dw, db, counters = backprop_gradient(backend, program, x, y)
    assert [float(g[0, 0]) for g in dw] == pytest.approx([0.15, 0.25])
    assert [float(g[0]) for g in db] == pytest.approx([0.3, 0.5])
    assert counters == Counters(forward_macs=2 * batch, activation_writes=2 * batch, backward_macs=batch,
                                gradient_macs=4 * batch, activation_reads=3 * batch)
    # inference: the forward pass alone, no noise; EqProp's update: the products of both phases of every sample
    assert backend.feedforward(program, x)[1] == Counters(forward_macs=2 * batch, activation_writes=2 * batch)
    _, _, _, eqprop = eqprop_gradient(backend, program, x, y, Phases(0.5, True, 5, 5))
    assert eqprop["gradient_macs"] == 2 * batch * 4


def test_cross_entropy_trains_an_output_unit_the_squared_error_leaves_dead():
    """An output unit whose drive is below 0 for every sample: the squared error gives it no gradient (the hard
    sigmoid's slope is 0), the cross-entropy on the drives does (its softmax error reaches the drive)."""
    net = Network((np.array([[1.0], [-1.0]]),), (np.array([0.2, -0.5]),))
    chip, backend = digital()
    program = backend.compile(net, chip)
    x, y = np.full((4, 1), 0.5), np.tile([0.0, 1.0], (4, 1))  # the target is the dead unit 1
    _, db_squared, _ = backprop_gradient(backend, program, x, y)
    _, db_entropy, _ = backprop_gradient(backend, program, x, y, loss="cross_entropy")
    assert db_squared[0][1] == 0 and db_entropy[0][1] > 0.5


def test_noise_injection_adds_noise_to_every_drive_of_the_forward_pass():
    net = Network((np.array([[0.8]]), np.array([[0.6]])), (np.array([0.1]), np.array([0.2])))
    chip, backend = digital()
    program = backend.compile(net, chip)
    x = np.full((2, 1), 0.5)
    states, _ = backend.feedforward(program, x, drive_noise=[np.array([[0.1], [-0.2]]), np.array([[0.0], [0.3]])])
    assert states[1][:, 0] == pytest.approx([0.6, 0.3]) and states[2][:, 0] == pytest.approx([0.56, 0.68])


def test_a_chip_that_cannot_run_the_algorithm_is_one_error_naming_the_chips_that_can(capsys):
    for algorithm, chip, able in (("backprop", "loihi2", "run it on digital (--chip digital)"),
                                  ("implicit", "oim-cmos", "run it on crossbar-pcm, crossbar-rram, digital")):
        assert main(["run", "digits_snn", "--chip", chip, "--set", f"training.algorithm={algorithm}",
                     "--out", "unused"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith(f"error: --set training.algorithm={algorithm}: ")
        assert f"chip {chip!r}" in err and able in err


@pytest.mark.parametrize("overrides, key, words", [
    (["training.algorithm=backprop", "eqprop.symmetric=false"], "eqprop.symmetric", "training.algorithm: eqprop"),
    (["training.algorithm=implicit", "eqprop.beta_schedule={model: linear, final: 0.2}"], "eqprop.beta_schedule",
     "used only by training.algorithm eqprop"),
    (["training.algorithm=eqprop", "implicit.gains=false"], "implicit.gains", "training.algorithm: implicit"),
    (["training.algorithm=backprop", "noise_injection.drive_std=0.3"], "noise_injection.drive_std",
     "this workload's is backprop"),
    (["training.algorithm=eqprop", "backprop.loss=cross_entropy"], "backprop.loss",
     "used only by training.algorithm backprop or noise_injection"),
])
def test_a_key_only_another_algorithm_uses_is_one_error(overrides, key, words):
    with pytest.raises(ConfigError) as info:
        load_workload("workloads/digits_snn.yaml", overrides)
    message = str(info.value)
    assert f": {key}: " in message and words in message and "\n" not in message
    load_workload("workloads/digits_snn.yaml", overrides[:1])  # the algorithm alone is fine


@pytest.mark.parametrize("algorithm", ["backprop", "noise_injection", "implicit"])
def test_every_algorithm_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, algorithm):
    workload = load_workload("workloads/digits_snn.yaml", SMALL + [f"training.algorithm={algorithm}",
                                                                   "network.init_gain=0.5"])
    chip = load_chip("chips/digital.yaml")
    whole = runner.Run(workload, chip, tmp_path / "whole")
    whole.train(progress=False)
    expected = whole.result(0.0, progress=False)
    assert (expected.algorithm, expected.training["algorithm"]) == (algorithm, algorithm)
    assert expected.inference == ("relaxation" if algorithm == "implicit" else "feedforward")

    calls, real = {"n": 0}, runner.Run.update_direction

    def interrupt_in_epoch_two(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 8:  # 100 samples / 20 per batch = 5 batches per epoch, after one check of the counters
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(runner.Run, "update_direction", interrupt_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        runner.Run(workload, chip, tmp_path / "cut", data=whole.data).train(progress=False)
    monkeypatch.setattr(runner.Run, "update_direction", real)
    resumed = runner.Run(workload, chip, tmp_path / "cut", data=whole.data)
    resumed.restore()
    assert resumed.epoch == 1
    resumed.train(progress=False)
    result = resumed.result(0.0, progress=False)
    for key in ("metrics", "counters", "energy"):
        assert getattr(result, key) == getattr(expected, key)
    eqprop = load_workload("workloads/digits_snn.yaml", SMALL + ["network.init_gain=0.5"])
    other = runner.Run(eqprop, chip, tmp_path / "cut", data=whole.data)
    with pytest.raises(ConfigError, match=f"training.algorithm: '{algorithm}' in the checkpoint, 'eqprop' now"):
        other.restore()


def test_compare_puts_a_backprop_baseline_beside_eqprop_and_evaluate_deploys_it(tmp_path, capsys):
    out = tmp_path / "cmp"
    small = ["dataset.n_train=60", "dataset.n_test=40", "training.epochs=1"]
    assert main(["compare", "digits_snn", "--chips", "digital", "--baseline", "backprop", "--quiet", "--out", str(out)]
                + [a for s in small for a in ("--set", s)]) == 0
    data = json.loads((out / "comparison.json").read_text())
    assert data["baseline"] == 0 and [s["algorithm"] for s in data["summary"]] == ["backprop", "eqprop"]
    base, eqprop = data["summary"]
    assert base["training_energy_per_sample_vs_baseline"] == 1.0
    assert eqprop["energy_per_inference_vs_baseline"] == pytest.approx(
        eqprop["energy_per_inference_j"] / base["energy_per_inference_j"])
    markdown = (out / "comparison.md").read_text()
    assert "backprop (baseline)" in markdown and "training energy / sample vs baseline" in markdown
    report = (out / "digital-backprop" / "report.md").read_text()
    assert report.startswith("# digits_snn on digital (backprop)\n") and "one feed-forward pass" in report
    assert "digits_snn on digital (backprop): test accuracy" in capsys.readouterr().out
    # naive deployment of the backprop-trained network: relaxed on the chip, its report says how it was trained
    assert main(["evaluate", str(out / "digital-backprop"), "--chip", "digital", "--quiet",
                 "--out", str(tmp_path / "deployed")]) == 0
    deployed = json.loads((tmp_path / "deployed" / "report.json").read_text())
    assert (deployed["algorithm"], deployed["inference"]) == ("backprop", "relaxation")
    assert "synaptic_ops" in deployed["counters"]["inference"]
    assert (tmp_path / "deployed" / "report.md").read_text().startswith(
        "# digits_snn on digital (backprop on digital, deployed)\n")
    assert main(["compare", "digits_snn", "--chips", "digital", "--baseline", "backprop:loihi2", "--out",
                 str(tmp_path / "x")]) == 2
    assert "run it on digital" in capsys.readouterr().err

#: a run of 40 training and 20 test samples, one epoch
TINY = [a for s in ["dataset.n_train=40", "dataset.n_test=20", "training.epochs=1"] for a in ("--set", s)]


def test_the_command_line_trains_with_noise_injection_and_deploys_the_network_on_a_crossbar(tmp_path):
    assert main(["run", "digits_snn", "--chip", "digital", "--set", "training.algorithm=noise_injection",
                 "--set", "noise_injection.drive_std=0.2", "--quiet", "--out", str(tmp_path / "noisy")] + TINY) == 0
    report = json.loads((tmp_path / "noisy" / "report.json").read_text())
    assert report["training"]["noise_injection"] == {"drive_std": 0.2} and report["inference"] == "feedforward"
    assert main(["evaluate", str(tmp_path / "noisy"), "--chip", "crossbar-pcm", "--quiet",
                 "--out", str(tmp_path / "deployed")]) == 0
    deployed = json.loads((tmp_path / "deployed" / "report.json").read_text())
    assert (deployed["algorithm"], deployed["inference"]) == ("noise_injection", "relaxation")


@pytest.mark.slow
def test_the_command_line_trains_with_each_algorithm_and_deploys_a_backprop_network_on_every_chip(tmp_path):
    # implicit needs a free phase at its fixed point: a network of smaller weights settles in the step budget
    runs = {"backprop": ("digital", []), "noise_injection": ("digital", []),
            "implicit": ("crossbar-pcm", ["--set", "network.init_gain=0.5"])}
    for algorithm, (chip, extra) in runs.items():
        assert main(["run", "digits_snn", "--chip", chip, "--set", f"training.algorithm={algorithm}", "--quiet",
                     "--out", str(tmp_path / algorithm)] + TINY + extra) == 0
        report = json.loads((tmp_path / algorithm / "report.json").read_text())
        assert (report["algorithm"], report["chip"]) == (algorithm, chip)
    for chip in ("digital", "loihi2", "crossbar-pcm", "crossbar-rram", "snn", "loihi2-lif"):  # oim-cmos: another model
        assert main(["evaluate", str(tmp_path / "backprop"), "--chip", chip, "--quiet",
                     "--out", str(tmp_path / f"on-{chip}")]) == 0
        deployed = json.loads((tmp_path / f"on-{chip}" / "report.json").read_text())
        assert (deployed["chip"], deployed["algorithm"], deployed["inference"]) == (chip, "backprop", "relaxation")
