"""The scripts in examples/ run and print what their docstrings promise."""
import runpy

import pytest

from emulator.backends.loihi.lava import LavaUnavailable, require_lava


def run_example(name, capsys, *args):
    main = runpy.run_path(f"examples/{name}.py")["main"]
    main(list(args)) if args else main()
    return capsys.readouterr().out


def test_train_on_loihi2(tmp_path, capsys):
    out = run_example("train_on_loihi2", capsys, "--epochs", "1", "--out", str(tmp_path / "run"))
    assert "on 3 cores" in out and "weights 0: exponent" in out and "graded spikes" in out
    assert (tmp_path / "run" / "report.md").is_file()


def test_compare_chips(capsys):
    out = run_example("compare_chips", capsys, "--epochs", "1")
    assert out.count("test accuracy") == 2 and "synaptic_ops" in out and "neuron_updates_active" in out


def test_fixed_point_in_lava(capsys):
    try:
        require_lava()
    except LavaUnavailable as exc:
        pytest.skip(str(exc))
    out = run_example("fixed_point_in_lava", capsys)
    assert "DIFFERENT" not in out and "final activations equal: True" in out


@pytest.mark.slow
def test_spiking_in_brian2(capsys):
    pytest.importorskip("brian2")
    out = run_example("spiking_in_brian2", capsys, "--epochs", "1", "--samples", "2")
    assert out.count("same spikes at every step") == 2 and "DIFFERENT" not in out


def test_lava_network_energy(capsys):
    try:
        require_lava()
    except LavaUnavailable as exc:
        pytest.skip(str(exc))
    out = run_example("lava_network_energy", capsys, "--steps", "20")
    assert "3 populations, 3 Dense, on 3 cores" in out and "synaptic_ops" in out and "20 steps:" in out
