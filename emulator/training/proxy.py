"""A differentiable proxy of a chip's relaxation, and the exact implicit gradient through it.

A chip relaxes to an equilibrium ``s*`` of its own fixed-point map. The proxy models that map,
for the relaxing layers ``k = 1..L`` (``s_0 = x``), as::

    v_k = DAC(s_k)
    h_k = sum_r ADC(W^fwd_{k-1}[:, r] v_{k-1, r}) + sum_c ADC(W^bwd_k[c, :]^T v_{k+1, c}) + b_{k-1}
    f_k(s) = rho~(h_k)

with ``r`` (``c``) the blocks of a layer whose partial sums the chip converts apart (its tiles),
``rho~`` the hard sigmoid, or its mean under the read noise of the drive, ``rho~(h) =
E[clip(h + sigma z, 0, 1)]``, ``z ~ N(0, 1)``. Its parts can be switched on and off
(:class:`ProxyParts`):

- **ideal**: ``W^fwd = W^bwd = W``, the host's weights; exact converters; no noise;
- **gains**: the weights the chip reports after programming (its :class:`~emulator.backends.base.Calibration`),
  and their per-device gains ``dW^read / dW`` (the proxy's weights move by ``gain * dW`` around
  the calibration);
- **quantisation**: the chip's DAC and ADCs, as straight-through estimators: values quantised,
  derivatives those of the clipping alone;
- **noise**: ``sigma_k^2 = sum_i v_i^2 var_ki``, the read noise of the drive, from the chip's
  statistics (or from what the proxy is told to believe, ``read_noise_std``).

At the chip's equilibrium ``s*``, the gradient of ``L = 1/2 |s_L - y|^2`` is
``dL/dtheta = dL/ds* (I - J)^-1 df/dtheta`` with ``J = df/ds`` (implicit differentiation; Scellier &
Bengio 2019, Neural Computation 31(2)). With ``D = diag(rho~'(h))`` and ``J = D H``, the adjoint
``nu = D (I - J)^-T dL/ds`` solves ``(I - D H^T) nu = D dL/ds``, by BiCGSTAB, a few products with
the weights per iteration (:mod:`emulator.training.krylov`): no matrix of the units' size is
formed. Then ``dL/dtheta = nu^T dh/dtheta``.

The straight-through estimator and the noise are derivatives of a *surrogate* of the map, frozen
at the point of linearisation: each converter ``Q(u) = clip(u) + (Q(u*) - clip(u*))``, and
``sigma = sigma*`` (:meth:`Proxy.at` with ``frozen``). The implicit gradient is the exact gradient of the
surrogate's fixed point.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

from emulator.backends.base import Calibration, Converter
from emulator.network import Network
from emulator.training.krylov import Solution, bicgstab


class ProxyParts(NamedTuple):
    """Which parts of the chip the proxy models (all off: the ideal network).

    Attributes
    ----------
    gains : bool
        The weights the chip reports, and their per-device gains.
    quantisation : bool
        The chip's converters, as straight-through estimators.
    noise : bool
        The read noise of the drive (its expected effect on the activation).
    read_noise_std : float or None
        With ``noise``: the read noise the proxy believes, a std per weight and read as a fraction of
        the full-scale weight; None: the chip's own statistics.
    """

    gains: bool = True
    quantisation: bool = True
    noise: bool = True
    read_noise_std: float | None = None


class Point(NamedTuple):
    """The proxy at some states: what its map computed there, and its derivatives.

    Lists run over layers 0..L (``driven``, ``dac_slope``, ``dac_residual``), 1..L (``drive``,
    ``sigma``, ``slope``) or the arrays 0..L-1 (the rest; ``backward_*`` is None for array 0, whose
    backward read nothing senses). Each entry is (B, n) or, per block, (n_blocks, B, n).

    Attributes
    ----------
    driven : v_k = DAC(s_k); dac_slope, dac_residual : the DAC's straight-through derivative and
        its ``Q(s) - clip(s)``.
    forward_pass, forward_residual : (n_row_blocks, B, n_{k+1}) the ADC's straight-through derivative
        and ``Q(u) - clip(u)`` of each forward partial sum ``u``.
    backward_pass, backward_residual : (n_col_blocks, B, n_k), the same for backward partial sums.
    drive : h_k; sigma : its read-noise std; slope : ``rho~'(h_k)``.
    """

    driven: list
    dac_slope: list
    dac_residual: list
    forward_pass: list
    forward_residual: list
    backward_pass: list
    backward_residual: list
    drive: list
    sigma: list
    slope: list


def _blocks(edges) -> list[slice]:
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def mean_activation(h: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``E[clip(h + sigma z, 0, 1)]``, ``z ~ N(0, 1)``, elementwise (``clip(h, 0, 1)`` where ``sigma = 0``)."""
    noisy = sigma > 0
    s = np.where(noisy, sigma, 1.0)
    a0, a1 = -h / s, (1.0 - h) / s
    density = np.exp(-0.5 * a0 ** 2) - np.exp(-0.5 * a1 ** 2)
    mean = h * (ndtr(a1) - ndtr(a0)) + s * density / np.sqrt(2 * np.pi) + 1.0 - ndtr(a1)
    return np.where(noisy, mean, np.clip(h, 0.0, 1.0))


def activation_slope(h: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``d/dh E[clip(h + sigma z, 0, 1)] = P(0 < h + sigma z < 1)`` (1 inside (0, 1), else 0, where ``sigma = 0``)."""
    noisy = sigma > 0
    s = np.where(noisy, sigma, 1.0)
    return np.where(noisy, ndtr((1.0 - h) / s) - ndtr(-h / s), ((h > 0.0) & (h < 1.0)).astype(float))


class Proxy:
    """The proxy of a chip programmed with ``network``, from the chip's ``calibration`` and ``parts``.

    Parameters
    ----------
    network : Network
        The host's parameters ``theta`` at which the proxy is evaluated.
    calibration : Calibration
        What the chip reported after it was programmed with ``reference``.
    parts : ProxyParts
    reference : Network, optional
        The host network the chip was programmed with (default ``network``): with ``gains``, the
        proxy's weights are ``W^read + gain * (W - W_reference)``.
    """

    def __init__(self, network: Network, calibration: Calibration, parts: ProxyParts,
                 reference: Network | None = None):
        reference = reference or network
        self.biases = tuple(np.asarray(b, np.float64) for b in network.biases)
        self.forward, self.backward, self.gain, self.variance = [], [], [], []
        for w, w_ref, a in zip(network.weights, reference.weights, calibration.arrays):
            w = np.asarray(w, np.float64)
            if parts.gains:
                moved = a.gain * (w - w_ref)
                self.forward.append(a.forward + moved)
                self.backward.append(a.backward + moved)
                self.gain.append(a.gain)
            else:
                self.forward.append(w)
                self.backward.append(w)
                self.gain.append(np.ones(w.shape))
            if not parts.noise:
                self.variance.append(None)
            elif parts.read_noise_std is not None:
                self.variance.append(np.full(w.shape, (parts.read_noise_std * a.full_scale) ** 2))
            else:
                self.variance.append(a.read_variance)
        exact = Converter()
        self.dac = calibration.dac if parts.quantisation else exact
        self.adc = [(a.adc_forward, a.adc_backward) if parts.quantisation else (exact, exact)
                    for a in calibration.arrays]
        self.rows = [_blocks(a.row_edges) for a in calibration.arrays]
        self.cols = [_blocks(a.col_edges) for a in calibration.arrays]

    @property
    def depth(self) -> int:
        return len(self.forward)

    # -- the map ------------------------------------------------------------------------------------
    def _partials(self, driven) -> tuple[list, list]:
        """Forward partial sums (n_row_blocks, B, n_{k+1}) of every array, and backward ones
        (n_col_blocks, B, n_k) of arrays 1..L-1 (None for array 0)."""
        forward = [np.stack([driven[k][:, r] @ w[:, r].T for r in self.rows[k]]) for k, w in enumerate(self.forward)]
        backward = [None] + [np.stack([driven[k + 1][:, c] @ w[c, :] for c in self.cols[k]])
                             for k, w in enumerate(self.backward) if k >= 1]
        return forward, backward

    def _sigma(self, driven) -> list:
        """Read-noise std of the drive of layers 1..L, (B, n_k) each."""
        var = [np.zeros((len(driven[0]), w.shape[0])) for w in self.forward]
        for k, v in enumerate(self.variance):
            if v is not None:
                var[k] += driven[k] ** 2 @ v.T
                if k >= 1:
                    var[k - 1] += driven[k + 1] ** 2 @ v
        return [np.sqrt(s) for s in var]

    def at(self, x: np.ndarray, states, frozen: Point | None = None) -> Point:
        """The proxy at ``states`` (layers 0..L, (B, n_k) each; layer 0 is ``x``), e.g. a chip's equilibrium.

        With ``frozen``, the surrogate frozen at that point instead (its converters' residuals, its noise
        and its input are ``frozen``'s), linearised at ``states``.
        """
        s = [np.asarray(x, np.float64)] + [np.asarray(v, np.float64) for v in states[1:]]
        dac_slope = [self.dac.passes(v) for v in s]
        if frozen is None:
            driven = [self.dac(v) for v in s]
            dac_residual = [q - self.dac.clipped(v) for q, v in zip(driven, s)]
        else:
            dac_residual = frozen.dac_residual
            driven = [frozen.driven[0]] + [self.dac.clipped(v) + r for v, r in zip(s[1:], dac_residual[1:])]
        forward, backward = self._partials(driven)
        adc_f, adc_b = [a[0] for a in self.adc], [a[1] for a in self.adc]
        if frozen is None:
            forward_residual = [adc_f[k](u) - adc_f[k].clipped(u) for k, u in enumerate(forward)]
            backward_residual = [None] + [adc_b[k](backward[k]) - adc_b[k].clipped(backward[k])
                                          for k in range(1, self.depth)]
            sigma = self._sigma(driven)
        else:
            forward_residual, backward_residual, sigma = frozen.forward_residual, frozen.backward_residual, frozen.sigma
        drive = [b + (adc_f[k].clipped(forward[k]) + forward_residual[k]).sum(axis=0) for k, b in enumerate(self.biases)]
        for k in range(1, self.depth):
            drive[k - 1] = drive[k - 1] + (adc_b[k].clipped(backward[k]) + backward_residual[k]).sum(axis=0)
        return Point(driven=driven, dac_slope=dac_slope, dac_residual=dac_residual,
                     forward_pass=[adc_f[k].passes(u) for k, u in enumerate(forward)],
                     forward_residual=forward_residual,
                     backward_pass=[None] + [adc_b[k].passes(backward[k]) for k in range(1, self.depth)],
                     backward_residual=backward_residual,
                     drive=drive, sigma=sigma, slope=[activation_slope(h, sd) for h, sd in zip(drive, sigma)])

    def settle(self, states, frozen: Point, *, steps: int, damping: float) -> list:
        """The fixed point of the surrogate frozen at ``frozen``: ``steps`` damped steps
        ``s <- damping s + (1 - damping) rho~(h(s))`` from ``states`` (layers 0..L). Its gradient is what
        :meth:`adjoint` and :meth:`gradient` give at :meth:`at` ``(x, states, frozen)``; from a chip's
        equilibrium, it shows where the proxy thinks the chip settles."""
        s = [np.asarray(v, np.float64) for v in states]
        for _ in range(steps):
            drive = self.at(s[0], s, frozen).drive
            s = [s[0]] + [damping * a + (1.0 - damping) * mean_activation(h, sd)
                          for a, h, sd in zip(s[1:], drive, frozen.sigma)]
        return s

    # -- the implicit gradient ----------------------------------------------------------------------
    def _transposed(self, nu, point: Point) -> list:
        """``Dv H^T nu`` for ``nu`` over layers 1..L: the straight-through Jacobian of the drives, transposed."""
        out = [np.zeros_like(n) for n in nu]
        for k in range(1, self.depth + 1):  # layer k gets the forward reads it drives and the backward ones
            m = k - 1
            if k < self.depth:
                for r, mask in zip(self.rows[k], point.forward_pass[k]):
                    out[m][:, r] += (nu[m + 1] * mask) @ self.forward[k][:, r]
            if k >= 2:
                for c, mask in zip(self.cols[k - 1], point.backward_pass[k - 1]):
                    out[m][:, c] += (nu[m - 1] * mask) @ self.backward[k - 1][c, :].T
            out[m] *= point.dac_slope[k]
        return out

    def adjoint(self, point: Point, error: np.ndarray, *, tolerance: float, max_iterations: int
                ) -> tuple[list, Solution]:
        """The adjoint ``nu`` (layers 1..L, (B, n_k) each) of ``dL/ds_L = error`` (B, n_L), and the solver's report."""
        sizes = [s.shape[1] for s in point.slope]
        edges = np.cumsum([0] + sizes)
        slope = np.concatenate(point.slope, axis=1)

        def split(flat):
            return [flat[:, a:b] for a, b in zip(edges[:-1], edges[1:])]

        def matvec(flat):
            return flat - slope * np.concatenate(self._transposed(split(flat), point), axis=1)

        rhs = np.zeros_like(slope)
        rhs[:, edges[-2]:] = np.asarray(error, np.float64)
        solution = bicgstab(matvec, slope * rhs, tolerance=tolerance, max_iterations=max_iterations)
        return split(solution.x), solution

    def gradient(self, point: Point, nu) -> tuple[tuple, tuple]:
        """``dL/dtheta`` with respect to the host's weights and biases, batch mean, from the adjoint ``nu``."""
        batch = len(nu[0])
        dw = []
        for k, (w, gain) in enumerate(zip(self.forward, self.gain)):
            g = np.zeros(w.shape)
            for r, mask in zip(self.rows[k], point.forward_pass[k]):
                g[:, r] += (nu[k] * mask).T @ point.driven[k][:, r]
            if k >= 1:
                for c, mask in zip(self.cols[k], point.backward_pass[k]):
                    g[c, :] += point.driven[k + 1][:, c].T @ (nu[k - 1] * mask)
            dw.append(gain * g / batch)
        return tuple(dw), tuple(n.mean(axis=0) for n in nu)
