"""Many captures: one process against a local Dask cluster, with a projection for N machines.

``python bench/many.py [--captures 20] [--frames 500000] [--workers 2] [--out bench/data]``
generates ``--captures`` pcaps of ``--frames`` frames each with ``bench/gen_mixed.py`` (one
seed per capture, as if taken on different nodes), then times, on the same files:

1. ``single``: ``vxlanlens.read(files)`` and its exchanges in this process;
2. ``dask``: ``vxlanlens.dask.read(files)`` on a ``distributed.LocalCluster`` of ``--workers``
   worker processes (one thread each): decoding and pairing on the workers, the exchanges
   gathered to the client.

It prints a Markdown table (time, frames/s, peak RSS of this process and of each worker) and a
projection for N machines from the measured per-worker throughput and the bytes gathered.
Nothing here is a test: timings vary with the machine's load.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_mixed import write_pcap  # noqa: E402


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_rss() -> float:
    import resource as r

    return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=20)
    ap.add_argument("--frames", type=int, default=500_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "many")
    args = ap.parse_args(argv)

    import vxlanlens
    import vxlanlens.dask as vdask

    args.out.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(args.captures):
        path = args.out / f"node{k:02d}-{args.frames}.pcap"
        if not path.exists():
            write_pcap(path, args.frames, seed=100 + k)
        files.append(str(path))
    total = args.captures * args.frames
    size = sum(Path(f).stat().st_size for f in files)

    from distributed import Client, LocalCluster

    # the workers start first, from a small process, so their peak memory is their own
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        t = time.perf_counter()
        dcap = vdask.read(files)
        ex_dask = dcap.exchanges()
        dask_s = time.perf_counter() - t
        worker_rss = list(client.run(_worker_rss).values())
        gathered = int(ex_dask.memory_usage(deep=True).sum())
    client_rss = _rss_mib()

    t = time.perf_counter()
    cap = vxlanlens.read(files, workers=1)
    ex_single = cap.exchanges
    single_s = time.perf_counter() - t
    single_rss = _rss_mib()
    n_ex = len(ex_single)
    assert len(ex_dask) == n_ex, (len(ex_dask), n_ex)

    per_worker = total / dask_s / args.workers
    print(
        f"{args.captures} captures x {args.frames} frames = {total} frames, {size / 2**20:.0f} MiB"
    )
    print()
    print("| path | time | frames/s | peak RSS |")
    print("|---|---|---|---|")
    print(f"| one process | {single_s:.1f} s | {total / single_s:,.0f} | {single_rss:.0f} MiB |")
    print(
        f"| Dask, {args.workers} local workers | {dask_s:.1f} s | {total / dask_s:,.0f} | "
        f"client {client_rss:.0f} MiB; workers "
        + ", ".join(f"{r:.0f}" for r in worker_rss)
        + " MiB |"
    )
    print()
    print(
        f"exchanges: {n_ex} (equal on both paths); gathered to the client: {gathered / 2**20:.1f} MiB"
    )
    print(f"per-worker throughput: {per_worker:,.0f} frames/s (decode + pairing)")
    print()
    per_capture_s = args.frames / per_worker
    print(
        f"one capture of {args.frames} frames takes a worker {per_capture_s:.1f} s; a capture is "
        "one task, so N machines of 2 workers take ceil(captures / 2N) rounds:"
    )
    print()
    print("| machines (2 workers each) | projected time for these captures |")
    print("|---|---|")
    for m in (1, 2, 4, 10):
        rounds = -(-args.captures // (2 * m))
        print(f"| {m} | {rounds * per_capture_s:.1f} s + gathering {gathered / 2**20:.1f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
