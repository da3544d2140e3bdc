"""One protocol description for prover and verifier: the channel.

A FAC4DNN proof is a long sequence of sub-protocols (commitments, zk sumchecks, Σ-protocols,
Hyrax openings) whose order and shapes depend only on public data.  The circuits describe that
sequence once, as a function of a :class:`Channel`; the prover runs it with a
:class:`ProverChannel` (which computes, commits, proves and writes the proof bytes) and the
verifier with a :class:`VerifierChannel` (which reads the same items from the proof bytes, strictly,
and checks them).  Prover-only work is passed as thunks (``lambda: ...``) that the verifier never
calls, so the verifier needs no witness and the two sides cannot drift apart.

Values flow as :class:`Claimed`: a Pedersen commitment Com(v; ρ) = v·g + ρ·h together with, on the
prover's side only, v and ρ.  Claimed values form a vector space (sums, differences, scaling by
public scalars, public constants) on both sides at once, which is how the circuits derive
commitments homomorphically instead of sending them.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Sequence

from zkdl import hyrax, sigma
from zkdl.codec import Reader
from zkdl.curve import G1, PointVec, msm
from zkdl.errors import VerificationError, ZkdlError
from zkdl.field import R_MODULUS, FrVec
from zkdl.pedersen import PedersenKey
from zkdl.sumcheck import SumcheckSpec, ZkSumcheckProof, verify_zk
from zkdl.transcript import Transcript

P = R_MODULUS


class Claimed:
    """Com(val; blind) -- val and blind are None on the verifier's side.

    On the prover's side a Claimed made by the channel also holds the Pedersen key: sums,
    multiples and combinations of such values then carry only (val, blind), and their commitment
    is computed when first asked for, as Com(val; blind) from the key's (g, h) comb table (one
    comb evaluation where the homomorphic combination costs a scalar multiplication or an MSM per
    operation; the same point).  A Claimed given without the key (e.g. a test's malformed
    commitment) combines homomorphically, as on the verifier's side."""

    __slots__ = ("_com", "val", "blind", "key")

    def __init__(self, com: G1 | None, val: int | None = None, blind: int | None = None, key=None):
        if com is None and (val is None or key is None):
            raise ZkdlError("Claimed: a commitment, or a value, a blind and the key")
        self._com = com
        self.val = val
        self.blind = blind
        self.key = key if val is not None else None

    @property
    def com(self) -> G1:
        if self._com is None:
            self._com = self.key.commit_scalar(self.val, self.blind)
        return self._com

    @property
    def known(self) -> bool:
        return self.val is not None

    @property
    def _lazy(self) -> bool:
        return self.key is not None

    def __add__(self, o: "Claimed") -> "Claimed":
        if self._lazy and o._lazy:
            return Claimed(None, (self.val + o.val) % P, (self.blind + o.blind) % P, self.key)
        if self.known and o.known:
            return Claimed(self.com + o.com, (self.val + o.val) % P, (self.blind + o.blind) % P)
        return Claimed(self.com + o.com)

    def __sub__(self, o: "Claimed") -> "Claimed":
        return self + o * (P - 1)

    def __mul__(self, k: int) -> "Claimed":
        k = int(k) % P
        if self._lazy:
            return Claimed(None, self.val * k % P, self.blind * k % P, self.key)
        if self.known:
            return Claimed(self.com * k, self.val * k % P, self.blind * k % P)
        return Claimed(self.com * k)

    __rmul__ = __mul__

    def inv_scale(self, k: int) -> "Claimed":
        k = int(k) % P
        if k == 0:
            raise ZkdlError("division of a commitment by zero (probability ~2^-254); retry the proof")
        return self * pow(k, -1, P)


def lincomb(items: Sequence[Claimed], coeffs: Sequence[int]) -> Claimed:
    """sum_i coeffs_i * items_i with one MSM (prover: from the values, see Claimed)."""
    cs = [int(c) % P for c in coeffs]
    if items and all(it._lazy for it in items):
        return Claimed(None, sum(c * it.val for c, it in zip(cs, items)) % P,
                       sum(c * it.blind for c, it in zip(cs, items)) % P, items[0].key)
    com = msm(PointVec.from_points([it.com for it in items]), FrVec.from_ints(cs)) if items else G1.identity()
    if items and all(it.known for it in items):
        return Claimed(com, sum(c * it.val for c, it in zip(cs, items)) % P,
                       sum(c * it.blind for c, it in zip(cs, items)) % P)
    return Claimed(com)


class Channel:
    """Common part: key, transcript, public constants."""

    prover: bool

    def __init__(self, key: PedersenKey, transcript: Transcript, derived: bool = False):
        self.key = key
        self.t = transcript
        #: format 7 (window and inference proofs): every zk sumcheck absorbs its claim and leaves
        #: its final equality's sides out of the transcript (docs/protocol.md §4, "Derived
        #: statements"); the one-time proofs (format 3) absorb them as before
        self.derived = derived

    # -- public values
    def const(self, v: int) -> Claimed:
        """A public value as a claimed value with blind 0."""
        v = int(v) % P
        if self.prover:         # the comb table of (g, h): no doubling
            return Claimed(None, v, 0, self.key)
        return Claimed(self.key.g.mul_in_group(v))

    def zero(self) -> Claimed:
        return Claimed(G1.identity(), 0, 0, self.key) if self.prover else Claimed(G1.identity())

    @contextmanager
    def phase(self, name: str):
        """Time a phase (prover only; a no-op for the verifier)."""
        yield

    @contextmanager
    def check(self, label: str):
        """Name the part of the protocol a verification failure comes from (also for the
        Σ-protocol checks the verifier defers to one batch, sigma.batched_checks)."""
        batch = None if self.prover else sigma.current_batch()
        if batch is not None:
            batch.labels.append(label)
        try:
            yield
        except VerificationError as e:
            if self.prover:
                raise
            raise VerificationError(f"{label}: {e}") from None
        finally:
            if batch is not None:
                batch.labels.pop()

    def challenge(self, label: bytes) -> int:
        return self.t.challenge_scalar(label)

    def challenges(self, label: bytes, n: int) -> list[int]:
        return self.t.challenge_scalars(label, n)

    def challenge_nonzero(self, label: bytes) -> int:
        return sigma.challenge_nonzero(self.t, label)


class VerifierChannel(Channel):
    prover = False

    def __init__(self, key: PedersenKey, transcript: Transcript, data: bytes, derived: bool = False):
        super().__init__(key, transcript, derived)
        self.r = Reader(data)

    def send_scalar_com(self, label: bytes, value=None) -> Claimed:
        c = self.r.point(label.decode("ascii", "replace"))
        self.t.append_point(label, c)
        return Claimed(c)

    def send_hyrax(self, label: bytes, num_vars: int, col_vars: int, values=None):
        com = hyrax.HyraxCommitment.read(self.r, num_vars, col_vars)
        com.absorb(self.t, label)
        return com, None

    def sumcheck(self, spec: SumcheckSpec, tables, claim: Claimed,
                 public: dict[int, Callable[[list[int]], int]]) -> tuple[list[int], dict[int, Claimed]]:
        proof = ZkSumcheckProof.read(self.r, spec, public=sorted(public))
        r, coms = verify_zk(self.key, spec, claim.com, proof, self.t, public=public, derived=self.derived)
        return r, {f: Claimed(c) for f, c in coms.items() if f not in public}

    def equal(self, a: Claimed, b: Claimed) -> None:
        sigma.verify_equality(self.key, self.t, a.com, b.com, sigma.EqualityProof.read(self.r))

    def open(self, com: hyrax.HyraxCommitment, secret, point: Sequence[int], claim: Claimed) -> None:
        proof = hyrax.HyraxEvalProof.read(self.r, com.col_vars)
        hyrax.verify_eval(self.key, self.t, com, point, claim.com, proof)

    def done(self) -> None:
        self.r.done()


def require(cond: bool, what: str) -> None:
    if not cond:
        raise VerificationError(what)
