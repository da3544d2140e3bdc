"""Sumcheck over multilinear factors, plain and zero-knowledge.

An instance (:class:`SumcheckSpec`) claims

    S = sum_{x in {0,1}^k}  [eq(tau, x)]  *  sum_t alpha_t * prod_{f in F_t} f(x)

with k variables, a list of multilinear factors (tables of length 2^k), terms with public
coefficients alpha_t and up to 4 factors each (a factor may repeat), and an optional eq factor
with public point tau shared by all terms.  A term may also use a combined factor, a public
linear combination of factors (SumcheckSpec.combos): in the zero-knowledge version its
commitment is derived from theirs, so a factored term needs fewer product proofs.  Several
claims are batched by listing their terms with random coefficients.  Variables are bound x_1
first (the most significant index bit).

Round j sends the polynomial t_j of degree D = max |F_t| (at most 4) where
  with eq:    s_j(X) = E_<j * eq(tau_j, X) * t_j(X),   E_<j = prod_{i<j} eq(tau_i, r_i)
  without:    s_j(X) = t_j(X)
and s_j(0) + s_j(1) must equal the running claim (Gruen's factoring of eq keeps the degree of the
message at D even with the eq factor).  In coefficients c_0..c_D of t_j the round check is linear:
  with eq:    claim = E_<j * (c_0 + tau_j * (c_1 + ... + c_D))
  without:    claim = 2 c_0 + c_1 + ... + c_D
and the next claim is E_<=j * t_j(r_j) (resp. t_j(r_j)).  The final claim must equal
eq(tau, r) * sum_t alpha_t prod f(r).

The zero-knowledge version (Hyrax, Wahby et al. 2018) sends Pedersen commitments
Com(c_k; rho_k) instead of the coefficients, for k = 1..D only.  The prover draws rho_1..rho_D at
random and solves the round's linear relation for rho_0; the verifier *derives* C_0 from the same
relation, C_0 = (Com(claim) - a_1 C_1 - ... - a_D C_D) / a_0, so the committed round polynomial
satisfies it by construction (the prover is bound to c_1..c_D before r_j, and c_0 is then
determined: the same soundness as sending C_0 and checking the relation), and derives the next
claim's commitment sum_k w r^k C_k with one MSM; nothing but the commitments is revealed.  At the end the prover
commits to each factor's value at r and shows the final relation with Σ-protocols (products and
one equality); the factor commitments are the output, for Hyrax openings or further sumchecks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from .codec import Reader, Writer
from .errors import ShapeError, VerificationError, ZkdlError
from .field import R_MODULUS, FrVec, product_evals
from .transcript import Transcript

MAX_VARS = 40
MAX_DEGREE = 4

# ---------------------------------------------------------------------------- the instance


@dataclass(frozen=True)
class Term:
    coeff: int
    factors: tuple[int, ...]


@dataclass(frozen=True)
class SumcheckSpec:
    """Public description of a sumcheck instance (see module docstring)."""

    num_vars: int
    num_factors: int
    terms: tuple[Term, ...]
    eq_point: tuple[int, ...] | None = None
    #: combined factors: combos[i] = ((f, c), ...) is the factor num_factors + i = sum c f over
    #: factors f < num_factors (private ones in the zk sumcheck).  A term may use it like any
    #: factor; its value at r is the same combination of the factors' values, and in the zk
    #: sumcheck its commitment the same combination of theirs (derived, not sent): a term
    #: qR (pL + lam qL) takes one product proof where qR pL + lam qL qR take two.
    combos: tuple[tuple[tuple[int, int], ...], ...] = ()

    def __post_init__(self):
        if not 0 <= self.num_vars <= MAX_VARS:
            raise ShapeError(f"sumcheck: {self.num_vars} variables (at most {MAX_VARS})")
        if not self.terms:
            raise ShapeError("sumcheck: no terms")
        for t in self.terms:
            if not 1 <= len(t.factors) <= MAX_DEGREE:
                raise ShapeError(f"sumcheck: a term has {len(t.factors)} factors (1..{MAX_DEGREE})")
            if any(not 0 <= f < self.num_factors + len(self.combos) for f in t.factors):
                raise ShapeError("sumcheck: term refers to a missing factor")
        for combo in self.combos:
            if not combo or any(not 0 <= f < self.num_factors for f, _ in combo):
                raise ShapeError("sumcheck: a combined factor must combine factors of the instance")
        if self.eq_point is not None and len(self.eq_point) != self.num_vars:
            raise ShapeError("sumcheck: eq point has the wrong number of variables")

    @staticmethod
    def product(num_vars: int, num_factors: int, eq_point: Sequence[int] | None = None) -> "SumcheckSpec":
        """The single term (eq *) f_0 * f_1 * ... ."""
        return SumcheckSpec(num_vars, num_factors, (Term(1, tuple(range(num_factors))),),
                            None if eq_point is None else tuple(int(x) % R_MODULUS for x in eq_point))

    @property
    def degree(self) -> int:
        return max(len(t.factors) for t in self.terms)

    def absorb(self, t: Transcript) -> None:
        w = Writer().u32(self.num_vars).u32(self.num_factors).u32(len(self.terms))
        for term in self.terms:
            w.scalar(term.coeff).u32(len(term.factors))
            for f in term.factors:
                w.u32(f)
        w.u32(0 if self.eq_point is None else 1)
        if self.eq_point is not None:
            for x in self.eq_point:
                w.scalar(x)
        if self.combos:                 # (instances without combined factors absorb as before)
            w.u32(len(self.combos))
            for combo in self.combos:
                w.u32(len(combo))
                for f, c in combo:
                    w.u32(f).scalar(c)
        t.append_bytes(b"sumcheck-spec", w.getvalue())

    def with_combos(self, values: Sequence[int]) -> list[int]:
        """Values of the factors (in factor order) followed by those of the combined factors."""
        out = [int(v) % R_MODULUS for v in values]
        for combo in self.combos:
            out.append(sum(c * out[f] for f, c in combo) % R_MODULUS)
        return out

    def round_weights(self, j: int, e_prev: int) -> list[int]:
        """a_0..a_D with claim = sum a_k c_k in round j."""
        D = self.degree
        if self.eq_point is None:
            return [2] + [1] * D
        tau = self.eq_point[j]
        return [e_prev] + [e_prev * tau % R_MODULUS] * D

    def next_weight(self, j: int, e_prev: int, r: int) -> int:
        """E_<=j given E_<j and r_j (1 without eq)."""
        if self.eq_point is None:
            return 1
        tau = self.eq_point[j]
        return e_prev * ((tau * r + (1 - tau) * (1 - r)) % R_MODULUS) % R_MODULUS

    def final_value(self, finals: Sequence[int], e: int) -> int:
        finals = self.with_combos(finals[:self.num_factors])
        acc = 0
        for term in self.terms:
            p = term.coeff
            for f in term.factors:
                p = p * finals[f] % R_MODULUS
            acc += p
        return acc % R_MODULUS * e % R_MODULUS


@lru_cache(maxsize=None)
def _interp_matrix(D: int) -> tuple[tuple[int, ...], ...]:
    """Inverse Vandermonde for nodes 0..D mod r: coefficients = M @ evaluations."""
    n = D + 1
    V = [[pow(x, k, R_MODULUS) for k in range(n)] for x in range(n)]
    # Gauss-Jordan on [V | I]
    A = [row[:] + [int(i == j) for j in range(n)] for i, row in enumerate(V)]
    for col in range(n):
        piv = next(i for i in range(col, n) if A[i][col] % R_MODULUS)
        A[col], A[piv] = A[piv], A[col]
        inv = pow(A[col][col], -1, R_MODULUS)
        A[col] = [v * inv % R_MODULUS for v in A[col]]
        for i in range(n):
            if i != col and A[i][col]:
                f = A[i][col]
                A[i] = [(a - f * b) % R_MODULUS for a, b in zip(A[i], A[col])]
    return tuple(tuple(row[n:]) for row in A)


def interpolate(evals: Sequence[int]) -> list[int]:
    M = _interp_matrix(len(evals) - 1)
    return [sum(m * e for m, e in zip(row, evals)) % R_MODULUS for row in M]


def horner(coeffs: Sequence[int], x: int) -> int:
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % R_MODULUS
    return acc


class _Prover:
    """Round engine shared by the plain and zero-knowledge provers."""

    def __init__(self, spec: SumcheckSpec, tables: Sequence[FrVec], release: bool = False, kernel=None):
        if len(tables) != spec.num_factors:
            raise ShapeError(f"sumcheck: {len(tables)} tables for {spec.num_factors} factors")
        n = 1 << spec.num_vars
        for i, tab in enumerate(tables):
            # a table is an FrVec, or (with a kernel that knows it) an object with len and
            # fold(r) -> FrVec that stands for one until the first round binds it (zkdl.logup's
            # integer leaves)
            lazy = kernel is not None and n > 1 and hasattr(tab, "fold") and not isinstance(tab, FrVec)
            if not (isinstance(tab, FrVec) or lazy) or len(tab) != n:
                raise ShapeError(f"sumcheck: factor {i} must be an FrVec of length {n}")
        self.spec = spec
        self.kernel = kernel    # (eq, tables, degree, skip_one) -> the terms' sum at X = 0..degree
        self.tabs = list(tables)
        if release:         # the engine holds the only references: each table is freed at its first fold
            tables.clear()
        self.eq_rest = FrVec.eq_table(list(spec.eq_point[1:])) if spec.eq_point is not None \
            and spec.num_vars > 0 else None
        if kernel is None:          # combined factors as tables of their own (a kernel knows its terms)
            self.tabs += _combined_tables(spec, self.tabs)

    def round_poly(self, relation: tuple[int, int, int] | None = None) -> list[int]:
        """Coefficients of this round's polynomial t.  With ``relation`` = (a_0, a_1, claim), the
        round relation claim = a_0 t(0) + a_1 (t(1) - t(0)) (SumcheckSpec.round_weights: a_k = a_1
        for k >= 1), t(1) is derived from it instead of summed over the tables (one evaluation
        point fewer: a quarter of the products at degree 3)."""
        D = self.spec.degree
        skip = relation is not None and relation[1] % R_MODULUS != 0
        if self.kernel is not None:
            acc = self.kernel(self.eq_rest, self.tabs, D, skip)
        else:
            acc = [0] * (D + 1)
            for term in self.spec.terms:
                vals = product_evals(self.eq_rest, [self.tabs[f] for f in term.factors], D, skip)
                for x in range(D + 1):
                    acc[x] += term.coeff * vals[x]
        if skip:
            a0, a1, claim = relation
            acc[1] = (claim - (a0 - a1) * acc[0]) * pow(a1, -1, R_MODULUS)
        return interpolate([a % R_MODULUS for a in acc])

    def bind(self, r: int) -> None:
        for i, tab in enumerate(self.tabs):     # one at a time: at most one extra half table alive
            self.tabs[i] = tab.fold(r)
        if self.eq_rest is not None and len(self.eq_rest) > 1:
            self.eq_rest = self.eq_rest.half_sum()

    def finals(self) -> list[int]:
        return [tab[0] for tab in self.tabs[:self.spec.num_factors]]


def _combined_tables(spec: SumcheckSpec, tables: Sequence[FrVec]) -> list[FrVec]:
    """The tables of the combined factors, sum c f (the generic round kernel; claimed_sum)."""
    out = []
    for combo in spec.combos:
        acc = None
        for f, c in combo:
            term = tables[f] * (c % R_MODULUS)
            acc = term if acc is None else acc + term
        out.append(acc)
    return out


def claimed_sum(spec: SumcheckSpec, tables: Sequence[FrVec]) -> int:
    """The honest value of the sum (prover side; for tests and callers)."""
    eq = FrVec.eq_table(list(spec.eq_point)) if spec.eq_point is not None else None
    tables = list(tables) + _combined_tables(spec, tables)
    acc = 0
    for term in spec.terms:
        prod = tables[term.factors[0]]
        for f in term.factors[1:]:
            prod = prod * tables[f]
        acc += term.coeff * (prod.dot(eq) if eq is not None else prod.sum())
    return acc % R_MODULUS


# ---------------------------------------------------------------------------- plain sumcheck


@dataclass(frozen=True)
class SumcheckProof:
    rounds: tuple[tuple[int, ...], ...]  # coefficients of t_j
    finals: tuple[int, ...]  # f_i(r)

    def write(self, w: Writer) -> None:
        w.u32(len(self.rounds))
        for c in self.rounds:
            w.scalars(c)
        w.scalars(self.finals)

    @classmethod
    def read(cls, r: Reader, spec: SumcheckSpec) -> "SumcheckProof":
        n = r.u32("sumcheck rounds", MAX_VARS)
        if n != spec.num_vars:
            raise_format(f"sumcheck: {n} rounds, expected {spec.num_vars}")
        rounds = tuple(tuple(r.scalars(f"round {j}", MAX_DEGREE + 1, spec.degree + 1)) for j in range(n))
        finals = tuple(r.scalars("final values", spec.num_factors, spec.num_factors))
        return cls(rounds, finals)


def raise_format(msg: str):
    from .codec import ProofFormatError

    raise ProofFormatError(msg)


def prove(spec: SumcheckSpec, tables: Sequence[FrVec], t: Transcript) -> tuple[SumcheckProof, list[int]]:
    """Plain (not zero-knowledge) sumcheck.  Returns the proof and the point r."""
    t.domain(b"zkdl/sumcheck")
    spec.absorb(t)
    P = _Prover(spec, tables)
    rounds, rs = [], []
    for j in range(spec.num_vars):
        coeffs = P.round_poly()
        t.append_scalars(b"round", coeffs)
        r = t.challenge_scalar(b"r")
        rounds.append(tuple(coeffs))
        rs.append(r)
        P.bind(r)
    finals = P.finals()
    t.append_scalars(b"finals", finals)
    return SumcheckProof(tuple(rounds), tuple(finals)), rs


def verify(spec: SumcheckSpec, claim: int, proof: SumcheckProof, t: Transcript) -> tuple[list[int], list[int]]:
    """Check a plain sumcheck of `claim`.  Returns (r, finals): the caller must still check that
    each factor's MLE at r equals finals[i] (openings, or its own evaluation)."""
    t.domain(b"zkdl/sumcheck")
    spec.absorb(t)
    D = spec.degree
    if len(proof.rounds) != spec.num_vars or any(len(c) != D + 1 for c in proof.rounds) \
            or len(proof.finals) != spec.num_factors:
        raise VerificationError("sumcheck: proof shape does not match the instance")
    claim %= R_MODULUS
    e = 1
    rs = []
    for j, coeffs in enumerate(proof.rounds):
        a = spec.round_weights(j, e)
        if sum(x * y for x, y in zip(a, coeffs)) % R_MODULUS != claim:
            raise VerificationError(f"sumcheck: round {j} polynomial does not match the claim")
        t.append_scalars(b"round", coeffs)
        r = t.challenge_scalar(b"r")
        rs.append(r)
        e = spec.next_weight(j, e, r)
        claim = e * horner(coeffs, r) % R_MODULUS if spec.eq_point is not None else horner(coeffs, r)
    if spec.final_value(proof.finals, e) != claim:
        raise VerificationError("sumcheck: final evaluation does not match the last round")
    t.append_scalars(b"finals", proof.finals)
    return rs, list(proof.finals)


def fr_muls_per_element(spec: SumcheckSpec) -> float:
    """Field multiplications of the prover per table element, all rounds together (the count
    the kernels do; eq-table construction included)."""
    D = spec.degree
    per_pair = 0
    for term in spec.terms:
        per_pair += (D + 1) * (len(term.factors) - (0 if spec.eq_point is not None else 1))
    # sum over rounds of (2^(k-1-j) pairs) ~ 2^k total pairs; folds: one mul per output per factor
    folds = spec.num_factors  # sum_j 2^(k-1-j) per factor ~ 2^k
    eq = 1 if spec.eq_point is not None else 0  # eq table of the remaining variables: ~2^(k-1)
    return per_pair + folds + eq * 0.5


# ---------------------------------------------------------------------------- zero-knowledge sumcheck


@dataclass(frozen=True)
class ZkSumcheckProof:
    """Commitments to round coefficients, to the private factors' values at r, to the partial
    products of each term, the product proofs and the final equality proof."""

    rounds: tuple  # per round a PointVec of D+1 commitments Com(c_k; rho_k)
    factor_coms: object  # PointVec: one commitment per private factor, in factor order
    product_coms: object  # PointVec: partial products, in the order the verifier replays them
    product_proofs: tuple
    final_proof: object  # EqualityProof

    def write(self, w: Writer) -> None:
        w.u32(len(self.rounds))
        for pv in self.rounds:
            w.points(pv)
        w.points(self.factor_coms)
        w.points(self.product_coms)
        for p in self.product_proofs:
            p.write(w)
        self.final_proof.write(w)

    @classmethod
    def read(cls, r: Reader, spec: SumcheckSpec, public: Sequence[int] = ()) -> "ZkSumcheckProof":
        from .sigma import EqualityProof, ProductProof

        n = r.u32("zk sumcheck rounds", MAX_VARS)
        if n != spec.num_vars:
            raise_format(f"zk sumcheck: {n} rounds, expected {spec.num_vars}")
        rounds = tuple(r.points(f"round {j}", MAX_DEGREE, spec.degree) for j in range(n))
        n_priv = spec.num_factors - len(set(public))
        fac = r.points("factor commitments", spec.num_factors, n_priv)
        n_prod = _product_steps(spec, frozenset(public))
        prods = r.points("product commitments", 4 * len(spec.terms), n_prod)
        proofs = tuple(ProductProof.read(r) for _ in range(n_prod))
        return cls(rounds, fac, prods, proofs, EqualityProof.read(r))


def _product_steps(spec: SumcheckSpec, public: frozenset) -> int:
    """Number of committed partial products: one per multiplication by a private factor after the
    first factor of a term (multiplications by public factors are done on commitments)."""
    steps = 0
    for term in spec.terms:
        fs = _term_order(term, public)
        steps += sum(1 for f in fs[1:] if f not in public)
    return steps


def _check_combos(spec: SumcheckSpec, public: frozenset) -> None:
    if any(f in public for combo in spec.combos for f, _ in combo):
        raise ShapeError("zk sumcheck: a combined factor combines a public factor")


def _combined_commitments(spec: SumcheckSpec, coms_f: dict) -> None:
    """The commitments of the combined factors, sum c Com(f) (verifier and simulator)."""
    for i, combo in enumerate(spec.combos):
        coms_f[spec.num_factors + i] = _com_linear([coms_f[f] for f, _ in combo], [c for _, c in combo])


def _term_order(term: Term, public: frozenset) -> list[int]:
    """Private factors first, so a term with any private factor starts from a commitment."""
    return sorted(term.factors, key=lambda f: (f in public, f))


def _term_commitments(spec: SumcheckSpec, pub: frozenset, coms_f: dict, pub_vals: dict, multiply) -> list:
    """Commitment to each term's product, as the verifier replays it, as (point, scalar): a
    private factor goes through multiply(running, factor_commitment), which returns the next
    committed partial product (checked by a product proof); the public factors, which come last
    (_term_order), multiply the scalar (a term of public factors only: g times their product)."""
    out = []
    for term in spec.terms:
        order = _term_order(term, pub)
        cur, k = (coms_f[order[0]], 1) if order[0] not in pub else (None, pub_vals[order[0]])
        for f in order[1:]:
            if f in pub:
                k = k * pub_vals[f] % R_MODULUS
            else:
                cur = multiply(cur, coms_f[f])
        out.append((cur, k))
    return out


def _term_points(key, terms: list) -> list:
    """The points of _term_commitments' (point, scalar) pairs (None: the generator g)."""
    return [key.g.mul_in_group(k) if p is None else (p if k == 1 else p * k) for p, k in terms]


def _next_claim_weights(a: Sequence[int], w: int, r: int) -> list[int]:
    """Scalars on (C_claim, C_1..C_D) giving the next claim's commitment sum_k w r^k C_k, with C_0
    derived from the round relation sum_k a_k C_k = C_claim."""
    inv0 = pow(a[0], -1, R_MODULUS)
    out = [w * inv0 % R_MODULUS]
    for k in range(1, len(a)):
        out.append(w * (pow(r, k, R_MODULUS) - a[k] * inv0) % R_MODULUS)
    return out


def _com_linear(points: Sequence, scalars: Sequence[int]):
    from .curve import PointVec, msm

    return msm(PointVec.from_points(list(points)), FrVec.from_ints([int(s) % R_MODULUS for s in scalars]))


def prove_zk(key, spec: SumcheckSpec, tables: Sequence[FrVec], claim_blind: int, t: Transcript,
             public: Sequence[int] = (), release: bool = False, kernel=None, claim_com=None):
    """Zero-knowledge sumcheck of the claim committed as Com(S; claim_blind) with S the honest sum.

    `public` lists factors whose value at r the verifier computes itself (eq-combinations,
    public tables); the others are committed.  Returns (proof, r, openings) where openings maps
    each private factor index to (value at r, blind) of its commitment in the proof.
    With ``release`` the list ``tables`` is emptied once read, so that the full-size tables
    (which the caller then no longer references) are freed as the first round folds them.
    ``kernel(eq, tables, degree, skip_one)``, when given, computes a round's values at
    X = 0..degree for all terms at once (a faster kernel for a known shape: zkdl.logup's layers);
    it must equal the terms summed one by one.
    ``claim_com`` (the claim's commitment; window and inference proofs, format 7): absorbed at the
    start, and the final equality's two sides -- the running claim, a combination of it and the
    round commitments, and the terms' product, one of the factor and product commitments -- are
    then fixed by the transcript and not absorbed again (docs/protocol.md §4 and §5, "Derived
    statements"): the verifier never computes them (verify_zk with derived=True)."""
    from .curve import PointVec
    from .pedersen import random_scalar
    from .sigma import prove_equality, prove_product

    public = frozenset(public)
    _check_combos(spec, public)
    t.domain(b"zkdl/zk-sumcheck")
    spec.absorb(t)
    t.append_bytes(b"public-factors", bytes(sorted(public)) if max(public, default=0) < 256 else b"")
    if claim_com is not None:
        t.append_point(b"claim", claim_com)
    P = _Prover(spec, tables, release, kernel)
    D = spec.degree
    claim = None  # the running claim; the initial sum is never needed, only its blind
    rho = claim_blind % R_MODULUS
    e = 1
    rounds, rs = [], []
    for j in range(spec.num_vars):
        a = spec.round_weights(j, e)
        coeffs = P.round_poly(None if claim is None else (a[0], a[1] if len(a) > 1 else 0, claim))
        if a[0] == 0:
            raise ZkdlError("zk sumcheck: degenerate eq weight (probability 2^-250); retry the proof")
        blinds = [0] + [random_scalar() for _ in range(D)]
        blinds[0] = (rho - sum(ak * bk for ak, bk in zip(a[1:], blinds[1:]))) * pow(a[0], -1, R_MODULUS) % R_MODULUS
        # C_0 is not sent: the verifier derives it from the round relation
        coms = key.commit_scalars(coeffs[1:], blinds[1:])
        t.append_points(b"round", coms)
        r = t.challenge_scalar(b"r")
        e_next = spec.next_weight(j, e, r)
        w = e_next if spec.eq_point is not None else 1
        powers = [w * pow(r, k, R_MODULUS) % R_MODULUS for k in range(D + 1)]
        claim = sum(p * c for p, c in zip(powers, coeffs)) % R_MODULUS
        rho = sum(p * b for p, b in zip(powers, blinds)) % R_MODULUS
        e = e_next
        rounds.append(coms)
        rs.append(r)
        P.bind(r)
    finals = P.finals()
    # commitments to the private factors' values
    vals, blinds_f, coms_f = {}, {}, {}
    priv = [f for f in range(spec.num_factors) if f not in public]
    for f in range(spec.num_factors):
        vals[f] = finals[f]
        blinds_f[f] = 0 if f in public else random_scalar()
    pub = sorted(public)
    both = key.commit_scalars([vals[f] for f in priv + pub], [blinds_f[f] for f in priv + pub])
    fac_coms = both[:len(priv)]
    for i, f in enumerate(priv + pub):
        coms_f[f] = both[i]
    t.append_points(b"factor-coms", fac_coms)
    for i, combo in enumerate(spec.combos):     # combined factors: derived from the factors'
        v = spec.num_factors + i
        vals[v] = sum(c * vals[f] for f, c in combo) % R_MODULUS
        blinds_f[v] = sum(c * blinds_f[f] for f, c in combo) % R_MODULUS
        coms_f[v] = key.commit_scalar(vals[v], blinds_f[v])     # = sum c coms_f[f]
    # partial products per term
    prod_coms, proofs, term_coms, term_blinds = [], [], [], []
    for term in spec.terms:
        order = _term_order(term, public)
        cur_v, cur_b, cur_c = vals[order[0]], blinds_f[order[0]], coms_f[order[0]]
        for f in order[1:]:
            if f in public:  # multiply the commitment by the public value
                cur_v, cur_b = cur_v * vals[f] % R_MODULUS, cur_b * vals[f] % R_MODULUS
                cur_c = key.commit_scalar(cur_v, cur_b)     # = cur_c * vals[f], by the (g, h) comb
                continue
            nv, nb = cur_v * vals[f] % R_MODULUS, random_scalar()
            nc = key.commit_scalar(nv, nb)
            t.append_point(b"product-com", nc)
            proofs.append(prove_product(key, t, cur_c, coms_f[f], nc, cur_v, cur_b, vals[f], blinds_f[f], nb))
            prod_coms.append(nc)
            cur_v, cur_b, cur_c = nv, nb, nc
        term_coms.append(cur_c)
        term_blinds.append(cur_b)
    # final relation: Com(claim; rho) and e * sum alpha_t Com(P_t) commit the same value
    comb_scalars = [e * term.coeff % R_MODULUS for term in spec.terms]
    rhs_blind = sum(s * b for s, b in zip(comb_scalars, term_blinds)) % R_MODULUS
    if claim_com is not None:   # both sides fixed by the transcript: not computed
        lhs = rhs = None
    else:
        rhs = _com_linear(term_coms, comb_scalars)
        if claim is None:  # no rounds: the claim is the final value itself
            claim = spec.final_value(finals, e)
        lhs = key.commit_scalar(claim, rho)
    final = prove_equality(key, t, lhs, rhs, rho, rhs_blind)
    proof = ZkSumcheckProof(tuple(rounds), fac_coms, PointVec.from_points(prod_coms) if prod_coms
                            else PointVec.identity(0), tuple(proofs), final)
    openings = {f: (vals[f], blinds_f[f]) for f in priv}
    return proof, rs, openings


def verify_zk(key, spec: SumcheckSpec, claim_com, proof: ZkSumcheckProof, t: Transcript,
              public: dict | None = None, derived: bool = False):
    """Verify a zero-knowledge sumcheck of the value committed in `claim_com`.

    `public` maps public factor indices to a function of r returning the factor's value at r.
    ``derived`` (format 7): claim_com is absorbed at the start and the final equality's sides are
    handed to its check as combinations (prove_zk with claim_com).
    Returns (r, factor_coms) with factor_coms mapping each private factor to the commitment of its
    value at r; the caller must still prove those (Hyrax openings or further sumchecks)."""
    from .curve import PointVec
    from .sigma import ProductProof, EqualityProof, verify_equality, verify_product

    public = dict(public or {})
    pub = frozenset(public)
    _check_combos(spec, pub)
    D = spec.degree
    if not isinstance(proof, ZkSumcheckProof) or len(proof.rounds) != spec.num_vars \
            or any(not isinstance(pv, PointVec) or len(pv) != D for pv in proof.rounds):
        raise VerificationError("zk sumcheck: proof shape does not match the instance")
    priv = [f for f in range(spec.num_factors) if f not in pub]
    n_prod = _product_steps(spec, pub)
    if not isinstance(proof.factor_coms, PointVec) or len(proof.factor_coms) != len(priv) \
            or not isinstance(proof.product_coms, PointVec) or len(proof.product_coms) != n_prod \
            or len(proof.product_proofs) != n_prod \
            or any(not isinstance(p, ProductProof) for p in proof.product_proofs) \
            or not isinstance(proof.final_proof, EqualityProof):
        raise VerificationError("zk sumcheck: proof shape does not match the instance")
    t.domain(b"zkdl/zk-sumcheck")
    spec.absorb(t)
    t.append_bytes(b"public-factors", bytes(sorted(pub)) if max(pub, default=0) < 256 else b"")
    if derived:
        t.append_point(b"claim", claim_com)
    # The running claim is a linear combination of the initial claim and the round commitments:
    # C_0 = (C_claim - sum_{k>=1} a_k C_k) / a_0 (the round relation) and the next claim is
    # sum_k w r^k C_k.  Only the final one is needed, so the verifier keeps the coefficients and
    # computes it with one MSM after the last round.
    pts = [claim_com]
    coef = [1]
    e = 1
    rs = []
    for j, coms in enumerate(proof.rounds):
        a = spec.round_weights(j, e)
        if a[0] % R_MODULUS == 0:
            raise VerificationError(f"zk sumcheck: round {j}: degenerate eq weight")
        t.append_points(b"round", coms)
        r = t.challenge_scalar(b"r")
        e_next = spec.next_weight(j, e, r)
        w = e_next if spec.eq_point is not None else 1
        nw = _next_claim_weights(a, w, r)
        coef = [c * nw[0] % R_MODULUS for c in coef] + nw[1:]
        pts.extend(coms)
        e = e_next
        rs.append(r)
    if derived:
        cur = (PointVec.from_points(pts), FrVec.from_ints(coef))
    else:
        cur = _com_linear(pts, coef) if len(pts) > 1 else claim_com
    t.append_points(b"factor-coms", proof.factor_coms)
    coms_f = {f: proof.factor_coms[i] for i, f in enumerate(priv)}
    pub_vals = {}
    for f, fn in public.items():
        pub_vals[f] = int(fn(rs)) % R_MODULUS
        if not derived:
            coms_f[f] = key.g.mul_in_group(pub_vals[f])
    _combined_commitments(spec, coms_f)
    k = [0]

    def multiply(cur_c, f_com):
        nc = proof.product_coms[k[0]]
        t.append_point(b"product-com", nc)
        verify_product(key, t, cur_c, f_com, nc, proof.product_proofs[k[0]])
        k[0] += 1
        return nc

    terms = _term_commitments(spec, pub, coms_f, pub_vals, multiply)
    scal = [e * term.coeff % R_MODULUS for term in spec.terms]
    if derived:     # public factors as scalars on their term's point: no point is multiplied
        rhs = (PointVec.from_points([key.g if p is None else p for p, _ in terms]),
               FrVec.from_ints([s * k for s, (_, k) in zip(scal, terms)]))
    else:
        rhs = _com_linear(_term_points(key, terms), scal)
    verify_equality(key, t, cur, rhs, proof.final_proof)
    return rs, coms_f


def simulate_zk(key, spec: SumcheckSpec, claim_com, challenges: Sequence[int], public: dict | None = None):
    """Zero-knowledge simulator (interactive form): from the statement and the verifier's
    challenges only -- r_1..r_k, then one per product proof, then the equality proof's -- build a
    proof that verify_zk accepts with a ProgrammedTranscript(challenges).  Round commitments
    C_1..C_D and the factor/product commitments are uniformly random (as honest ones are, being
    perfectly hiding), C_0 is the one the round relation determines, and the Σ-protocols use
    their own simulators."""
    from .curve import PointVec
    from .pedersen import random_scalar
    from .sigma import simulate_equality, simulate_product

    public = dict(public or {})
    pub = frozenset(public)
    D = spec.degree
    cs = list(challenges)
    k = spec.num_vars
    rs, rest = cs[:k], cs[k:]
    cur = claim_com
    e = 1
    rounds = []
    for j in range(k):
        a = spec.round_weights(j, e)
        coms = [key.h * random_scalar() for _ in range(D)]
        r = rs[j]
        e_next = spec.next_weight(j, e, r)
        w = e_next if spec.eq_point is not None else 1
        cur = _com_linear([cur] + coms, _next_claim_weights(a, w, r))
        e = e_next
        rounds.append(PointVec.from_points(coms))
    priv = [f for f in range(spec.num_factors) if f not in pub]
    fac = PointVec.from_points([key.h * random_scalar() for _ in priv]) if priv else PointVec.identity(0)
    coms_f = {f: fac[i] for i, f in enumerate(priv)}
    pub_vals = {f: int(fn(rs)) % R_MODULUS for f, fn in public.items()}
    for f, v in pub_vals.items():
        coms_f[f] = key.g.mul_in_group(v)
    _combined_commitments(spec, coms_f)
    prods, proofs = [], []

    def multiply(cur_c, f_com):
        nc = key.h * random_scalar()
        proofs.append(simulate_product(key, cur_c, f_com, nc, rest.pop(0)))
        prods.append(nc)
        return nc

    term_coms = _term_points(key, _term_commitments(spec, pub, coms_f, pub_vals, multiply))
    rhs = _com_linear(term_coms, [e * term.coeff % R_MODULUS for term in spec.terms])
    final = simulate_equality(key, cur, rhs, rest.pop(0))
    return ZkSumcheckProof(tuple(rounds), fac, PointVec.from_points(prods) if prods else PointVec.identity(0),
                           tuple(proofs), final)
