"""Build ``workloads/networks/digits_lif.nir``: a rate-coded spiking digits classifier converted from a ReLU network.

1. Train a bias-free ReLU network 64 -> 64 -> 10 (softmax cross-entropy, Adam, seed 0) on the digits TRAIN
   split of :func:`emulator.datasets.load_dataset` (pixels / 16, in [0, 1]). Without biases nothing is left
   for the NIR ``Affine`` biases that Loihi cannot run.
2. Normalise its weights with the training data (Rueckauer, Lungu, Hu, Pfeiffer and Liu, "Conversion of
   continuous-valued deep networks to efficient event-driven networks for image classification", Frontiers in
   Neuroscience 11:682, 2017, section 2.2.1; after the max-activation normalisation of Diehl, Neil, Binas,
   Cook, Liu and Pfeiffer, "Fast-classifying, high-accuracy spiking deep networks through weight and threshold
   balancing", IJCNN 2015): with ``lambda_l`` the 99.9th percentile of the positive ReLU activations of layer
   ``l`` on the training set (``lambda_0 = 1``, the largest pixel), ``W_l <- W_l lambda_{l-1} / lambda_l``, so
   that the activations, now mostly in [0, 1], are firing rates (spikes per step) of neurons with threshold 1.
3. Write the spiking network with the ``nir`` package::

       input (64) -> fc1 Linear (64 x 64) -> lif1 LIF (64) -> fc2 Linear (10 x 64) -> lif2 LIF (10) -> output (10)

   ``metadata["dt"]`` = 1 ms; LIF ``tau`` = 16 ms (``dt / tau`` = 1/16), ``r = tau / dt`` (so that NIR's
   ``v <- v + dt/tau (v_leak - v + r I)`` is ``v <- (1 - 1/16) v + W s``: a spike adds its weight to the
   potential), ``v_leak = v_reset = 0``, ``v_threshold`` = 1 for every neuron.
4. Classify the TEST split with :func:`emulator.exchange.nir_sim.simulate` on
   :func:`emulator.exchange.encoding.rate_code` spike trains (seed 0): the class is the output neuron with the
   most spikes (ties to the lowest index), for T = 20, 50 and 100 steps; write ``README.md`` beside the file.

Deterministic (one BLAS thread) and a few seconds long::

    python examples/build_digits_nir.py [--out workloads/networks]
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import nir
import numpy as np
from threadpoolctl import threadpool_limits

from emulator.datasets import load_dataset
from emulator.exchange.encoding import rate_code
from emulator.exchange.nir_graph import read_nir, write_nir
from emulator.exchange.nir_sim import simulate
from emulator.files import make_folder, write_text

OUT = Path(__file__).resolve().parents[1] / "workloads" / "networks"
FILE = "digits_lif.nir"
COMMAND = "python examples/build_digits_nir.py"

HIDDEN = 64            # hidden ReLU units
EPOCHS = 60
BATCH = 32
LEARNING_RATE = 1e-2   # Adam (Kingma and Ba 2015), beta1 = 0.9, beta2 = 0.999, eps = 1e-8
WEIGHT_DECAY = 1e-4    # L2 on the weights
SEED = 0               # initial weights and the order of the mini-batches
PERCENTILE = 99.9      # of the positive activations of a layer: its normalisation scale (Rueckauer et al. 2017)
DT = 1e-3              # seconds per step
TAU = 16 * DT          # seconds: dt / tau = 1/16, a power of two (a shift on fixed-point chips)
V_THRESHOLD = 1.0      # every neuron's, in units of the normalised weights
STEPS = (20, 50, 100)  # time steps per digit at which the SNN is scored
CODE_SEED = 0          # seed of the rate coding


@dataclass(frozen=True)
class Built:
    """What :func:`build` made.

    Attributes
    ----------
    scales : tuple of float
        ``lambda_1``, ``lambda_2``: the normalisation scales of the hidden and output layers.
    graph : nir.NIRGraph
        The spiking network.
    ann_accuracy : float
        The ReLU network's test accuracy.
    snn_accuracy : dict of int to float
        The spiking network's test accuracy at each number of steps of :data:`STEPS`.
    n_train, n_test : int
        Digits trained on and scored.
    """

    scales: tuple[float, float]
    graph: nir.NIRGraph
    ann_accuracy: float
    snn_accuracy: dict[int, float]
    n_train: int
    n_test: int


def train_ann(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train the bias-free ReLU network ``softmax(W2 relu(W1 x))`` with Adam on the cross-entropy.

    Parameters
    ----------
    x : (N, 64) float64
        Pixels in [0, 1].
    y : (N,) int64
        Classes 0..9.

    Returns
    -------
    W1 : (HIDDEN, 64) float64
    W2 : (10, HIDDEN) float64
    """
    rng = np.random.default_rng(SEED)
    n_in, n_out = x.shape[1], 10
    weights = [rng.normal(0.0, np.sqrt(2 / n_in), (HIDDEN, n_in)),  # He et al. 2015 initialisation
               rng.normal(0.0, np.sqrt(2 / HIDDEN), (n_out, HIDDEN))]
    first = [np.zeros_like(w) for w in weights]
    second = [np.zeros_like(w) for w in weights]
    targets = np.eye(n_out)[y]
    step = 0
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            batch = order[start:start + BATCH]
            xb, tb = x[batch], targets[batch]
            hidden = np.maximum(xb @ weights[0].T, 0.0)
            logits = hidden @ weights[1].T
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            d_logits = (p - tb) / len(batch)
            d_hidden = (d_logits @ weights[1]) * (hidden > 0)
            grads = (d_hidden.T @ xb + WEIGHT_DECAY * weights[0], d_logits.T @ hidden + WEIGHT_DECAY * weights[1])
            step += 1
            for w, g, m, v in zip(weights, grads, first, second):
                m += 0.1 * (g - m)
                v += 0.001 * (g * g - v)
                w -= LEARNING_RATE * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return weights[0], weights[1]


def ann_predict(weights, x: np.ndarray) -> np.ndarray:
    """Classes the ReLU network gives ``x`` (N, 64): (N,) int64."""
    return np.argmax(np.maximum(x @ weights[0].T, 0.0) @ weights[1].T, axis=1)


def normalise(weights, x: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], tuple[float, float]]:
    """Data-based weight normalisation (Rueckauer et al. 2017): ``W_l lambda_{l-1} / lambda_l``.

    Parameters
    ----------
    weights : (W1, W2)
        The ReLU network's weights.
    x : (N, 64) float64
        Training pixels in [0, 1] (``lambda_0 = 1``).

    Returns
    -------
    normalised : (W1 / lambda_1, W2 lambda_1 / lambda_2)
    scales : (lambda_1, lambda_2)
        The :data:`PERCENTILE` th percentile of the positive activations of each layer (the output layer's:
        its logits).
    """
    scales, a = [], x
    for w in weights:
        a = np.maximum(a @ w.T, 0.0)
        scales.append(float(np.percentile(a[a > 0], PERCENTILE)))
    (w1, w2), (l1, l2) = weights, scales
    return (w1 / l1, w2 * l1 / l2), (l1, l2)


def to_nir(weights) -> nir.NIRGraph:
    """The spiking network of the normalised ``weights`` (W1, W2), as the module's docstring draws it."""
    def lif(n: int) -> nir.LIF:
        return nir.LIF(tau=np.full(n, TAU), r=np.full(n, TAU / DT), v_leak=np.zeros(n),
                       v_threshold=np.full(n, V_THRESHOLD), v_reset=np.zeros(n))

    w1, w2 = (np.ascontiguousarray(w, np.float64) for w in weights)
    nodes = {"input": nir.Input(np.array([w1.shape[1]])), "fc1": nir.Linear(w1), "lif1": lif(w1.shape[0]),
             "fc2": nir.Linear(w2), "lif2": lif(w2.shape[0]), "output": nir.Output(np.array([w2.shape[0]]))}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})


def snn_predict(network, x: np.ndarray, steps: int, seed: int = CODE_SEED) -> np.ndarray:
    """Classes the spiking network gives ``x`` (N, 64) rate coded over ``steps`` steps: (N,) int64, the output
    neuron with the most spikes (ties to the lowest index)."""
    sim = simulate(network, rate_code(x, steps=steps, seed=seed))
    counts = sim.values[next(iter(network.outputs))].sum(axis=0)
    return np.argmax(counts, axis=1)


def build() -> Built:
    """Train, normalise, convert and score (see the module's docstring)."""
    data = load_dataset("digits")
    x_train, x_test = data.x_train.astype(np.float64), data.x_test.astype(np.float64)
    with threadpool_limits(limits=1):
        ann = train_ann(x_train, data.y_train)
        normalised, scales = normalise(ann, x_train)
    graph = to_nir(normalised)
    network = read_nir(graph)
    snn = {t: float(np.mean(snn_predict(network, x_test, t) == data.y_test)) for t in STEPS}
    return Built(scales=scales, graph=graph,
                 ann_accuracy=float(np.mean(ann_predict(ann, x_test) == data.y_test)), snn_accuracy=snn,
                 n_train=data.n_train, n_test=data.n_test)


def readme(built: Built) -> str:
    """``README.md`` of the networks folder: how the file was built and how well it classifies."""
    w1, w2 = built.graph.nodes["fc1"].weight, built.graph.nodes["fc2"].weight
    rows = "\n".join(f"| SNN, T = {t} steps | {acc:.1%} |" for t, acc in built.snn_accuracy.items())
    return f"""# Spiking networks

NIR graphs (Pedersen et al., Nature Communications 15, 8122, 2024) that the emulator reads with
`emulator.exchange.nir_graph.read_nir` and runs with `emulator.exchange.nir_sim.simulate`.

## `{FILE}`: digits, rate coded

Built by `{COMMAND}` (deterministic, a few seconds; its docstring says every step):

1. **ANN**: a ReLU network 64 -> {HIDDEN} -> 10 without biases, trained with Adam (learning rate
   {LEARNING_RATE}, {EPOCHS} epochs, mini-batches of {BATCH}, L2 {WEIGHT_DECAY}, seed {SEED}) on the
   {built.n_train} training digits of `load_dataset("digits")` (scikit-learn digits, pixels / 16).
2. **Conversion**: data-based weight normalisation (Rueckauer et al., Frontiers in Neuroscience
   11:682, 2017; after Diehl et al., IJCNN 2015): `W_l lambda_(l-1) / lambda_l`, with `lambda_l` the
   {PERCENTILE}th percentile of the positive activations of layer `l` on the training digits.
3. **SNN**, written with the `nir` package:

   `input (64) -> fc1 Linear (64 x 64) -> lif1 LIF (64) -> fc2 Linear (10 x 64) -> lif2 LIF (10) -> output (10)`

| parameter | value |
|---|---|
| `metadata["dt"]` | {DT:g} s |
| LIF `tau` | {TAU:g} s (dt / tau = 1/{TAU / DT:g}) |
| LIF `r` | tau / dt = {TAU / DT:g} (a spike adds its weight to the potential) |
| LIF `v_leak`, `v_reset` | 0 |
| LIF `v_threshold` | {V_THRESHOLD:g}, every neuron of both populations |
| biases | none (`Linear` maps) |
| normalisation scales | lambda_1 = {built.scales[0]:.4g}, lambda_2 = {built.scales[1]:.4g} |
| `fc1` weights | [{w1.min():.3f}, {w1.max():.3f}] |
| `fc2` weights | [{w2.min():.3f}, {w2.max():.3f}] |

## Accuracy on the {built.n_test} test digits

The SNN's input is `emulator.exchange.encoding.rate_code(x, steps=T, seed={CODE_SEED})` (each step a
pixel spikes with probability equal to its intensity); its class is the output neuron with the most
spikes (ties to the lowest index), run with `simulate`.

| network | accuracy |
|---|---|
| ANN (ReLU, float) | {built.ann_accuracy:.1%} |
{rows}
"""


def main(argv=None) -> Built:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for {FILE} and README.md (default: %(default)s)")
    args = parser.parse_args(argv)
    built = build()
    make_folder(args.out)
    write_nir(args.out / FILE, built.graph)
    write_text(args.out / "README.md", readme(built))
    print(f"wrote {args.out / FILE}: ANN test accuracy {built.ann_accuracy:.1%}; SNN "
          + ", ".join(f"T={t}: {acc:.1%}" for t, acc in built.snn_accuracy.items()))
    return built


if __name__ == "__main__":
    main()
