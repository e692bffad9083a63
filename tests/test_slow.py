"""Long runs behind the ``slow`` marker (``make test-slow``): the issue's accuracy and traffic figures."""
import pytest

from emulator.chip import load_chip
from emulator.datasets import DEBIAN_FASHION_MNIST_DIR
from emulator.runner import Run, load_data
from emulator.workload import load_workload

pytestmark = pytest.mark.slow


def train(workload_file, out, overrides=(), data=None):
    workload = load_workload(workload_file, list(overrides))
    run = Run(workload, load_chip("chips/digital.yaml"), out, data=data)
    run.train(progress=False)
    return run.result(wall_s=0.0, progress=False)


def test_lazy_threshold_halves_synaptic_ops_for_half_a_point(tmp_path):
    data = load_data(load_workload("workloads/digits_snn.yaml"))
    lazy = train("workloads/digits_snn.yaml", tmp_path / "lazy", data=data)
    exact = train("workloads/digits_snn.yaml", tmp_path / "exact", ["eqprop.theta=0"], data=data)
    ops = [r["counters"]["inference"]["synaptic_ops"] for r in (lazy, exact)]
    assert ops[0] <= 0.5 * ops[1]
    assert lazy["metrics"]["test_accuracy"] >= exact["metrics"]["test_accuracy"] - 0.005


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST_DIR.is_dir(), reason="apt-get install -y dataset-fashion-mnist")
def test_fashion_mnist_reaches_88_5_percent(tmp_path):
    result = train("workloads/fashion_mnist_snn.yaml", tmp_path / "fashion")
    assert result["dataset"]["n_train"] == 60000 and result["dataset"]["n_test"] == 10000
    assert result["metrics"]["test_accuracy"] >= 0.885
