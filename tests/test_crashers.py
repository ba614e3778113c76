"""Every file in ../shared/captures/crashers (see its README) through the real command line.

Each must end in an explanation (exit 0) or one line ``vxlanlens: error: ...`` (exit 1), never
a traceback, under an address-space limit (``RLIMIT_AS``: some are bombs) and a timeout (a
bound, not a timing assertion). Run in a subprocess so that the limit applies to the whole
process. Skipped when the shared folder is absent.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from testpaths import ROOT, SHARED

CRASHERS = SHARED / "captures" / "crashers"

MEMORY_LIMIT = 1536 << 20
"""Address space a run may use: the bombs took 2-4 GiB before they were fixed."""
TIMEOUT_S = 120
"""A bound on each run (a hung run fails the test), not a timing assertion."""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def vxlanlens(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m vxlanlens ARGS`` under the memory limit and the timeout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "vxlanlens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limit,
        env=env,
        cwd=cwd,
        check=False,
    )


def clean(res: subprocess.CompletedProcess[str], *, ok: bool | None = None) -> None:
    """Exit 0, or exit 1 with exactly one ``vxlanlens: error:`` line; no traceback either way.
    ``ok`` True/False also requires success/an error."""
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.returncode in (0, 1), (res.returncode, res.stderr[-3000:])
    errors = [ln for ln in res.stderr.splitlines() if not ln.startswith("vxlanlens: warning:")]
    if res.returncode == 1:
        assert len(errors) == 1 and errors[0].startswith("vxlanlens: error: "), res.stderr
    if ok is not None:
        assert (res.returncode == 0) is ok, res.stderr


def crasher(name: str) -> Path:
    """The crasher ``name``; skips the test when the shared folder (or the file) is absent."""
    path = CRASHERS / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {CRASHERS} (shared folder absent)")
    return path


@pytest.mark.parametrize(
    "name", ["icmp_error_only.pcap", "explain-keyerror-kind-1.pcap", "explain-keyerror-kind-2.pcap"]
)
def test_explain_with_no_request_to_group(name: str) -> None:
    res = vxlanlens("explain", crasher(name), "-f", "json")
    clean(res, ok=True)
    assert '"findings"' in res.stdout


def test_timestamp_on_the_nat_marker(tmp_path: Path) -> None:
    cap = crasher("ts_nat.pcapng")
    res = vxlanlens("packets", cap)
    clean(res, ok=True)
    assert re.search(r"^ts_nat +1 1677-09-21 ", res.stdout, re.M), res.stdout
    assert "year 2262" in res.stderr  # the wrap is said, not hidden
    out = tmp_path / "r.html"
    clean(vxlanlens("report", cap, "-o", out), ok=True)
    assert out.stat().st_size > 0


def test_dollar_signs_in_file_names_are_not_mathtext(tmp_path: Path) -> None:
    cap = tmp_path / "pod$\\x$ costs $5 and $6.pcap"
    shutil.copy(crasher("pod-mathtext.pcap"), cap)
    clean(vxlanlens("diagram", cap, "-o", tmp_path / "d.svg"), ok=True)
    svg = (tmp_path / "d.svg").read_text()
    assert "$5 and $6" in svg or "$5" in svg  # drawn as text, not as maths
    clean(vxlanlens("report", cap, "-f", "html", "-o", tmp_path / "r.html"), ok=True)


def test_dollar_signs_in_topology_names(tmp_path: Path) -> None:
    res = vxlanlens(
        "report",
        crasher("pod-mathtext.pcap"),
        "-t",
        crasher("mathtext_topo.yaml"),
        "-o",
        tmp_path / "r.html",
    )
    clean(res, ok=True)


@pytest.mark.parametrize("name", ["yaml_bomb.yaml", "sysdump_yaml_bomb.zip"])
def test_yaml_alias_bomb_is_refused(name: str) -> None:
    res = vxlanlens("topology", "-t", crasher(name))
    clean(res, ok=False)
    assert "alias bomb" in res.stderr and name in res.stderr


@pytest.mark.parametrize("name", ["bugtool_sparse.tar.gz", "sysdump_sparse_tar.zip"])
def test_sparse_tar_members_are_counted(name: str) -> None:
    res = vxlanlens("topology", "-t", crasher(name))
    clean(res, ok=False)
    assert "decompression bomb" in res.stderr


def test_zip_nested_301_deep() -> None:
    res = vxlanlens("topology", "-t", crasher("sysdump_nested_301.zip"))
    clean(res, ok=False)
    assert "nested more than" in res.stderr


def test_one_bad_member_is_skipped_with_a_note() -> None:
    res = vxlanlens("topology", "-t", crasher("sysdump_one_bad_crc.zip"), "-f", "json")
    clean(res, ok=True)
    assert "k8s-pods-1.json" in res.stdout and "skipped" in res.stdout


def test_gzip_row_bomb_is_refused() -> None:
    res = vxlanlens("packets", crasher("gzip_row_bomb_130k.pcap.gz"))
    clean(res, ok=False)
    assert "decompression bomb" in res.stderr


@pytest.mark.parametrize("name", ["gz_trailing_garbage.pcap.gz", "zst_skippable.pcap.zst"])
def test_compressed_data_before_garbage_or_after_a_skippable_frame_is_read(name: str) -> None:
    if name.endswith(".zst"):
        pytest.importorskip("zstandard")
    res = vxlanlens("packets", crasher(name))
    clean(res, ok=True)
    assert len(res.stdout.splitlines()) >= 1
    if name.startswith("gz_"):
        assert "trailing garbage" in res.stderr


@pytest.mark.parametrize(
    ("name", "layer", "check"),
    [
        ("ipv6_13_ext.pcap", "ipv6-ext", lambda e: "12 IPv6 extension headers" in e),
        ("vlan_8_tags.pcap", "vlan", lambda e: "4 VLAN tags" in e),
    ],
)
def test_decode_limits_are_marked(name: str, layer: str, check: Callable[[str], bool]) -> None:
    import json

    res = vxlanlens("packets", crasher(name), "-f", "json")
    clean(res, ok=True)
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows and all(r["decode_layer"] == layer and check(r["decode_error"]) for r in rows)


def test_csv_cells_cannot_be_formulas(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    clean(vxlanlens("packets", crasher("csv_injection.pcapng"), "-f", "csv", "-o", out), ok=True)
    import csv

    cells = [c for row in csv.reader(out.open(encoding="utf-8")) for c in row]
    assert any("HYPERLINK" in c for c in cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [c for c in cells if c[:1] == "-" and not re.fullmatch(r"-[0-9.e+]+", c)]


def test_dump_text_cannot_drive_the_terminal_or_markdown() -> None:
    cap, topo = crasher("pod-mathtext.pcap"), crasher("xss_topo.yaml")
    text = vxlanlens("explain", cap, "-t", topo)
    clean(text, ok=True)
    assert "\x1b" not in text.stdout and "\u202e" not in text.stdout
    assert "\\x1b[31m" in text.stdout  # shown, not hidden
    md = vxlanlens("explain", cap, "-t", topo, "-f", "md")
    clean(md, ok=True)
    assert "\x1b" not in md.stdout and "\u202e" not in md.stdout
    prose = md.stdout.split("```mermaid")[0]
    assert "https://evil" not in prose and " @octocat" not in prose


def test_every_crasher_is_covered() -> None:
    if not CRASHERS.is_dir():
        pytest.skip(f"no crasher corpus at {CRASHERS} (shared folder absent)")
    names = {p.name for p in CRASHERS.iterdir() if p.name != "README.md"}
    tested = set(
        re.findall(r'"([\w\-.]+\.(?:pcap|pcapng|yaml|zip|gz|zst))"', Path(__file__).read_text())
    )
    assert names <= tested, sorted(names - tested)


# --- scripts/fuzz.py ------------------------------------------------------------------------


def _fuzz_module():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("vxlanlens_fuzz", ROOT / "scripts" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_fuzzer_small_fixed_run_finds_no_crash(tmp_path: Path) -> None:
    """A dozen seeded cases of the shipped seeds through every stage and renderer."""
    fuzz = _fuzz_module()
    res = fuzz.fuzz(seed=1, iterations=12, seconds=None, out=tmp_path, corpus=False)
    assert res.cases == 12
    assert res.crashes == [], res.crashes  # a crash here: make it a regression case above
    assert res.expected_errors < res.cases  # some cases got past the readers


def test_fuzzer_saves_and_reports_a_crash(tmp_path: Path) -> None:
    fuzz = _fuzz_module()
    calls: list[int] = []

    def flaky(capture: bytes, dump: bytes | None) -> None:
        calls.append(len(capture))
        if len(calls) == 2:
            raise KeyError("kind")
        fuzz.run_case(capture, dump)

    res = fuzz.fuzz(
        seed=7, iterations=3, seconds=None, out=tmp_path, corpus=False, runner=flaky, log=str
    )
    assert len(res.crashes) == 1 and "KeyError: 'kind'" in res.crashes[0]
    assert (tmp_path / "crash-1.pcap").stat().st_size == calls[1]
    assert "KeyError" in (tmp_path / "crash-1.txt").read_text()
    assert (
        fuzz.main(["--iterations", "2", "--seed", "3", "--no-corpus", "--out", str(tmp_path)]) == 0
    )


# --- what the crashers taught, without the shared folder ----------------------------------------


def test_printable_escapes_controls_and_bidi_but_keeps_lines() -> None:
    from vxlanlens.report.packets import printable

    assert printable("a\x1b[31mb\u202ec\n\td\x7f\x85") == "a\\x1b[31mb\\u202ec\n\td\\x7f\\x85"
    assert printable("fd00::1 Ω ünïcode") == "fd00::1 Ω ünïcode"


def test_markdown_prose_breaks_autolinks_mentions_and_refs() -> None:
    from vxlanlens.report.markdown import md_escape

    s = md_escape("see https://evil.example and www.evil.example, ping @octocat about #12")
    assert "https://" not in s and "www.evil" not in s
    assert "@octocat" not in s and " #12" not in s
    assert "pod#3" in md_escape("pod#3")  # evidence references stay readable
    assert "\x1b" not in md_escape("\x1b[31m") and "\u202e" not in md_escape("\u202e")


def test_csv_safe_neutralises_formula_cells_only() -> None:
    import pandas as pd

    from vxlanlens.report.packets import csv_safe

    df = pd.DataFrame(
        {
            "text": ["=HYPERLINK(1)", "+1", "-x", "@SUM", "\tx", "\rx", "ok", None],
            "num": [-1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    out = csv_safe(df)
    assert out["text"].tolist()[:7] == [
        "'=HYPERLINK(1)",
        "'+1",
        "'-x",
        "'@SUM",
        "'\tx",
        "'\rx",
        "ok",
    ]
    assert pd.isna(out["text"].iloc[7]) and out["num"].tolist() == df["num"].tolist()
    assert df["text"].iloc[0] == "=HYPERLINK(1)"  # the input is not changed


def test_a_flow_left_without_exchanges() -> None:
    """Found by `scripts/fuzz.py --seed 7`: a damaged capture where one packet's journey joins
    two flows left one of them empty (IndexError while sorting the flows)."""
    from testpaths import DATA

    base = DATA / "fuzz" / "seed7-empty-flow"
    clean(vxlanlens("explain", base.with_suffix(".pcap")), ok=True)
    # its damaged dump is refused with a one-line error
    clean(
        vxlanlens("explain", base.with_suffix(".pcap"), "-t", base.with_suffix(".topology")),
        ok=False,
    )


def test_a_tunnelled_frame_without_a_vni() -> None:
    """Found by `scripts/fuzz.py --seed 11`: a Geneve frame whose VNI could not be decoded made
    overlay recognition fill a null VNI with -1 in an unsigned column (OverflowError)."""
    from testpaths import DATA

    base = DATA / "fuzz" / "seed11-null-vni"
    clean(vxlanlens("explain", base.with_suffix(".pcap"), "-t", base.with_suffix(".yaml")))
