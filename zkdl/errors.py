"""Exceptions raised by zkdl.  Every error a user can cause is a ZkdlError."""


class ZkdlError(Exception):
    """Base class of all zkdl errors."""


class ShapeError(ZkdlError, ValueError):
    """An array has the wrong shape, dtype or length."""


class FieldRangeError(ZkdlError, ValueError):
    """A value is outside the range it must lie in (non-canonical field element, int64 overflow,
    division by zero)."""


class EncodingError(ZkdlError, ValueError):
    """Bytes that do not decode: malformed point, non-canonical scalar, wrong length or flags."""


class CacheError(ZkdlError):
    """An on-disk cache file is corrupt or does not match what it claims to hold."""


class VerificationError(ZkdlError):
    """A proof was rejected.  The message names the check that failed."""
