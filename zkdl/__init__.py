"""zkdl: zero-knowledge proofs of deep-learning training.

Layers (each depends only on those above it):
  zkdl.field       Fr vectors (BLS12-381 scalar field), Montgomery limbs in numpy arrays
  zkdl.curve       G1 points, compressed encoding, MSM
  zkdl.generators  hash-to-curve generator vectors with an on-disk cache
  zkdl.backend     the backend interface (CPU: the C extension zkdl._native)
"""
from .errors import CacheError, EncodingError, FieldRangeError, ShapeError, VerificationError, ZkdlError
from .field import R_MODULUS, FrVec
from .curve import P_MODULUS, G1, PointVec, msm, msm_rows
from .threads import get_num_threads, max_threads, set_num_threads, threads

__all__ = [
    "ZkdlError", "VerificationError", "ShapeError", "FieldRangeError", "EncodingError", "CacheError",
    "R_MODULUS", "FrVec", "P_MODULUS", "G1", "PointVec", "msm", "msm_rows",
    "get_num_threads", "set_num_threads", "max_threads", "threads",
]
# the one place the version is written: pyproject.toml reads it (dynamic version), `zkdl --version` prints it
__version__ = "0.1.0"
