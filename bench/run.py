"""Benchmark: vxlanlens against tshark, dpkt and scapy on one generated mixed capture.

``python bench/run.py [--frames 1000000] [--seed 1] [--keep] [--tools vxlanlens,tshark,...]``

1. generates ``bench/out/mixed-<N>-seed<S>.pcap`` once with ``gen_mixed.py`` (reused when it
   is already there; deleted at the end unless ``--keep``);
2. runs each tool in its own subprocess on that file, extracting the same fields (outer and
   inner Ethernet/IPv4/IPv6 addresses, UDP/TCP ports, VNI, ICMP/ICMPv6 type, code and echo
   id/seq, ND target, ARP fields):
   * vxlanlens: ``vxlanlens.read(path).packets`` (the whole packets table);
   * tshark: ``tshark -n -r FILE -d udp.port==8472,vxlan -T fields -e ...`` to /dev/null;
   * dpkt: a Python loop over ``dpkt.pcap.Reader`` collecting the fields as raw values;
   * scapy: the same loop over the first ``--scapy-frames`` frames, extrapolated to N;
3. prints frames/s, peak RSS and each tool's time relative to vxlanlens;
4. measures ``explain`` on 300k and 1M frames, a streaming ``packets`` run over ten copies of
   the capture, a scaling curve, the pcapng split and, with ``--baseline DIR``, interleaved
   before/after reads against an older package (``bench/scale.py``);
5. writes all of it into ``bench/RESULTS.md`` with the date, the machine, the versions and the
   load, keeping the "Many captures" section (``bench/many.py``'s) as it is.

Peak RSS is measured per tool: each runs in a fresh worker process (``run.py --worker``), which
reports its own ``ru_maxrss`` (Python tools) or its child's (tshark). A benchmark is not a test:
nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
RESULTS = HERE / "RESULTS.md"
TOOLS = (
    "vxlanlens",
    "vxlanlens-1proc",
    "tshark",
    "dpkt",
    "scapy",
    "vxlanlens-scapy",
    "vxlanlens-tshark",
)
REPEATED = ("vxlanlens", "vxlanlens-1proc")
"""Tools run ``--repeat`` times (fresh process each); the fastest run is kept."""
VXLAN_PORTS = (8472, 4789)

TSHARK_FIELDS = [
    "frame.number",
    "eth.src",
    "eth.dst",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "udp.srcport",
    "udp.dstport",
    "vxlan.vni",
    "tcp.srcport",
    "tcp.dstport",
    "icmp.type",
    "icmp.code",
    "icmp.ident",
    "icmp.seq",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "icmpv6.nd.ns.target_address",
    "icmpv6.nd.na.target_address",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
]


# --------------------------------------------------------------------------------------------
# workers: each runs in its own process and prints one JSON line
# --------------------------------------------------------------------------------------------


def _rss_now_kb() -> int:
    """Current resident set size of this process in KiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _worker_vxlanlens(path: Path, limit: int, workers: int | None = None) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    import vxlanlens
    from vxlanlens.parallel import default_workers, splittable

    base = _rss_now_kb()
    t0 = time.perf_counter()
    df = vxlanlens.read([str(path)], workers=workers).packets
    seconds = time.perf_counter() - t0
    table = int(df.memory_usage(deep=True).sum())
    read_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before pairing adds its own
    child_maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # reading processes
    from vxlanlens.exchanges import exchanges

    t1 = time.perf_counter()
    paired = exchanges(df)
    pairing = time.perf_counter() - t1
    return {
        "frames": len(df),
        "seconds": seconds,
        "table_bytes": table,
        "bytes_per_frame": table / max(len(df), 1),
        "base_rss_kb": base,
        "pairing_seconds": pairing,
        "read_maxrss_kb": read_maxrss,
        "child_read_maxrss_kb": child_maxrss,
        "workers": n if splittable(str(path), n := workers or default_workers()) else 1,
        "exchanges": len(paired),
        "version": getattr(vxlanlens, "__version__", "?"),
    }


def _slice_pcap(path: Path, limit: int) -> Path:
    """The first ``limit`` records of a little-endian classic pcap, in a temporary file."""
    out = OUT / f"{path.stem}-first{limit}.pcap"
    if out.exists():
        return out
    with open(path, "rb") as src, open(out, "wb") as dst:
        dst.write(src.read(24))
        for _ in range(limit):
            head = src.read(16)
            if len(head) < 16:
                break
            caplen = int.from_bytes(head[8:12], "little")
            dst.write(head + src.read(caplen))
    return out


def _engine_worker(engine: str) -> Callable[[Path, int], dict[str, object]]:
    def worker(path: Path, limit: int) -> dict[str, object]:
        sys.path.insert(0, str(ROOT))
        import vxlanlens

        part = _slice_pcap(path, limit)
        t0 = time.perf_counter()
        df = vxlanlens.read([str(part)], engine=engine).packets
        return {
            "frames": len(df),
            "seconds": time.perf_counter() - t0,
            "version": f"engine={engine}",
        }

    return worker


def _worker_tshark(path: Path, limit: int) -> dict[str, object]:
    cmd = ["tshark", "-n", "-r", str(path), "-d", "udp.port==8472,vxlan", "-T", "fields"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(cmd, stdout=devnull, stderr=subprocess.DEVNULL, check=True)
    seconds = time.perf_counter() - t0
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"frames": None, "seconds": seconds, "child_maxrss_kb": child.ru_maxrss}


def _dpkt_row(buf: bytes, dpkt: object) -> tuple:
    """The benchmark's fields of one frame with dpkt, as raw values (no text formatting)."""
    eth = dpkt.ethernet.Ethernet(buf)
    outer: tuple = ()
    vni = None
    ip = eth.data
    if (
        isinstance(ip, dpkt.ip.IP)
        and isinstance(ip.data, dpkt.udp.UDP)
        and ip.data.dport in VXLAN_PORTS
    ):
        udp = ip.data
        outer = (eth.src, eth.dst, ip.src, ip.dst, ip.ttl, udp.sport, udp.dport)
        vni = int.from_bytes(udp.data[4:7], "big")
        eth = dpkt.ethernet.Ethernet(udp.data[8:])
        ip = eth.data
    l3: tuple = ()
    l4: tuple = ()
    if isinstance(ip, dpkt.ip.IP):
        l3 = (ip.src, ip.dst, ip.ttl, ip.p)
        t = ip.data
        if isinstance(t, dpkt.icmp.ICMP):
            e = t.data
            l4 = (t.type, t.code, getattr(e, "id", None), getattr(e, "seq", None))
        elif isinstance(t, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            l4 = (t.sport, t.dport)
    elif isinstance(ip, dpkt.ip6.IP6):
        l3 = (ip.src, ip.dst, ip.hlim, ip.nxt)
        t = ip.data
        if isinstance(t, dpkt.icmp6.ICMP6):
            if t.type in (128, 129):
                e = t.data
                l4 = (t.type, t.code, e.id, e.seq)
            elif t.type in (135, 136):
                l4 = (t.type, t.code, bytes(t.data)[4:20])
            else:
                l4 = (t.type, t.code)
        elif isinstance(t, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            l4 = (t.sport, t.dport)
    elif isinstance(ip, dpkt.arp.ARP):
        l3 = (ip.op, ip.sha, ip.spa, ip.tha, ip.tpa)
    return (outer, vni, eth.src, eth.dst, l3, l4)


def _worker_dpkt(path: Path, limit: int) -> dict[str, object]:
    import dpkt

    rows = []
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            rows.append(_dpkt_row(buf, dpkt))
    seconds = time.perf_counter() - t0
    return {"frames": len(rows), "seconds": seconds, "version": dpkt.__version__}


def _scapy_row(pkt: object, layers: dict) -> tuple:
    """The benchmark's fields of one scapy packet (scapy binds UDP 8472 to VXLAN itself)."""
    Ether, IP, IPv6, UDP, TCP, ICMP, VXLAN, ARP = (
        layers[k] for k in ("Ether", "IP", "IPv6", "UDP", "TCP", "ICMP", "VXLAN", "ARP")
    )
    outer: tuple = ()
    vni = None
    frame = pkt
    vx = pkt.getlayer(VXLAN)
    if vx is not None:
        ip, udp = pkt.getlayer(IP), pkt.getlayer(UDP)
        outer = (pkt[Ether].src, pkt[Ether].dst, ip.src, ip.dst, ip.ttl, udp.sport, udp.dport)
        vni = vx.vni
        frame = vx.payload
    l3: tuple = ()
    l4: tuple = ()
    net = frame.payload
    if isinstance(net, IP):
        l3 = (net.src, net.dst, net.ttl, net.proto)
        t = net.payload
        if isinstance(t, ICMP):
            l4 = (t.type, t.code, t.id, t.seq)
        elif isinstance(t, (TCP, UDP)):
            l4 = (t.sport, t.dport)
    elif isinstance(net, IPv6):
        l3 = (net.src, net.dst, net.hlim, net.nh)
        t = net.payload
        typ = getattr(t, "type", None)
        if typ in (128, 129):
            l4 = (typ, t.code, t.id, t.seq)
        elif typ in (135, 136):
            l4 = (typ, t.code, t.tgt)
        elif isinstance(t, (TCP, UDP)):
            l4 = (t.sport, t.dport)
    elif isinstance(net, ARP):
        l3 = (net.op, net.hwsrc, net.psrc, net.hwdst, net.pdst)
    return (outer, vni, frame.src, frame.dst, l3, l4)


def _worker_scapy(path: Path, limit: int) -> dict[str, object]:
    import scapy
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.utils import PcapReader

    layers = {
        "Ether": Ether,
        "IP": IP,
        "IPv6": IPv6,
        "UDP": UDP,
        "TCP": TCP,
        "ICMP": ICMP,
        "VXLAN": VXLAN,
        "ARP": ARP,
    }
    rows = []
    t0 = time.perf_counter()
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            rows.append(_scapy_row(pkt, layers))
            if len(rows) >= limit:
                break
    seconds = time.perf_counter() - t0
    return {"frames": len(rows), "seconds": seconds, "version": scapy.__version__}


WORKERS = {
    "vxlanlens": _worker_vxlanlens,
    "vxlanlens-1proc": lambda path, limit: _worker_vxlanlens(path, limit, workers=1),
    "tshark": _worker_tshark,
    "dpkt": _worker_dpkt,
    "scapy": _worker_scapy,
    "vxlanlens-scapy": _engine_worker("scapy"),
    "vxlanlens-tshark": _engine_worker("tshark"),
}


def _worker_main(tool: str, path: Path, limit: int) -> int:
    result = WORKERS[tool](path, limit)
    result["tool"] = tool
    result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


def _run_worker(tool: str, path: Path, limit: int) -> dict[str, object]:
    """Run one tool's worker in a fresh process; gives its JSON result or an error entry."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        tool,
        str(path),
        "--scapy-frames",
        str(limit),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {"tool": tool, "error": last[:300]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _best(tries: list[dict[str, object]]) -> dict[str, object]:
    """The fastest of several runs of one tool, with the largest peak RSS of them all."""
    ok = [t for t in tries if "error" not in t]
    if not ok:
        return tries[-1]
    best = dict(min(ok, key=lambda t: float(t["seconds"])))
    if len(tries) > 1:
        best["runs"] = len(tries)
        best["all_seconds"] = ", ".join(f"{float(t['seconds']):.2f}" for t in ok)
        for key in ("maxrss_kb", "read_maxrss_kb", "child_read_maxrss_kb"):
            values = [int(t[key]) for t in ok if isinstance(t.get(key), int)]
            if values:
                best[key] = max(values)
    return best


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "not installed"
    return (out.strip().splitlines() or ["?"])[0]


def _machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    import numpy
    import pandas

    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "tshark": _first_line(["tshark", "--version"]),
    }


def _fmt_mb(kb: object) -> str:
    return f"{int(kb) / 1024:.0f} MB" if isinstance(kb, int) else "?"


def _table(results: list[dict[str, object]], frames: int, scapy_frames: int) -> list[str]:
    """Markdown rows of the results table."""
    base = next((r for r in results if r["tool"] == "vxlanlens" and "error" not in r), None)
    base_s = float(base["seconds"]) if base else None
    lines = [
        "| tool | frames timed | seconds (for N frames) | frames/s | peak RSS | time / vxlanlens time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        tool = str(r["tool"])
        if "error" in r:
            lines.append(f"| {tool} | failed: {r['error']} | | | | |")
            continue
        timed = r.get("frames") or frames
        seconds = float(r["seconds"]) * frames / int(timed)  # scapy: extrapolated
        rss = _fmt_mb(r.get("child_maxrss_kb", r.get("maxrss_kb")))
        if int(r.get("workers", 1) or 1) > 1 and r.get("child_read_maxrss_kb"):
            rss += f" (+ {_fmt_mb(r['child_read_maxrss_kb'])} in each other process)"
        ratio = f"{seconds / base_s:.1f}x" if base_s else "n/a"
        note = f" (first {timed}, extrapolated)" if int(timed) < frames else ""
        if r.get("runs"):
            note += f" (best of {r['runs']} runs; all: {r['all_seconds']})"
        if r.get("workers"):
            note += f", {r['workers']} process{'es' if int(r['workers']) > 1 else ''}"
        lines.append(
            f"| {tool} | {timed}{note} | {seconds:.2f} | {frames / seconds:,.0f} | "
            f"{rss} | {ratio} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated capture")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    parser.add_argument("--scapy-frames", type=int, default=20_000)
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help=f"runs of {', '.join(REPEATED)} (fresh process each; the fastest is kept)",
    )
    parser.add_argument(
        "--explain-frames", default="300000,1000000", help="captures explained (empty: none)"
    )
    parser.add_argument(
        "--stream-copies",
        type=int,
        default=10,
        help="copies of the capture streamed by `packets` (0: no streaming run)",
    )
    parser.add_argument(
        "--scaling", default="1000,10000,100000,1000000", help="sizes of the scaling curve"
    )
    parser.add_argument("--no-pcapng", action="store_true", help="no pcapng split run")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="folder with an older vxlanlens package: interleaved before/after reads",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --baseline runs")
    parser.add_argument(
        "--explain-rounds",
        type=int,
        default=2,
        help="rounds of --baseline explain runs per --explain-frames size (0: none)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker_main(args.worker[0], Path(args.worker[1]), args.scapy_frames)

    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))} (known: {', '.join(TOOLS)})")
    if "tshark" in tools and shutil.which("tshark") is None:
        parser.error(
            "tshark is not installed (apt-get install tshark), or leave it out with --tools"
        )

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    import gen_mixed
    import scale

    OUT.mkdir(exist_ok=True)
    made: list[Path] = []

    def capture_for(n: int) -> Path:
        """The generated capture of ``n`` frames (made once)."""
        target = OUT / f"mixed-{n}-seed{args.seed}.pcap"
        if not target.exists():
            t0 = time.perf_counter()
            tmp = target.with_suffix(".tmp")
            gen_mixed.write_pcap(tmp, n, args.seed)
            tmp.rename(target)
            made.append(target)
            print(f"generated {target} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return target

    # the packages measured run from their folders: under PYTHONDONTWRITEBYTECODE=1 (set on
    # this machine) each run would compile every module again (0.3 s of each `explain`), where
    # an installed package has its bytecode from pip
    compiled = [ROOT / "vxlanlens", *([args.baseline / "vxlanlens"] if args.baseline else [])]
    for tree in compiled:
        compileall.compile_dir(str(tree), quiet=1)

    path = capture_for(args.frames)
    size = path.stat().st_size
    uptime_before = scale.load()

    load_before = os.getloadavg()[0]
    results = []
    for tool in tools:
        runs = max(1, args.repeat) if tool in REPEATED else 1
        tries = []
        for k in range(runs):
            print(f"running {tool} ({k + 1}/{runs}) ...", file=sys.stderr)
            tries.append(_run_worker(tool, path, args.scapy_frames))
            print(f"  {json.dumps(tries[-1])}", file=sys.stderr)
        results.append(_best(tries))

    vx = next((r for r in results if r["tool"] == "vxlanlens" and "error" not in r), None)
    extra = scale.sections(
        path,
        args.frames,
        capture_for,
        explain_frames=[int(x) for x in args.explain_frames.split(",") if x],
        stream_copies=args.stream_copies,
        scaling=[int(x) for x in args.scaling.split(",") if x],
        pcapng=not args.no_pcapng,
        bytes_per_frame=float(vx["bytes_per_frame"]) if vx else None,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    if args.baseline is not None:
        explain_sizes = [int(x) for x in args.explain_frames.split(",") if x]
        explained = (
            scale.explain_compare(
                {n: capture_for(n) for n in explain_sizes}, args.baseline, args.explain_rounds
            )
            if explain_sizes and args.explain_rounds > 0
            else []
        )
        extra = [
            "## Before / after",
            "",
            *scale.compare(path, args.baseline, args.rounds),
            *explained,
            *extra,
        ]

    machine = _machine()
    machine["bytecode"] = (
        f"compiled before the runs ({', '.join(str(t) for t in compiled)}); "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}"
    )
    machine["load average (1 min) before / after"] = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    machine["uptime load (1, 5, 15 min) before / after"] = f"{uptime_before}; {scale.load()}"
    for r in results:
        if "version" in r:
            machine[str(r["tool"])] = str(r["version"])
    lines = [
        "# Benchmark results",
        "",
        f"Last run: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}, "
        f"`python bench/run.py --frames {args.frames} --seed {args.seed}`.",
        "",
        f"Capture: {args.frames:,} frames, {size / 1e6:.0f} MB, made by `bench/gen_mixed.py` "
        "(about 60 % VXLAN-8472 with inner IPv6, 20 % VXLAN with inner IPv4/ARP, 20 % plain "
        "underlay TCP).",
        "",
        *_table(results, args.frames, args.scapy_frames),
        "",
    ]
    by_tool = {str(r["tool"]): r for r in results if "error" not in r}
    ts = by_tool.get("tshark")
    if vx and ts:
        ratios = [
            f"vxlanlens ({vx.get('workers', '?')} processes) is {float(ts['seconds']) / float(vx['seconds']):.1f}x faster than tshark"
        ]
        one = by_tool.get("vxlanlens-1proc")
        if one:
            ratios.append(f"in one process {float(ts['seconds']) / float(one['seconds']):.1f}x")
        lines += ["; ".join(ratios) + " (targets: 80x and 55x).", ""]
    if vx:
        table_mb = int(vx["table_bytes"]) / 2**20
        peak_mb = int(vx.get("read_maxrss_kb", vx["maxrss_kb"])) / 1024
        base_mb = int(vx["base_rss_kb"]) / 1024
        child_mb = int(vx.get("child_read_maxrss_kb") or 0) / 1024
        lines += [
            f"vxlanlens packets table: {float(vx['bytes_per_frame']):.1f} bytes per frame "
            f"(`df.memory_usage(deep=True).sum() / len(df)`), {table_mb:.0f} MiB in all; "
            f"peak RSS while reading {peak_mb:.0f} MiB (the table above also counts pairing), of which {base_mb:.0f} MiB before reading (interpreter "
            f"and imports): peak minus table minus that = {peak_mb - table_mb - base_mb:.0f} MiB."
            + (
                f" Each other reading process peaked at {child_mb:.0f} MiB (it holds its part of "
                "the table and the interpreter it was forked with) and has ended when the table is "
                "returned."
                if child_mb and int(vx.get("workers", 1)) > 1
                else ""
            ),
            "",
            f"Pairing (`vxlanlens.exchanges.exchanges` on that table): {float(vx['pairing_seconds']):.2f} s "
            f"for {int(vx['exchanges']):,} exchanges.",
            "",
        ]
    lines += [
        "How each tool is timed: vxlanlens builds the whole packets table (`vxlanlens` with its "
        "default number of reading processes, `vxlanlens-1proc` with `workers=1`; both the "
        "fastest of `--repeat` runs, each in a fresh process); tshark writes the same "
        "fields with `-T fields` to /dev/null (its time includes its start-up); dpkt and scapy "
        "walk the frames in a Python loop and keep the fields as raw values in a list (no text "
        "formatting, no DataFrame). scapy is timed on a slice and extrapolated linearly; so are "
        "`vxlanlens-scapy` and `vxlanlens-tshark`, the packets table built with the scapy and tshark "
        "engines (`read(engine=...)`) on the same slice. Peak "
        "RSS is `ru_maxrss` of a fresh process per tool (for tshark, of the tshark process).",
        "",
        *extra,
        "Machine:",
        "",
        *[f"- {k}: {v}" for k, v in machine.items()],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_results:
        RESULTS.write_text(text + scale.kept_sections(RESULTS))
    if not args.keep:
        for generated in {path, *made}:
            generated.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
