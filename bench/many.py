"""Many captures: one process against a local Dask cluster, with a projection for N machines.

``python bench/many.py [--captures 20] [--frames 500000] [--workers 2] [--out bench/data]``
generates ``--captures`` pcaps of ``--frames`` frames each with ``bench/gen_mixed.py`` (one
seed per capture, as if taken on different nodes), then times, on the same files:

1. ``single``: ``vxlanlens.read(files)``, its exchanges and journeys in this process;
2. ``dask``: ``vxlanlens.dask.read(files, chunk_bytes=...)`` on a ``distributed.LocalCluster``
   of ``--workers`` worker processes (one thread each): decoding and pairing on the workers,
   journeys shuffled by packet fingerprint and matched on the workers, the exchanges and
   journeys gathered to the client.

It prints a Markdown table (time, frames/s, peak RSS of this process and of each worker), the
volume shuffled and gathered, and a projection for N machines from the measured per-worker
throughput.
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


def _nbytes(bucket: object) -> object:
    from dask import delayed

    return delayed(lambda b: int(b[0].df.memory_usage(deep=True).sum()))(bucket)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=20)
    ap.add_argument("--frames", type=int, default=500_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "many")
    ap.add_argument(
        "--chunk-bytes",
        type=int,
        default=None,
        help="read pcap files larger than this in chunks (default: vxlanlens.dask.CHUNK_BYTES)",
    )
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
        chunk = vdask.CHUNK_BYTES if args.chunk_bytes is None else args.chunk_bytes
        dcap = vdask.read(files, chunk_bytes=chunk)
        ex_dask = dcap.exchanges()
        ex_s = time.perf_counter() - t
        jo_dask = dcap.journeys()
        dask_s = time.perf_counter() - t
        worker_rss = list(client.run(_worker_rss).values())
        shuffled = sum(
            client.gather(client.compute([_nbytes(b) for b in dcap._shuffle(None).buckets]))
        )
        gathered = int(
            ex_dask.memory_usage(deep=True).sum() + jo_dask.memory_usage(deep=True).sum()
        )
        partitions = dcap.packets.npartitions
    client_rss = _rss_mib()

    t = time.perf_counter()
    cap = vxlanlens.read(files, workers=1)
    ex_single = cap.exchanges
    single_ex_s = time.perf_counter() - t
    jo_single = cap.journeys
    single_s = time.perf_counter() - t
    single_rss = _rss_mib()
    n_ex = len(ex_single)
    assert len(ex_dask) == n_ex, (len(ex_dask), n_ex)
    assert len(jo_dask) == len(jo_single), (len(jo_dask), len(jo_single))
    n_jo = int(jo_single["journey"].max()) + 1 if len(jo_single) else 0
    multi = int((jo_single["n_obs"] > 1).sum())

    per_worker = total / dask_s / args.workers
    print(
        f"{args.captures} captures x {args.frames} frames = {total} frames, {size / 2**20:.0f} MiB"
    )
    print(f"partitions: {partitions} (chunk_bytes {chunk})")
    print()
    print("| path | packets + exchanges | + journeys | frames/s | peak RSS |")
    print("|---|---|---|---|---|")
    print(
        f"| one process | {single_ex_s:.1f} s | {single_s:.1f} s | {total / single_s:,.0f} | "
        f"{single_rss:.0f} MiB |"
    )
    print(
        f"| Dask, {args.workers} local workers | {ex_s:.1f} s | {dask_s:.1f} s | "
        f"{total / dask_s:,.0f} | client {client_rss:.0f} MiB; workers "
        + ", ".join(f"{r:.0f}" for r in worker_rss)
        + " MiB |"
    )
    print()
    print(
        f"exchanges: {n_ex}; journeys: {n_jo} ({len(jo_single)} observations, {multi} in "
        f"journeys seen more than once); counts equal on both paths"
    )
    print(
        f"shuffled (recognisable packets, required columns): {shuffled / 2**20:.1f} MiB; "
        f"gathered to the client: {gathered / 2**20:.1f} MiB"
    )
    print(f"per-worker throughput: {per_worker:,.0f} frames/s (decode + pairing + journeys)")
    print()
    per_capture_s = args.frames / per_worker
    print(
        f"one capture of {args.frames} frames takes a worker {per_capture_s:.1f} s; a capture is "
        "at most one task per chunk, so N machines of 2 workers take ceil(captures / 2N) rounds:"
    )
    print()
    print("| machines (2 workers each) | projected time for these captures |")
    print("|---|---|")
    for m in (1, 2, 4, 10):
        rounds = -(-args.captures // (2 * m))
        print(
            f"| {m} | {rounds * per_capture_s:.1f} s + shuffling {shuffled / 2**20:.0f} MiB "
            f"+ gathering {gathered / 2**20:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
