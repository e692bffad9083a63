"""A :class:`~emulator.backends.loihi.graph.Graph` to and from Lava 0.10 processes.

:func:`from_lava` walks a process graph a Lava user built in Python, from any of its processes, along the
connections of their ports (``SigmaDelta``, ``LIF``, ``Dense`` and ``RingBuffer``; a reshaped port is followed,
as all populations are flat vectors; ``Monitor`` processes are left out), reads each process's parameters and returns the emulator's graph, which
:func:`~emulator.backends.loihi.graph_run.run_graph` runs bit-exactly. Any other process (a subclass of these
included, whose model may differ) is one error naming it and its type. :func:`to_lava` builds the processes of a
graph; :class:`LavaGraph` runs them with ``Loihi2SimCfg(select_tag='fixed_pt')`` and records every variable a
``Monitor`` can probe.
"""
from __future__ import annotations

import numpy as np

from emulator.backends.loihi.graph import Dense, Graph, Lif, RingBuffer, SigmaDelta
from emulator.backends.loihi.lava import require_lava
from emulator.errors import ConfigError

#: the process types :func:`from_lava` maps, by their Lava module and class name
MAPPED = {"lava.proc.sdn.process.SigmaDelta": "SigmaDelta", "lava.proc.lif.process.LIF": "LIF",
          "lava.proc.dense.process.Dense": "Dense", "lava.proc.io.source.RingBuffer": "RingBuffer"}
#: processes that only observe (a Monitor probing an output port is connected to it): left out of the graph
OBSERVERS = ("lava.proc.monitor.process.Monitor",)


def _qualified(process) -> str:
    return f"{type(process).__module__}.{type(process).__qualname__}"


def _kind(process) -> str:
    """The mapped kind of a Lava process, or one error naming what cannot be mapped."""
    qualified = _qualified(process)
    if qualified not in MAPPED:
        raise ConfigError(
            f"Lava process {process.name!r} of type {qualified} cannot run on the emulated Loihi: from_lava maps "
            f"{', '.join(MAPPED.values())} (exactly these classes, not subclasses, whose models may differ)")
    return MAPPED[qualified]


def _value(var):
    """A Var's initial value as an int64 array (Lava keeps what the constructor was given)."""
    return np.asarray(var.init).astype(np.int64)


def _peers(port, direction: str) -> list:
    """The ports of other processes at the end of ``port``'s connections, through reshaped (virtual) ports."""
    found = []
    for peer in getattr(port, direction):
        if peer.process is None or type(peer).__name__ in ("ReshapePort", "ConcatPort", "TransposePort"):
            if type(peer).__name__ != "ReshapePort":
                raise ConfigError(f"a {type(peer).__name__} joins {port.process.name!r} to another process: "
                                  "from_lava follows plain and reshaped connections only")
            found += _peers(peer, direction)
        else:
            found.append(peer)
    return found


def _walk(processes) -> list:
    """Every process connected to ``processes`` through in- and out-ports, in the order found."""
    seen, queue = [], list(processes)
    while queue:
        process = queue.pop(0)
        if any(process is p for p in seen) or _qualified(process) in OBSERVERS:
            continue
        _kind(process)
        seen.append(process)
        for port in process.out_ports:
            queue += [peer.process for peer in _peers(port, "out_connections")]
        for port in process.in_ports:
            queue += [peer.process for peer in _peers(port, "in_connections")]
    return seen


def _population(process, kind: str):
    name = process.name
    if kind == "RingBuffer":
        data = _value(process.data)
        return RingBuffer(data=data.reshape(-1, data.shape[-1]), name=name)
    size = int(np.prod(process.proc_params["shape"]))
    if kind == "LIF":
        return Lif(size=size, du=int(_value(process.du)), dv=int(_value(process.dv)), vth=int(_value(process.vth)),
                   bias_mant=_value(process.bias_mant).ravel(), bias_exp=_value(process.bias_exp).ravel(),
                   u=_value(process.u).ravel(), v=_value(process.v).ravel(), name=name)
    spike_exp, state_exp = int(_value(process.spike_exp)), int(_value(process.state_exp))
    scale = spike_exp + state_exp
    # the process stored vth and bias scaled by 2**(spike_exp + state_exp); these are the constructor's values
    return SigmaDelta(size=size, vth=int(_value(process.vth)) >> scale, bias=_value(process.bias).ravel() >> scale,
                      act_mode=process.proc_params["act_mode"].name.lower(), cum_error=bool(_value(process.cum_error)),
                      spike_exp=spike_exp, state_exp=state_exp, name=name)


def _connections(dense) -> list[Dense]:
    """One :class:`Dense` per neuron population a Lava ``Dense`` reaches."""
    sources = _peers(dense.s_in, "in_connections")
    if len(sources) != 1:
        raise ConfigError(f"Dense {dense.name!r} receives from {len(sources)} ports; from_lava needs exactly one "
                          "sender per Dense")
    params = dense.proc_params
    sign = params.get("sign_mode")
    common = dict(source=sources[0].process.name, weights=_value(dense.weights),
                  weight_exp=int(params.get("weight_exp", 0)), num_weight_bits=int(params.get("num_weight_bits", 8)),
                  num_message_bits=int(_value(dense.num_message_bits)),
                  sign_mode=None if sign is None or sign.name == "NULL" else sign.name.lower())
    targets = [peer.process for peer in _peers(dense.a_out, "out_connections")]
    return [Dense(target=t.name, name=dense.name if len(targets) == 1 else f"{dense.name}->{t.name}", **common)
            for t in targets]


def from_lava(processes) -> Graph:
    """The emulator's graph of a Lava process graph.

    Parameters
    ----------
    processes : Lava process or list of them
        Any processes of the graph; every process connected to them is included.

    Raises
    ------
    ConfigError
        A process that is not one of :data:`MAPPED`, a ``Dense`` with other than one sender, or parameters
        outside Lava's registers (naming the process).
    """
    found = [(p, _kind(p)) for p in _walk(processes if isinstance(processes, (list, tuple)) else [processes])]
    populations = [_population(p, kind) for p, kind in found if kind != "Dense"]
    connections = [c for p, kind in found if kind == "Dense" for c in _connections(p)]
    return Graph(populations=tuple(populations), connections=tuple(connections))


def to_lava(graph: Graph) -> dict:
    """Lava processes of ``graph``, connected: ``{name: process}`` (populations, streams and ``Dense``)."""
    require_lava()
    from lava.proc.dense.process import Dense as LavaDense
    from lava.proc.io.source import RingBuffer as LavaRingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.sdn.process import ActivationMode
    from lava.proc.sdn.process import SigmaDelta as LavaSigmaDelta
    from lava.utils.weightutils import SignMode

    processes = {}
    for p in graph.populations:
        if isinstance(p, RingBuffer):
            processes[p.name] = LavaRingBuffer(data=p.data.astype(np.int32))
            processes[p.name].name = p.name
        elif isinstance(p, Lif):
            processes[p.name] = LIF(shape=(p.size,), du=p.du, dv=p.dv, vth=p.vth, bias_mant=p.bias_mant.astype(np.int32),
                                    bias_exp=p.bias_exp.astype(np.int32), u=p.u.astype(np.int32),
                                    v=p.v.astype(np.int32), name=p.name)
        else:
            processes[p.name] = LavaSigmaDelta(
                shape=(p.size,), vth=p.vth, bias=p.bias.astype(np.int32), act_mode=ActivationMode[p.act_mode.upper()],
                cum_error=p.cum_error, spike_exp=p.spike_exp, state_exp=p.state_exp, name=p.name)
    for d in graph.connections:
        sign = {} if d.sign_mode is None else {"sign_mode": SignMode[d.sign_mode.upper()]}
        dense = LavaDense(weights=d.weights.astype(np.int32), weight_exp=d.weight_exp,
                          num_weight_bits=d.num_weight_bits, num_message_bits=d.num_message_bits, name=d.name, **sign)
        processes[d.source].s_out.connect(dense.s_in)
        dense.a_out.connect(processes[d.target].a_in)
        processes[d.name] = dense
    return processes


class LavaGraph:
    """A graph's Lava processes, run with ``Loihi2SimCfg(select_tag='fixed_pt')``, every variable probed.

    Parameters
    ----------
    graph : Graph
    steps : int
        Steps to record.
    """

    def __init__(self, graph: Graph, steps: int):
        from lava.proc.monitor.process import Monitor

        self.graph, self.steps = graph, steps
        self.processes = to_lava(graph)
        self.monitors = {}
        for p in graph.populations:
            for name in p.variables:
                monitor = Monitor()
                monitor.probe(getattr(self.processes[p.name], name), steps)
                self.monitors[p.name, name] = monitor

    def run(self) -> dict:
        """Run ``steps`` steps; ``{population: {variable: (steps, n) int64}}`` as Lava recorded them."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        first = self.processes[self.graph.populations[0].name]
        first.run(condition=RunSteps(num_steps=self.steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        try:
            return {p.name: {name: np.asarray(self.monitors[p.name, name].get_data()[self.processes[p.name].name][name])
                             .reshape(self.steps, -1).astype(np.int64) for name in p.variables}
                    for p in self.graph.populations}
        finally:
            first.stop()
