"""The contract every back-end family honours, as runnable checks.

In the spirit of scikit-learn's ``check_estimator``: :func:`check_backend` runs every check of
:func:`backend_checks` on a chip (a shipped one, a plug-in's, or a variant made with
``--chip-set``-style overrides) and raises ``AssertionError`` naming the check and what broke.
In a test suite, :func:`parametrize_with_backend_checks` makes one test per chip and check::

    from emulator.testing import parametrize_with_backend_checks

    @parametrize_with_backend_checks(["chips/my-chip.yaml"])
    def test_my_chip_honours_the_contract(check):
        check()

What every family must honour:

- every counted op is priced by the chip file, and the chip prices nothing else;
- counts do not depend on the host's choice of kernel (the family's :meth:`Backend.host_variants`
  and the number of numba threads);
- same seed, same inputs: same counts and same states, bit for bit;
- equilibria have the documented shapes (:class:`~emulator.backends.base.Equilibrium`);
- ``compile`` refuses a network that does not fit with an :class:`~emulator.errors.EmulatorError`
  (not a traceback), and re-programming an unchanged network writes nothing;
- the size estimates made before a run allocates (:meth:`Backend.check_fits`, :meth:`Backend.memory`)
  accept a network that fits and grow with the batch;
- the learning rule has the shapes of the parameters;
- what the training algorithms other than EqProp use (:attr:`Backend.capabilities`, and the counts of
  :meth:`Backend.count_update`) is priced, and shaped like the network.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numba
import numpy as np

from emulator.backends.base import Backend, Equilibrium, Nudge
from emulator.catalog import resolve
from emulator.chip import Chip, get_backend, load_chip
from emulator.counters import Counters
from emulator.energy import account, check_priced
from emulator.errors import EmulatorError
from emulator.network import Network, init_network

#: layers of the small network the checks relax, and its batch and step budget
LAYERS = (6, 5, 3)
BATCH = 3
STEPS = 40
#: how far the host's rounding may move a state between host variants (states are O(1))
HOST_ROUNDING = 1e-5
#: the capacity probe doubles a hidden layer up to this many units
PROBE_LIMIT = 1 << 27


def _as_chip(chip: Chip | str | Path) -> Chip:
    """A Chip as it is; a chip file or a chip name loaded."""
    return chip if isinstance(chip, Chip) else load_chip(resolve("chips", str(chip)))


def _network(seed: int = 0) -> Network:
    """A small random network with biases, lazy threshold and damping as the shipped workloads have."""
    rng = np.random.default_rng(seed)
    net = init_network(LAYERS, rng, theta=0.01, damping=0.5)
    return net.with_parameters(net.weights, tuple(rng.uniform(-0.2, 0.4, b.shape) for b in net.biases))


def _inputs(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((BATCH, LAYERS[0])), np.eye(LAYERS[-1])[rng.integers(0, LAYERS[-1], BATCH)]


def _phases(backend: Backend, chip: Chip) -> tuple[list[Equilibrium], Counters]:
    """A free and a nudged phase of the small network on a freshly compiled chip."""
    x, y = _inputs()
    program = backend.compile(_network(), chip)
    free, counters = backend.relax(program, x, max_steps=STEPS)
    nudged, c = backend.relax(program, x, max_steps=STEPS, nudge=Nudge(0.5, y), init=free)
    return [free, nudged], counters + c + program.programming


def _same(a: Counters, b: Counters) -> bool:
    return a.to_dict() == b.to_dict()


# -- the checks ------------------------------------------------------------------------------------
def check_ops_are_priced(backend: Backend, chip: Chip):
    """The back-end declares its ops; the chip prices each of them, energy and time, and nothing else."""
    ops = backend.ops
    assert ops and len(set(ops)) == len(ops) and all(isinstance(op, str) for op in ops), \
        f"{type(backend).__name__}.ops must be a tuple of distinct op names, got {ops!r}"
    assert not set(ops) & set(backend.measures), \
        f"{sorted(set(ops) & set(backend.measures))} are both priced ops and unpriced measures"
    for table in ("energy", "time"):
        assert set(getattr(chip, table)) == set(ops), \
            f"chip {chip.name!r}: the {table} table prices {sorted(getattr(chip, table))}, the back-end counts {sorted(ops)}"


def check_counters_are_priced(backend: Backend, chip: Chip):
    """Whatever ``compile`` and ``relax`` count is an op the chip prices or a declared measure, is a
    finite non-negative number, and turns into finite energy and time."""
    _, counters = _phases(backend, chip)
    try:
        check_priced(counters, chip, backend)
    except EmulatorError as exc:
        raise AssertionError(str(exc)) from None
    for op in backend.ops:
        n = np.asarray(counters.get(op, 0))
        assert np.all(np.isfinite(n)) and np.all(n >= 0), f"count of {op!r} is {n!r}: it must be finite and >= 0"
    energy = account(counters, chip, backend, BATCH, phase="inference")
    assert math.isfinite(energy["total_j"]) and energy["total_j"] >= 0, f"energy {energy['total_j']!r} J"
    assert math.isfinite(energy["emulated_s"]) and energy["emulated_s"] >= 0, f"time {energy['emulated_s']!r} s"


def check_equilibrium_shapes(backend: Backend, chip: Chip):
    """A relaxation of B samples returns the documented shapes, for the free and the nudged phase."""
    n, layers = BATCH, LAYERS
    for phase, eq in zip(("free", "nudged"), _phases(backend, chip)[0]):
        assert isinstance(eq, Equilibrium), f"{phase} phase: relax returned {type(eq).__name__}, not an Equilibrium"
        assert len(eq.states) == len(layers) and len(eq.heard) == len(layers), \
            f"{phase} phase: states and heard need one array per layer 0..L ({len(layers)})"
        for k, size in enumerate(layers):
            for name in ("states", "heard"):
                shape = np.shape(getattr(eq, name)[k])
                assert shape == (n, size), f"{phase} phase: {name}[{k}] has shape {shape}, expected {(n, size)}"
        assert len(eq.drive) == len(layers) - 1, f"{phase} phase: drive needs one array per layer 1..L"
        for k, size in enumerate(layers[1:], start=1):
            assert np.shape(eq.drive[k - 1]) == (n, size), f"{phase} phase: drive of layer {k} is {np.shape(eq.drive[k - 1])}"
        assert np.shape(eq.steps) == (n,) and np.issubdtype(np.asarray(eq.steps).dtype, np.integer), \
            f"{phase} phase: steps must be ({n},) integers"
        assert np.shape(eq.quiescent) == (n,) and np.asarray(eq.quiescent).dtype == bool, \
            f"{phase} phase: quiescent must be ({n},) booleans"
        assert np.ndim(eq.trace) == 1, f"{phase} phase: trace must be one count per step"
        assert eq.output is eq.states[-1]
        assert all(np.isfinite(s).all() for s in eq.states), f"{phase} phase: a state is not finite"


def check_same_seed_same_counts(backend: Backend, chip: Chip):
    """Two runs from scratch (fresh back-end, same network, inputs and chip seed) agree bit for bit."""
    (a, an), ca = _phases(backend, chip)
    (b, bn), cb = _phases(type(backend)(), chip)
    assert _same(ca, cb), f"counters differ between identical runs: {ca.to_dict()} vs {cb.to_dict()}"
    for phase, p, q in (("free", a, b), ("nudged", an, bn)):
        for k, (s, t) in enumerate(zip(p.states, q.states)):
            assert np.array_equal(s, t), f"{phase} phase: states of layer {k} differ between identical runs"


def check_host_kernels_change_no_count(backend: Backend, chip: Chip):
    """Counts are the same under every host variant of the family and with one numba thread; states
    agree to within the host's rounding (a matrix product sums in another order than an event list)."""
    (free, nudged), reference = _phases(backend, chip)
    variants = dict(backend.host_variants())
    variants["one numba thread"] = _one_thread
    for name, variant in variants.items():
        with variant():
            (f, n), counters = _phases(type(backend)(), chip)
        assert _same(counters, reference), \
            f"host variant {name!r} changed the counts: {counters.to_dict()} vs {reference.to_dict()}"
        for phase, p, q in (("free", free, f), ("nudged", nudged, n)):
            assert all(np.allclose(s, t, rtol=0, atol=HOST_ROUNDING) for s, t in zip(p.states, q.states)), \
                f"host variant {name!r} changed the {phase} states by more than {HOST_ROUNDING}"


def check_reprogramming_an_unchanged_network_writes_nothing(backend: Backend, chip: Chip):
    """``compile(network, chip, previous=program)`` of the same network counts no programming ops."""
    network = _network()
    program = backend.compile(network, chip)
    again = backend.compile(network, chip, previous=program)
    written = {op: n for op, n in again.programming.totals().items() if n}
    assert not written, f"re-programming an unchanged network counted {written}"


def check_too_large_is_an_emulator_error(backend: Backend, chip: Chip):
    """Growing a hidden layer until the chip refuses: the refusal is an EmulatorError, raised before
    the host allocates for the whole network (the weights are broadcast views, nothing is copied)."""
    import tracemalloc

    hidden = LAYERS[1]
    while hidden <= PROBE_LIMIT:
        network = _broadcast_network(LAYERS[0], hidden, LAYERS[-1])
        tracemalloc.start()
        try:
            backend.compile(network, chip)
        except EmulatorError:
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < max(64 << 20, 2 * network.n_synapses), \
                f"refusing {network.layers} allocated {peak / 2**20:.0f} MiB first: check capacity before allocating"
            return
        except Exception as exc:  # noqa: BLE001 - the check is that nothing else escapes
            raise AssertionError(f"compile of {list(network.layers)} raised {type(exc).__name__}: {exc}; a network "
                                 "that does not fit must raise an EmulatorError naming the limit") from exc
        finally:
            tracemalloc.stop()
        hidden *= 2
    raise AssertionError(f"chip {chip.name!r} accepted a hidden layer of {PROBE_LIMIT:,} units; a chip file "
                         "must declare finite resources and compile must refuse what exceeds them")


def check_size_estimates(backend: Backend, chip: Chip):
    """``check_fits`` accepts the small network ``compile`` maps, and ``memory`` estimates non-negative
    byte counts, a relaxation's growing with the batch."""
    backend.check_fits(LAYERS, chip)
    one, more = (backend.memory(LAYERS, chip, batch=batch, max_steps=STEPS) for batch in (1, 2 * BATCH))
    assert all(isinstance(n, int) and n >= 0 for n in (*one, *more)), f"memory estimates {one}, {more}"
    assert more.relaxation > one.relaxation, f"a relaxation of {2 * BATCH} samples is estimated as {one}'s"


def check_learning_rule_shapes(backend: Backend, chip: Chip):
    """``contrastive_update`` of two equilibria is shaped like the weights and the biases, and finite."""
    network = _network()
    (free, nudged), _ = _phases(backend, chip)
    dw, db = backend.contrastive_update(nudged, free, 2.0)
    assert [np.shape(g) for g in dw] == [w.shape for w in network.weights], \
        f"weight updates have shapes {[np.shape(g) for g in dw]}, the weights {[w.shape for w in network.weights]}"
    assert [np.shape(g) for g in db] == [b.shape for b in network.biases], \
        f"bias updates have shapes {[np.shape(g) for g in db]}, the biases {[b.shape for b in network.biases]}"
    assert all(np.isfinite(g).all() for g in dw + db), "the update is not finite"


def check_training_capabilities(backend: Backend, chip: Chip):
    """The arithmetic of an update (``count_update``), and what the family's capabilities give (a feed-forward
    pass and its backward pass; a calibration), count only priced ops and are shaped like the network."""
    network = _network()
    x, y = _inputs()
    program = backend.compile(network, chip)
    counters = backend.count_update(program, 2 * BATCH)
    weights = [w.shape for w in network.weights]
    if "feedforward" in backend.capabilities:
        states, c = backend.feedforward(program, x, drive_noise=[np.zeros((BATCH, n)) for n in LAYERS[1:]])
        assert [np.shape(s) for s in states] == [(BATCH, n) for n in LAYERS], \
            f"feed-forward states have shapes {[np.shape(s) for s in states]}"
        assert all(np.all((s >= 0) & (s <= 1)) for s in states[1:]), "feed-forward states leave [0, 1]"
        dw, db, backward = backend.backpropagate(program, states, states[-1] - y)
        assert [np.shape(g) for g in dw] == weights and [np.shape(g) for g in db] == [(n,) for n in LAYERS[1:]], \
            f"backprop gradients have shapes {[np.shape(g) for g in dw + db]}"
        counters += c + backward
    if "calibrate" in backend.capabilities:
        calibration, c = backend.calibrate(program)
        assert len(calibration.arrays) == len(weights) and len(calibration.bias) == len(weights)
        for k, (a, shape) in enumerate(zip(calibration.arrays, weights)):
            for name in ("forward", "backward", "gain") + (("read_variance",) if a.read_variance is not None else ()):
                assert np.shape(getattr(a, name)) == shape, f"calibration of array {k}: {name} is not shaped {shape}"
            assert list(a.row_edges[[0, -1]]) == [0, shape[1]] and list(a.col_edges[[0, -1]]) == [0, shape[0]], \
                f"calibration of array {k}: its blocks do not cover the layers"
        counters += c
    try:
        check_priced(counters, chip, backend)
    except EmulatorError as exc:
        raise AssertionError(str(exc)) from None


CHECKS = (check_ops_are_priced, check_counters_are_priced, check_equilibrium_shapes, check_same_seed_same_counts,
          check_host_kernels_change_no_count, check_reprogramming_an_unchanged_network_writes_nothing,
          check_too_large_is_an_emulator_error, check_size_estimates, check_learning_rule_shapes,
          check_training_capabilities)


# -- running them ----------------------------------------------------------------------------------
def backend_checks(chip: Chip | str | Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(name, check)`` for every check of the contract, bound to ``chip`` and its back-end."""
    chip = _as_chip(chip)
    for check in CHECKS:
        yield check.__name__, (lambda c=check: c(get_backend(chip.backend), chip))


def check_backend(chip: Chip | str | Path):
    """Run every check on ``chip`` (a Chip, a chip file, or a chip name); AssertionError on the first
    that fails, naming it."""
    chip = _as_chip(chip)
    for name, check in backend_checks(chip):
        try:
            check()
        except AssertionError as exc:
            raise AssertionError(f"chip {chip.name!r} (family {chip.backend!r}) fails {name}: {exc}") from exc


def parametrize_with_backend_checks(chips):
    """A pytest decorator: one test per chip and check; the test receives ``check``, a callable of no
    arguments that runs that check on that chip."""
    import pytest

    params = [pytest.param(check, id=f"{chip.name}-{name}")
              for chip in map(_as_chip, chips) for name, check in backend_checks(chip)]
    return pytest.mark.parametrize("check", params)


def _broadcast_network(n_in: int, hidden: int, n_out: int) -> Network:
    """``[n_in, hidden, n_out]`` with weights of Glorot size as read-only broadcast views (no memory)."""
    rng = np.random.default_rng(0)
    w0 = np.broadcast_to(rng.uniform(-0.5, 0.5, n_in), (hidden, n_in))
    w1 = np.broadcast_to(rng.uniform(-0.5, 0.5, (n_out, 1)), (n_out, hidden))
    return Network((w0, w1), (np.broadcast_to(0.1, hidden), np.broadcast_to(0.1, n_out)), theta=0.01)


def _one_thread():
    return _NumbaThreads(1)


class _NumbaThreads:
    """Context manager: run numba's parallel kernels on ``n`` threads."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)
