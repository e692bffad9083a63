"""Engine speed: event-driven message delivery vs. the dense numpy relaxation of the same network.

Run from the repository root::

    .venv/bin/python -m benchmarks.speed.bench_engine            # full run (a few minutes)
    .venv/bin/python -m benchmarks.speed.bench_engine --quick    # smoke run, small sizes, prints only

What is measured (all float32, weights much larger than the last-level cache):

1. **Memory read bandwidth** of this machine: ``numpy.sum`` over a 512 MB float32 array, and
   a numba reduction with 1 thread and with all threads; best of 9 each, before and after the
   delivery runs. Also a cold read of a weights-sized array with 1 and all threads, timed
   exactly like the kernels (same flush, interleaved with them). The largest of all is the
   reference the event kernel is compared with (the strictest choice).
2. **One layer pair's message delivery** per step, with the activity controlled exactly:
   ``delta`` (B, n) has exactly ``round(a * n)`` randomly chosen senders per sample (fresh
   choice at every repetition, fixed seed), ``senders``/``n_sent`` laid out as
   :func:`~emulator.backends.digital.kernels.encode_layer` writes them. Timed:

   * *event*:  ``deliver_events(drive, W, delta, senders, n_sent)`` (the event kernel);
   * *engine*: ``kernels.deliver``, the path the engine takes (switches to ``delta @ W``
     above ``DENSE_ABOVE`` of the layer sending);
   * *dense*:  ``state @ W``, what :func:`~emulator.reference.relax_dense` computes for
     that layer pair at every step.

   Caches are flushed (a parallel read of 4x the L3 size) before every timed call, so that
   the weights come from DRAM as they would in a relaxation of a network this size, then every
   path's code is re-warmed without touching the weights (a call with no message and a tiny
   product), as in a relaxation where the previous kernel has just run. The three methods are
   interleaved within each repetition; the best of ``--reps`` is reported (and the median).
3. **One full step** of a 3-layer network (input, hidden, output; both non-input layers at the
   same activity): engine = ``encode_layer`` of layers 1 and 2 + ``deliver`` of their
   messages, exactly as :func:`~emulator.backends.digital.relax.relax` calls them; dense = one step of
   ``relax_dense`` (which also recomputes the constant input drive ``x @ W_0^T``) and a
   minimal dense step (two products + clip/damp update, the input drive cached).
4. **Fixed per-step cost of ``relax()``** (Python bookkeeping + kernel launches) on a tiny
   network that never settles.

The machine may be shared: best times say what the code does when it gets the cores, medians
what it did under the load of the run (the load average is printed at start and end).

``synaptic ops`` = messages x fan-out, as the engine counts them. The effective weight-read
bandwidth of a path is ``synaptic ops/s x 4 bytes`` (each synaptic op reads one float32
weight), shown as a percentage of the measured memory read bandwidth.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

from benchmarks._machine import cache_size, load_average, machine_lines
from emulator.backends.digital.kernels import deliver, deliver_events, encode_layer
from emulator.backends.digital.relax import LayeredNet
from emulator.network import Network
from emulator.reference import relax_dense

engine_relax = importlib.import_module("emulator.backends.digital.relax")  # the module (the package exports relax())

ISSUE_SPEEDUP_AT_5 = 3.0      # engine >= 3x faster than dense at 5 % activity
ISSUE_SLOWDOWN_AT_100 = 1.25  # engine <= 1.25x slower than dense at 100 % activity
ISSUE_BANDWIDTH_SHARE = 0.30  # event kernel >= 30 % of the memory read bandwidth

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "benchmarks" / "speed" / "engine_results.md"


# --------------------------------------------------------------------------------------------
# memory bandwidth
# --------------------------------------------------------------------------------------------

@nb.njit(parallel=True, fastmath=True, cache=False)
def _par_sum(a):
    s = np.float32(0.0)
    for i in nb.prange(a.size):
        s += a[i]
    return s


@nb.njit(fastmath=True, cache=False)
def _serial_sum(a):
    s = np.float32(0.0)
    for i in range(a.size):
        s += a[i]
    return s


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def memory_bandwidth(megabytes: int, repeats: int) -> dict[str, float]:
    """Read bandwidth in bytes/s of a sum over a ``megabytes`` float32 array (best of ``repeats``)."""
    a = np.ones(megabytes * 2 ** 20 // 4, np.float32)
    _par_sum(a[:16])
    _serial_sum(a[:16])
    return {
        "numpy sum (1 thread)": a.nbytes / best_time(lambda: a.sum(), repeats),
        "numba reduction, 1 thread": a.nbytes / best_time(lambda: _serial_sum(a), repeats),
        f"numba parallel reduction, {nb.get_num_threads()} threads":
            a.nbytes / best_time(lambda: _par_sum(a), repeats),
    }


class CacheFlusher:
    """Evicts the weights from every cache level by reading a buffer several times the L3 size."""

    def __init__(self, nbytes: int):
        self.buffer = np.ones(max(nbytes, 2 ** 20) // 4, np.float32)
        _par_sum(self.buffer[:16])

    def __call__(self):
        _par_sum(self.buffer)


# --------------------------------------------------------------------------------------------
# workloads with exactly controlled activity
# --------------------------------------------------------------------------------------------

def n_senders(n: int, activity: float) -> int:
    return max(1, int(round(activity * n)))


def messages(rng, batch: int, n: int, activity: float, dtype):
    """``delta, senders, n_sent`` with exactly ``round(activity * n)`` random senders per sample."""
    k = n_senders(n, activity)
    delta = np.zeros((batch, n), dtype)
    senders = np.zeros((batch, n), np.int32)
    n_sent = np.full(batch, k, np.int64)
    for b in range(batch):
        idx = np.sort(rng.choice(n, k, replace=False)).astype(np.int32)
        sign = rng.choice(np.array([-1.0, 1.0]), k)
        delta[b, idx] = (sign * rng.uniform(0.01, 0.1, k)).astype(dtype)
        senders[b, :k] = idx
    return delta, senders, n_sent


def random_weights(rng, shape, dtype=np.float32):
    return (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[1])).astype(dtype)


def engine_uses_dense(n_messages: int, delta_size: int, n_rows: int) -> bool:
    """Whether ``kernels.deliver`` takes its dense (GEMM) branch: its rule, for the table's label."""
    return n_messages > engine_relax.DENSE_ABOVE * delta_size


def time_rotating(methods: dict, prepare, flush, reps: int, warm=None) -> dict[str, list[float]]:
    """Times every method ``reps`` times, in rotating order, on inputs ``prepare(rep)``.

    Before each timed call the caches are flushed (the weights must come from DRAM), then
    ``warm()`` re-warms the code paths and small arrays without touching the weights (as in a
    relaxation, where the previous kernel call has just run).
    """
    names = list(methods)
    times = {name: [] for name in names}
    for rep in range(reps):
        inputs = prepare(rep)
        for j in range(len(names)):
            name = names[(rep + j) % len(names)]
            args = inputs(name)
            flush()
            if warm is not None:
                warm()
            t0 = time.perf_counter()
            methods[name](*args)
            times[name].append(time.perf_counter() - t0)
    return times


# --------------------------------------------------------------------------------------------
# 2. one layer pair's delivery
# --------------------------------------------------------------------------------------------

def bench_delivery(n: int, m: int, batch: int, activities, reps: int, flush, seed: int):
    """Per-step delivery of messages from ``n`` senders to ``m`` receivers (weights (n, m))."""
    rng = np.random.default_rng(seed)
    weights = random_weights(rng, (n, m))
    state = rng.uniform(0.0, 1.0, (batch, n)).astype(np.float32)
    drive = np.zeros((batch, m), np.float32)

    def event(delta, senders, n_sent):
        deliver_events(drive, weights, delta, senders, n_sent)

    def engine(delta, senders, n_sent):
        deliver(drive, weights, delta, senders, n_sent, engine_relax.DENSE_ABOVE)

    def dense():
        return state @ weights

    # bandwidth probes, timed in the same conditions: a cold read of a weights-sized array
    probe = np.ones(n * m, np.float32)

    def probe_1thread():
        _serial_sum(probe)

    def probe_threads():
        _par_sum(probe)

    silent = (np.zeros((batch, n), np.float32), np.zeros((batch, n), np.int32), np.zeros(batch, np.int64))
    small = (np.ones((batch, 16), np.float32), np.ones((16, m), np.float32))

    def warm():
        """Runs every path's code without touching ``weights``: no message, and a tiny product."""
        deliver_events(drive, weights, *silent)
        deliver(drive, weights, *silent, engine_relax.DENSE_ABOVE)
        small[0] @ small[1]

    # compile / warm up every path (including the dense branch of _deliver)
    for a in (0.01, 1.0):
        msg = messages(rng, batch, n, a, np.float32)
        event(*msg)
        engine(*msg)
    dense()

    rows = []
    for activity in activities:
        def prepare(rep):
            msg = messages(rng, batch, n, activity, np.float32)
            return lambda name: msg if name in ("event", "engine") else ()

        times = time_rotating({"event": event, "engine": engine, "dense": dense,
                               "probe1": probe_1thread, "probeN": probe_threads},
                              prepare, flush, reps, warm)
        synops = batch * n_senders(n, activity) * m
        rows.append(dict(batch=batch, n=n, m=m, activity=activity, synops=synops,
                         engine_uses_dense=engine_uses_dense(batch * n_senders(n, activity), batch * n, n),
                         probe_bw={"1 thread": probe.nbytes / min(times.pop("probe1")),
                                   f"{nb.get_num_threads()} threads": probe.nbytes / min(times.pop("probeN"))},
                         **{f"t_{k}": min(v) for k, v in times.items()},
                         **{f"med_{k}": float(np.median(v)) for k, v in times.items()}))
    return rows


# --------------------------------------------------------------------------------------------
# 3. one full step of a 3-layer network
# --------------------------------------------------------------------------------------------

def bench_full_step(sizes, batch: int, activities, reps: int, flush, seed: int):
    rng = np.random.default_rng(seed)
    theta, damping = 1e-3, 0.5
    weights = [random_weights(rng, (sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    biases = [np.zeros(sizes[k + 1], np.float32) for k in range(len(sizes) - 1)]
    net = LayeredNet.from_parameters(weights, biases, theta, damping, np.float32)
    network = Network(tuple(weights), tuple(biases), theta, damping)
    depth = len(sizes) - 1
    dtype = net.dtype
    x = rng.uniform(0.0, 1.0, (batch, sizes[0])).astype(dtype)
    no_target = np.zeros((batch, 0), dtype)
    running = np.ones(batch, bool)
    delta = [None] + [np.zeros((batch, s), dtype) for s in sizes[1:]]
    senders = [None] + [np.zeros((batch, s), np.int32) for s in sizes[1:]]
    n_sent = [None] + [np.zeros(batch, np.int64) for _ in sizes[1:]]

    def fresh(activity, silent=False):
        """Drive, state and heard such that exactly ``activity`` of each layer's units send.

        ``state = clip(drive)`` is a fixed point of the unit update (``damping = 0.5`` makes
        ``s = 0.5 s + 0.5 s`` exact), so a unit sends iff its ``heard`` is off by more than
        ``theta``: the chosen senders are set 0.01 (= 10 theta) away.
        """
        drive = [None] + [rng.uniform(0.05, 0.95, (batch, s)).astype(dtype) for s in sizes[1:]]
        state = [x] + [h.copy() for h in drive[1:]]
        heard = [x] + [s.copy() for s in state[1:]]
        for k in range(1, depth + 1 if not silent else 1):
            for b in range(batch):
                idx = rng.choice(sizes[k], n_senders(sizes[k], activity), replace=False)
                heard[k][b, idx] -= np.float32(0.01)
        return drive, state, heard

    def engine_step(drive, state, heard):
        unsettled = np.zeros(batch, bool)
        for k in range(1, depth + 1):
            encode_layer(drive[k], state[k], heard[k], delta[k], senders[k], n_sent[k], unsettled,
                         running, no_target, 0.0, net.damping, net.theta)
        for k in range(1, depth + 1):
            if k < depth:
                deliver(drive[k + 1], net.up[k], delta[k], senders[k], n_sent[k], engine_relax.DENSE_ABOVE_BATCHED)
            if k >= 2:
                deliver(drive[k - 1], net.down[k - 1], delta[k], senders[k], n_sent[k], engine_relax.DENSE_ABOVE_BATCHED)

    def dense_step(drive, state, heard):
        relax_dense(network, x, steps=1, init=state, dtype=np.float32)

    input_drive = np.ascontiguousarray(x @ net.up[0] + net.bias[0])

    def dense_min_step(drive, state, heard):
        # the same update as relax_dense, with the constant input drive cached: 2 products
        h = [None] * (depth + 1)
        for k in range(1, depth + 1):
            h[k] = input_drive.copy() if k == 1 else state[k - 1] @ net.up[k - 1] + net.bias[k - 1]
            if k < depth:
                h[k] += state[k + 1] @ net.down[k]
        return [x] + [net.damping * s + (1.0 - net.damping) * np.clip(v, 0.0, 1.0)
                      for s, v in zip(state[1:], h[1:])]

    small = (np.ones((batch, 16), np.float32), np.ones((16, sizes[1]), np.float32))
    quiet = fresh(0.0, silent=True)

    def warm():
        """Runs the engine's kernels with no message, and a tiny product: code warm, weights cold."""
        drive, state, heard = quiet
        engine_step(drive, state, heard)
        small[0] @ small[1]

    # warm up, and check that the controlled activity is what encode_layer produces
    for a in (0.01, 1.0):
        engine_step(*fresh(a))
        want = n_senders(sizes[1], a)
        assert all((n_sent[k] == n_senders(sizes[k], a)).all() for k in range(1, depth + 1)), \
            (a, want, [n_sent[k] for k in range(1, depth + 1)])
    dense_step(*fresh(1.0))
    dense_min_step(*fresh(1.0))

    rows = []
    for activity in activities:
        def prepare(rep):
            return lambda name: fresh(activity)

        times = time_rotating({"engine": engine_step, "relax_dense": dense_step,
                               "dense_min": dense_min_step}, prepare, flush, reps, warm)
        synops = sum(batch * n_senders(sizes[k], activity) * net.fan_out(k)
                     for k in range(1, depth + 1))
        rows.append(dict(batch=batch, activity=activity, synops=synops,
                         **{f"t_{k}": min(v) for k, v in times.items()}))
    return rows


# --------------------------------------------------------------------------------------------
# 4. fixed per-step cost of relax()
# --------------------------------------------------------------------------------------------

def bench_relax_overhead(steps: int, repeats: int) -> float:
    """Seconds per step (best, median) of ``relax()`` on a [4, 4, 4] network that never settles.

    Layer 2 copies layer 1 (weight 2), layer 1 is inhibited by layer 2 (weight -2, bias 1):
    with no damping the states cycle 1,1 -> 0,1 -> 0,0 -> 1,0 -> ..., so every step has
    messages and the relaxation runs all ``steps``.
    """
    w1 = np.eye(4) * 2.0
    w0 = np.zeros((4, 4))
    net = LayeredNet.from_parameters([w0, w1], [np.ones(4), np.zeros(4)], theta=1e-3, damping=0.0,
                                     dtype=np.float32)
    # layer 1's drive is W0 x + W1^T s2 + b0 = 2 s2 + 1: make the feedback inhibitory
    net = LayeredNet(up=net.up, down=(net.down[0], -net.down[1]), bias=net.bias,
                     theta=net.theta, damping=net.damping)
    x = np.zeros((1, 4), np.float32)
    eq, _ = engine_relax.relax(net, x, max_steps=steps)
    assert eq.steps[0] == steps, "the overhead network settled: it must oscillate"
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        engine_relax.relax(net, x, max_steps=steps)
        times.append((time.perf_counter() - t0) / steps)
    return min(times), float(np.median(times))


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

def fmt_time(t: float) -> str:
    return f"{t * 1e3:.3f}" if t < 0.1 else f"{t * 1e3:.1f}"


def fmt_rate(x: float) -> str:
    return f"{x / 1e9:.2f}"


def fmt_ops(x: int) -> str:
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def delivery_table(rows, bandwidth: float) -> list[str]:
    out = ["| B | activity | synops/step | event ms | engine ms | dense ms | event Gsynop/s "
           "| engine Gsynop/s | dense Gsynop/s (useful) | dense GMAC/s | event vs dense "
           "| engine vs dense | event weight-read GB/s | % of bandwidth |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        macs = r["batch"] * r["n"] * r["m"]
        event_bw = r["synops"] * 4 / r["t_event"]
        path = " (GEMM)" if r["engine_uses_dense"] else ""
        out.append(
            f"| {r['batch']} | {r['activity']:.0%} | {fmt_ops(r['synops'])} | {fmt_time(r['t_event'])} "
            f"| {fmt_time(r['t_engine'])}{path} | {fmt_time(r['t_dense'])} "
            f"| {fmt_rate(r['synops'] / r['t_event'])} | {fmt_rate(r['synops'] / r['t_engine'])} "
            f"| {fmt_rate(r['synops'] / r['t_dense'])} | {fmt_rate(macs / r['t_dense'])} "
            f"| {r['t_dense'] / r['t_event']:.2f}x | {r['t_dense'] / r['t_engine']:.2f}x "
            f"| {event_bw / 1e9:.1f} | {event_bw / bandwidth:.0%} |")
    return out


def full_step_table(rows) -> list[str]:
    out = ["| B | activity | synops/step | engine step ms | relax_dense step ms | minimal dense step ms "
           "| engine Gsynop/s | engine vs relax_dense | engine vs minimal dense |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r['batch']} | {r['activity']:.0%} | {fmt_ops(r['synops'])} | {fmt_time(r['t_engine'])} "
            f"| {fmt_time(r['t_relax_dense'])} | {fmt_time(r['t_dense_min'])} "
            f"| {fmt_rate(r['synops'] / r['t_engine'])} | {r['t_relax_dense'] / r['t_engine']:.2f}x "
            f"| {r['t_dense_min'] / r['t_engine']:.2f}x |")
    return out


def targets(rows, bandwidth: float, bandwidth_1thread: float) -> list[str]:
    """The issue's three targets, checked on the batch-1 rows (one network, as on a chip).

    Each is checked on the best times (what the code can do when it gets the cores) and, in
    brackets, on the median times (what it did on this machine under the load of the run).
    """
    b1 = {r["activity"]: r for r in rows if r["batch"] == 1}
    out = []

    def verdict(ok):
        return "**met**" if ok else "**MISSED**"

    def typical(ok):
        return "met" if ok else "missed"

    if 0.05 in b1:
        r = b1[0.05]
        s, sm = r["t_dense"] / r["t_engine"], r["med_dense"] / r["med_engine"]
        out.append(f"- engine >= {ISSUE_SPEEDUP_AT_5:g}x faster than dense at 5 % activity: "
                   f"{s:.2f}x -> {verdict(s >= ISSUE_SPEEDUP_AT_5)} "
                   f"(medians: {sm:.2f}x, {typical(sm >= ISSUE_SPEEDUP_AT_5)})")
    if 1.0 in b1:
        r = b1[1.0]
        s, sm = r["t_engine"] / r["t_dense"], r["med_engine"] / r["med_dense"]
        out.append(f"- engine <= {ISSUE_SLOWDOWN_AT_100:g}x slower than dense at 100 % activity: "
                   f"{s:.2f}x slower -> {verdict(s <= ISSUE_SLOWDOWN_AT_100)} "
                   f"(medians: {sm:.2f}x, {typical(sm <= ISSUE_SLOWDOWN_AT_100)})")
    shares = {a: r["synops"] * 4 / r["t_event"] / bandwidth for a, r in sorted(b1.items())}
    med_shares = {a: r["synops"] * 4 / r["med_event"] / bandwidth for a, r in sorted(b1.items())}
    if shares:
        ok = [a for a, s in shares.items() if s >= ISSUE_BANDWIDTH_SHARE]
        detail = ", ".join(f"{a:.0%}: {s:.1%}" for a, s in shares.items())
        med_ok = all(s >= ISSUE_BANDWIDTH_SHARE for s in med_shares.values())
        out.append(f"- event kernel >= {ISSUE_BANDWIDTH_SHARE:.0%} of the memory read bandwidth "
                   f"({bandwidth / 1e9:.1f} GB/s) at every activity ({detail}) -> "
                   f"{verdict(len(ok) == len(shares))}"
                   + ("" if len(ok) == len(shares) or not ok
                      else f" (met only at {', '.join(f'{a:.0%}' for a in ok)})")
                   + f" (medians: {', '.join(f'{s:.0%}' for s in med_shares.values())}, "
                     f"{typical(med_ok)}). Against the best 1-thread read "
                     f"({bandwidth_1thread / 1e9:.1f} GB/s, the ceiling of a single-threaded kernel): "
                   + ", ".join(f"{a:.0%}: {s * bandwidth / bandwidth_1thread:.0%}"
                               for a, s in shares.items()))
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: small sizes, few repetitions; prints only unless --out is given")
    p.add_argument("--n", type=int, default=None, help="units per layer (default 4096; quick: 1024)")
    p.add_argument("--batches", type=int, nargs="+", default=None,
                   help="batch sizes (default 1 32; quick: 1 4)")
    p.add_argument("--activities", type=float, nargs="+",
                   default=[0.01, 0.05, 0.10, 0.25, 0.50, 1.00])
    p.add_argument("--reps", type=int, default=None, help="repetitions, best taken (default 30; quick: 3)")
    p.add_argument("--bandwidth-mb", type=int, default=None,
                   help="array size of the bandwidth test in MB (default 512; quick: 64)")
    p.add_argument("--no-full-step", action="store_true", help="skip the full-step benchmark")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help=f"Markdown file to write (default {DEFAULT_OUT.relative_to(REPO)}; "
                        "quick: none)")
    args = p.parse_args(argv)

    n = args.n or (1024 if args.quick else 4096)
    batches = args.batches or ([1, 4] if args.quick else [1, 32])
    reps = args.reps or (3 if args.quick else 30)
    bw_mb = args.bandwidth_mb or (64 if args.quick else 512)
    out_path = args.out if args.out is not None else (None if args.quick else DEFAULT_OUT)

    lines = ["# Engine speed: event-driven delivery vs. dense numpy relaxation", "",
             "## Machine", ""] + machine_lines(["-m", "benchmarks.speed.bench_engine"] + argv)
    print("\n".join(lines), flush=True)
    bw_repeats = 3 if args.quick else 9
    bandwidth_start = memory_bandwidth(bw_mb, bw_repeats)
    print("  bandwidth: " + ", ".join(f"{k} {v / 1e9:.1f} GB/s" for k, v in bandwidth_start.items()),
          file=sys.stderr, flush=True)

    l3 = cache_size(3) or 32 * 2 ** 20
    flush = CacheFlusher(max(4 * l3, 128 * 2 ** 20) if not args.quick else 2 * l3)

    rows = []
    for batch in batches:
        rows += bench_delivery(n, n, batch, args.activities, reps, flush, args.seed)
        print(f"  delivery, batch {batch}: done", file=sys.stderr, flush=True)
    bandwidth_end = memory_bandwidth(bw_mb, bw_repeats)
    probes = {k: max(r["probe_bw"][k] for r in rows) for k in rows[0]["probe_bw"]}
    bandwidth = max(list(bandwidth_start.values()) + list(bandwidth_end.values())
                    + list(probes.values()))

    bw_lines = ["", "## Memory read bandwidth", "",
                "| read of a cold float32 array | GB/s |", "|---|---:|"]
    bw_lines += [f"| {bw_mb} MB, {name}, best of {bw_repeats} before / after the delivery runs "
                 f"| {bandwidth_start[name] / 1e9:.1f} / {bandwidth_end[name] / 1e9:.1f} |"
                 for name in bandwidth_start]
    bw_lines += [f"| {n * n * 4 // 2 ** 20} MB (the size of one weight matrix), numba reduction, "
                 f"{name}, timed like the kernels (after the same flush, interleaved with them), best "
                 f"of {reps * len(rows)} | {v / 1e9:.1f} |" for name, v in probes.items()]
    bw_lines += ["", f"Reference = the largest: **{bandwidth / 1e9:.1f} GB/s**, i.e. at most "
                     f"{bandwidth / 4 / 1e9:.2f} G synaptic ops/s for a kernel that reads each float32 "
                     "weight once from DRAM (the issue quotes about 15-18 GB/s for this machine). The "
                     "machine is shared: the load average above says how busy it was. A multi-thread "
                     "read only reaches its peak (about 38-41 GB/s on this machine, against about 22 GB/s "
                     "for one thread) when every core is free at once, so on a busy machine the "
                     "reference, and the % column, vary from run to run."]
    print("\n".join(bw_lines), flush=True)
    lines += bw_lines

    d_lines = ["", f"## Delivery of one layer's messages ({n} senders -> {n} receivers, float32 "
                   f"weights {n * n * 4 / 2 ** 20:.0f} MB; best of {reps}, weights cold, code warm)", "",
               f"`DENSE_ABOVE` = {engine_relax.DENSE_ABOVE}: above it the engine path uses "
               "`delta @ W` (marked GEMM). Speed-ups are dense time / path time (> 1: faster than "
               "dense). *dense Gsynop/s (useful)* counts only the messages' synaptic ops; "
               "*dense GMAC/s* counts every multiply-add of the product. *% of bandwidth*: event "
               "weight-read GB/s (= event synop/s x 4 B) / reference bandwidth.", ""]
    d_lines += delivery_table(rows, bandwidth)
    d_lines += ["", "Median over the repetitions (ms), for the spread (on a busy machine the median "
                    "includes waits for a core):", "",
                "| B | activity | event | engine | dense |", "|---:|---:|---:|---:|---:|"]
    d_lines += [f"| {r['batch']} | {r['activity']:.0%} | {fmt_time(r['med_event'])} "
                f"| {fmt_time(r['med_engine'])} | {fmt_time(r['med_dense'])} |" for r in rows]
    bandwidth_1thread = max(bandwidth_start["numba reduction, 1 thread"],
                            bandwidth_end["numba reduction, 1 thread"], probes["1 thread"])
    t_lines = ["", "## Targets of the issue (batch 1)", ""] + targets(rows, bandwidth, bandwidth_1thread)
    print("\n".join(d_lines + t_lines), flush=True)
    lines += d_lines + t_lines

    if not args.no_full_step:
        sizes = [n, n, n]
        f_rows = []
        for batch in batches:
            f_rows += bench_full_step(sizes, batch, args.activities, reps, flush, args.seed + 1)
            print(f"  full step, batch {batch}: done", file=sys.stderr, flush=True)
        overhead_steps = 200 if args.quick else 2000
        overhead = bench_relax_overhead(overhead_steps, repeats=3 if args.quick else 9)
        f_lines = ["", f"## One full step, network {sizes} (best of {reps}, weights cold, code warm)", "",
                   "Engine: `encode_layer` of both non-input layers + `deliver` of their messages, "
                   "as `relax()` calls them (each layer at the given activity). *relax_dense*: one "
                   "step of `relax_dense` (3 products: it recomputes the constant input drive); "
                   "*minimal dense*: 2 products + clip/damp update.", ""]
        f_lines += full_step_table(f_rows)
        f_lines += ["", f"Fixed cost of one `relax()` step (Python bookkeeping + kernel launches, "
                        f"[4, 4, 4] network, batch 1, {overhead_steps} steps): best "
                        f"**{overhead[0] * 1e6:.0f} us**, median {overhead[1] * 1e6:.0f} us per step"]
        print("\n".join(f_lines), flush=True)
        lines += f_lines

    lines += ["", f"- load average at end (1/5/15 min): {load_average()}"]
    if out_path is not None:
        out_path.write_text("\n".join(lines) + "\n")
        print(f"\nwritten to {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
