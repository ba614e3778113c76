"""Reading captures on a Dask cluster for :meth:`vxlanlens.options.ReadOptions.read` (the CLI's
``--scheduler``): a scheduler address, or ``local:N`` for a local cluster of N processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import VxlanlensError

if TYPE_CHECKING:
    from .capture import Capture
    from .options import ReadOptions

__all__ = ["read_on_dask"]


def _local_workers(scheduler: str) -> int:
    try:
        n = int(scheduler.split(":", 1)[1])
    except ValueError:
        n = 0
    if n < 1:
        raise VxlanlensError(f"--scheduler {scheduler!r}: expected local:N with N >= 1")
    return n


def read_on_dask(opts: ReadOptions, captures: Sequence[str]) -> Capture:
    """``captures`` read and decoded on the cluster of ``opts.scheduler``, gathered into a
    :class:`~vxlanlens.Capture` (with ``opts.capture_at`` applied)."""
    scheduler = str(opts.scheduler)
    n = _local_workers(scheduler) if scheduler.startswith("local:") else 0
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise VxlanlensError(
            "--scheduler needs dask and distributed: pip install 'vxlanlens[dask]'"
        ) from None
    from . import dask as vdask

    cluster: Any = None
    if n:
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=10)
        except OSError as exc:
            detail = " ".join(str(exc).split())[:200]
            raise VxlanlensError(f"cannot reach the Dask scheduler {scheduler}: {detail}") from None
    try:
        dcap = vdask.read(
            list(captures),
            vxlan_ports=opts.vxlan_ports,
            geneve_ports=opts.geneve_ports,
            gpe_ports=opts.gpe_ports,
            guess_tunnels=opts.guess_tunnels,
            reassemble=opts.reassemble,
            timeout_s=opts.timeout_s,
            mirror_vxlan=opts.mirror_vxlan,
        )
        cap = dcap.to_capture(list(opts.topology) or None)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return cap.with_options(capture_at=opts.capture_at) if opts.capture_at else cap
