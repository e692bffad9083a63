"""Build a small fixed-point network by hand, relax it in the emulator and in Lava, and compare.

The emulator's integer relaxation (:func:`emulator.backends.loihi.sigma_delta.relax_fixed`) follows Lava
0.10's fixed-point process models step for step; this script shows it on a 6-5-4 network with
feedback, printing each step's graded spikes from both. Needs Lava (Python 3.10)::

    python examples/fixed_point_in_lava.py
"""
import numpy as np

from emulator.backends.loihi.sigma_delta import FixedNet, relax_fixed
from emulator.backends.loihi.lava.network import LavaNetwork
from emulator.backends.loihi.quantise import as_stored


def main():
    rng = np.random.default_rng(0)
    layers = (6, 5, 4)
    # 8-bit weights as Lava's Dense stores them (mixed signs: even values), one exponent per coupling
    down = tuple(as_stored(rng.integers(-200, 200, (layers[k + 1], layers[k]))) for k in range(2))
    net = FixedNet(down=down, weight_exp=(-3, -3), bias=(np.full(5, 40), np.full(4, 20)), vth=8, act_max=256)
    x = rng.integers(0, 64, layers[0])  # graded spikes the input sends at the first step
    steps = 8

    state = relax_fixed(net, x[None], max_steps=steps, record=True)
    lava = LavaNetwork(net, x, steps, probe=True)
    try:
        lava.run(steps)
        trace = lava.trace()
    finally:
        lava.stop()

    ran = int(state.steps[0])
    for t in range(steps):
        for k, (_, _, spikes) in enumerate(state.record, start=1):
            mine = spikes[t, 0] if t < ran else np.zeros_like(spikes[0, 0])
            theirs = trace[k]["s_out"][t].astype(np.int64)  # Lava's monitor records floats
            print(f"step {t + 1:2d} layer {k}: emulator {mine.tolist()}  Lava {theirs.tolist()}"
                  + ("" if (mine == theirs).all() else "  DIFFERENT"))
    print(f"the emulator stopped after {ran} steps (quiescent: {bool(state.quiescent[0])}); "
          f"final activations equal: {all((a[0] == trace[k]['act'][-1]).all() for k, a in enumerate(state.act, 1))}")


if __name__ == "__main__":
    main()
