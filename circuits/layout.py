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

from .tensors import Layout, StackedLayout, default_col_vars

KEY_LABEL = "zkdl/train/v1"
MAX_LAYERS = 64
MAX_STEPS = 1 << 16


def _eq_tab(u: Sequence[int]) -> FrVec:
    return FrVec.eq_table(list(u)) if len(u) else FrVec.ones(1)


def _bits(n: int) -> int:
    return ceil_log2(n)


# ============================================================================ layouts
#: Hyrax split of a weight matrix (model commitments, a window's start and end master weights):
#: at most 2^WEIGHT_MAX_ROW_VARS rows (their commitments travel in every window statement: 12 kB
#: per layer at most) and at least 2^WEIGHT_MIN_COL_VARS columns (or the whole matrix), otherwise
#: as square as possible.  An opening costs the prover one group exponentiation per column (the
#: inner-product argument folds its generators), the verifier one MSM over the rows and one over
#: the columns: square is cheapest for both, and 784 x 128 weights open over 2^9 columns where the
#: activations' split (default_col_vars, two variables past half) would take 2^11.
WEIGHT_MAX_ROW_VARS = 8
WEIGHT_MIN_COL_VARS = 8


def weight_col_vars(num_vars: int) -> int:
    return min(num_vars, max((num_vars + 1) // 2, num_vars - WEIGHT_MAX_ROW_VARS, WEIGHT_MIN_COL_VARS))


@dataclass(frozen=True)
class WindowLayout:
    """Padded shapes of every stacked tensor of a window of T steps."""

    config: FixedPointConfig
    T: int

    @property
    def L(self) -> int:
        return self.config.num_layers

    # -- the layer stack (FAC4DNN): every per-layer tensor of the window on one leading layer axis
    @property
    def nl(self) -> int:
        """Variables of the layer axis: 2^nl >= L slots."""
        return _bits(self.L)

    @property
    def ni(self) -> int:
        """Variables of the input-width axis: 2^ni >= d_0 .. d_(L-1)."""
        return max(_bits(d) for d in self.config.widths[:-1])

    @property
    def no(self) -> int:
        """Variables of the output-width axis: 2^no >= d_1 .. d_L."""
        return max(_bits(d) for d in self.config.widths[1:])

    def _stack(self, widths, nd: int) -> StackedLayout:
        T, B = self.T, self.config.batch_size
        return StackedLayout((len(widths), T, B, max(widths)), None, tuple(widths),
                             (_bits(len(widths)), _bits(T), _bits(B), nd))

    def inp(self) -> StackedLayout:
        """The inputs of layers 1..L (X, then the hidden activations), stacked: (L, T, B, d_l)."""
        return self._stack(self.config.widths[:-1], self.ni)

    def out(self, n: int | None = None) -> StackedLayout:
        """The outputs of layers 1..n, stacked on the output-width axis: (n, T, B, d_(l+1)) on
        2^ceil(log2 n) layer slots.  n = L: G_Z (derived, never committed); n = L - 1 (the
        hidden layers): every committed stack -- S, P, E, G_A, E' -- and A."""
        n = self.L if n is None else n
        return self._stack(self.config.widths[1:n + 1], self.no)

    def yhat(self) -> Layout:
        """The last layer's outputs (Yhat = its Z', and its forward remainder), (T, B, d_L): tensors
        of their own, so the committed stacks hold the hidden layers only."""
        return Layout((self.T, self.config.batch_size, self.config.widths[-1]))

    def act(self, i: int) -> Layout:
        """Output of layer i + 1 on its own, (T, B, d_{i+1}) (per-layer sizes; the proof stacks them)."""
        return Layout((self.T, self.config.batch_size, self.config.widths[i + 1]))

    def data(self, d: int) -> Layout:
        return Layout((self.T, self.config.batch_size, d), _bits(d))

    def weight(self, i: int) -> Layout:
        """W_{i+1} without its bias row: (d_i, d_{i+1}), committed nearly square (weight_col_vars)."""
        d_in, d_out = self.config.widths[i], self.config.widths[i + 1]
        return Layout((d_in, d_out), weight_col_vars(_bits(d_in) + _bits(d_out)))

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
        tables = [default_col_vars(table_bits(self, infer)) for infer in (False, True)]
        stacks = ([self.out(self.L - 1).col_vars] if self.L > 1 else []) + [self.yhat().col_vars]
        c = max([16 // 2 + 2] + tables + stacks + [lay.col_vars for i in range(self.L)
                                                   for lay in (self.weight(i), self.bias(i))]
                + [_bits(self.config.widths[0]), _bits(self.config.widths[-1])])
        return 1 << c


#: largest stacked tensor (padded entries) a verifier accepts to work on: a statement is read from
#: untrusted bytes, and its shapes decide the verifier's memory
MAX_TENSOR_VARS = 30


def _check_size(lay: WindowLayout) -> None:
    for what, t in (("stacked activations", lay.out()), ("stacked inputs", lay.inp())):
        if t.num_vars > MAX_TENSOR_VARS:
            raise VerificationError(f"statement: {what} of {lay.L} layers x {t.valid[1:]} exceed "
                                    f"2^{MAX_TENSOR_VARS} entries; this verifier refuses such shapes")
    for i in range(lay.L):
        t = lay.weight_stack(i)
        if t.num_vars > MAX_TENSOR_VARS:
            raise VerificationError(f"statement: layer {i + 1} weights of {t.valid} exceed 2^{MAX_TENSOR_VARS} "
                                    "entries; this verifier refuses such shapes")


def limb_bits(lay: WindowLayout, infer: bool = False) -> int:
    """Limb size b of the range checks, a public function of the shapes: the b in 8..20 (even)
    that minimizes the lookup's size: the limbs looked up (top limbs of fewer than b bits twice)
    plus 2·2^b per lookup instance (multiplicities and table leaves; one instance per
    2^LOOKUP_MAX_BITS limbs).  Small windows use 8-bit limbs, the digits and headline windows 16."""
    return _limb_plan(lay, infer)[0]


def lookup_tagged(lay: WindowLayout, infer: bool = False) -> bool:
    """Whether the range check looks each top limb of fewer than b bits up once, in a tagged table
    of 2^(b+1) entries (circuits/rangecheck.py, docs/protocol.md §10), instead of twice in a plain
    one: when that makes the lookup smaller -- its instances' leaves, each instance padded to a
    power of two, plus two table entries per instance.  Fewer lookups pay only when they save a
    padded instance: the headline window (three instances of 2^25 instead of four) is tagged; the
    digits, demo and inference windows (one instance either way, a doubled table) are not."""
    return _limb_plan(lay, infer)[1]


def table_bits(lay: WindowLayout, infer: bool = False) -> int:
    """Variables of the lookup table (and of its multiplicities): limb_bits, plus one when tagged."""
    b, tagged = _limb_plan(lay, infer)
    return b + 1 if tagged else b


def _limb_plan(lay: WindowLayout, infer: bool) -> tuple[int, bool]:
    from .rangecheck import LOOKUP_MAX_BITS, instance_sizes

    c = lay.config
    s = c.R if infer else c.master_shift
    sizes: list[tuple[int, int]] = [(lay.yhat().size, s)]  # (entries, bits) of every range tensor: E_L
    if lay.L > 1:
        n = lay.out(lay.L - 1).size
        sizes += [(n, s), (n, c.Q - 1)]        # E, P
        if not infer:
            sizes += [(n, c.Q), (n, s)]        # G_A, E'
    if not infer:
        sizes.append((lay.yhat().size, c.Q))   # Yhat

    def cost(b: int) -> int:
        limbs = sum(n * (-(-bits // b) + (1 if bits % b else 0)) for n, bits in sizes)
        instances = max(1, -(-limbs // (1 << LOOKUP_MAX_BITS)))
        return limbs + instances * (2 << b)

    def padded(b: int, tagged: bool) -> int:
        blocks = [n for n, bits in sizes for _ in range(-(-bits // b) + (1 if bits % b and not tagged else 0))]
        inst = instance_sizes(blocks, LOOKUP_MAX_BITS)
        return sum(1 << max(0, (x - 1).bit_length()) for x in inst) + len(inst) * (2 << (b + tagged))

    b = min(range(8, 21, 2), key=lambda b: (cost(b), -b))
    tagged = any(bits % b for _, bits in sizes) and padded(b, True) < padded(b, False)
    return b, tagged


_KEYS: dict[int, PedersenKey] = {}


def training_key(n: int) -> PedersenKey:
    """The Pedersen key of training proofs (hash-to-curve generators, label KEY_LABEL)."""
    if n not in _KEYS:
        _KEYS[n] = PedersenKey(KEY_LABEL, n)
    return _KEYS[n]


def model_key(config: FixedPointConfig) -> PedersenKey:
    return training_key(WindowLayout(config, 1).key_size())
