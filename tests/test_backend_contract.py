"""Every shipped chip, and variants that switch on their noise sources, honour the back-end contract."""
from pathlib import Path

import pytest

from emulator.chip import load_chip
from emulator.testing import backend_checks, check_backend, parametrize_with_backend_checks

SHIPPED = sorted(Path("chips").glob("*.yaml"))
#: chips with every stochastic part on, so determinism and host independence are checked with noise
NOISY = [("oim-cmos", ["parameters.phase_noise=0.05", "parameters.shil=0.2", "parameters.shil_ramp=5"])]


def variants():
    return [load_chip(Path("chips") / f"{name}.yaml", overrides) for name, overrides in NOISY]


@parametrize_with_backend_checks(SHIPPED)
def test_shipped_chips_honour_the_contract(check):
    check()


@parametrize_with_backend_checks(variants())
def test_noisy_variants_honour_the_contract(check):
    check()



def counting(monkeypatch, change):
    """Make the digital back-end's relaxations pass their counters through ``change`` first."""
    from emulator.backends.digital import DigitalBackend

    original = DigitalBackend.relax

    def relax(self, program, x, **kwargs):
        eq, counters = original(self, program, x, **kwargs)
        change(counters)
        return eq, counters

    monkeypatch.setattr(DigitalBackend, "relax", relax)


def test_a_backend_that_counts_an_unpriced_op_fails_the_contract(monkeypatch):
    counting(monkeypatch, lambda counters: counters.update(leaks=1))
    with pytest.raises(AssertionError, match="fails check_counters_are_priced: .*counted 'leaks'"):
        check_backend("digital")


def test_a_backend_whose_counts_depend_on_the_host_kernel_fails_the_contract(monkeypatch):
    from emulator.backends.digital import relax as engine

    # a host choice leaking into a count
    counting(monkeypatch, lambda counters: counters.update(messages=counters["messages"] + (engine.DENSE_ABOVE < 0)))
    with pytest.raises(AssertionError, match="fails check_host_kernels_change_no_count: host variant 'dense products'"):
        check_backend("digital")


def test_a_compile_that_raises_a_traceback_error_when_too_large_fails_the_contract(monkeypatch):
    from emulator.backends.digital import DigitalBackend

    original = DigitalBackend.compile

    def compile(self, network, chip, previous=None):
        if network.n_units > 1000:
            raise ValueError("array too big")
        return original(self, network, chip, previous)

    monkeypatch.setattr(DigitalBackend, "compile", compile)
    with pytest.raises(AssertionError, match="raised ValueError: array too big; a network that does not fit"):
        check_backend("digital")


def test_the_checks_are_named_and_bound_to_the_chip():
    names = [name for name, _ in backend_checks("digital")]
    assert names[0] == "check_ops_are_priced" and len(names) == len(set(names)) == 10
