"""How a layered network is put on phase oscillators, measured fast: an idealised XY network.

Each relaxation is exact block-coordinate descent on the XY energy (every oscillator of a layer
set to ``arg F_i``, the minimum of the energy in its field, hidden and output layers in turn;
the energy never increases), ``--iters`` sweeps from every phase at 0 (or random with
``--init random``). No time limit, no lazy coupling, no integrator: this isolates the *mapping*
(input encoding, biases, nudge targets) from the chip's dynamics, about 10x faster than the
back-end. EqProp as in the back-end: symmetric nudge ``+-beta`` towards target phases,
update ``-dE/dtheta`` at the two nudged equilibria over ``2 beta``.

Input encodings (``--input``):
  amplitude  pixel x injected with amplitude x at the fixed phase ``--input-phase`` (pi units);
  clamp      input oscillators clamped at phase ``(--clamp-offset + --clamp-span * x) pi``
             with unit amplitude (the back-end's mapping: offset 0, span 1/2).
Biases: ``--bias real`` (references at psi = 0) or ``complex`` (in-phase and quadrature parts
both trained, i.e. amplitude and phase psi; ``--bias-quadrature`` is the initial quadrature part).

    python -m benchmarks.experiments.oim_mapping --input clamp --epochs 12
    python -m benchmarks.experiments.oim_mapping --dataset mnist --hidden 500 --epochs 3
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from emulator.datasets import load_dataset


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", choices=("amplitude", "clamp"), default="clamp")
    p.add_argument("--input-phase", type=float, default=0.25, help="amplitude mode: phase, units of pi")
    p.add_argument("--clamp-span", type=float, default=0.5, help="clamp mode: phase of a pixel of 1, units of pi")
    p.add_argument("--clamp-offset", type=float, default=0.0, help="clamp mode: phase of a pixel of 0, units of pi")
    p.add_argument("--bias", choices=("real", "complex"), default="real")
    p.add_argument("--bias-quadrature", type=float, default=0.0)
    p.add_argument("--targets", default="0,0.5", help="target phases of the right and wrong outputs, units of pi")
    p.add_argument("--beta", type=float, default=0.5)
    p.add_argument("--one-sided", action="store_true")
    p.add_argument("--lr", default="0.1,0.05")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--iters", type=int, default=100, help="block-descent sweeps per relaxation")
    p.add_argument("--init", choices=("zero", "random"), default="zero")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", default="digits", help="a data set of emulator.datasets (mnist offline: its sample)")
    p.add_argument("--n-train", type=int, help="keep the first N training images")
    p.add_argument("--n-test", type=int, help="keep the first N test images")
    a = p.parse_args()

    d = load_dataset(a.dataset, n_train=a.n_train, n_test=a.n_test)
    layers = [d.x_train.shape[1], a.hidden, 10]
    rng = np.random.default_rng(a.seed)
    w = [rng.uniform(-1, 1, (o, i)) * np.sqrt(6 / (i + o)) for i, o in zip(layers[:-1], layers[1:])]
    b = [np.full(n, 1j * a.bias_quadrature) for n in layers[1:]]
    lr = [float(v) for v in a.lr.split(",")]
    right, wrong = (float(v) * np.pi for v in a.targets.split(","))

    def encode(x):  # the complex signal each input contributes per unit of coupling, (B, n_0)
        if a.input == "amplitude":
            return x * np.exp(1j * np.pi * a.input_phase)
        return np.exp(1j * np.pi * (a.clamp_offset + a.clamp_span * x))

    def relax(u, nudge=None, init=None, gen=None):
        """Equilibrium unit phasors (z_hidden, z_out) of inputs u, (B, n_1), (B, n_2)."""
        f_in = u @ w[0].T + b[0]
        if init is not None:
            zh, zo = init
        elif a.init == "random":
            zh = np.exp(1j * gen.uniform(-np.pi, np.pi, (len(u), layers[1])))
            zo = np.exp(1j * gen.uniform(-np.pi, np.pi, (len(u), layers[2])))
        else:
            zh, zo = np.ones((len(u), layers[1]), complex), np.ones((len(u), layers[2]), complex)
        f_out0 = b[1] + (0 if nudge is None else nudge)
        for _ in range(a.iters):
            f = f_in + zo @ w[1]
            zh = f / (np.abs(f) + 1e-30)
            f = zh @ w[1].T + f_out0
            zo = f / (np.abs(f) + 1e-30)
        return zh, zo

    def accuracy(x, y):
        _, zo = relax(encode(x), gen=np.random.default_rng(1))
        return (zo.real.argmax(1) == y).mean()

    def update(x, y):
        u = encode(x)
        free = relax(u, gen=rng)
        target = np.exp(1j * np.where(np.eye(10)[y] > 0, right, wrong))
        plus = relax(u, a.beta * target, init=free)
        minus = free if a.one_sided else relax(u, -a.beta * target, init=free)
        scale, n = (1 if a.one_sided else 0.5) / a.beta, len(x)
        (hp, op), (hm, om) = plus, minus
        w[0] += lr[0] * (scale * (np.real(hp.T @ np.conj(u)) - np.real(hm.T @ np.conj(u))) / n)  # cos(phi_i - phi_in_j)
        w[1] += lr[1] * (scale * (np.real(op.T @ np.conj(hp)) - np.real(om.T @ np.conj(hm))) / n)  # cos(phi_i - phi_j)
        for k, (zp, zm) in enumerate(((hp, hm), (op, om))):
            g = scale * (zp - zm).mean(0)  # cos phi (in-phase part), sin phi (quadrature part)
            b[k] += lr[k] * (g if a.bias == "complex" else g.real)

    start = time.time()
    for epoch in range(a.epochs):
        order = np.random.default_rng([a.seed, epoch]).permutation(len(d.y_train))
        for i in range(0, len(order), 20):
            batch = order[i:i + 20]
            update(d.x_train[batch].astype(float), d.y_train[batch])
        print(f"epoch {epoch + 1}: test {accuracy(d.x_test.astype(float), d.y_test):.1%} "
              f"train {accuracy(d.x_train.astype(float), d.y_train):.1%} ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
