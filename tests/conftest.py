"""Test configuration: hypothesis profiles (no deadlines: timings on shared 2-core machines are
noisy, and speed is measured in bench/, not in tests).

    pytest                                   # profile "ci": the default, bounded run time
    HYPOTHESIS_PROFILE=dev pytest            # more examples
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
