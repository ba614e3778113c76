"""Dump every explanation of the shipped scenarios (and of given captures) to a folder.

For a speed change that must not change results: run it once with the old package and once
with the new one, then ``diff -r`` the two folders (no output = byte-identical)::

    git archive BASE vxlanlens | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base python bench/explain_dump.py /tmp/out-base --capture /tmp/b300k.pcap
    python bench/explain_dump.py /tmp/out-new --capture /tmp/b300k.pcap
    diff -r /tmp/out-base /tmp/out-new

Each scenario under ``captures/`` is explained with its topology folder and without it, in
text, Markdown, JSON and HTML (``--formats text,md,json`` leaves HTML out, the slow one); each
``--capture`` (a bench capture) in the same formats but HTML (``--html`` adds it). The package
used is printed first. Run it with two ``PYTHONHASHSEED`` values to check that the output does
not depend on the hash seed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _write(out: Path, name: str, cap: object, formats: tuple[str, ...]) -> None:
    exp = cap.explain()  # type: ignore[attr-defined]
    for fmt in formats:
        text = cap.report(fmt, explanation=exp, command=f"dump {name}")  # type: ignore[attr-defined]
        (out / f"{name}.{fmt}").write_text(text.replace(str(ROOT) + "/", ""), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write the explanations; gives the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--capture", action="append", default=[], help="a bench capture (repeatable)")
    ap.add_argument("--html", action="store_true", help="HTML of the --capture files too")
    ap.add_argument("--no-scenarios", action="store_true")
    ap.add_argument(
        "--formats",
        default="text,md,json,html",
        help="formats of the scenarios, comma-separated (default: text,md,json,html)",
    )
    args = ap.parse_args(argv)

    import os

    import vxlanlens

    print("package:", vxlanlens.__file__, file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    every = tuple(f for f in args.formats.split(",") if f)
    if not args.no_scenarios:
        for folder in sorted(p for p in Path("captures").iterdir() if p.is_dir()):
            pcaps = [str(p) for p in sorted(folder.glob("*.pcap*"))]
            if not pcaps:
                continue
            topo = folder / "topology"
            t0 = time.process_time()
            if topo.exists():
                cap = vxlanlens.read(pcaps, topology=[str(topo)])
                _write(args.out, f"{folder.name}-topo", cap, every)
            _write(args.out, f"{folder.name}-bare", vxlanlens.read(pcaps), every)
            print(f"{folder.name}: {time.process_time() - t0:.1f} s", file=sys.stderr)
    for path in args.capture:
        t0 = time.process_time()
        formats = tuple(f for f in every if f != "html") + (("html",) if args.html else ())
        _write(args.out, Path(path).stem, vxlanlens.read([path]), formats)
        print(f"{path}: {time.process_time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
