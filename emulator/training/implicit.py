"""Physics-aware training: the free phase on the chip, the exact implicit gradient through a proxy of it.

The chip relaxes (noise, quantisation, device variation and all) to its equilibrium ``s*``; the
host computes the gradient of ``L = 1/2 |s_L - y|^2`` at ``s*`` through a differentiable model of
the chip (:class:`~emulator.training.proxy.Proxy`), built from what the chip reports after each
programming (:meth:`Backend.calibrate <emulator.backends.base.Backend.calibrate>`). The chip runs
one phase per update, EqProp's three; the host solves an adjoint system instead (not counted:
the host's part of an update is not a chip op, as for EqProp on the analog chips).
"""
from __future__ import annotations

from emulator.training.proxy import Proxy, ProxyParts


def parts_of(settings) -> ProxyParts:
    """The proxy parts of a workload's ``implicit`` section."""
    return ProxyParts(gains=settings.gains, quantisation=settings.quantisation, noise=settings.noise,
                      read_noise_std=settings.read_noise_std)


def implicit_gradient(backend, program, network, x, y, *, free_steps: int, settings):
    """``-dL/dtheta`` on one batch through the proxy, and what the chip did to get it.

    Parameters
    ----------
    program : the chip's program of ``network`` (the host's parameters).
    x : (batch, n_0) inputs; y : (batch, n_L) one-hot targets.
    free_steps : step limit of the free phase.
    settings : the workload's ``implicit`` section (proxy parts and adjoint solver).

    Returns
    -------
    (dW, db, counters) : the update direction and the counters: the free phase, and the measurement
    of the programmed cells when the proxy uses the chip's gains.
    """
    free, counters = backend.relax(program, x, max_steps=free_steps)
    calibration, measured = backend.calibrate(program)
    if settings.gains:
        counters += measured
    proxy = Proxy(network, calibration, parts_of(settings))
    point = proxy.at(x, free.states)
    nu, _ = proxy.adjoint(point, free.output - y, tolerance=settings.tolerance, max_iterations=settings.max_iterations)
    gw, gb = proxy.gradient(point, nu)
    return tuple(-g for g in gw), tuple(-g for g in gb), counters
