"""The build of hefl's C extension; everything else is declared in pyproject.toml.

``hefl.crypto._multiexp`` is the kernel of :func:`hefl.crypto.multiexp.multi_exp_rows` (Straus'
w-NAF rows in Montgomery form on GMP's mpn layer), linked to the system's libgmp (headers from
libgmp-dev). ``pip install -e .`` compiles it next to its source.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "hefl.crypto._multiexp",
            sources=["offchain/hefl/crypto/_multiexp.c"],
            libraries=["gmp"],
        )
    ]
)
