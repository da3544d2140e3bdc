"""Range checks: limbs and the logUp-GKR glue (docs/protocol.md §10, and §11 "Order of the proof",
step 2).

A range-checked tensor is committed as limbs of b bits (``RangeTensor``); ``_lookup`` packs every
limb of every range tensor into blocks at aligned offsets (a top limb of fewer than b bits tagged
with its width in window and inference proofs, looked up twice in the one-time range proofs),
commits the multiplicities and runs
logUp-GKR (:mod:`zkdl.logup`), split into instances of at most 2^LOOKUP_MAX_BITS entries, then ties
the lookup's claim to claims on the limb tensors.  ``_range_of`` range-checks a tensor committed
elsewhere (limb 0 derived from its commitment), which ``_commitment_range_protocol`` uses for the
one-time proofs of a dataset or a model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkdl import logup
from zkdl.errors import FieldRangeError, ZkdlError
from zkdl.field import R_MODULUS, FrVec
from zkdl.hyrax import HyraxCommitment, HyraxSecret
from zkdl.mle import eq_eval

from .channel import Channel, Claimed, lincomb
from .commitments import _mask_rows
from .layout import _bits
from .tensors import Claims, Layout, RangeSpec, RangeTensor, Tensor

P = R_MODULUS


@dataclass
class _Block:
    tensor: Tensor
    scale: int
    tag: int = 0
    offset: int = 0


def _range_of(ch: Channel, cl: Claims, rts: dict, name: str, layout: Layout, spec: RangeSpec,
              target: HyraxCommitment, target_sec, strict: bool = True) -> None:
    """Range check of a tensor committed elsewhere (the weights at a window's start, the dataset):
    send limbs 1.. and derive limb 0 = value + offset * mask - sum_j 2^(b j) limb_j row-wise from
    the existing commitment, so the limbs are bound to it without any further proof."""
    prover = ch.prover
    parts = None
    if prover:
        try:
            vals = np.asarray(target_sec.values.to_int64(62))
        except ZkdlError:
            if strict:
                raise FieldRangeError(f"{name}: a committed value is not a small integer") from None
            vals = np.zeros(layout.size, dtype=np.int64)   # a cheating prover: limb 0 takes it all
        parts = spec.limbs(vals.reshape(layout.padded), name, strict)
    com0 = target + HyraxCommitment(_mask_rows(ch.key, layout), layout.num_vars, layout.col_vars).scale(spec.offset)
    sec0 = None
    if prover:
        msec = HyraxSecret(FrVec.from_int64(layout.mask), FrVec.zeros(layout.size >> layout.col_vars),
                           layout.num_vars, layout.col_vars)
        sec0 = target_sec + msec.scale(spec.offset)
    limbs = [None]
    for j in range(1, spec.n_limbs):
        com, sec = ch.send_hyrax(f"{name}.{j}".encode(), layout.num_vars, layout.col_vars,
                                 lambda j=j: parts[j].reshape(-1) * layout.mask)
        limbs.append(cl.register(Tensor(f"{name}.{j}", layout, com, sec)))
        com0 = com0 - com.scale(spec.weight(j))
        if prover:
            sec0 = sec0 - sec.scale(spec.weight(j))
    limbs[0] = cl.register(Tensor(f"{name}.0", layout, com0, sec0))
    rts[name] = RangeTensor(name, layout, spec, limbs)


#: largest lookup witness (2^bits entries) proven by one logUp-GKR instance; larger sets of limbs
#: are split into several instances (each with its own multiplicities), which bounds the prover's
#: memory: with the limbs given as integers the fraction tree holds at most ~80 bytes per leaf
#: (tests/test_logup.py; 2^25 leaves: 2.5 GiB); each instance costs ~90 kB of proof (2^23 leaves)
LOOKUP_MAX_BITS = 25


def _instances(sizes, max_bits: int) -> list[list[int]]:
    """The lookup instances as lists of block indices: the blocks, largest first (stable: aligned
    offsets), fill an instance until the next would pass 2^max_bits."""
    groups: list[list[int]] = [[]]
    total = 0
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        if groups[-1] and total + sizes[i] > 1 << max_bits:
            groups.append([])
            total = 0
        groups[-1].append(i)
        total += sizes[i]
    return groups


def instance_sizes(sizes, max_bits: int) -> list[int]:
    """The lookup instances' leaf counts (before padding) for blocks of these sizes."""
    return [sum(sizes[i] for i in g) for g in _instances(list(sizes), max_bits)]


def lookup_table(widths, lb: int, tagged: bool) -> logup.Table:
    """The lookup table of range tensors with these bit widths: plain 2^lb (a top limb of fewer
    than lb bits is looked up twice, once scaled to the top), or tagged (window and inference
    proofs: one segment per top-limb width, each top limb looked up once with its tag)."""
    tops = sorted({w % lb for w in widths if w % lb}, reverse=True) if tagged else []
    return logup.Table(lb, tuple(tops))


def _lookup(ch: Channel, cl: Claims, rts: dict, lb: int, strict: bool = True, tagged: bool = False) -> None:
    """Commit to the multiplicities and run the logUp-GKR range check over every limb of every
    range tensor; tie the lookup's claim to claims on the limb tensors (registered in cl for the
    openings).  A top limb of fewer than lb bits is looked up with its width's tag in a tagged
    table (``tagged``: window and inference proofs whose shapes make it cheaper,
    circuits/layout.lookup_tagged), or again, scaled to the top of a plain table."""
    table = lookup_table([rt.spec.bits for rt in rts.values()], lb, tagged)
    blocks: list[_Block] = []
    for rt in rts.values():
        for j, lt in enumerate(rt.limbs):
            top = j == rt.spec.n_limbs - 1 and rt.spec.top_bits < lb
            blocks.append(_Block(lt, 1, table.tag_of(rt.spec.top_bits) if top and table.widths else 0))
            if top and not table.widths:
                blocks.append(_Block(lt, 1 << (lb - rt.spec.top_bits)))
    groups = [[blocks[i] for i in g] for g in _instances([bl.tensor.layout.size for bl in blocks], LOOKUP_MAX_BITS)]
    ch.t.append_u64(b"lookups", len(groups))
    for g, grp in enumerate(groups):
        _lookup_one(ch, cl, grp, table, strict, "m" if len(groups) == 1 else f"m{g}")


def _multiplicities(blocks: list, v_np: np.ndarray, table: logup.Table, kv: int, strict: bool) -> np.ndarray:
    """m over the (tagged) table: each block's values at their tag's indices, the padding zeros
    at 0.  strict: a value outside its range raises FieldRangeError; a cheating prover's (not
    strict) are left out (the proof is then rejected)."""
    m = np.zeros(1 << table.bits, dtype=np.int64)
    for bl in blocks:
        vals = v_np[bl.offset:bl.offset + bl.tensor.layout.size]
        width = table.widths[bl.tag - 1] if bl.tag else table.b
        ok = (vals >= 0) & (vals < 1 << width)
        if strict and not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise FieldRangeError(f"{bl.tensor.name}: limb value {int(vals[i])} at index {i} is outside [0, 2^{width})")
        m += np.bincount(table.index(vals[ok], bl.tag), minlength=len(m))
    m[0] += (1 << kv) - sum(bl.tensor.layout.size for bl in blocks)
    return m


def _lookup_one(ch: Channel, cl: Claims, blocks: list, table: logup.Table, strict: bool, m_name: str) -> None:
    key, t, prover = ch.key, ch.t, ch.prover
    off = 0
    for bl in blocks:
        bl.offset = off
        off += bl.tensor.layout.size
    kv = _bits(off)
    lb = table.b
    v_np = m_np = None
    if prover:
        v_np = np.concatenate([_small_ints(bl.tensor, strict) * bl.scale for bl in blocks]
                              + [np.zeros((1 << kv) - off, dtype=np.int64)])
        if table.widths:
            m_np = _multiplicities(blocks, v_np, table, kv, strict)
        elif strict:
            m_np = logup.multiplicities(v_np, kv, lb)
        else:  # a cheating prover counts what it can
            ok = (v_np >= 0) & (v_np < 1 << lb)
            m_np = np.bincount(v_np[ok], minlength=1 << lb).astype(np.int64)
            m_np[0] += (1 << kv) - len(v_np)
    m_lay = Layout((1 << table.bits,))
    m_com, m_sec = ch.send_hyrax(b"multiplicities", m_lay.num_vars, m_lay.col_vars, lambda: m_np)
    cl.register(Tensor(m_name, m_lay, m_com, m_sec))
    # the tags' weight: drawn after the limbs and the multiplicities are committed
    beta = ch.challenges(b"lookup-tags", 1)[0] if table.widths else 0
    tags = [(bl.offset, bl.offset + bl.tensor.layout.size, bl.tag) for bl in blocks if bl.tag]
    if prover:
        with ch.phase("lookup"):
            lproof, x_v, (vv, vb), x_m, (mv, mb) = logup.prove(key, t, v_np, FrVec.from_int64(m_np),
                                                               derived=ch.derived, table=table, beta=beta,
                                                               tags=tags)
        lproof.write(ch.w)
        com_v, com_m = Claimed(None, vv, vb, key), Claimed(None, mv, mb, key)
    else:
        lproof = logup.LogupProof.read(ch.r, kv, table.bits, derived=ch.derived)
        x_v, cv, x_m, cm = logup.verify(key, t, kv, lproof, table.bits, derived=ch.derived, table=table, beta=beta)
        com_v, com_m = Claimed(cv), Claimed(cm)
    cl.add(m_name, x_m, com_m, masked=False)
    limb_claims: dict[str, Claimed] = {}
    terms, coeffs = [], []
    tag_part = 0            # the looked-up values are limb + beta tag: the tags' part is public
    for bl in blocks:
        kb = bl.tensor.layout.num_vars
        hi, lo = x_v[:kv - kb], x_v[kv - kb:]
        name = bl.tensor.name
        if name not in limb_claims:
            limb_claims[name] = ch.send_scalar_com(b"lookup-claim", lambda tt=bl.tensor, lo=lo: tt.mle(lo))
            cl.add(name, lo, limb_claims[name], masked=False)
        idx = bl.offset >> kb
        bits = [(idx >> (len(hi) - 1 - j)) & 1 for j in range(len(hi))]
        terms.append(limb_claims[name])
        coeffs.append(eq_eval(hi, bits) * bl.scale % P)
        tag_part = (tag_part + eq_eval(hi, bits) * bl.tag) % P
    lhs = lincomb(terms, coeffs)
    ch.equal(lhs + ch.const(beta * tag_part) if tag_part else lhs, com_v)


def _small_ints(t: Tensor, strict: bool) -> np.ndarray:
    """Limb values as int64 (a cheating prover's values outside int64 become -1: not counted)."""
    if t.secret.ints is not None:
        return t.secret.ints
    v = t.values
    try:
        return v.to_int64(62)
    except Exception:
        if strict:
            raise
        return np.array([x if x < 1 << 62 else -1 for x in v.to_ints()], dtype=np.int64)


def _commitment_range_protocol(ch: Channel, items, lb: int, strict: bool = True) -> None:
    """Range check of tensors committed elsewhere (items: (name, layout, spec, commitment,
    secret)): limbs 1.. sent, limb 0 derived from the commitment (_range_of), one logUp-GKR over
    every limb, grouped openings."""
    cl, rts = Claims(), {}
    for name, lay, spec, com, sec in items:
        _range_of(ch, cl, rts, name, lay, spec, com, sec, strict)
    with ch.check("range checks"):
        _lookup(ch, cl, rts, lb, strict)
    with ch.check("openings"):
        cl.open_all(ch)


def _range_limb_bits(n_values: int) -> int:
    return 16 if 2 * n_values > 1 << 16 else 8
