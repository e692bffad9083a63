"""What a Loihi-style chip did, from the per-step, per-core logs of a run: counts, and the critical path.

- neuron updates, active (input received, state changed or fired) and idle;
- spikes fired, and the messages they become (one per destination core), with their route lengths in mesh hops
  and the messages that cross to another chip;
- synaptic ops (one per receiving neuron, done by the receiving core);
- barrier syncs (one per step).
"""
from __future__ import annotations

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
    running = np.arange(state.fired.shape[0])[:, None] < state.steps[None, :]  # (T, B)
    fired = state.fired.astype(np.int64)  # (T, B, C)
    busy = state.active.astype(np.int64)
    size = m.core_size[None, None, :]
    idle = (size - busy) * running[..., None]
    synops = np.zeros_like(fired)
    for k, (first, count) in enumerate(m.layer_cores):
        layer_fired = fired[..., first:first + count].sum(-1, keepdims=True)
        idle[..., first:first + count] *= k not in m.topology.inputs  # input neurons are sources: no updates
        for j in m.topology.receivers(k):
            f, c = m.layer_cores[j]
            synops[..., f:f + c] += layer_fired * m.core_size[f:f + c]
    work = core_seconds(tm, active=busy, idle=idle, synaptic_ops=synops, spikes=fired, messages=fired * m.messages)
    sent = fired > 0
    route = ((sent * m.max_hops).max(-1) * tm["hops"]
             + (sent & (m.chip_messages > 0)).any(-1) * tm["chip_messages"])
    critical = ((work.max(-1) + route + tm["barrier_syncs"]) * running).sum()
    per_core = {op: x.sum((0, 1)) for op, x in zip(PER_CORE, (busy, idle, fired, synops))}
    spikes = per_core["spikes"]
    counters = Counters(barrier_syncs=int(running.sum()), messages=int(spikes @ m.messages),
                        hops=int(spikes @ m.hops), chip_messages=int(spikes @ m.chip_messages))
    for op, x in per_core.items():
        counters[op] = int(x.sum())
        counters[f"{op}_per_core"] = x
    counters["critical_path_s"] = float(critical)
    return counters
