"""Weighted graphs for MaxCut: the G-set text format, seeded random graphs, cut values, exact MaxCut.

The G-set format (Helmberg & Rendl's ``rudy`` graphs) is plain text: the first line holds the
node and edge counts ``n m``, each of the next ``m`` lines one edge ``i j w`` (nodes numbered
1..n, weight ``w``). A ``#`` starts a comment that runs to the end of its line, anywhere in the
file (G-set files have none, but hand-written and converted ones often do); blank lines are
skipped. :func:`read_gset` rejects anything else (an edge to a missing node, a self-loop, an
edge given twice, a wrong edge count, a malformed line) with one :class:`GraphFormatError`
naming the file and line.

The cut of a spin assignment ``s`` in {-1, +1}^n is ``sum_(i,j) w_ij (1 - s_i s_j) / 2``: the
weight of the edges whose ends have different spins. A partition is written as text with
:func:`partition_text`, one character per node in the graph's node order (node 1 of a G-set file,
row 0 of a matrix, first): ``1`` for spin +1, ``0`` for spin -1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emulator.errors import GraphFormatError

#: largest graph :func:`brute_force_maxcut` enumerates (2^(n-1) assignments)
BRUTE_FORCE_MAX_NODES = 26


@dataclass(frozen=True)
class Graph:
    """An undirected weighted graph without self-loops or repeated edges.

    Attributes
    ----------
    n : int
        Number of nodes.
    edges : (m, 2) int64
        Node pairs ``(i, j)``, 0-based, ``i < j``, sorted.
    weights : (m,) float64
        Edge weights.
    name : str
        Where it came from (a file, or the generator's settings).
    """

    n: int
    edges: np.ndarray
    weights: np.ndarray
    name: str = ""

    @property
    def m(self) -> int:
        return int(self.edges.shape[0])

    def adjacency(self) -> np.ndarray:
        """Symmetric weight matrix ``W`` (n, n), zero diagonal."""
        w = np.zeros((self.n, self.n))
        w[self.edges[:, 0], self.edges[:, 1]] = self.weights
        w[self.edges[:, 1], self.edges[:, 0]] = self.weights
        return w

    def degrees(self) -> np.ndarray:
        """Neighbours of each node, (n,) int64."""
        return np.bincount(self.edges.ravel(), minlength=self.n).astype(np.int64)

    def isolated(self) -> np.ndarray:
        """The nodes in no edge, 0-based, ascending, (k,) int64."""
        return np.flatnonzero(self.degrees() == 0)

    def abs_weight(self) -> float:
        """``sum_e |w_e|``, exactly rounded (:func:`math.fsum`), in the weights' units."""
        return math.fsum(np.abs(self.weights))

    def weight_scale(self) -> float:
        """The mean absolute edge weight ``sum_e |w_e| / m``, in the weights' units; 1 for a graph
        without edges or whose weights are all 0.

        As the sum is exactly rounded, a graph whose weights all have the same magnitude ``c`` has
        scale ``c`` exactly, and ``weights / weight_scale()`` is exactly +-1.
        """
        total = self.abs_weight()
        return total / self.m if total > 0 else 1.0

    def cut(self, spins: np.ndarray) -> np.ndarray:
        """Cut value of spin assignments ``spins`` (..., n) in {-1, +1}; shape (...,)."""
        s = np.asarray(spins, np.float64)
        differ = s[..., self.edges[:, 0]] != s[..., self.edges[:, 1]]
        return differ @ self.weights

    def to_gset(self) -> str:
        """The graph in G-set text format (1-based nodes); integral weights are written as integers."""
        lines = [f"{self.n} {self.m}"]
        for (i, j), w in zip(self.edges.tolist(), self.weights.tolist()):
            lines.append(f"{i + 1} {j + 1} {int(w) if float(w).is_integer() else repr(w)}")
        return "\n".join(lines) + "\n"


#: how :func:`partition_text` writes a partition, as the report states it
PARTITION_ENCODING = ("one character per node, in the graph's node order (node 1 of a G-set file, row 0 of a "
                      ".npy matrix, first): 1 for spin +1, 0 for spin -1")


#: the largest sum of absolute edge weights: 10,000 anneals' cuts still sum below the largest float
MAX_TOTAL_WEIGHT = 1e300


def partition_text(spins: np.ndarray) -> str:
    """Spins (n,) in {-1, +1} as text: one character per node, ``1`` for +1 and ``0`` for -1."""
    return np.where(np.asarray(spins) > 0, ord("1"), ord("0")).astype(np.uint8).tobytes().decode("ascii")


def _sorted_graph(n: int, edges: np.ndarray, weights: np.ndarray, name: str) -> Graph:
    """The graph with its edges sorted; :class:`GraphFormatError` if its weights' magnitudes sum
    beyond :data:`MAX_TOTAL_WEIGHT` (the sums and means of cuts over many anneals would overflow)."""
    with np.errstate(over="ignore"):
        total = np.abs(np.asarray(weights, np.float64)).sum()
    if not total <= MAX_TOTAL_WEIGHT:
        raise GraphFormatError(f"{name}: the absolute edge weights sum beyond {MAX_TOTAL_WEIGHT:.0e}, so the cuts of "
                               "many anneals cannot be summed; divide every weight by a common factor (the cuts "
                               "scale with it, and the anneal does not depend on it)")
    edges = np.sort(np.asarray(edges, np.int64).reshape(-1, 2), axis=1)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    return Graph(n, edges[order], np.asarray(weights, np.float64)[order], name)


def read_gset(path: str | Path) -> Graph:
    """Read a G-set text file; :class:`GraphFormatError` naming file and line if it is malformed."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GraphFormatError(f"cannot read graph file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise GraphFormatError(f"{path}: not a text file; a graph file is G-set text (`n m`, then `i j w`)") from None

    def fail(line: int, message: str):
        raise GraphFormatError(f"{path}:{line}: {message}")

    data = [text.split("#", 1)[0] for text in lines]  # comments dropped
    numbered = [(k, text.split()) for k, text in enumerate(data, start=1) if text.strip()]
    if not numbered:
        fail(1, "empty; the first line must be `n m` (node and edge counts)")
    first, header = numbered[0]
    if len(header) != 2 or not all(_is_int(v) for v in header):
        fail(first, f"expected `n m` (node and edge counts, two integers), got {data[first - 1].strip()!r}")
    n, m = int(header[0]), int(header[1])
    if n < 1:
        fail(first, f"the node count n must be at least 1, got {n}")
    if m < 0:
        fail(first, f"the edge count m must be at least 0, got {m}")
    body = numbered[1:]
    if len(body) != m:
        line = body[m][0] if len(body) > m else (body[-1][0] if body else first)
        fail(line, f"line {first} announces {m} edges but the file has {len(body)} edge lines; "
                   "correct the count or the edges")
    edges, weights, seen = np.zeros((m, 2), np.int64), np.zeros(m), {}
    for e, (line, fields) in enumerate(body):
        if len(fields) != 3 or not (_is_int(fields[0]) and _is_int(fields[1]) and _is_number(fields[2])):
            fail(line, f"expected an edge `i j w` (two node numbers and a weight), got {data[line - 1].strip()!r}")
        i, j, w = int(fields[0]), int(fields[1]), float(fields[2])
        for node in (i, j):
            if not 1 <= node <= n:
                fail(line, f"edge {i}-{j} names node {node} but the graph has {n} nodes, numbered 1 to {n}")
        if i == j:
            fail(line, f"self-loop on node {i}; it never crosses a cut, remove the line")
        key = (min(i, j), max(i, j))
        if key in seen:
            fail(line, f"edge {i}-{j} is given again (first on line {seen[key]}); merge the two into one line")
        seen[key] = line
        edges[e], weights[e] = (i - 1, j - 1), w
    return _sorted_graph(n, edges, weights, str(path))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


#: what a ``.npy`` array of each numpy dtype kind that is not a real number holds, for error messages
_DTYPE_KINDS = {"c": "complex numbers", "U": "strings", "S": "byte strings", "O": "Python objects",
                "V": "records (a structured dtype)", "M": "dates", "m": "time spans"}


def from_matrix(w: np.ndarray, name: str) -> Graph:
    """The graph of a symmetric weight matrix ``w`` (n, n) with zero diagonal (e.g. a ``.npy`` file).

    :class:`GraphFormatError` naming ``name`` (and the first offending entry) if ``w`` does not hold
    real numbers (booleans, integers or floats), or is not square, not finite, not symmetric, or
    has a non-zero diagonal.
    """
    w = np.asarray(w)
    if w.dtype.kind not in "biuf":
        what = _DTYPE_KINDS.get(w.dtype.kind, "values that are not real numbers")
        raise GraphFormatError(f"{name}: a coupling matrix holds real numbers (the edge weights), got {what} "
                               f"(dtype {w.dtype}); save the weights as a float or integer array")
    w = w.astype(np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 1:
        raise GraphFormatError(f"{name}: a coupling matrix must be square (n, n), got shape {w.shape}")
    bad = np.argwhere(~np.isfinite(w))
    if bad.size:
        i, j = bad[0]
        raise GraphFormatError(f"{name}: entry [{i}, {j}] is {w[i, j]}; every coupling must be a finite number")
    asymmetric = np.argwhere(w != w.T)
    if asymmetric.size:
        i, j = asymmetric[0]
        raise GraphFormatError(f"{name}: the coupling matrix is not symmetric: entry [{i}, {j}] is {w[i, j]:g} "
                               f"but [{j}, {i}] is {w[j, i]:g}; an oscillator network needs J = J^T")
    loops = np.flatnonzero(np.diag(w))
    if loops.size:
        raise GraphFormatError(f"{name}: diagonal entry [{loops[0]}, {loops[0]}] is {w[loops[0], loops[0]]:g}; "
                               "self-couplings are not allowed, set the diagonal to 0")
    i, j = np.nonzero(np.triu(w, 1))
    return _sorted_graph(w.shape[0], np.stack([i, j], axis=1), w[i, j], name)


def random_graph(n: int, density: float, weights: str, seed: int) -> Graph:
    """An Erdos-Renyi graph G(n, p = density), each pair an edge independently, seeded.

    weights : ``"unit"`` (every weight 1) or ``"pm1"`` (+1 or -1 with equal probability).

    Each pair ``(i, j)``, ``i < j``, draws one uniform number, in row order, one row ``i`` at a
    time: the memory taken is the edges', not the pairs' (20,000 nodes make 200 million pairs).
    """
    rng = np.random.default_rng(seed)
    rows = [np.arange(i + 1, n)[rng.random(n - 1 - i) < density] for i in range(n - 1)]
    edges = np.stack([np.repeat(np.arange(len(rows)), [len(r) for r in rows]),
                      np.concatenate(rows) if rows else np.zeros(0, np.int64)], axis=1)
    w = np.ones(len(edges)) if weights == "unit" else rng.choice([-1.0, 1.0], len(edges))
    return _sorted_graph(n, edges, w, f"random G(n={n}, p={density}), {weights} weights, seed {seed}")


def brute_force_maxcut(graph: Graph, chunk: int = 1 << 16) -> tuple[float, np.ndarray]:
    """The exact maximum cut by enumerating the 2^(n-1) assignments with node n-1's spin fixed.

    Returns the best cut and one assignment reaching it, (n,) in {-1, +1}.
    """
    n = graph.n
    if n > BRUTE_FORCE_MAX_NODES:
        raise ValueError(f"brute force enumerates 2^(n-1) assignments; n = {n} is above {BRUTE_FORCE_MAX_NODES}")
    bits = np.arange(n - 1, dtype=np.int64)
    best, best_spins = -np.inf, None
    for start in range(0, 1 << (n - 1), chunk):
        codes = np.arange(start, min(start + chunk, 1 << (n - 1)), dtype=np.int64)
        spins = np.ones((codes.size, n))
        spins[:, :-1] = 1 - 2 * ((codes[:, None] >> bits) & 1)
        cuts = graph.cut(spins)
        k = int(np.argmax(cuts))
        if cuts[k] > best:
            best, best_spins = float(cuts[k]), spins[k]
    return best, best_spins
