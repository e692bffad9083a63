"""NIR graphs on the chips: float runs on digital and snn equal NIR's semantics; Loihi's quantised run equals it
exactly where the quantisation is exact (one step later per Dense); errors for what a chip cannot run."""
import nir
import numpy as np
import pytest

from emulator.chip import get_backend, load_chip
from emulator.energy import account
from emulator.errors import NirError
from emulator.exchange.nir_graph import read_nir
from emulator.exchange.nir_sim import simulate

DT = 1e-3


def _chain(w1, w2, neuron, **extra):
    """Input(3) -> Linear -> neuron(4) -> Linear -> neuron(2) -> Output, dt in the metadata."""
    nodes = {"input": nir.Input(input_type=np.array([3])), "w1": nir.Linear(weight=w1),
             "h": neuron(4), "w2": nir.Linear(weight=w2), "o": neuron(2),
             "output": nir.Output(output_type=np.array([2])), **extra}
    edges = [("input", "w1"), ("w1", "h"), ("h", "w2"), ("w2", "o"), ("o", "output")]
    return read_nir(nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT}))


def _if(n):
    return nir.IF(r=np.full(n, 1 / DT), v_threshold=np.ones(n), v_reset=np.zeros(n))


def _lif(n, tau=8 * DT):
    return nir.LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.05),
                   v_reset=np.zeros(n))


def _spikes(rng, steps=40, batch=5, n=3):
    return {"input": (rng.random((steps, batch, n)) < 0.4).astype(np.float64)}


@pytest.fixture
def exact():
    """IF neurons with dt r = 1 and weights in sixteenths: on Loihi (vth 1024) every weight is 64 k exactly."""
    rng = np.random.default_rng(0)
    w1 = rng.integers(-3, 4, (4, 3)) / 16
    w1[0, 0] = 3 / 16
    w2 = rng.integers(-3, 4, (2, 4)) / 16
    w2[0, 0] = 3 / 16
    return _chain(w1, w2, _if)


def test_loihi_runs_an_exactly_quantisable_graph_to_the_same_spikes_two_steps_later(exact):
    x = _spikes(np.random.default_rng(1))
    reference = simulate(exact, x, dt=DT).values["output"]
    run = get_backend("loihi").run_nir(exact, load_chip("chips/loihi2.yaml"), x, DT)
    assert run.steps == 42 and run.quantisation["latency_steps"] == 2 and run.quantisation["added_delays"] == 2
    assert reference.sum() > 0
    assert np.array_equal(run.outputs["output"][2:], reference)
    assert all(q["relative_error"] == 0 for q in run.quantisation["links"].values())


def test_the_float_chips_run_nirs_semantics_and_price_every_op(exact):
    x = _spikes(np.random.default_rng(2))
    reference = simulate(exact, x, dt=DT)
    for family, chip in (("digital", "chips/digital.yaml"), ("snn", "chips/snn.yaml"), ("loihi", "chips/loihi2.yaml")):
        backend, chip = get_backend(family), load_chip(chip)
        run = backend.run_nir(exact, chip, x, DT)
        if family != "loihi":
            assert np.array_equal(run.outputs["output"], reference.values["output"])
        energy = account(run.counters, chip, backend, 5, phase="inference")
        assert energy["per_sample_j"] > 0
    snn = get_backend("snn").run_nir(exact, load_chip("chips/snn.yaml"), x, DT).counters
    assert snn == {k: reference.counts[k] for k in ("spikes", "synaptic_ops", "neuron_updates", "steps")}


def test_loihi_quantises_lif_decays_and_stays_close_to_the_float_rates():
    rng = np.random.default_rng(3)
    network = _chain(rng.normal(0.3, 0.2, (4, 3)), rng.normal(0.3, 0.2, (2, 4)), _lif)
    x = _spikes(rng, steps=200, batch=8)
    reference = simulate(network, x, dt=DT).values["output"].sum(0)
    run = get_backend("loihi").run_nir(network, load_chip("chips/loihi2.yaml"), x, DT)
    assert run.quantisation["populations"]["h"]["dv"] == 512 and run.quantisation["populations"]["h"]["du"] == 4095
    assert run.quantisation["populations"]["h"]["dv_relative_error"] == 0
    counts = run.outputs["output"].sum(0)
    assert reference.sum() >= 100
    assert np.abs(counts - reference).sum() <= 0.02 * reference.sum()  # measured: 9 of 1,845 spikes


@pytest.mark.parametrize("change, message", [
    (lambda: _chain(np.ones((4, 3)), np.ones((2, 4)), lambda n: nir.Threshold(threshold=np.ones(n))),
     "Threshold 'h' has no state"),
    (lambda: _chain(np.ones((4, 3)), np.ones((2, 4)),
                    lambda n: nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.full(n, -1.0))),
     "v_reset = -1, but Lava's LIF resets to 0"),
    (lambda: _chain(np.ones((4, 3)), np.ones((2, 4)),
                    lambda n: nir.IF(r=np.ones(n), v_threshold=np.arange(1.0, n + 1), v_reset=np.zeros(n))),
     "v_threshold differs between its neurons"),
])
def test_what_loihi_cannot_run_is_one_error_naming_the_node(change, message):
    x = {"input": np.zeros((3, 1, 3))}
    with pytest.raises(NirError, match=message):
        get_backend("loihi").run_nir(change(), load_chip("chips/loihi2.yaml"), x, DT)


def test_loihi_sends_currents_as_graded_payloads(exact):
    """Currents in sixteenths (payloads round(256 x) = 16 k, exact) into the exact IF chain: the chip fires NIR's
    spikes two steps later; values outside [0, 1] are one error."""
    x = {"input": np.random.default_rng(4).integers(0, 17, (40, 5, 3)) / 16}
    reference = simulate(exact, x, dt=DT).values["output"]
    run = get_backend("loihi").run_nir(exact, load_chip("chips/loihi2.yaml"), x, DT)
    assert reference.sum() > 0 and np.array_equal(run.outputs["output"][2:], reference)
    with pytest.raises(NirError, match="Input 'input': Loihi's graded input streams send values in \\[0, 1\\]"):
        get_backend("loihi").run_nir(exact, load_chip("chips/loihi2.yaml"), {"input": np.full((3, 1, 3), 1.5)}, DT)


def test_a_delay_longer_than_a_dense_is_refused_on_loihi():
    nodes = {"input": nir.Input(input_type=np.array([3])), "d": nir.Delay(delay=np.full(3, 2 * DT)),
             "w": nir.Linear(weight=np.ones((2, 3))), "o": _if(2), "output": nir.Output(output_type=np.array([2]))}
    network = read_nir(nir.NIRGraph(nodes=nodes, edges=[("input", "d"), ("d", "w"), ("w", "o"), ("o", "output")],
                                    metadata={"dt": DT}))
    with pytest.raises(NirError, match="delays by 2 steps; Loihi's Dense delays by one"):
        get_backend("loihi").run_nir(network, load_chip("chips/loihi2.yaml"), {"input": np.zeros((3, 1, 3))}, DT)


def test_the_snn_chip_refuses_a_graded_potential_sent_to_another_population():
    li = lambda n: nir.LI(tau=np.full(n, 4 * DT), r=np.ones(n), v_leak=np.zeros(n))  # noqa: E731
    network = _chain(np.ones((4, 3)), np.ones((2, 4)), li)
    with pytest.raises(NirError, match="LI 'h' sends its potential to other populations"):
        get_backend("snn").run_nir(network, load_chip("chips/snn.yaml"), {"input": np.zeros((3, 1, 3))}, DT)
    get_backend("digital").run_nir(network, load_chip("chips/digital.yaml"), {"input": np.zeros((3, 1, 3))}, DT)
