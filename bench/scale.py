"""The large-capture figures of ``bench/run.py``: explain times, a streaming run of ``packets``
over a ten-million-frame capture, a scaling curve, and the pcapng split.

Each measurement runs in a fresh process; its wall time and peak RSS come from that process
(``ru_maxrss`` of the waited child, which covers the reading processes it forked, each on its
own). Nothing here asserts a timing.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"

__all__ = [
    "explain_compare",
    "explain_phases",
    "explain_run",
    "pcapng_copy",
    "repeated_zstd",
    "run_measured",
    "scaling_point",
    "stream_run",
]


def run_measured(
    cmd: list[str],
    stdout: int | None = subprocess.DEVNULL,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, object]:
    """Run ``cmd`` in a fresh process from a fresh helper (so that ``RUSAGE_CHILDREN`` is that
    command's alone); gives ``seconds``, ``cpu_seconds`` (user + system time of the command's
    processes), ``maxrss_kb`` (largest of the command's processes) and ``returncode``, plus
    ``stderr`` (last line) on failure. ``cwd`` (default: the project) and ``env`` are the
    command's."""
    helper = (
        "import resource, subprocess, sys, time, json\n"
        "t0 = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,"
        " text=True)\n"
        "dt = time.perf_counter() - t0\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "rss = ru.ru_maxrss\n"
        "tail = (p.stderr.strip().splitlines() or [''])[-1][:300]\n"
        "print(json.dumps({'seconds': dt, 'cpu_seconds': ru.ru_utime + ru.ru_stime,"
        " 'maxrss_kb': rss, 'returncode': p.returncode, 'stderr': tail}))\n"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", helper, *cmd],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"seconds": float("nan"), "maxrss_kb": 0, "returncode": -1, "stderr": done.stderr}
    return dict(json.loads(lines[-1]))


def _vxlanlens() -> list[str]:
    return [sys.executable, "-m", "vxlanlens"]


def explain_run(path: Path, baseline: Path | None = None) -> dict[str, object]:
    """``vxlanlens explain PATH`` (text to /dev/null): seconds, CPU seconds, peak RSS, bytes
    of text; from ``baseline`` (a folder holding an older ``vxlanlens`` package) when given
    (no text size then)."""
    if baseline is not None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return run_measured([*_vxlanlens(), "explain", str(path.resolve())], cwd=baseline, env=env)
    result = run_measured([*_vxlanlens(), "explain", str(path)])
    out = subprocess.run([*_vxlanlens(), "explain", str(path)], capture_output=True, cwd=ROOT)
    result["text_bytes"] = len(out.stdout)
    return result


def explain_compare(paths: dict[int, Path], baseline: Path, rounds: int) -> list[str]:
    """Interleaved ``explain`` runs (baseline, then this tree, ``rounds`` times per size):
    Markdown lines with every run's CPU seconds (wall seconds and peak RSS of the best)."""
    lines = [
        f"`explain` before / after, interleaved (baseline `{baseline}` then this tree, "
        f"{rounds} rounds per size, load before: {load()}); CPU seconds are user + system "
        "time of the command's processes, the fairer figure on a loaded machine:",
        "",
        "| frames | baseline CPU s (runs) | this tree CPU s (runs) | best before | best after "
        "| speed-up (CPU) | wall s, best before / after | peak RSS before / after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, path in paths.items():
        before: list[dict[str, object]] = []
        after: list[dict[str, object]] = []
        for _ in range(rounds):
            for into, base in ((before, baseline), (after, None)):
                r = (
                    explain_run(path, base)
                    if base is not None
                    else run_measured([*_vxlanlens(), "explain", str(path)])
                )
                if r.get("returncode") == 0:
                    into.append(r)
        if not before or not after:
            lines.append(f"| {n:,} | failed | | | | | | |")
            continue
        cb = [float(r["cpu_seconds"]) for r in before]  # type: ignore[arg-type]
        ca = [float(r["cpu_seconds"]) for r in after]  # type: ignore[arg-type]
        wb = min(float(r["seconds"]) for r in before)  # type: ignore[arg-type]
        wa = min(float(r["seconds"]) for r in after)  # type: ignore[arg-type]
        rb = max(int(r["maxrss_kb"]) for r in before)  # type: ignore[call-overload]
        ra = max(int(r["maxrss_kb"]) for r in after)  # type: ignore[call-overload]
        lines.append(
            f"| {n:,} | {', '.join(f'{x:.1f}' for x in cb)} | {', '.join(f'{x:.1f}' for x in ca)} "
            f"| {min(cb):.1f} | {min(ca):.1f} | {min(cb) / min(ca):.2f}x | {wb:.1f} / {wa:.1f} "
            f"| {_mib(rb)} / {_mib(ra)} |"
        )
    lines += ["", f"Load after: {load()}.", ""]
    return lines


_EXPLAIN_PHASES = r"""
import gc, json, resource, sys, time
t = time.process_time
t0 = t()
import vxlanlens
from vxlanlens.explain.context import Context
from vxlanlens.explain.findings import DETECTORS
from vxlanlens.explain.paths import build_paths
from vxlanlens.overlays import recognise
phases = [("imports", t() - t0)]
a = t(); cap = vxlanlens.read([sys.argv[1]]); phases.append(("reading (this process)", t() - a))
gc.disable()  # as Capture.explain does
for name, attr in (("topology inference", "inferred_topology"), ("annotation", "annotated"),
                   ("pairing exchanges", "exchanges"), ("journeys (explain's index)", "_journey_index")):
    a = t(); getattr(cap, attr); phases.append((name, t() - a))
a = t(); overlay = recognise(cap.annotated, cap.topology, cap.exchanges)
phases.append(("overlay recognition", t() - a))
a = t()
ctx = Context(packets=cap.annotated, topology=cap.topology, exchanges=cap.exchanges,
              journeys=cap._journey_index, loaded=False, overlay=overlay)
phases.append(("context", t() - a))
a = t(); build_paths(ctx); phases.append(("paths", t() - a))
detectors = []
a = t()
for d in DETECTORS:
    b = t(); d(ctx); detectors.append((d.name, t() - b))
phases.append(("findings", t() - a))
a = t(); exp = cap.explain(); phases.append(("explain() as a whole, this process's part: recognition, context, paths and findings once more (shared with a forked process, whose time is not counted here), the summary and counts", t() - a))
a = t(); cap.report("text", explanation=exp); phases.append(("text", t() - a))
a = t(); cap.report("json", explanation=exp); phases.append(("JSON", t() - a))
print(json.dumps({"phases": phases, "detectors": sorted(detectors, key=lambda x: -x[1]),
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def explain_phases(path: Path) -> list[str]:
    """Markdown of where ``explain``'s CPU time goes on ``path``: each stage timed in a fresh
    process with ``time.process_time`` (one run; the reading workers' time is not counted)."""
    import json

    done = subprocess.run(
        [sys.executable, "-c", _EXPLAIN_PHASES, str(path.resolve())],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return [f"(phase timing failed: {(done.stderr.strip().splitlines() or ['?'])[-1]})", ""]
    r = json.loads(lines[-1])
    out = [
        f"Where `explain`'s CPU time goes ({path.name}; process CPU seconds of each stage, one "
        f"run in a fresh process, load {load()}):",
        "",
        "| stage | CPU s |",
        "|---|---|",
        *[f"| {name} | {sec:.2f} |" for name, sec in r["phases"]],
        "",
        "Costliest detectors: "
        + ", ".join(f"`{name}` {sec:.2f} s" for name, sec in r["detectors"][:8])
        + ".",
        "",
    ]
    return out


def repeated_zstd(path: Path, copies: int) -> tuple[Path, int]:
    """A zstd-compressed classic pcap holding ``copies`` copies of the records of ``path`` one
    after the other (timestamps restart with each copy); gives its path and frame count."""
    import zstandard

    out = OUT / f"{path.stem}-x{copies}.pcap.zst"
    frames = _count_records(path)
    if out.exists():
        return out, frames * copies
    tmp = out.with_suffix(".tmp")
    cctx = zstandard.ZstdCompressor(level=1, threads=-1)
    with open(path, "rb") as src, open(tmp, "wb") as raw, cctx.stream_writer(raw) as dst:
        dst.write(src.read(24))
        for _ in range(copies):
            src.seek(24)
            shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
    tmp.rename(out)
    return out, frames * copies


def _count_records(path: Path) -> int:
    """Records of a little-endian classic pcap (walks the record headers)."""
    n, pos = 0, 24
    size = path.stat().st_size
    with open(path, "rb") as f:
        while pos + 16 <= size:
            f.seek(pos + 8)
            pos += 16 + int.from_bytes(f.read(4), "little")
            n += 1
    return n


def stream_run(path: Path, fmt: str = "parquet") -> dict[str, object]:
    """``vxlanlens packets PATH -f FMT -o FILE`` (written batch by batch): seconds, peak RSS,
    output size; the output is deleted."""
    target = OUT / f"stream-out.{fmt}"
    target.unlink(missing_ok=True)
    result = run_measured([*_vxlanlens(), "packets", str(path), "-f", fmt, "-o", str(target)])
    result["output_bytes"] = target.stat().st_size if target.exists() else 0
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    return result


def scaling_point(path: Path) -> dict[str, object]:
    """The packets table of ``path`` in one process (``read(workers=1)``): seconds, peak RSS,
    table bytes and frames, measured inside a fresh process."""
    code = (
        "import json, resource, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import vxlanlens\n"
        "t0 = time.perf_counter()\n"
        "df = vxlanlens.read([sys.argv[1]], workers=1).packets\n"
        "dt = time.perf_counter() - t0\n"
        "print(json.dumps({'frames': len(df), 'seconds': dt,"
        " 'table_bytes': int(df.memory_usage(deep=True).sum()),"
        " 'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return dict(json.loads(lines[-1]))


def pcapng_copy(path: Path) -> Path:
    """``path`` (a little-endian classic pcap, microseconds) rewritten as pcapng: one section,
    one interface, an Enhanced Packet Block per record."""
    import struct

    out = path.with_suffix(".pcapng")
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        head = src.read(24)
        snaplen, linktype = struct.unpack_from("<II", head, 16)
        shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
        idb = struct.pack("<IIHHI", 1, 20, linktype, 0, snaplen) + struct.pack("<I", 20)
        dst.write(shb + idb)
        parts: list[bytes] = []
        while True:
            rec = src.read(16)
            if len(rec) < 16:
                break
            sec, usec, incl, orig = struct.unpack("<IIII", rec)
            data = src.read(incl)
            pad = -incl % 4
            blen = 32 + incl + pad
            ts = sec * 1_000_000 + usec
            parts.append(struct.pack("<IIIIIII", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, incl, orig))
            parts.append(data + b"\x00" * pad + struct.pack("<I", blen))
            if len(parts) >= 20000:
                dst.write(b"".join(parts))
                parts.clear()
        dst.write(b"".join(parts))
    tmp.rename(out)
    return out


def pcapng_split_run(path: Path, workers: int) -> dict[str, object]:
    """Read pcapng ``path`` with ``workers`` processes in a fresh process: seconds, frames, and
    how many parts the file was cut into and how many came from other processes."""
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import vxlanlens, vxlanlens.capture as c\n"
        "seen = []\n"
        "real = c.read_split\n"
        "def spy(*a, **k):\n"
        "    r = real(*a, **k)\n"
        "    seen.append(r)\n"
        "    return r\n"
        "c.read_split = spy\n"
        "t0 = time.perf_counter()\n"
        "df = vxlanlens.read([sys.argv[1]], workers=int(sys.argv[2])).packets\n"
        "dt = time.perf_counter() - t0\n"
        "r = seen[0] if seen else None\n"
        "print(json.dumps({'frames': len(df), 'seconds': dt,"
        " 'parts': getattr(r, 'parts', 1), 'parts_used': getattr(r, 'parts_used', 0)}))\n"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", code, str(path), str(workers)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return dict(json.loads(lines[-1]))


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def now() -> float:
    """Seconds on a monotonic clock."""
    return time.perf_counter()


def self_rss_kb() -> int:
    """Peak RSS of this process (KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


_TIMED_READ = """
import json, os, resource, sys, time
base = os.environ.get("VXLANLENS_BASELINE")
if base:  # an older copy of the package: put it first, ahead of an editable install
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f)]
    sys.path.insert(0, base)
import vxlanlens
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
df = vxlanlens.read([sys.argv[1]], workers=int(sys.argv[2])).packets
dt = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
print(json.dumps({"seconds": dt, "cpu": cpu, "frames": len(df), "from": vxlanlens.__file__,
                  "bytes_per_frame": float(df.memory_usage(deep=True).sum()) / max(len(df), 1)}))
"""


def timed_read(path: Path, workers: int, baseline: Path | None = None) -> dict[str, object]:
    """``read(path, workers=...)`` in a fresh process, from ``baseline`` (a folder holding an
    older ``vxlanlens`` package, e.g. ``git archive REV vxlanlens | tar -x -C DIR``) or from
    this tree: seconds, CPU seconds of the reading process, bytes per frame."""
    import json

    env = dict(os.environ)
    if baseline is not None:
        env["VXLANLENS_BASELINE"] = str(baseline)
    else:
        env.pop("VXLANLENS_BASELINE", None)
        env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", _TIMED_READ, str(path.resolve()), str(workers)],
        capture_output=True,
        text=True,
        cwd=ROOT if baseline is None else baseline,
        env=env,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return dict(json.loads(lines[-1]))


def compare(path: Path, baseline: Path, rounds: int) -> list[str]:
    """Interleaved runs (baseline, then this tree, ``rounds`` times, for one process and for
    the default number) of reading ``path``; Markdown lines with every run and the medians."""
    import statistics

    from vxlanlens.parallel import default_workers

    lines = [
        f"Before / after, interleaved (baseline `{baseline}` then this tree, {rounds} rounds, "
        f"load before: {load()}):",
        "",
        "| reading | baseline runs (s) | this tree runs (s) | median before | median after | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for workers in (1, default_workers()):
        before: list[float] = []
        after: list[float] = []
        for _ in range(rounds):
            for into, base in ((before, baseline), (after, None)):
                r = timed_read(path, workers, base)
                if "seconds" in r:
                    into.append(float(r["seconds"]))  # type: ignore[arg-type]
        if not before or not after:
            lines.append(f"| workers={workers} | failed | | | | |")
            continue
        mb, ma = statistics.median(before), statistics.median(after)
        lines.append(
            f"| workers={workers} | {', '.join(f'{x:.2f}' for x in before)} | "
            f"{', '.join(f'{x:.2f}' for x in after)} | {mb:.2f} | {ma:.2f} | {mb / ma:.2f}x |"
        )
    lines += ["", f"Load after: {load()}.", ""]
    return lines


def _mib(kb: object) -> str:
    return f"{int(kb) / 1024:.0f} MiB" if isinstance(kb, int) else "?"  # type: ignore[arg-type]


def sections(
    path: Path,
    frames: int,
    capture_for: object,
    *,
    explain_frames: list[int],
    stream_copies: int,
    scaling: list[int],
    pcapng: bool,
    bytes_per_frame: float | None,
    log: object = print,
) -> list[str]:
    """Markdown of the large-capture figures (see the module doc). ``capture_for(n)`` gives
    the path of a generated capture of ``n`` frames; ``path`` is the one of ``frames``."""
    say = log  # type: ignore[assignment]
    lines: list[str] = []
    if explain_frames:
        lines += [
            "## explain",
            "",
            "`vxlanlens explain CAPTURE` (text to /dev/null), a fresh process each; peak RSS "
            "is the largest of its processes.",
            "",
            "| frames | seconds | CPU seconds | peak RSS | table (B/frame x frames) | text |",
            "|---|---|---|---|---|---|",
        ]
        for n in explain_frames:
            say(f"explain {n} frames ...")  # type: ignore[operator]
            r = explain_run(capture_for(n))  # type: ignore[operator]
            table = f"{bytes_per_frame * n / 2**20:.0f} MiB" if bytes_per_frame else "?"
            status = "" if r.get("returncode") == 0 else f" (failed: {r.get('stderr')})"
            lines.append(
                f"| {n:,} | {float(r['seconds']):.1f}{status} | "  # type: ignore[arg-type]
                f"{float(r.get('cpu_seconds', float('nan'))):.1f} | {_mib(r['maxrss_kb'])} | "  # type: ignore[arg-type]
                f"{table} | {int(r.get('text_bytes', 0)) / 1024:.0f} KiB |"  # type: ignore[call-overload]
            )
        lines.append("")
        lines += explain_phases(capture_for(explain_frames[0]))  # type: ignore[operator]
    if stream_copies:
        say(f"streaming {stream_copies} copies ...")  # type: ignore[operator]
        zst, total = repeated_zstd(path, stream_copies)
        r = stream_run(zst, "parquet")
        status = "" if r.get("returncode") == 0 else f" (failed: {r.get('stderr')})"
        lines += [
            "## Streaming `packets`",
            "",
            f"`vxlanlens packets {zst.name} -f parquet -o OUT` on {total:,} frames "
            f"({stream_copies} copies of the {frames:,}-frame capture, zstd-compressed, "
            f"{zst.stat().st_size / 1e6:.0f} MB; written batch by batch): "
            f"{float(r['seconds']):.1f} s ({total / float(r['seconds']):,.0f} frames/s), "  # type: ignore[arg-type]
            f"peak RSS {_mib(r['maxrss_kb'])}{status}, output {int(r.get('output_bytes', 0)) / 1e6:.0f} MB.",  # type: ignore[call-overload]
            "",
        ]
        zst.unlink(missing_ok=True)
    if scaling:
        lines += [
            "## Scaling (one process, whole table)",
            "",
            "`read([path], workers=1).packets` in a fresh process per size (captures of "
            "`gen_mixed.py`).",
            "",
            "| frames | seconds | frames/s | peak RSS | peak RSS / frame | table B/frame |",
            "|---|---|---|---|---|---|",
        ]
        for n in scaling:
            say(f"scaling {n} ...")  # type: ignore[operator]
            r = scaling_point(capture_for(n))  # type: ignore[operator]
            if "error" in r:
                lines.append(f"| {n:,} | failed: {r['error']} | | | | |")
                continue
            f, s, rss = int(r["frames"]), float(r["seconds"]), int(r["maxrss_kb"])  # type: ignore[call-overload, arg-type]
            lines.append(
                f"| {f:,} | {s:.3f} | {f / s:,.0f} | {rss / 1024:.0f} MiB | "
                f"{rss * 1024 / f:,.0f} B | {int(r['table_bytes']) / f:.1f} |"  # type: ignore[call-overload]
            )
        lines.append("")
    if pcapng:
        say("pcapng ...")  # type: ignore[operator]
        ng = pcapng_copy(path)
        from vxlanlens.parallel import default_workers

        one = pcapng_split_run(ng, 1)
        many = pcapng_split_run(ng, default_workers())
        lines += ["## pcapng", ""]
        if "error" in one or "error" in many:
            lines += [f"failed: {one.get('error') or many.get('error')}", ""]
        else:
            lines += [
                f"The same {frames:,} frames as pcapng ({ng.stat().st_size / 1e6:.0f} MB): one "
                f"process {float(one['seconds']):.2f} s; {default_workers()} processes "  # type: ignore[arg-type]
                f"{float(many['seconds']):.2f} s, the file cut into {many['parts']} parts, "  # type: ignore[arg-type]
                f"{many['parts_used']} of them read by other processes and used.",
                "",
            ]
        ng.unlink(missing_ok=True)
    return lines


KEPT = "## Many captures"
"""The RESULTS.md section that ``bench/many.py`` owns: kept as it is when ``run.py`` rewrites
the file's top part."""


def kept_sections(results: Path) -> str:
    """The sections of ``results`` from :data:`KEPT` on (empty when there are none)."""
    if not results.exists():
        return ""
    old = results.read_text()
    at = old.find(KEPT)
    return "" if at < 0 else "\n" + old[at:]
