"""A seeded mutation fuzzer: mutated captures and topology dumps through the whole pipeline.

    python scripts/fuzz.py --minutes 10            # a developer's run, random seed
    python scripts/fuzz.py --iterations 40 --seed 1  # reproducible (the test suite's run)

Seeds: every shipped capture (captures/**/*.pcap*), crafted edge cases (the conformance suite's
generated frames, when scapy is installed), the corpus of ../shared/captures (when present),
and the topology dumps of captures/**/topology and tests/topology/data. Each case mutates one
capture (bit flips, interesting bytes, truncation, inserted/duplicated/removed slices, splices,
record-length edits, sometimes gzip on top) and, one time in three, a topology dump, then runs
read -> packets -> exchanges -> journeys -> explain -> every renderer (text, md, html, json, the
packet lines, csv, the ladder diagram) and the topology table.

Any exception that is not a :class:`vxlanlens.VxlanlensError` is a crash: its inputs are saved
under ``--out`` (``crash-<n>.pcap`` and ``crash-<n>.topology`` when a dump was used) with the
traceback, and the exit status is 1. A case that runs longer than ``--case-timeout`` seconds is
a hang, reported the same way. Exit 0 when nothing crashed.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import random
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vxlanlens.errors import VxlanlensError  # noqa: E402

SHARED = ROOT.parent / "shared" / "captures"
_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x08, 0x86, 0xDD, 0x21, 0x18, 0x3C, 0x2C)
_MAX_SEED_BYTES = 256 * 1024
_MAX_CORPUS_FILES = 200


class Hang(Exception):
    """A case ran longer than the per-case timeout."""


@dataclass
class Seeds:
    """The inputs that mutations start from."""

    captures: list[tuple[str, bytes]] = field(default_factory=list)
    dumps: list[tuple[str, bytes]] = field(default_factory=list)


def _small_files(paths: Iterator[Path], limit: int | None = None) -> list[tuple[str, bytes]]:
    out = []
    for p in sorted(paths):
        if p.is_file() and p.stat().st_size <= _MAX_SEED_BYTES:
            out.append((str(p.relative_to(ROOT.parent)), p.read_bytes()))
            if limit is not None and len(out) >= limit:
                break
    return out


@functools.cache
def _crafted() -> list[tuple[str, bytes]]:
    """The conformance suite's generated edge cases as pcap files (needs scapy)."""
    try:
        sys.path.insert(0, str(ROOT / "tests"))
        from edgecases import edge_cases  # tests/edgecases.py (moved out of the package)

        cases = edge_cases()
    except Exception:  # scapy missing or too old: the other seeds still run
        return []
    out = []
    for name, batch in cases:
        if len(batch) == 0:
            continue
        linktype = int(batch.linktype[0])
        data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
        for i in range(len(batch)):
            frame = bytes(batch.frame(i))
            data += struct.pack("<IIII", 1_700_000_000 + i, i, len(frame), len(frame)) + frame
        out.append((f"crafted:{name}", data))
    return out


def collect_seeds(*, corpus: bool = True) -> Seeds:
    """Shipped and crafted captures, the corpus when ../shared is present, and topology dumps."""
    seeds = Seeds()
    caps = ROOT / "captures"
    seeds.captures += _small_files(p for p in caps.rglob("*.pcap*"))
    seeds.captures += _crafted()
    if corpus and SHARED.is_dir():
        found = (
            p
            for p in SHARED.rglob("*")
            if p.suffix.lower() in (".pcap", ".pcapng", ".cap", ".gz", ".zst")
        )
        seeds.captures += _small_files(found, _MAX_CORPUS_FILES)
    dumps = [p for p in caps.rglob("topology/*") if p.name != "README.md"]
    dumps += list((ROOT / "tests" / "topology" / "data").glob("*"))
    seeds.dumps = _small_files(iter(dumps))
    if not seeds.captures:
        raise SystemExit("fuzz: no seed captures found")
    return seeds


def mutate(data: bytes, rng: random.Random, other: bytes) -> bytes:
    """One to eight random edits of ``data``, mostly past its first 64 bytes (``other``: a
    second seed for splices)."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4, 8))):
        if not buf:
            buf += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        n = len(buf)
        op = rng.randrange(9)
        # mostly past the file header, so that most cases reach the decoders
        at = rng.randrange(min(n - 1, 64), n) if rng.random() < 0.85 else rng.randrange(n)
        if op == 0:  # flip one bit
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1:  # an interesting byte
            buf[at] = rng.choice(_INTERESTING)
        elif op == 2:  # an interesting 16/32-bit value (lengths, counts)
            width = rng.choice((2, 4))
            value = rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, n))
            buf[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(
                width, rng.choice(("big", "little"))
            )
        elif op == 3:  # cut the file short
            del buf[rng.randrange(max(1, n // 2), n + 1) :]
        elif op == 4:  # remove a slice
            del buf[at : at + rng.randint(1, 32)]
        elif op == 5:  # insert random bytes
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif op == 6:  # duplicate a slice
            size = rng.randint(1, 256)
            buf[at:at] = buf[at : at + size]
        elif op == 7 and other:  # splice in a piece of another seed
            start = rng.randrange(len(other))
            buf[at:] = other[start : start + rng.randint(16, 4096)]
        else:  # a byte of ASCII punctuation (dump parsers)
            buf[at] = ord(rng.choice("{}[]:,-\"'&*!|>#%$\\\n\t "))
    return bytes(buf)


def run_case(capture: bytes, dump: bytes | None) -> None:
    """Load ``dump`` (if any), then read -> packets -> exchanges -> journeys -> explain -> every
    renderer; gives nothing, raises what the pipeline raised."""
    import vxlanlens
    from vxlanlens.report.packets import csv_safe, packet_lines
    from vxlanlens.topology import load

    topo = None
    if dump is not None:
        try:
            topo = load(dump)
        except VxlanlensError:
            topo = None  # the loader said no cleanly: the capture still goes through
    cap = vxlanlens.read([io.BytesIO(capture)], topology=topo)
    packets = cap.packets
    for _ in packet_lines(packets):
        pass
    csv_safe(packets).to_csv(io.StringIO(), index=False)
    cap.exchanges.to_json(
        io.StringIO(), orient="records", lines=True, date_format="iso", date_unit="ns"
    )
    _ = cap.journeys
    exp = cap.explain()
    for fmt in ("text", "md", "json", "html"):
        cap.report(fmt, explanation=exp, command="vxlanlens fuzz")
    fig = cap.plot.ladder()
    fig.savefig(io.BytesIO(), format="svg")
    cap.topology.format_table()


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise Hang("the case ran longer than the per-case timeout")


@dataclass
class Result:
    """What a fuzzing run did."""

    cases: int = 0
    expected_errors: int = 0
    crashes: list[str] = field(default_factory=list)


def fuzz(
    *,
    seed: int,
    iterations: int | None,
    seconds: float | None,
    out: Path,
    case_timeout: int = 60,
    corpus: bool = True,
    runner: Callable[[bytes, bytes | None], None] = run_case,
    log: Callable[[str], None] = print,
) -> Result:
    """Run cases until ``iterations`` or ``seconds`` is reached; crashes are saved in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    rng = random.Random(seed)
    seeds = collect_seeds(corpus=corpus)
    result = Result()
    start = time.monotonic()
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        while True:
            if iterations is not None and result.cases >= iterations:
                break
            if seconds is not None and time.monotonic() - start >= seconds:
                break
            name, base = rng.choice(seeds.captures)
            other = rng.choice(seeds.captures)[1]
            capture = mutate(base, rng, other)
            if rng.random() < 0.1:
                capture = gzip.compress(capture, 1)
            dump = dump_name = None
            if seeds.dumps and rng.random() < 1 / 3:
                dump_name, dump_base = rng.choice(seeds.dumps)
                dump = mutate(dump_base, rng, b"") if rng.random() < 0.8 else dump_base
            result.cases += 1
            signal.alarm(case_timeout)
            try:
                runner(capture, dump)
            except VxlanlensError:
                result.expected_errors += 1
            except (Exception, Hang):  # everything else is a crash worth a regression test
                n = len(result.crashes) + 1
                out.mkdir(parents=True, exist_ok=True)
                (out / f"crash-{n}.pcap").write_bytes(capture)
                if dump is not None:
                    (out / f"crash-{n}.topology").write_bytes(dump)
                tb = traceback.format_exc()
                (out / f"crash-{n}.txt").write_text(
                    f"seed capture: {name}\nseed dump: {dump_name}\nfuzz seed: {seed}\n\n{tb}"
                )
                last = tb.strip().splitlines()[-1]
                result.crashes.append(f"crash-{n} (from {name}, dump {dump_name}): {last}")
                log(f"fuzz: CRASH {result.crashes[-1]}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: gives 0 when no case crashed, 1 otherwise."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    ap.add_argument("--minutes", type=float, default=None, help="time budget in minutes")
    ap.add_argument("--seconds", type=float, default=None, help="time budget in seconds")
    ap.add_argument("--iterations", type=int, default=None, help="number of cases")
    ap.add_argument("--out", type=Path, default=Path("fuzz-crashes"), help="where crashes go")
    ap.add_argument("--case-timeout", type=int, default=60, help="seconds before a case hangs")
    ap.add_argument("--no-corpus", action="store_true", help="leave ../shared/captures out")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    seconds = args.seconds
    if args.minutes is not None:
        seconds = args.minutes * 60
    if seconds is None and args.iterations is None:
        seconds = 60.0
    res = fuzz(
        seed=seed,
        iterations=args.iterations,
        seconds=seconds,
        out=args.out,
        case_timeout=args.case_timeout,
        corpus=not args.no_corpus,
    )
    print(
        f"fuzz: seed {seed}: {res.cases} case(s), {res.expected_errors} clean error(s), "
        f"{len(res.crashes)} crash(es)" + (f" saved in {args.out}" if res.crashes else "")
    )
    return 1 if res.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
