"""vxlanlens: explain Kubernetes overlay (Cilium VXLAN/Geneve) packet captures."""

from ._version import __version__

__all__ = ["__version__"]
