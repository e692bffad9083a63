"""Long runs behind the ``slow`` marker (``make test-slow``): the issue's accuracy and traffic figures."""
import pytest

from emulator.chip import load_chip
from emulator.datasets import DEBIAN_FASHION_MNIST_DIR
from emulator.tasks.classification import Run, load_data
from emulator.workload import load_workload

pytestmark = pytest.mark.slow


def train(workload_file, out, overrides=(), data=None, chip="digital"):
    workload = load_workload(workload_file, list(overrides))
    run = Run(workload, load_chip(f"chips/{chip}.yaml"), out, data=data)
    run.train(progress=False)
    return run.result(wall_s=0.0, progress=False)


def test_lazy_threshold_halves_synaptic_ops_for_half_a_point(tmp_path):
    data = load_data(load_workload("workloads/digits_snn.yaml"))
    lazy = train("workloads/digits_snn.yaml", tmp_path / "lazy", data=data)
    exact = train("workloads/digits_snn.yaml", tmp_path / "exact", ["eqprop.theta=0"], data=data)
    ops = [r.counters["inference"]["synaptic_ops"] for r in (lazy, exact)]
    assert ops[0] <= 0.5 * ops[1]
    assert lazy.metrics.test_accuracy >= exact.metrics.test_accuracy - 0.005


needs_fashion = pytest.mark.skipif(not DEBIAN_FASHION_MNIST_DIR.is_dir(),
                                   reason="apt-get install -y dataset-fashion-mnist")


@pytest.fixture(scope="module")
def fashion_digital(tmp_path_factory):
    return train("workloads/fashion_mnist_snn.yaml", tmp_path_factory.mktemp("fashion"))


@needs_fashion
def test_fashion_mnist_reaches_88_5_percent(fashion_digital):
    assert fashion_digital.dataset.n_train == 60000 and fashion_digital.dataset.n_test == 10000
    assert fashion_digital.metrics.test_accuracy >= 0.885


@needs_fashion
def test_fashion_mnist_on_loihi2_within_one_point_of_digital(fashion_digital, tmp_path):
    loihi = train("workloads/fashion_mnist_snn.yaml", tmp_path / "loihi2", chip="loihi2")
    assert loihi.metrics.test_accuracy >= fashion_digital.metrics.test_accuracy - 0.01
