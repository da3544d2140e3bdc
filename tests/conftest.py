"""Test configuration: hypothesis profiles (no deadlines: timings on shared 2-core machines are
noisy, and speed is measured in bench/, not in tests).

    pytest                                   # profile "ci": the default, bounded run time
    HYPOTHESIS_PROFILE=dev pytest            # more examples

Fixture ``zkdl_cache``: generator tests get a private, empty ZKDL_CACHE_DIR (a tmp dir) and an
empty in-process memo (``zkdl.generators._memo``), both restored afterwards.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def zkdl_cache(tmp_path, monkeypatch):
    """A fresh generator cache directory (returned as a Path) and a fresh memo.  Tests that want
    to force a reload from disk call ``zkdl.generators._memo.clear()`` (the dict installed here)."""
    import zkdl.generators as gens

    cache = tmp_path / "zkdl-cache"
    monkeypatch.setenv("ZKDL_CACHE_DIR", str(cache))
    monkeypatch.setattr(gens, "_memo", {})
    return cache
