"""Window layouts and the Pedersen keys of training proofs (docs/protocol.md §11, "Stacking").

The padded shapes of every stacked tensor of a window (:class:`WindowLayout`), the size limits a
verifier accepts from untrusted statements, the limb size of the range checks (a public function
of the shapes) and the hash-to-curve keys (label KEY_LABEL, cached in ``_KEYS``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from zkdl.errors import VerificationError
from zkdl.field import FrVec
from zkdl.fixedpoint import FixedPointConfig
from zkdl.mle import ceil_log2
from zkdl.pedersen import PedersenKey

from .tensors import Layout, default_col_vars

KEY_LABEL = "zkdl/train/v1"
MAX_LAYERS = 64
MAX_STEPS = 1 << 16


def _eq_tab(u: Sequence[int]) -> FrVec:
    return FrVec.eq_table(list(u)) if len(u) else FrVec.ones(1)


def _bits(n: int) -> int:
    return ceil_log2(n)


# ============================================================================ layouts
@dataclass(frozen=True)
class WindowLayout:
    """Padded shapes of every stacked tensor of a window of T steps."""

    config: FixedPointConfig
    T: int

    @property
    def L(self) -> int:
        return self.config.num_layers

    def act(self, i: int) -> Layout:
        """Output of layer i + 1 (and its gradients), stacked: (T, B, d_{i+1})."""
        return Layout((self.T, self.config.batch_size, self.config.widths[i + 1]))

    def data(self, d: int) -> Layout:
        return Layout((self.T, self.config.batch_size, d), _bits(d))

    def weight(self, i: int) -> Layout:
        """W_{i+1} without its bias row: (d_i, d_{i+1})."""
        d_in, d_out = self.config.widths[i], self.config.widths[i + 1]
        return Layout((d_in, d_out), default_col_vars(_bits(d_in) + _bits(d_out)))

    def weight_stack(self, i: int) -> Layout:
        w = self.weight(i)
        return Layout((self.T,) + w.valid, w.col_vars)

    def bias(self, i: int) -> Layout:
        d = self.config.widths[i + 1]
        return Layout((d,), _bits(d))

    def bias_stack(self, i: int) -> Layout:
        d = self.config.widths[i + 1]
        return Layout((self.T, d), _bits(d))

    def key_size(self) -> int:
        # the multiplicities of the lookup table (2^b entries, b = limb_bits) are a tensor too
        tables = [default_col_vars(limb_bits(self, infer)) for infer in (False, True)]
        c = max([16 // 2 + 2] + tables + [lay.col_vars for i in range(self.L)
                                 for lay in (self.act(i), self.weight(i), self.bias(i))]
                + [_bits(self.config.widths[0]), _bits(self.config.widths[-1])])
        return 1 << c


#: largest stacked tensor (padded entries) a verifier accepts to work on: a statement is read from
#: untrusted bytes, and its shapes decide the verifier's memory
MAX_TENSOR_VARS = 30


def _check_size(lay: WindowLayout) -> None:
    for i in range(lay.L):
        for what, t in (("activations", lay.act(i)), ("weights", lay.weight_stack(i))):
            if t.num_vars > MAX_TENSOR_VARS:
                raise VerificationError(f"statement: layer {i + 1} {what} of {t.valid} exceed 2^{MAX_TENSOR_VARS} "
                                        "entries; this verifier refuses such shapes")


def limb_bits(lay: WindowLayout, infer: bool = False) -> int:
    """Limb size b of the range checks, a public function of the shapes: the b in 8..20 (even)
    that minimizes the lookup's size: the limbs looked up (top limbs of fewer than b bits twice)
    plus 2·2^b per lookup instance (multiplicities and table leaves; one instance per
    2^LOOKUP_MAX_BITS limbs).  Small windows use 8-bit limbs, the digits window 16, very large
    windows 20 (a 40-bit remainder is then two limbs, not three)."""
    from .rangecheck import LOOKUP_MAX_BITS

    c = lay.config
    s = c.R if infer else c.master_shift
    sizes: list[tuple[int, int]] = []          # (entries, bits) of every range tensor of the window
    for i in range(lay.L):
        n = lay.act(i).size
        sizes.append((n, s))                   # E
        if i < lay.L - 1:
            sizes.append((n, c.Q - 1))         # P
            if not infer:
                sizes += [(n, c.Q), (n, s)]    # G_A, E'
        elif not infer:
            sizes.append((n, c.Q))             # Yhat

    def cost(b: int) -> int:
        limbs = sum(n * (-(-bits // b) + (1 if bits % b else 0)) for n, bits in sizes)
        instances = max(1, -(-limbs // (1 << LOOKUP_MAX_BITS)))
        return limbs + instances * (2 << b)

    return min(range(8, 21, 2), key=lambda b: (cost(b), -b))


_KEYS: dict[int, PedersenKey] = {}


def training_key(n: int) -> PedersenKey:
    """The Pedersen key of training proofs (hash-to-curve generators, label KEY_LABEL)."""
    if n not in _KEYS:
        _KEYS[n] = PedersenKey(KEY_LABEL, n)
    return _KEYS[n]


def model_key(config: FixedPointConfig) -> PedersenKey:
    return training_key(WindowLayout(config, 1).key_size())
