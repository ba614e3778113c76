"""Build configuration beyond pyproject.toml: the optional C record walker.

``vxlanlens.read._walk`` finds where each pcap record / pcapng block starts (a loop that
cannot be vectorised). It is optional: without a C compiler the install still succeeds and
the readers use the same walk in Python, slower (docs/performance.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vxlanlens.read._walk",
            sources=["vxlanlens/read/_walk.c"],
            optional=True,
        ),
        Extension(
            "vxlanlens.decode._fast",
            sources=["vxlanlens/decode/_fast.c"],
            optional=True,
        ),
    ]
)
