"""What a Loihi-style chip did, from the per-step, per-core logs of a run: counts, and the critical path.

- neuron updates, active (input received, state changed or fired) and idle;
- spikes fired, and the messages they become (one per destination core), with their route lengths in mesh hops
  and the messages that cross to another chip;
- synaptic ops (one per receiving neuron, done by the receiving core);
- barrier syncs (one per step).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from emulator.counters import Counters

#: per-core counts kept as (n_cores,) vectors beside the totals
PER_CORE = ("neuron_updates_active", "neuron_updates_idle", "spikes", "synaptic_ops")


def core_seconds(time_s: dict, *, active, idle, synaptic_ops, spikes, messages):
    """A core's work in one step, seconds: its neuron updates, the synaptic ops it receives, and
    the spikes it fires with the messages they become (arrays broadcast, e.g. per core)."""
    t = time_s
    return (active * t["neuron_updates_active"] + idle * t["neuron_updates_idle"]
            + synaptic_ops * t["synaptic_ops"] + spikes * t["spikes"] + messages * t["messages"])


def count(program, state) -> Counters:
    """What the chip did in a run, from the per-step, per-core logs of ``state``.

    ``program`` has the ``mapping`` and the ``time_s`` table (a :class:`LoihiProgram` or a :class:`GraphProgram`),
    ``state`` the logs ``fired`` and ``active`` (T, B, n_cores) and the ``steps`` (B,) each sample ran.

    A step's latency is its slowest core's work (neuron updates, synaptic ops it received,
    spikes and the messages they become), plus the longest route of the step's messages (and a
    chip-to-chip link if one was used), plus the barrier; ``critical_path_s`` sums it over the
    steps each sample ran.
    """
    m, tm = program.mapping, program.time_s
    times = np.array([tm[op] for op in ("neuron_updates_active", "neuron_updates_idle", "synaptic_ops", "spikes",
                                        "messages", "hops", "chip_messages", "barrier_syncs")], np.float64)
    step_s, per_core = _step_work(state.fired, state.active, np.asarray(state.steps, np.int64), m.population_of,
                                  m.feeds, m.updated, m.core_size.astype(np.int64), m.messages.astype(np.int64),
                                  m.max_hops.astype(np.int64), m.chip_messages.astype(np.int64), times)
    running = int(np.minimum(state.steps, state.fired.shape[0]).sum())
    spikes = per_core[2]
    counters = Counters(barrier_syncs=running, messages=int(spikes @ m.messages),
                        hops=int(spikes @ m.hops), chip_messages=int(spikes @ m.chip_messages))
    for op, x in zip(PER_CORE, per_core):
        counters[op] = int(x.sum())
        counters[f"{op}_per_core"] = x
    counters["critical_path_s"] = float(step_s.sum())  # numpy's summation, over (T, B) as always
    return counters


@nb.njit(cache=True)
def _step_work(fired, active, steps, population_of, feeds, updated, core_size, messages, max_hops, chip_messages,
               times):
    """Every step's latency and the per-core counts, from the logs (T, B, C) of a run.

    Returns
    -------
    step_s : (T, B) float64
        The step's slowest core's work plus its longest route and the barrier, 0 for steps a sample did not run
        (:func:`core_seconds`'s sum, term by term in its order, so every float is what numpy's arrays gave).
    per_core : (4, C) int64
        Active and idle neuron updates, spikes and synaptic ops of each core, summed over steps and samples.
    """
    n_steps, batch, n_cores = fired.shape
    n_layers = feeds.shape[0]
    step_s = np.zeros((n_steps, batch))
    per_core = np.zeros((4, n_cores), np.int64)
    layer_fired = np.zeros(n_layers, np.int64)
    for t in range(n_steps):
        for b in range(batch):
            running = t < steps[b]  # the logs of steps a sample did not run are counted as they are, as before
            layer_fired[:] = 0
            for c in range(n_cores):
                layer_fired[population_of[c]] += fired[t, b, c]
            slowest, hops, crosses = 0.0, 0, False
            for c in range(n_cores):
                spikes = np.int64(fired[t, b, c])
                busy = np.int64(active[t, b, c])
                idle = core_size[c] - busy if running and updated[c] else 0
                synops = 0
                for k in range(n_layers):
                    synops += layer_fired[k] * core_size[c] * feeds[k, c]
                per_core[0, c] += busy
                per_core[1, c] += idle
                per_core[2, c] += spikes
                per_core[3, c] += synops
                if running:
                    work = (busy * times[0] + idle * times[1] + synops * times[2] + spikes * times[3]
                            + (spikes * messages[c]) * times[4])
                    slowest = max(slowest, work)
                    if spikes > 0:
                        hops = max(hops, max_hops[c])
                        crosses = crosses or chip_messages[c] > 0
            if running:
                step_s[t, b] = slowest + (hops * times[5] + (times[6] if crosses else 0.0)) + times[7]
    return step_s, per_core
