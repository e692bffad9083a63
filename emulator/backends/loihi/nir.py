"""A NIR graph quantised for the Loihi family: Lava's fixed-point LIF neurons and 8-bit ``Dense`` synapses.

Each NIR population becomes a population of Lava's ``LIF`` (``PyLifModelBitAcc``); the maps between two
populations (:func:`emulator.exchange.nir_links.links`) become one ``Dense``; each ``Input`` a ``RingBuffer`` of
binary spikes. With ``S`` the integer voltage of one NIR volt, chosen per population so that its threshold is the
chip's ``vth`` (``v_threshold * S = vth << 6``), NIR's forward-Euler equations (:mod:`emulator.exchange.nir_sim`)
map onto Lava's as follows (the NIR repository's Lava converter makes the same choices of ``du`` and ``dv``)::

    NIR                         du                        dv                 synaptic gain g
    IF(r)                       4095 (u = this step's a)  0                  dt r
    LIF(tau, r, v_leak)         4095                      4096 dt / tau      dt / tau r
    CubaLIF(tau_syn, tau_mem)   4096 dt / tau_syn - 1     4096 dt / tau_mem  (dt / tau_mem) r (dt / tau_syn) w_in
    LI, CubaLI                  as LIF, CubaLIF, with the largest threshold (they never fire; the read-out is v)

- a ``Dense`` holds ``W_int 2**weight_exp = g S W / 64`` (``u`` gains ``a << 6``), quantised as the EqProp
  weights are (:func:`~emulator.backends.loihi.quantise.quantise_weights`: the finest exponent that clips at most
  the chip's ``max_clipped_fraction``, 8-bit values as Lava stores them);
- the bias ``bias_mant << bias_exp`` is ``(dt / tau) (v_leak + r I_b) S`` per step for LIF and IF, ``I_b`` the
  constant input of the ``Affine`` biases on its links (a CubaLIF's would pass through its synaptic filter, which a
  voltage bias does not: such a bias is refused), with the finest exponent that fits the 13-bit mantissa;
- the reset is to 0 (``v_reset`` must be 0), the spike test strict (``>``), as NIR's;
- an ``Input`` is a ``RingBuffer`` of binary spikes, or, for inputs that are not spikes (currents in [0, 1]), of
  9-bit graded payloads ``round(256 x)`` into graded Dense processes whose weights are divided by 256.

**Timing.** NIR's edges carry no delay; every ``Dense`` delays by one step. A link whose path holds a
``Delay(dt)`` (as the emulator's own exports have behind every population) is exactly that; a link without one
arrives one step later than in NIR (the report counts them, ``added_delays``), and a longer ``Delay`` is refused.
The run lasts the input's steps plus the longest chain of added delays, so every input step reaches the outputs.
What quantisation changes (``du``, ``dv``, weights, biases) is reported per population and link.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.backends.loihi.graph import Dense, Graph, Lif, RingBuffer
from emulator.backends.loihi.lif import DECAY_BITS
from emulator.backends.loihi.quantise import (LIF_BIAS_EXP_MAX, lif_bias_clipped_fraction, lif_bias_exp,
                                              quantise_lif_bias, quantise_weights)
from emulator.errors import NirError
from emulator.exchange.nir_graph import NirNetwork, Population
from emulator.exchange.nir_links import Link, links

DECAY_UNITY = 2 ** DECAY_BITS
#: graded inputs (currents in [0, 1]) are sent as payloads round(x * INPUT_LEVELS), 0..256: a power of two, so that
#: the weights' division by it is an exponent, exact
INPUT_LEVELS = 256
INPUT_BITS = 9
#: Lava's largest LIF threshold: LI populations are LIF neurons that never reach it
VTH_MAX = 2 ** 17 - 1


@dataclass(frozen=True)
class NirOnLoihi:
    """A NIR network as Lava processes, and what quantising it changed.

    Attributes
    ----------
    graph : Graph
        Populations named as the NIR nodes, one ``RingBuffer`` per ``Input`` (data to be given per run).
    scale : dict of str to float
        ``S`` of every population: integer voltage per NIR volt.
    readouts : list of :class:`~emulator.exchange.nir_links.Readout`
    quantisation : dict
        ``populations``: per population ``du``, ``dv`` and their relative errors, ``vth``, ``bias_exp`` and the
        fraction of biases clipped; ``links``: per ``Dense`` the weight exponent, range used, fraction clipped and
        relative RMS error; ``added_delays``: links one step later than in NIR.
    latency : int
        Steps an input takes beyond NIR's to reach the outputs along the longest chain of added delays.
    """

    graph: Graph
    scale: dict
    readouts: list
    quantisation: dict
    latency: int


def _uniform(pop: Population, name: str) -> float:
    values = np.unique(pop.params[name])
    if values.size != 1:
        raise NirError(f"{pop.model} {pop.name!r}: {name} differs between its neurons ({values[:3].tolist()} ...); a "
                       "Loihi population has one; split the population")
    return float(values[0])


def _decay(rate: float, what: str, pop: Population) -> tuple[int, float]:
    """A 12-bit decay for a per-step rate ``dt / tau``, and its relative error."""
    if not 0 < rate <= 1:
        raise NirError(f"{pop.model} {pop.name!r}: dt / {what} = {rate:g} must lie in (0, 1]: a time constant shorter "
                       "than the step is unstable in forward Euler; run with a smaller dt")
    q = int(round(rate * DECAY_UNITY))
    if q < 1:
        raise NirError(f"{pop.model} {pop.name!r}: dt / {what} = {rate:g} is below Loihi's finest decay 1/4096; run "
                       "with a larger dt")
    return q, abs(q / DECAY_UNITY - rate) / rate


def _neurons(pop: Population, dt: float, vth: int):
    """(du, dv, gain, voltage scale S, report) of one population; gain is per neuron (n,)."""
    p = {k: v.ravel() for k, v in pop.params.items()}
    if pop.model == "Threshold":
        raise NirError(f"Threshold {pop.name!r} has no state to hold between steps on Loihi, whose neurons are LIF: "
                       "run the graph on the digital or snn chip, or write it as IF")
    spiking = pop.model in ("IF", "LIF", "CubaLIF")
    if spiking and _uniform(pop, "v_reset") != 0:
        raise NirError(f"{pop.model} {pop.name!r}: v_reset = {_uniform(pop, 'v_reset'):g}, but Lava's LIF resets to "
                       "0; shift the potentials so the reset is 0")
    threshold = _uniform(pop, "v_threshold") if spiking else 1.0
    if threshold <= 0:
        raise NirError(f"{pop.model} {pop.name!r}: v_threshold = {threshold:g} must be positive on Loihi")
    scale = 64 * vth / threshold
    report = {"model": pop.model, "vth": vth if spiking else VTH_MAX}
    if pop.model == "IF":
        du, dv, gain = DECAY_UNITY - 1, 0, dt * p["r"]
    elif pop.model in ("LIF", "LI"):
        dv, report["dv_relative_error"] = _decay(dt / _uniform(pop, "tau"), "tau", pop)
        du, gain = DECAY_UNITY - 1, dt / p["tau"] * p["r"]
    else:
        keep_u, report["du_relative_error"] = _decay(dt / _uniform(pop, "tau_syn"), "tau_syn", pop)
        dv, report["dv_relative_error"] = _decay(dt / _uniform(pop, "tau_mem"), "tau_mem", pop)
        du, gain = keep_u - 1, dt / p["tau_mem"] * p["r"] * dt / p["tau_syn"] * p["w_in"]
    return du, dv, gain, scale, report | {"du": du, "dv": dv}


def _bias(pop: Population, dt: float, inputs: np.ndarray) -> np.ndarray:
    """Voltage added per step (NIR volts): the leak's ``(dt / tau) v_leak`` and the constant input ``inputs``."""
    p = {k: v.ravel() for k, v in pop.params.items()}
    if pop.model == "IF":
        return dt * p["r"] * inputs
    if pop.model in ("LIF", "LI"):
        return dt / p["tau"] * (p["v_leak"] + p["r"] * inputs)
    if np.any(inputs != 0):
        raise NirError(f"{pop.model} {pop.name!r} receives a constant input (an Affine bias): on Loihi it would not "
                       "pass through the synaptic current; use a Linear map")
    return dt / p["tau_mem"] * p["v_leak"]


def _latency(found: list[Link], network: NirNetwork) -> int:
    """The longest chain of links without a NIR delay (each one step later on the chip), over the acyclic paths."""
    best = {name: 0 for name in network.inputs}
    for _ in range(len(network.populations)):
        for link in found:
            if link.source in best:
                best[link.target] = max(best.get(link.target, 0), best[link.source] + (link.delay == 0))
    return max(best.values(), default=0)


def quantise_nir(network: NirNetwork, dt: float, *, vth: int, weight_bits: int, max_clipped: float,
                 input_levels: int | None = None) -> NirOnLoihi:
    """The Loihi graph of ``network`` run at time step ``dt`` (see the module docstring); NirError for what the chip
    cannot run.

    Parameters
    ----------
    input_levels : int, optional
        Inputs are graded values in [0, 1], sent as integer payloads ``round(x * input_levels)`` over graded
        Dense processes (whose weights are divided by ``input_levels``); binary spikes by default.
    """
    found, readouts = links(network, dt)
    for link in found:
        if link.delay > 1:
            raise NirError(f"the path from {link.source!r} to {link.target!r} delays by {link.delay} steps; Loihi's "
                           "Dense delays by one: chain populations to delay longer")
        source = network.populations.get(link.source)
        if source is not None and not source.spiking:
            raise NirError(f"{source.model} {source.name!r} sends its potential to {link.target!r}, but Lava's LIF "
                           "sends binary spikes only: end the graph at it (a read-out), or make it spike")
    pops, scales, reports = [], {}, {}
    for pop in network.populations.values():
        du, dv, gain, scale, report = _neurons(pop, dt, vth)
        bias = _bias(pop, dt, sum((l.bias for l in found if l.target == pop.name), np.zeros(pop.size)))
        exp = lif_bias_exp(bias, state_unit=scale)
        report |= {"bias_exp": exp, "bias_clipped_fraction": lif_bias_clipped_fraction(bias, state_unit=scale, exp=exp)}
        if exp == LIF_BIAS_EXP_MAX and report["bias_clipped_fraction"]:
            report["note"] = "biases beyond the 13-bit mantissa at the largest exponent are clipped"
        pops.append(Lif(size=pop.size, du=du, dv=dv, vth=report["vth"], name=pop.name,
                        bias_mant=quantise_lif_bias(bias, state_unit=scale, exp=exp), bias_exp=exp))
        scales[pop.name], reports[pop.name] = scale, report | {"gain": gain}
    dense, link_reports = [], {}
    for k, link in enumerate(found):
        graded = input_levels is not None and link.source in network.inputs
        effective = (reports[link.target]["gain"] * scales[link.target] / 64)[:, None] * link.weight
        w_int, q = quantise_weights(effective / (input_levels if graded else 1), state_exp=0, weight_bits=weight_bits,
                                    max_clipped=max_clipped)
        name = f"{link.source}->{link.target}" + (f"@{link.delay}" if sum(
            (l.source, l.target) == (link.source, link.target) for l in found) > 1 else "")
        dense.append(Dense(link.source, link.target, w_int, weight_exp=q.weight_exp, num_weight_bits=weight_bits,
                           num_message_bits=INPUT_BITS if graded else 0, name=name))  # populations send spikes
        link_reports[name] = q.to_dict() | {"nir_delay": link.delay}
    for report in reports.values():
        del report["gain"]
    streams = [RingBuffer(data=np.zeros((port.size, 1), np.int64), name=name) for name, port in network.inputs.items()]
    quantisation = {"populations": reports, "links": link_reports,
                    "added_delays": sum(link.delay == 0 for link in found)}
    return NirOnLoihi(Graph(tuple(streams + pops), tuple(dense)), scales, readouts, quantisation,
                      _latency(found, network))


def read_out(nol: NirOnLoihi, network: NirNetwork, record: dict) -> dict:
    """The ``Output`` values of a run (``record`` of :func:`~emulator.backends.loihi.graph_run.run_graph`): spikes of
    spiking populations, ``v / S`` (NIR volts) of LI populations, through each read-out's map; {name: (T, B, n)}."""
    out = {}
    for r in nol.readouts:
        pop = network.populations[r.source]
        values = (record[r.source]["s_out"].astype(np.float64) if pop.spiking
                  else record[r.source]["v"] / nol.scale[r.source])
        out[r.output] = values @ r.weight.T + r.bias
    return out


def input_levels(x: dict) -> int | None:
    """:data:`INPUT_LEVELS` if the inputs ``x`` (Input name -> values) hold other values than spikes (0 or 1), else
    None; NirError for values outside [0, 1], which an 8-bit graded stream cannot send."""
    values = [np.asarray(v) for v in x.values()]
    if all(np.isin(v, (0, 1)).all() for v in values):
        return None
    for name, v in zip(x, values):
        if not (np.isfinite(v).all() and v.min() >= 0 and v.max() <= 1):
            raise NirError(f"Input {name!r}: Loihi's graded input streams send values in [0, 1], as payloads "
                           f"round({INPUT_LEVELS} x); scale the inputs to [0, 1]")
    return INPUT_LEVELS


def stream_data(network: NirNetwork, x: dict, steps: int, levels: int | None) -> dict:
    """Each ``Input``'s (T, B, n) values as a RingBuffer's (B, n, steps) integer payloads (spikes, or
    ``round(x * levels)``), silent after T."""
    data = {}
    for name, values in x.items():
        values = np.asarray(values, np.float64) * (levels or 1)
        ring = np.zeros((values.shape[1], values.shape[2], steps), np.int64)
        ring[..., :values.shape[0]] = np.round(values).astype(np.int64).transpose(1, 2, 0)
        data[name] = ring
    return data
