"""Only the C extension: everything else about the package is in pyproject.toml.

The extension is the exact PDQ range-search kernel (src/himaya/matching/_pdqscan.c); `make setup` builds it
in place. himaya.matching.pdq_index falls back to faiss, slower but as exact, when it is not built.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("himaya.matching._pdqscan", sources=["src/himaya/matching/_pdqscan.c"], optional=True),
    ]
)
