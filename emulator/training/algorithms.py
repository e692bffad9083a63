"""The training algorithms a workload chooses with ``training.algorithm``, and the chips that run each.

- ``eqprop`` (:mod:`~emulator.training.eqprop`): free and nudged phases on the chip, the local
  contrastive rule; runs on every chip.
- ``backprop`` (:mod:`~emulator.training.backprop`): the same network feed-forward, trained by
  backpropagation on a chip that runs feed-forward passes; its inferences are feed-forward passes
  there (relaxations anywhere else, with ``evaluate``).
- ``noise_injection``: backprop with Gaussian noise on every unit's drive during training.
- ``implicit`` (:mod:`~emulator.training.implicit`): the free phase on the chip, the implicit
  gradient through a proxy of the chip built from its calibration.
"""
from __future__ import annotations

from emulator.catalog import available
from emulator.chip import get_backend, load_chip
from emulator.errors import ConfigError, EmulatorError

#: algorithm -> the back-end capability it needs (None: relaxing, which every chip does)
NEEDS = {"eqprop": None, "backprop": "feedforward", "noise_injection": "feedforward", "implicit": "calibrate"}
#: what a capability lets a chip do, in words
CAPABILITY = {"feedforward": "runs the network feed-forward and backpropagates through it",
              "calibrate": "reports its programmed network, from which a differentiable proxy of it is built"}
#: algorithms whose network runs feed-forward on the chip it trained on (one pass per inference)
FEEDFORWARD = ("backprop", "noise_injection")


def inference_of(algorithm: str) -> str:
    """How the chip an ``algorithm`` trained on evaluates the network: ``"feedforward"`` or ``"relaxation"``."""
    return "feedforward" if algorithm in FEEDFORWARD else "relaxation"


def runs(algorithm: str, backend) -> bool:
    """Whether a chip of ``backend``'s family can train with ``algorithm``."""
    need = NEEDS[algorithm]
    return need is None or need in backend.capabilities


def chips_that_run(algorithm: str) -> list[str]:
    """The known chips (``emulator chips``) that can train with ``algorithm``."""
    names = []
    for name, path in available("chips").items():
        try:
            if runs(algorithm, get_backend(load_chip(path).backend)):
                names.append(name)
        except EmulatorError:
            continue  # an invalid chip file is reported by `emulator chips`, not here
    return names


def check_runs(algorithm: str, chip, backend, where: str):
    """Raise :class:`ConfigError` if ``chip`` cannot train with ``algorithm``, naming the chips that can;
    ``where`` is the place of the workload's ``training.algorithm``."""
    if runs(algorithm, backend):
        return
    chips = chips_that_run(algorithm)
    able = f"run it on {', '.join(chips)} (--chip {chips[0]})" if chips else "no known chip can run it"
    raise ConfigError(f"{where}: training.algorithm: {algorithm} needs a chip that {CAPABILITY[NEEDS[algorithm]]}; "
                      f"chip {chip.name!r} (back-end family {backend.family!r}) does not: {able}, or train with "
                      f"another algorithm")

