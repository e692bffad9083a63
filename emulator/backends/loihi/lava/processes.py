"""The clipped sigma-delta neuron: Lava's ``SigmaDelta`` with a hard-sigmoid activation.

Lava's ``SigmaDelta`` offers ReLU and identity activations; EqProp's hard sigmoid needs
``clip(sigma + bias, 0, act_max)``. :class:`ClippedSigmaDelta` adds ``act_max``, and its
fixed-point model is Lava's ``PySigmaDeltaModelFixed`` with that activation: the same 24-bit
sigma, delta, residue and ``state_exp`` dynamics (from ``AbstractSigmaDeltaModel``; Lava does
not allow subclassing a model of another process, so the variable types are restated).

Lava finds a process's models in the module that defines the process, so both live here.
"""
import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.sdn.models import AbstractSigmaDeltaModel
from lava.proc.sdn.process import ActivationMode, SigmaDelta

INT24 = {"precision": 24}


class ClippedSigmaDelta(SigmaDelta):
    """``SigmaDelta`` whose activation is ``clip(sigma + bias, 0, act_max)``."""

    def __init__(self, *, shape, vth, bias, act_max, state_exp=0, spike_exp=0, **kwargs):
        super().__init__(shape=shape, vth=vth, bias=bias, act_mode=ActivationMode.RELU, cum_error=False,
                         spike_exp=spike_exp, state_exp=state_exp, **kwargs)
        self.act_max = Var(shape=(1,), init=act_max)


@implements(proc=ClippedSigmaDelta, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyClippedSigmaDeltaModelFixed(AbstractSigmaDeltaModel):
    """Lava's fixed-point sigma-delta model (24-bit integers) with the clipped activation.

    ``AbstractSigmaDeltaModel`` supplies the sigma, delta and residue dynamics; the port and
    variable types are those of ``PySigmaDeltaModelFixed``.
    """

    a_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, **INT24)
    s_out = LavaPyType(PyOutPort.VEC_DENSE, np.int32, **INT24)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, **INT24)
    sigma: np.ndarray = LavaPyType(np.ndarray, np.int32, **INT24)
    act: np.ndarray = LavaPyType(np.ndarray, np.int32, **INT24)
    residue: np.ndarray = LavaPyType(np.ndarray, np.int32, **INT24)
    error: np.ndarray = LavaPyType(np.ndarray, np.int32, **INT24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)
    act_max: np.ndarray = LavaPyType(np.ndarray, np.int32, **INT24)
    spike_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=3)
    state_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=3)
    cum_error: np.ndarray = LavaPyType(np.ndarray, bool, precision=1)

    def activation_dynamics(self, sigma_data: np.ndarray) -> np.ndarray:
        return np.clip(sigma_data + self.bias, 0, self.act_max)

    def run_spk(self) -> None:
        fired = self.dynamics(self.a_in.recv())
        self.s_out.send(np.right_shift(fired, self.state_exp))
