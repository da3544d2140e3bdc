"""Sigma protocols over Pedersen commitments (Hyrax, Wahby et al. S&P 2018, Appendix A), made
non-interactive with the Fiat–Shamir :class:`~zkdl.transcript.Transcript`.

Commitments are taken over a :class:`~zkdl.pedersen.PedersenKey` ``key``:
``Com(v; rho) = v*g + rho*h`` and ``Com(x; rho) = sum_i x_i*G_i + rho*h``.

Protocols (each: a frozen proof dataclass with ``write`` / ``read``, ``prove_*``, ``verify_*``,
a pure ``_check_*`` taking the challenges explicitly, and an HVZK ``simulate_*``):

* :class:`KnowledgeProof` -- knowledge of an opening (v, rho) of C.
* :class:`EqualityProof` -- C1 and C2 commit to the same value (Schnorr on h for C1 - C2).
* :class:`ProductProof` -- Cx, Cy, Cz commit to x, y, z with z = x*y.
* :class:`DotProductProof` -- C_vec = Com(x; rho) over G[:n] and C_y = Com(y; rho_y) with
  y = <x, a> for a public vector a; logarithmic (Bulletproofs-style folding with blinded L/R).
* :class:`LinearDotProductProof` -- the same statement with a linear-size proof (Hyrax's proof of
  a dot product, Appendix A): n + 2 scalars and 2 points, one MSM of n points for the prover where
  the logarithmic one pays n scalar multiplications to fold its generators.

Transcript discipline: every protocol starts with ``t.domain(b"zkdl/<name>")``, absorbs the key
label and its public statement, then absorbs every prover message before drawing the challenge
that follows it.  Challenges are drawn with :func:`challenge_nonzero`: a challenge equal to 0
(probability 2^-254) is redrawn from the transcript (prover and verifier redraw identically), so
inverses of folding challenges always exist and c0 never cancels the commitment to y.

``verify_*`` returns None or raises :class:`~zkdl.errors.VerificationError` naming the failed
check.  It checks that the proof object is well formed (types, canonical scalars, points on the
curve and in the subgroup, lengths matching the statement) before any arithmetic, so no other
exception escapes for a proof object of the right class.  Statement commitments are trusted to be
valid points (read them with :class:`~zkdl.codec.Reader`, which validates).

The ``simulate_*`` functions produce, from the statement and the challenges only (no witness),
transcripts that the ``_check_*`` functions accept and that are distributed exactly like honest
ones: they exist for the zero-knowledge tests and reveal nothing.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from .codec import ProofFormatError, Reader, Writer
from .curve import G1, PointVec, _pending_subgroup, deferred_subgroup_checks, msm, msm_pair
from .errors import EncodingError, ShapeError, VerificationError
from .field import R_MODULUS, FrVec
from .pedersen import PedersenKey, random_scalar
from .transcript import Transcript

#: most folding rounds a dot-product proof may claim (vectors up to 2^40)
MAX_DOT_ROUNDS = 40

__all__ = [
    "KnowledgeProof", "prove_knowledge", "verify_knowledge", "simulate_knowledge",
    "EqualityProof", "prove_equality", "verify_equality", "simulate_equality",
    "ProductProof", "prove_product", "verify_product", "simulate_product",
    "DotProductProof", "prove_dot_product", "verify_dot_product", "simulate_dot_product",
    "LinearDotProductProof", "prove_linear_dot_product", "verify_linear_dot_product",
    "simulate_linear_dot_product",
    "challenge_nonzero", "dot_product_fold_weights", "MAX_DOT_ROUNDS",
]


# ---------------------------------------------------------------------------- helpers
def challenge_nonzero(t: Transcript, label: bytes) -> int:
    """A transcript challenge that is never 0: a zero draw (probability ~2^-254) is followed by
    another draw with the same label (the transcript has absorbed the first output, so the
    second differs).  Prover and verifier behave identically."""
    c = t.challenge_scalar(label)
    while c == 0:
        c = t.challenge_scalar(label)
    return c


def _absorb_key(t: Transcript, key: PedersenKey) -> None:
    t.append_bytes(b"key", key.label.encode("utf-8"))


def _msm_is_zero(points: list[G1], scalars: list[int]) -> bool:
    """Whether sum_i scalars[i] * points[i] is the identity (one MSM)."""
    return msm(PointVec.from_points(points), FrVec.from_ints(scalars)).is_identity()


def _require(cond: bool, proto: str, what: str) -> None:
    if not cond:
        raise VerificationError(f"{proto}: {what}")


# ---------------------------------------------------------------------------- batched checks
class CheckBatch:
    """Deferred group checks sum_i s_i P_i = 0 (every Σ-protocol's final equations), verified
    together by one MSM of sum_j rho_j (sum_i s_ij P_ij) with rho_j uniform in Fr \\ {0}, drawn
    by the verifier (``secrets``) after the proof is fixed: if any check fails, the combination
    vanishes with probability at most 1/(r - 1) (docs/protocol.md §5, §8).  The combined scalars
    are full-size anyway, so full-size rho costs nothing.  On failure the checks are re-run one
    by one, so the error still names the first failing check and where it was (``labels``, the
    protocol parts entered with Channel.check)."""

    def __init__(self):
        self.items: list[tuple[PointVec, FrVec, str, tuple, tuple | None]] = []
        self.labels: list[str] = []

    def add(self, points: PointVec, scalars: FrVec, message: str, shared: tuple | None = None) -> None:
        """Defer sum scalars * points [+ sum s_i base_i for shared = (base, s)] = 0.  Checks on
        the same base vector (a key's generators: every dot-product proof's final check) have
        their base scalars summed, so the batch's MSM holds each generator once."""
        self.items.append((points, scalars, message, tuple(self.labels), shared))

    def finish(self) -> None:
        import secrets

        items, self.items = self.items, []
        if not items:
            return
        rho = [secrets.randbelow(R_MODULUS - 1) + 1 for _ in items]
        bases: dict[int, list] = {}
        for *_, sh in items:
            if sh is not None:
                ent = bases.setdefault(id(sh[0]), [sh[0], 0])
                ent[1] = max(ent[1], len(sh[1]))
        acc = {b: FrVec.zeros(n) for b, (_, n) in bases.items()}
        for (*_, sh), r in zip(items, rho):
            if sh is not None:
                a, n = acc[id(sh[0])], len(sh[1])
                a[:n] = a[:n] + _smul(sh[1], r)
        pts = PointVec.concat([base[:n] for base, n in bases.values()] + [p for p, *_ in items])
        sc = FrVec.concat(list(acc.values()) + [_smul(s, r) for (_, s, *_), r in zip(items, rho)])
        if msm(pts, sc).is_identity():
            return
        for p, s, message, labels, sh in items:
            if sh is not None:
                p, s = PointVec.concat([sh[0][:len(sh[1])], p]), FrVec.concat([sh[1], s])
            if not msm(p, s).is_identity():
                raise VerificationError(": ".join(list(labels) + [message]))
        raise VerificationError("batched Σ-protocol checks: the combination does not vanish")


_LOCAL = threading.local()       # the active batch is per thread (a verifier thread's own)


def _batches() -> list[CheckBatch]:
    if not hasattr(_LOCAL, "batches"):
        _LOCAL.batches = []
    return _LOCAL.batches


class batched_checks:
    """Context manager: defer the Σ-protocol checks made inside it to one MSM at its exit (nested
    uses join the outermost batch)."""

    def __enter__(self) -> CheckBatch | None:
        stack = _batches()
        self.own = not stack
        if self.own:
            stack.append(CheckBatch())
            self.points = deferred_subgroup_checks().__enter__()
        return stack[0]

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.own:
            batch = _batches().pop()
            self.points.__exit__(exc_type, exc, tb)
            if exc_type is None:
                # every point the proof holds in the prime-order subgroup (one parallel check of all
                # of them), then the deferred equations
                try:
                    self.points.check()
                except EncodingError as e:
                    raise ProofFormatError(str(e)) from None
                batch.finish()


class labelled:
    """Context manager: prefix ``text`` to a VerificationError raised inside it, and to the
    checks deferred inside it to the active batch (so a batched failure reads the same)."""

    def __init__(self, text: str):
        self.text = text

    def __enter__(self):
        self.batch = current_batch()
        if self.batch is not None:
            self.batch.labels.append(self.text)

    def __exit__(self, exc_type, exc, tb):
        if self.batch is not None:
            self.batch.labels.pop()
        if exc_type is not None and issubclass(exc_type, VerificationError):
            raise VerificationError(f"{self.text}: {exc}") from None
        return False


def current_batch() -> CheckBatch | None:
    stack = _batches()
    return stack[0] if stack else None


def _require_zero(points, scalars, proto: str, what: str, shared: tuple | None = None) -> None:
    """Require sum_i scalars[i] * points[i] (+ sum_i s_i base_i for shared = (base, s), s no
    longer than base) = identity: now, or deferred to the active batch."""
    if not isinstance(points, PointVec):
        points = PointVec.from_points(points)
    if not isinstance(scalars, FrVec):
        scalars = FrVec.from_ints([int(x) % R_MODULUS for x in scalars])
    batch = current_batch()
    if batch is not None:
        batch.add(points, scalars, f"{proto}: {what}", shared)
        return
    if shared is not None:
        points = PointVec.concat([shared[0][:len(shared[1])], points])
        scalars = FrVec.concat([shared[1], scalars])
    if not msm(points, scalars).is_identity():
        raise VerificationError(f"{proto}: {what}")


def _check_scalars(proto: str, **scalars) -> None:
    for name, z in scalars.items():
        if isinstance(z, bool) or not isinstance(z, int) or not 0 <= z < R_MODULUS:
            raise VerificationError(f"{proto}: {name} is not a canonical scalar")


def _check_points(proto: str, **points) -> None:
    """Every named point is a G1 (or every element of a PointVec) on the curve, in the subgroup."""
    rows = []
    for name, p in points.items():
        if isinstance(p, G1):
            rows.append(p.limbs.reshape(1, 12))
        elif isinstance(p, PointVec):
            rows.append(p.limbs)
        else:
            raise VerificationError(f"{proto}: {name} is not a G1 point")
    try:
        pts = PointVec.concat([PointVec(r) for r in rows])
        pending = _pending_subgroup()
        if pending is None:
            pts.validate()
        else:               # a verifier reading a whole proof: the subgroup part joins its one batch
            pts.validate(subgroup=False)
            pending.append(pts.limbs)
    except (EncodingError, ShapeError) as e:
        raise VerificationError(f"{proto}: invalid point in the proof ({e})") from None


def _smul(v: FrVec, k: int) -> FrVec:
    """v * k elementwise (k any int, reduced mod r)."""
    return v * (int(k) % R_MODULUS)


def _challenges_ok(proto: str, *cs: int) -> None:
    for c in cs:
        if not isinstance(c, int) or not 0 <= c < R_MODULUS:
            raise VerificationError(f"{proto}: challenge is not a canonical scalar")


# ============================================================================ knowledge of opening
@dataclass(frozen=True)
class KnowledgeProof:
    """Proof of knowledge of (v, rho) with C = v*g + rho*h.  Size: 1 point + 2 scalars."""
    alpha: G1
    z1: int
    z2: int

    def write(self, w: Writer) -> None:
        w.point(self.alpha).scalar(self.z1).scalar(self.z2)

    @classmethod
    def read(cls, r: Reader) -> "KnowledgeProof":
        return cls(r.point("knowledge.alpha"), r.scalar("knowledge.z1"), r.scalar("knowledge.z2"))


def _knowledge_statement(t: Transcript, key: PedersenKey, C: G1) -> None:
    t.domain(b"zkdl/knowledge")
    _absorb_key(t, key)
    t.append_point(b"C", C)


def prove_knowledge(key: PedersenKey, t: Transcript, C: G1, v: int, rho: int) -> KnowledgeProof:
    _knowledge_statement(t, key, C)
    a, b = random_scalar(), random_scalar()
    alpha = key.commit_scalar(a, b)
    t.append_point(b"alpha", alpha)
    c = challenge_nonzero(t, b"c")
    return KnowledgeProof(alpha, (a + c * v) % R_MODULUS, (b + c * rho) % R_MODULUS)


def _check_knowledge(key: PedersenKey, C: G1, proof: KnowledgeProof, c: int) -> None:
    """z1 g + z2 h == alpha + c C."""
    _check_knowledge_form(proof)
    _challenges_ok("knowledge", c)
    _require_zero([key.g, key.h, proof.alpha, C], [proof.z1, proof.z2, -1, -c],
                  "knowledge", "z1*g + z2*h != alpha + c*C")


def _check_knowledge_form(proof) -> None:
    _require(isinstance(proof, KnowledgeProof), "knowledge", "not a KnowledgeProof")
    _check_scalars("knowledge", z1=proof.z1, z2=proof.z2)
    _check_points("knowledge", alpha=proof.alpha)


def verify_knowledge(key: PedersenKey, t: Transcript, C: G1, proof: KnowledgeProof) -> None:
    _check_knowledge_form(proof)
    _knowledge_statement(t, key, C)
    t.append_point(b"alpha", proof.alpha)
    c = challenge_nonzero(t, b"c")
    _check_knowledge(key, C, proof, c)


def simulate_knowledge(key: PedersenKey, C: G1, c: int) -> KnowledgeProof:
    """HVZK simulator: random z1, z2 and alpha = z1 g + z2 h - c C."""
    z1, z2 = random_scalar(), random_scalar()
    alpha = msm(PointVec.from_points([key.g, key.h, C]), FrVec.from_ints([z1, z2, -c]))
    return KnowledgeProof(alpha, z1, z2)


# ============================================================================ equality
@dataclass(frozen=True)
class EqualityProof:
    """Proof that C1 and C2 commit to the same value: Schnorr proof of log_h(C1 - C2).
    Size: 1 point + 1 scalar."""
    alpha: G1
    z: int

    def write(self, w: Writer) -> None:
        w.point(self.alpha).scalar(self.z)

    @classmethod
    def read(cls, r: Reader) -> "EqualityProof":
        return cls(r.point("equality.alpha"), r.scalar("equality.z"))


def _equality_statement(t: Transcript, key: PedersenKey, C1, C2) -> None:
    """C1, C2: points, or None / (points, scalars) combinations when the transcript fixes them
    already (not absorbed again: docs/protocol.md §5, "Derived statements")."""
    t.domain(b"zkdl/equality")
    _absorb_key(t, key)
    for label, C in ((b"C1", C1), (b"C2", C2)):
        if isinstance(C, G1):
            t.append_point(label, C)
        else:
            t.append_bytes(label, DERIVED_VEC)


def prove_equality(key: PedersenKey, t: Transcript, C1, C2, rho1: int, rho2: int) -> EqualityProof:
    """C1 = Com(v; rho1), C2 = Com(v; rho2) (the common value v is not needed).  C1 or C2 None:
    the caller's transcript fixes it already (the verifier passes its combination)."""
    _equality_statement(t, key, C1, C2)
    a = random_scalar()
    alpha = key.commit_scalar(0, a)
    t.append_point(b"alpha", alpha)
    c = challenge_nonzero(t, b"c")
    return EqualityProof(alpha, (a + c * (rho1 - rho2)) % R_MODULUS)


def _check_equality_form(proof) -> None:
    _require(isinstance(proof, EqualityProof), "equality", "not an EqualityProof")
    _check_scalars("equality", z=proof.z)
    _check_points("equality", alpha=proof.alpha)


def _check_equality(key: PedersenKey, C1, C2, proof: EqualityProof, c: int) -> None:
    """z h == alpha + c (C1 - C2), C1 and C2 points or (points, scalars) combinations."""
    _check_equality_form(proof)
    _challenges_ok("equality", c)
    p1, s1 = _as_combination(C1, "equality")
    p2, s2 = _as_combination(C2, "equality")
    _require_zero(PointVec.concat([PointVec.from_points([key.h, proof.alpha]), p1, p2]),
                  FrVec.concat([FrVec.from_ints([proof.z, R_MODULUS - 1]), _smul(s1, -c), _smul(s2, c)]),
                  "equality", "z*h != alpha + c*(C1 - C2)")


def verify_equality(key: PedersenKey, t: Transcript, C1, C2, proof: EqualityProof) -> None:
    """C1, C2: points, or -- when the transcript already fixes them -- the combinations
    (points, scalars) they equal, not absorbed and not computed (their terms join the check)."""
    _check_equality_form(proof)
    _as_combination(C1, "equality")
    _as_combination(C2, "equality")
    _equality_statement(t, key, C1, C2)
    t.append_point(b"alpha", proof.alpha)
    c = challenge_nonzero(t, b"c")
    _check_equality(key, C1, C2, proof, c)


def simulate_equality(key: PedersenKey, C1: G1, C2: G1, c: int) -> EqualityProof:
    z = random_scalar()
    alpha = msm(PointVec.from_points([key.h, C1, C2]), FrVec.from_ints([z, -c, c]))
    return EqualityProof(alpha, z)


# ============================================================================ product
@dataclass(frozen=True)
class ProductProof:
    """Proof that Cx, Cy, Cz commit to x, y, x*y.  Size: 3 points + 5 scalars."""
    alpha: G1
    beta: G1
    delta: G1
    z1: int
    z2: int
    z3: int
    z4: int
    z5: int

    def write(self, w: Writer) -> None:
        w.point(self.alpha).point(self.beta).point(self.delta)
        for z in (self.z1, self.z2, self.z3, self.z4, self.z5):
            w.scalar(z)

    @classmethod
    def read(cls, r: Reader) -> "ProductProof":
        pts = [r.point(f"product.{n}") for n in ("alpha", "beta", "delta")]
        zs = [r.scalar(f"product.z{i}") for i in range(1, 6)]
        return cls(*pts, *zs)


def _product_statement(t: Transcript, key: PedersenKey, Cx: G1, Cy: G1, Cz: G1) -> None:
    t.domain(b"zkdl/product")
    _absorb_key(t, key)
    t.append_point(b"Cx", Cx)
    t.append_point(b"Cy", Cy)
    t.append_point(b"Cz", Cz)


def prove_product(key: PedersenKey, t: Transcript, Cx: G1, Cy: G1, Cz: G1,
                  x: int, rho_x: int, y: int, rho_y: int, rho_z: int) -> ProductProof:
    """Cx = Com(x; rho_x), Cy = Com(y; rho_y), Cz = Com(x*y; rho_z).

    z5 = b5 + c (rho_z - x rho_y): delta + c Cz = b1 Cy + c x y g + (b5 + c rho_z) h and
    z1 Cy = b1 Cy + c x y g + c x rho_y h."""
    _product_statement(t, key, Cx, Cy, Cz)
    b1, b2, b3, b4, b5 = (random_scalar() for _ in range(5))
    # alpha = Com(b1; b2), beta = Com(b3; b4), delta = b1 Cy + b5 h = Com(b1 y; b1 rho_y + b5): one
    # comb call for the three (each single commitment pays its own normalization)
    alpha, beta, delta = key.commit_scalars([b1, b3, b1 * y % R_MODULUS], [b2, b4, (b1 * rho_y + b5) % R_MODULUS])
    t.append_point(b"alpha", alpha)
    t.append_point(b"beta", beta)
    t.append_point(b"delta", delta)
    c = challenge_nonzero(t, b"c")
    R = R_MODULUS
    return ProductProof(alpha, beta, delta,
                        (b1 + c * x) % R, (b2 + c * rho_x) % R,
                        (b3 + c * y) % R, (b4 + c * rho_y) % R,
                        (b5 + c * (rho_z - x * rho_y)) % R)


def _check_product_form(proof) -> None:
    _require(isinstance(proof, ProductProof), "product", "not a ProductProof")
    _check_scalars("product", z1=proof.z1, z2=proof.z2, z3=proof.z3, z4=proof.z4, z5=proof.z5)
    _check_points("product", alpha=proof.alpha, beta=proof.beta, delta=proof.delta)


def _check_product(key: PedersenKey, Cx: G1, Cy: G1, Cz: G1, proof: ProductProof, c: int) -> None:
    """alpha + c Cx == z1 g + z2 h;  beta + c Cy == z3 g + z4 h;  delta + c Cz == z1 Cy + z5 h."""
    _check_product_form(proof)
    _challenges_ok("product", c)
    p = proof
    _require_zero([p.alpha, Cx, key.g, key.h], [1, c, -p.z1, -p.z2],
                  "product", "alpha + c*Cx != z1*g + z2*h")
    _require_zero([p.beta, Cy, key.g, key.h], [1, c, -p.z3, -p.z4],
                  "product", "beta + c*Cy != z3*g + z4*h")
    _require_zero([p.delta, Cz, Cy, key.h], [1, c, -p.z1, -p.z5],
                  "product", "delta + c*Cz != z1*Cy + z5*h")


def verify_product(key: PedersenKey, t: Transcript, Cx: G1, Cy: G1, Cz: G1, proof: ProductProof) -> None:
    _check_product_form(proof)
    _product_statement(t, key, Cx, Cy, Cz)
    t.append_point(b"alpha", proof.alpha)
    t.append_point(b"beta", proof.beta)
    t.append_point(b"delta", proof.delta)
    c = challenge_nonzero(t, b"c")
    _check_product(key, Cx, Cy, Cz, proof, c)


def simulate_product(key: PedersenKey, Cx: G1, Cy: G1, Cz: G1, c: int) -> ProductProof:
    z = [random_scalar() for _ in range(5)]
    pts = PointVec.from_points
    alpha = msm(pts([key.g, key.h, Cx]), FrVec.from_ints([z[0], z[1], -c]))
    beta = msm(pts([key.g, key.h, Cy]), FrVec.from_ints([z[2], z[3], -c]))
    delta = msm(pts([Cy, key.h, Cz]), FrVec.from_ints([z[0], z[4], -c]))
    return ProductProof(alpha, beta, delta, *z)


# ============================================================================ dot product
@dataclass(frozen=True)
class DotProductProof:
    """Logarithmic proof that C_y commits to <x, a> where C_vec commits to x (length n = 2^k).

    L, R: k points each (one pair per folding round), A: the final Schnorr commitment,
    z1, z2: the final responses.  Size: 2k + 1 points + 2 scalars (+ two u32 counts on the wire):
    for n = 1 one point and two scalars, for n = 1024 21 points and two scalars (1,080 bytes)."""
    L: PointVec
    R: PointVec
    A: G1
    z1: int
    z2: int

    def write(self, w: Writer) -> None:
        w.points(self.L).points(self.R).point(self.A).scalar(self.z1).scalar(self.z2)

    @classmethod
    def read(cls, r: Reader, rounds: int) -> "DotProductProof":
        """rounds = log2 n, known from the statement."""
        if not 0 <= rounds <= MAX_DOT_ROUNDS:
            raise ShapeError(f"dot-product: {rounds} rounds is out of range")
        L = r.points("dot.L", MAX_DOT_ROUNDS, exact=rounds)
        R = r.points("dot.R", MAX_DOT_ROUNDS, exact=rounds)
        return cls(L, R, r.point("dot.A"), r.scalar("dot.z1"), r.scalar("dot.z2"))


def _log2_exact(n: int) -> int | None:
    if isinstance(n, int) and n >= 1 and n & (n - 1) == 0:
        return n.bit_length() - 1
    return None


#: what the transcript holds instead of C_vec when the caller says C_vec is a public function
#: of the transcript so far (a combination of absorbed commitments with transcript challenges)
DERIVED_VEC = b"derived from the transcript"


def _dot_statement(t: Transcript, key: PedersenKey, C_vec, C_y: G1, a: FrVec,
                   domain: bytes = b"zkdl/dot-product") -> None:
    """C_vec: a point, or None / a (points, scalars) combination when it is fixed by the transcript
    already (not absorbed again: docs/protocol.md §5, "Derived statements").  ``domain``: the
    logarithmic proof's, or the linear one's (b"zkdl/linear-dot-product")."""
    t.domain(domain)
    _absorb_key(t, key)
    t.append_u64(b"n", len(a))
    if isinstance(C_vec, G1):
        t.append_point(b"C_vec", C_vec)
    else:
        t.append_bytes(b"C_vec", DERIVED_VEC)
    t.append_point(b"C_y", C_y)
    t.append_scalars(b"a", a)


def dot_product_fold_weights(us: list[int], us_inv: FrVec | None = None) -> FrVec:
    """s with s_i = prod_j u_j^(+1 if bit j of i is set else -1), bit j counted from the most
    significant (round 1 splits on the top bit).  After folding G' = u^-1 G_L + u G_R in every
    round, G_final = sum_i s_i G_i; the public vector folds the same way (a_final = <a, s>)."""
    k = len(us)
    if us_inv is None:
        us_inv = FrVec.from_ints(us).inverse()
    s = FrVec.ones(1)
    for j in reversed(range(k)):            # the last concatenated variable becomes the top bit
        s = FrVec.concat([_smul(s, us_inv[j]), _smul(s, us[j])])
    return s


def prove_dot_product(key: PedersenKey, t: Transcript, C_vec: G1, C_y: G1, a: FrVec,
                      x: FrVec, rho: int, rho_y: int) -> DotProductProof:
    """C_vec = Com(x; rho) over key.G[:n], C_y = Com(<x, a>; rho_y); n = len(a) a power of two.
    C_vec None: a commitment the transcript already fixes (see _dot_statement); the verifier is
    then given it as a (points, scalars) combination."""
    if not isinstance(a, FrVec):
        raise ShapeError("dot-product: the public vector must be an FrVec")
    n = len(a)
    k = _log2_exact(n)
    if k is None or k > MAX_DOT_ROUNDS:
        raise ShapeError(f"dot-product: length {n} is not a power of two (up to 2^{MAX_DOT_ROUNDS})")
    if not isinstance(x, FrVec) or len(x) != n:
        raise ShapeError("dot-product: x must be an FrVec of the same length as a")
    if n > key.n:
        raise ShapeError(f"dot-product: length {n} exceeds the key size {key.n}")
    _dot_statement(t, key, C_vec, C_y, a)
    c0 = challenge_nonzero(t, b"c0")
    R = R_MODULUS
    tau = (rho + c0 * rho_y) % R
    # The true folded generators are f * Gc: folding Gc' = Gc_L + u^2 Gc_R, f' = f u^-1 costs one
    # scalar multiplication per point of the right half only.
    Gc = key.G[:n]
    f = 1
    gh = PointVec.from_points([key.g, key.h])
    Ls, Rs = [], []
    while len(x) > 1:
        m = len(x) // 2
        xL, xR, aL, aR = x[:m], x[m:], a[:m], a[m:]
        GL, GR = Gc[:m], Gc[m:]
        sL, sR = random_scalar(), random_scalar()
        cL, cR = xL.dot(aR), xR.dot(aL)
        L, Rp = msm_pair(PointVec.concat([GR, gh]), FrVec.concat([_smul(xL, f), FrVec.from_ints([cL * c0, sL])]),
                         PointVec.concat([GL, gh]), FrVec.concat([_smul(xR, f), FrVec.from_ints([cR * c0, sR])]))
        t.append_point(b"L", L)
        t.append_point(b"R", Rp)
        u = challenge_nonzero(t, b"u")
        ui = pow(u, -1, R)
        x = _smul(xL, u) + _smul(xR, ui)
        a = _smul(aL, ui) + _smul(aR, u)
        u2 = u * u % R
        Gc = (GL.to_jacobian() + GR.to_jacobian().scale(FrVec.full(m, u2), in_group=True)).to_affine()
        f = f * ui % R
        tau = (u2 * sL + tau + ui * ui * sR) % R
        Ls.append(L)
        Rs.append(Rp)
    x0, a0 = x[0], a[0]
    # Q = f*Gc[0] + a0*c0*g;  A = d*Q + s*h
    d, s = random_scalar(), random_scalar()
    A = msm(PointVec.concat([Gc, gh]), FrVec.from_ints([d * f, d * a0 % R * c0, s]))
    t.append_point(b"A", A)
    c = challenge_nonzero(t, b"c")
    return DotProductProof(PointVec.from_points(Ls), PointVec.from_points(Rs), A,
                           (d + c * x0) % R, (s + c * tau) % R)


def _dot_form(proof, rounds: int) -> None:
    _require(isinstance(proof, DotProductProof), "dot-product", "not a DotProductProof")
    _require(isinstance(proof.L, PointVec) and isinstance(proof.R, PointVec),
             "dot-product", "L and R must be PointVecs")
    _require(len(proof.L) == rounds and len(proof.R) == rounds, "dot-product",
             f"proof has {len(proof.L)}/{len(proof.R)} L/R points, statement needs {rounds}")
    _check_scalars("dot-product", z1=proof.z1, z2=proof.z2)
    _check_points("dot-product", L=proof.L, R=proof.R, A=proof.A)


def _dot_rounds(key: PedersenKey, a) -> int:
    if not isinstance(a, FrVec):
        raise VerificationError("dot-product: the public vector must be an FrVec")
    k = _log2_exact(len(a))
    if k is None or k > MAX_DOT_ROUNDS:
        raise VerificationError(f"dot-product: public vector length {len(a)} is not a power of two")
    if len(a) > key.n:
        raise VerificationError(f"dot-product: length {len(a)} exceeds the key size {key.n}")
    return k


def _check_dot_product(key: PedersenKey, C_vec: G1, C_y: G1, a: FrVec, proof: DotProductProof,
                       c0: int, us: list[int], c: int) -> None:
    """The verifier's check given the challenges, with one MSM of size n + 2k + 5:

        z1 (G_final + a_final c0 g) + z2 h == A + c (C_vec + c0 C_y + sum_j u_j^2 L_j + u_j^-2 R_j)

    with G_final = sum_i s_i G_i, a_final = <a, s>, s = dot_product_fold_weights(us)."""
    k = _dot_rounds(key, a)
    _dot_form(proof, k)
    _require(isinstance(us, (list, tuple)) and len(us) == k, "dot-product", "wrong number of challenges")
    _challenges_ok("dot-product", c0, c, *us)
    _require(c0 != 0 and all(u != 0 for u in us), "dot-product", "zero challenge")
    R = R_MODULUS
    us_inv = FrVec.from_ints(us).inverse()
    s = dot_product_fold_weights(list(us), us_inv)
    a_final = a.dot(s)
    z1, z2 = proof.z1, proof.z2
    u2 = FrVec.from_ints(us).square()
    ui2 = us_inv.square()
    # C_vec = sum_i w_i V_i (a point: one term): a derived one is never computed on its own
    vp, vw = _as_combination(C_vec, "dot-product")
    points = PointVec.concat([PointVec.from_points([key.g, key.h, proof.A, C_y]), vp, proof.L, proof.R])
    scalars = FrVec.concat([FrVec.from_ints([z1 * a_final % R * c0, z2, -1, -c * c0]), _smul(vw, R - c),
                            _smul(u2, R - c), _smul(ui2, R - c)])
    _require_zero(points, scalars, "dot-product", "z1*Q + z2*h != A + c*P_final (final Schnorr check)",
                  shared=(key.G, _smul(s, z1)))


def _as_combination(C, proto: str) -> tuple[PointVec, FrVec]:
    """A point as the one-term combination; a (points, scalars) combination as it is."""
    if isinstance(C, G1):
        return PointVec.from_points([C]), FrVec.ones(1)
    ok = isinstance(C, tuple) and len(C) == 2 and isinstance(C[0], PointVec) \
        and isinstance(C[1], FrVec) and len(C[0]) == len(C[1])
    _require(ok, proto, "a commitment must be a point or a (points, scalars) combination of equal lengths")
    return C


def verify_dot_product(key: PedersenKey, t: Transcript, C_vec, C_y: G1, a: FrVec,
                       proof: DotProductProof) -> None:
    """C_vec: the commitment to x, or -- when the transcript already fixes it -- the combination
    (points, scalars) it equals, which is then not absorbed and not computed on its own (its terms
    join the final check's MSM, batched with the proof's other checks)."""
    k = _dot_rounds(key, a)
    _dot_form(proof, k)
    _as_combination(C_vec, "dot-product")
    _dot_statement(t, key, C_vec, C_y, a)
    c0 = challenge_nonzero(t, b"c0")
    us = []
    for j in range(k):
        t.append_point(b"L", proof.L[j])
        t.append_point(b"R", proof.R[j])
        us.append(challenge_nonzero(t, b"u"))
    t.append_point(b"A", proof.A)
    c = challenge_nonzero(t, b"c")
    _check_dot_product(key, C_vec, C_y, a, proof, c0, us, c)


def simulate_dot_product(key: PedersenKey, C_vec: G1, C_y: G1, a: FrVec,
                         c0: int, us: list[int], c: int) -> DotProductProof:
    """HVZK simulator: L_j, R_j uniform (random multiples of h; honest ones are uniform thanks to
    the blinds sL, sR), z1, z2 uniform, and A solved from the final check."""
    k = len(us)
    if len(a) != 1 << k:
        raise ShapeError("simulate_dot_product: need log2(len(a)) challenges")
    R = R_MODULUS
    hs = PointVec.from_points([key.h] * k).to_jacobian() if k else None
    L = hs.scale(FrVec.random(k)).to_affine() if k else PointVec.identity(0)
    Rv = hs.scale(FrVec.random(k)).to_affine() if k else PointVec.identity(0)
    us_inv = FrVec.from_ints(us).inverse()
    s = dot_product_fold_weights(list(us), us_inv)
    a_final = a.dot(s)
    z1, z2 = random_scalar(), random_scalar()
    u2 = FrVec.from_ints(us).square()
    ui2 = us_inv.square()
    # A = z1*G_final + z1*a_final*c0*g + z2*h - c*(C_vec + c0 C_y + sum u^2 L + u^-2 R)
    points = PointVec.concat([key.G[:len(a)], PointVec.from_points([key.g, key.h, C_vec, C_y]), L, Rv])
    scalars = FrVec.concat([_smul(s, z1), FrVec.from_ints([z1 * a_final % R * c0, z2, -c, -c * c0]),
                            _smul(u2, R - c), _smul(ui2, R - c)])
    return DotProductProof(L, Rv, msm(points, scalars), z1, z2)


# ============================================================================ linear dot product
@dataclass(frozen=True)
class LinearDotProductProof:
    """Linear-size proof that C_y commits to <x, a> where C_vec commits to x (length n):

        prover: delta = Com(d; r_delta) over G[:n], beta = Com(<a, d>; r_beta), d uniform
        verifier: challenge c
        prover: z = c x + d, z_delta = c rho + r_delta, z_beta = c rho_y + r_beta
        check: c C_vec + delta == sum_i z_i G_i + z_delta h  and  c C_y + beta == <z, a> g + z_beta h

    Special sound (two accepting transcripts with c != c' give x = (z - z') / (c - c') and the
    openings), honest-verifier zero knowledge (z, z_delta, z_beta are uniform given c; the
    simulator solves delta and beta).  Size: 2 points + n + 2 scalars (+ one u32 count)."""
    delta: G1
    beta: G1
    z: FrVec
    z_delta: int
    z_beta: int

    def write(self, w: Writer) -> None:
        w.point(self.delta).point(self.beta).scalars(self.z).scalar(self.z_delta).scalar(self.z_beta)

    @classmethod
    def read(cls, r: Reader, n: int) -> "LinearDotProductProof":
        """n = len(a), known from the statement."""
        if not 1 <= n <= 1 << MAX_DOT_ROUNDS:
            raise ShapeError(f"linear dot-product: length {n} is out of range")
        delta, beta = r.point("ldot.delta"), r.point("ldot.beta")
        z = r.scalar_vec("ldot.z", n, exact=n)
        return cls(delta, beta, z, r.scalar("ldot.z_delta"), r.scalar("ldot.z_beta"))


def _ldot_length(key: PedersenKey, a, exc) -> int:
    if not isinstance(a, FrVec):
        raise exc("linear dot-product: the public vector must be an FrVec")
    if not 1 <= len(a) <= key.n:
        raise exc(f"linear dot-product: length {len(a)} is not in [1, {key.n}] (the key size)")
    return len(a)


def prove_linear_dot_product(key: PedersenKey, t: Transcript, C_vec, C_y: G1, a: FrVec,
                             x: FrVec, rho: int, rho_y: int) -> LinearDotProductProof:
    """C_vec = Com(x; rho) over key.G[:n], C_y = Com(<x, a>; rho_y).  C_vec None: a commitment
    the transcript already fixes (as for prove_dot_product)."""
    n = _ldot_length(key, a, ShapeError)
    if not isinstance(x, FrVec) or len(x) != n:
        raise ShapeError("linear dot-product: x must be an FrVec of the same length as a")
    _dot_statement(t, key, C_vec, C_y, a, b"zkdl/linear-dot-product")
    R = R_MODULUS
    d = FrVec.random(n)
    r_delta, r_beta = random_scalar(), random_scalar()
    # Com(d; r_delta) in two halves, one MSM per thread (under 4096 points an MSM runs on one)
    m = n // 2
    lo, hi = msm_pair(PointVec.concat([key.G[:m], PointVec.from_points([key.h])]), FrVec.concat([d[:m], FrVec.from_ints([r_delta])]),
                      key.G[m:n], d[m:])
    delta = lo + hi
    beta = key.commit_scalar(a.dot(d), r_beta)
    t.append_point(b"delta", delta)
    t.append_point(b"beta", beta)
    c = challenge_nonzero(t, b"c")
    z = _smul(x, c) + d
    proof = LinearDotProductProof(delta, beta, z, (c * rho + r_delta) % R, (c * rho_y + r_beta) % R)
    t.append_scalars(b"z", z)
    return proof


def _ldot_form(proof, n: int) -> None:
    _require(isinstance(proof, LinearDotProductProof), "linear dot-product", "not a LinearDotProductProof")
    _require(isinstance(proof.z, FrVec) and len(proof.z) == n, "linear dot-product",
             f"z must be an FrVec of {n} scalars")
    _check_scalars("linear dot-product", z_delta=proof.z_delta, z_beta=proof.z_beta)
    _check_points("linear dot-product", delta=proof.delta, beta=proof.beta)


def _check_linear_dot_product(key: PedersenKey, C_vec, C_y: G1, a: FrVec, proof: LinearDotProductProof,
                              c: int) -> None:
    """The verifier's two checks given the challenge (each an MSM; batched with the proof's
    others inside sigma.batched_checks)."""
    n = _ldot_length(key, a, VerificationError)
    _ldot_form(proof, n)
    _challenges_ok("linear dot-product", c)
    _require(c != 0, "linear dot-product", "zero challenge")
    R = R_MODULUS
    vp, vw = _as_combination(C_vec, "linear dot-product")
    points = PointVec.concat([PointVec.from_points([proof.delta, key.h]), vp])
    scalars = FrVec.concat([FrVec.from_ints([1, R - proof.z_delta]), _smul(vw, c)])
    _require_zero(points, scalars, "linear dot-product", "c*C_vec + delta != Com(z; z_delta)",
                  shared=(key.G, _smul(proof.z, R - 1)))
    _require_zero(PointVec.from_points([C_y, proof.beta, key.g, key.h]),
                  FrVec.from_ints([c, 1, R - proof.z.dot(a), R - proof.z_beta]),
                  "linear dot-product", "c*C_y + beta != Com(<z, a>; z_beta)")


def verify_linear_dot_product(key: PedersenKey, t: Transcript, C_vec, C_y: G1, a: FrVec,
                              proof: LinearDotProductProof) -> None:
    """C_vec: the commitment to x, or the (points, scalars) combination it equals when the
    transcript already fixes it (as for verify_dot_product)."""
    n = _ldot_length(key, a, VerificationError)
    _ldot_form(proof, n)
    _as_combination(C_vec, "linear dot-product")
    _dot_statement(t, key, C_vec, C_y, a, b"zkdl/linear-dot-product")
    t.append_point(b"delta", proof.delta)
    t.append_point(b"beta", proof.beta)
    c = challenge_nonzero(t, b"c")
    t.append_scalars(b"z", proof.z)
    _check_linear_dot_product(key, C_vec, C_y, a, proof, c)


def simulate_linear_dot_product(key: PedersenKey, C_vec: G1, C_y: G1, a: FrVec, c: int) -> LinearDotProductProof:
    """HVZK simulator: z, z_delta, z_beta uniform; delta and beta solved from the checks."""
    n = len(a)
    R = R_MODULUS
    z = FrVec.random(n)
    zd, zb = random_scalar(), random_scalar()
    delta = msm(PointVec.concat([key.G[:n], PointVec.from_points([key.h, C_vec])]),
                FrVec.concat([z, FrVec.from_ints([zd, R - c])]))
    beta = msm(PointVec.from_points([key.g, key.h, C_y]), FrVec.from_ints([z.dot(a), zb, R - c]))
    return LinearDotProductProof(delta, beta, z, zd, zb)
