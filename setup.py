"""Build of the C extension zkdl._native (the rest of the metadata lives in pyproject.toml).

-O3 and OpenMP, no other system library.  ZKDL_NO_OPENMP=1 builds a single-threaded extension
for compilers without OpenMP.
"""
import os

from setuptools import Extension, setup

openmp = [] if os.environ.get("ZKDL_NO_OPENMP") else ["-fopenmp"]

setup(
    ext_modules=[
        Extension(
            "zkdl._native",
            sources=["zkdl/_native/module.c"],
            depends=["zkdl/_native/zk_field.h", "zkdl/_native/zk_g1.h", "zkdl/_native/zk_msm.h"],
            extra_compile_args=["-O3", "-std=gnu11", "-Wall", "-Wno-unknown-pragmas"] + openmp,
            extra_link_args=openmp,
        )
    ]
)
