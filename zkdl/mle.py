"""Multilinear extensions (MLEs) of vectors and tensors.

Variable order (normative, see docs/protocol.md): a vector T of length 2^k is the table of a
multilinear polynomial in x = (x_1, ..., x_k) with T[i] = T(bits of i), x_1 the MOST significant
bit of i.  A tensor of shape (d_1, ..., d_m) is padded with zeros to (2^e_1, ..., 2^e_m),
e_j = ceil(log2 d_j), and flattened in C (row-major) order, so the variables of its first axis
come first.  Sumchecks bind x_1 first (fold the two halves of the table).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ShapeError
from .field import R_MODULUS, FrVec


def log2_exact(n: int) -> int:
    if n < 1 or n & (n - 1):
        raise ShapeError(f"{n} is not a power of two")
    return n.bit_length() - 1


def ceil_log2(n: int) -> int:
    return max(0, (int(n) - 1).bit_length())


def pad_tensor(arr: np.ndarray) -> np.ndarray:
    """Zero-pad every axis of an integer tensor to a power of two (documented order)."""
    arr = np.asarray(arr)
    target = tuple(1 << ceil_log2(d) for d in arr.shape)
    if target == arr.shape:
        return arr
    out = np.zeros(target, dtype=arr.dtype)
    out[tuple(slice(0, d) for d in arr.shape)] = arr
    return out


def tensor_vars(shape: Sequence[int]) -> list[int]:
    """Number of variables of each axis after padding."""
    return [ceil_log2(d) for d in shape]


def eq_eval(u: Sequence[int], v: Sequence[int]) -> int:
    """eq(u, v) = prod_i (u_i v_i + (1 - u_i)(1 - v_i))."""
    if len(u) != len(v):
        raise ShapeError(f"eq: points of {len(u)} and {len(v)} variables")
    acc = 1
    for a, b in zip(u, v):
        acc = acc * ((a * b + (1 - a) * (1 - b)) % R_MODULUS) % R_MODULUS
    return acc


def evaluate(table: FrVec, r: Sequence[int]) -> int:
    """MLE of table at point r (len(table) == 2^len(r))."""
    k = len(r)
    if len(table) != 1 << k:
        raise ShapeError(f"table of length {len(table)} for a point of {k} variables")
    if k == 0:
        return table[0]
    return table.dot(FrVec.eq_table(list(r)))


def fix_leading(table: FrVec, r: Sequence[int]) -> FrVec:
    """Partial evaluation: bind the first len(r) variables to r (returns the remaining table)."""
    out = table
    for c in r:
        out = out.fold(int(c))
    return out


def fix_middle(table: FrVec, dims: tuple[int, int, int], r: Sequence[int]) -> FrVec:
    """Partial evaluation of a row-major (a, b, c) table (dims, b = 2^len(r)): bind the variables
    of the middle axis to r; the result is the (a, c) table."""
    a, b, c = dims
    if b != 1 << len(r) or a * b * c != len(table):
        raise ShapeError(f"fix_middle: dims {dims} do not match a table of {len(table)} entries "
                         f"and {len(r)} variables")
    if not r:
        return table
    return table.mid_dot(FrVec.eq_table(list(r)), c)


def fix_trailing(table: FrVec, r: Sequence[int]) -> FrVec:
    """Partial evaluation: bind the last len(r) variables to r."""
    k = len(r)
    if k == 0:
        return table
    rows = len(table) >> k
    if rows << k != len(table):
        raise ShapeError("fix_trailing: too many variables")
    return table.rows_dot(FrVec.eq_table(list(r)))
