"""The command line: help, version, packets output formats, errors as one line with exit 1."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vxlanlens import __version__
from vxlanlens.cli import cli
from vxlanlens.schema import COLUMN_NAMES

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "captures" / "cilium-dual-stack"
POD, NODE = str(REF / "pod-eth0.pcap"), str(REF / "worker-eth0.pcap")


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_version() -> None:
    res = run("--version")
    assert res.exit_code == 0 and __version__ in res.output
    assert "record walk in C" in res.output or "record walk in Python" in res.output
    assert "common paths decoded in C" in res.output or "decoded in NumPy" in res.output


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help(command: str) -> None:
    res = run(command, "--help")
    assert res.exit_code == 0
    assert "Usage:" in res.output


def test_packets_table_on_reference() -> None:
    res = run("packets", POD, NODE)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 8
    assert "neighbor solicitation who-has fd00:10:244:1::22f1" in lines[0]
    assert "VXLAN 172.18.0.3:52379 > 172.18.0.4:8472 vni 40172 |" in lines[6]


def test_packets_json_lines_have_every_column() -> None:
    res = run("packets", "--format", "json", POD)
    assert res.exit_code == 0
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 6
    assert list(rows[4]) == list(COLUMN_NAMES)
    assert rows[4]["echo_id"] == 44 and rows[4]["src_mac"] == "4e:5b:57:45:63:3b"
    assert rows[4]["vni"] is None and rows[4]["capture"] == "pod-eth0"


def test_packets_csv_columns_and_label(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    res = run(
        "packets",
        "-f",
        "csv",
        "--columns",
        "capture,frame_no,vni,src_ip",
        "-o",
        str(out),
        f"node={NODE}",
    )
    assert res.exit_code == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["capture", "frame_no", "vni", "src_ip"]
    assert df["capture"].tolist() == ["node", "node"] and df["vni"].tolist() == [40172, 40172]


def test_packets_parquet_roundtrip(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    out = tmp_path / "p.parquet"
    res = run("packets", "-f", "parquet", "-o", str(out), NODE)
    assert res.exit_code == 0
    df = pd.read_parquet(out)
    assert df["outer_dport"].tolist() == [8472, 8472]


def test_unknown_column_is_a_usage_error() -> None:
    res = run("packets", "-f", "csv", "--columns", "nope", POD)
    assert res.exit_code == 2 and "nope" in res.output


def test_bad_port_is_a_usage_error() -> None:
    res = run("packets", "--vxlan-port", "70000", POD)
    assert res.exit_code == 2


def test_missing_file_is_one_line_exit_1(tmp_path: Path) -> None:
    res = run("packets", str(tmp_path / "nope.pcap"))
    assert res.exit_code == 1
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "nope.pcap" in err[0] and "Traceback" not in res.output


def test_garbage_file_is_one_line_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture at all")
    res = run("packets", str(bad))
    assert res.exit_code == 1
    assert res.stderr.startswith("vxlanlens: error: ") and "bad.pcap" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_truncated_last_record_warns_and_keeps_the_rest(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(Path(POD).read_bytes()[:-10])
    res = run("packets", "-f", "json", str(cut))
    assert res.exit_code == 0
    assert len(res.stdout.splitlines()) == 5
    assert "warning" in res.stderr and "cut.pcap" in res.stderr


def test_stdin() -> None:
    res = run("packets", "-f", "json", "-", input=Path(NODE).read_bytes())
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 2


def test_main_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vxlanlens.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["packets", str(tmp_path / "missing.pcap")])
    assert exc.value.code == 1
    assert "missing.pcap" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["packets", "--format", "nope", POD])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["packets", "-f", "json", POD])
    assert exc.value.code == 0
    assert io.StringIO(capsys.readouterr().out).read().count("\n") == 6


TOPO = REF / "topology"


def test_explain_text_default_and_exit_0() -> None:
    res = run("explain", POD, NODE)
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert out.startswith("vxlanlens explain: 2 capture(s), 8 frames (2 tunnelled)")
    assert "gateway-answered-by-ebpf" in out and "Path 3: echo" in out


def test_explain_with_topology_json_shape() -> None:
    res = run("explain", POD, NODE, "--topology", str(TOPO), "--format", "json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1
    assert set(doc) >= {"schema_version", "captures", "topology", "paths", "findings"}
    assert {p["kind"] for p in doc["paths"]} == {"nd", "echo"}
    for f in doc["findings"]:
        assert set(f) >= {"id", "severity", "statement", "evidence"}
        for e in f["evidence"]:
            assert ("capture" in e and "frame_no" in e) or "source" in e
    for p in doc["paths"]:
        assert set(p) >= {"kind", "summary", "hops", "findings"}


def test_explain_markdown_reproducible(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    res = run("explain", POD, NODE, "-t", str(TOPO), "-f", "md", "-o", str(out))
    assert res.exit_code == 0 and res.stdout == ""
    md = out.read_text()
    assert "```mermaid" in md and "sequenceDiagram" in md
    assert "vxlanlens explain" in md and __version__ in md
    assert hashlib.sha256(Path(POD).read_bytes()).hexdigest() in md


def test_explain_fail_on(tmp_path: Path) -> None:
    assert run("explain", POD, NODE, "--fail-on", "warning").exit_code == 0
    lab = ROOT / "captures" / "lab-ns-unanswered"
    if not lab.is_dir():
        pytest.skip("lab captures not shipped")
    caps = [str(p) for p in sorted(lab.glob("*.pcap"))]
    assert run("explain", *caps).exit_code == 0
    res = run("explain", *caps, "--fail-on", "problem")
    assert res.exit_code == 3 and "ns-unanswered" in res.stdout


def test_explain_bad_topology_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "dump.txt"
    bad.write_text("this is not any dump format\n")
    res = run("explain", POD, "--topology", str(bad))
    assert res.exit_code == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "dump.txt" in res.stderr


def test_exchanges_command() -> None:
    res = run("exchanges", POD, "--kind", "nd")
    assert res.exit_code == 0
    assert res.stdout.count("answered") == 2 and "a2:79:14:47:80:b3" in res.stdout
    res = run("exchanges", POD, NODE, "-f", "json")
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert {r["kind"] for r in rows} == {"nd", "echo"}
    for key in ("kind", "status", "key", "request_capture", "request_frame", "reply_capture", "reply_frame",
                "latency_s", "requester_mac", "requester_ip", "responder_mac", "responder_ip", "target"):  # fmt: skip
        assert key in rows[0]
    res = run("exchanges", POD, NODE, "--journeys")
    assert res.exit_code == 0 and "worker-eth0" in res.stdout


def test_topology_command_json_and_table() -> None:
    res = run("topology", "--topology", str(TOPO), "-f", "json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    for key in ("nodes", "interfaces", "pods", "routes", "neighbors", "identities", "conflicts"):
        assert key in doc
    lxc = [i for i in doc["interfaces"] if i["name"] == "lxc237a31216c0f"]
    assert lxc and lxc[0]["mac"] == "a2:79:14:47:80:b3" and lxc[0]["ifindex"] == 19
    res = run("topology", "--topology", str(TOPO), POD)
    assert res.exit_code == 0 and "lxc237a31216c0f" in res.stdout
    assert run("topology").exit_code == 2


def test_report_html_and_diagram(tmp_path: Path) -> None:
    html_out = tmp_path / "r.html"
    res = run("report", POD, NODE, "-t", str(TOPO), "-o", str(html_out))
    assert res.exit_code == 0
    page = html_out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "gateway-answered-by-ebpf" in page
    assert hashlib.sha256(Path(NODE).read_bytes()).hexdigest() in page
    png = tmp_path / "ladder.png"
    res = run("diagram", POD, NODE, "-o", str(png), "--path", "3")
    assert res.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run("diagram", POD, NODE, "-o", str(png), "--path", "9").exit_code == 2
    assert run("diagram", POD, NODE, "-o", str(tmp_path / "x.gif")).exit_code == 1


@pytest.mark.parametrize("engine", ["scapy", "tshark"])
def test_packets_engines_agree_on_reference(engine: str, tmp_path: Path) -> None:
    if engine == "tshark" and shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    fast = run("packets", "-f", "json", POD, NODE).stdout
    other = run("packets", "-f", "json", "--engine", engine, POD, NODE)
    assert other.exit_code == 0
    cols = (
        "src_mac",
        "dst_mac",
        "src_ip",
        "dst_ip",
        "vni",
        "outer_src_ip",
        "icmp_type",
        "nd_target",
        "ttl",
    )
    a = [{k: json.loads(x)[k] for k in cols} for x in fast.splitlines()]
    b = [{k: json.loads(x)[k] for k in cols} for x in other.stdout.splitlines()]
    assert a == b


# --- safe outputs ---------------------------------------------------------------------------


def _one_error_line(res) -> str:  # type: ignore[no-untyped-def]
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vxlanlens: error: "), res.stderr
    return err[0]


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_output_onto_an_input_is_refused(tmp_path: Path, how: str) -> None:
    cap = tmp_path / "pod.pcap"
    shutil.copy(POD, cap)
    before = cap.read_bytes()
    out = tmp_path / "out.txt"
    if how == "same":
        out = cap
    elif how == "symlink":
        out.symlink_to(cap)
    else:
        out.hardlink_to(cap)
    res = run("packets", str(cap), "-o", str(out))
    assert res.exit_code == 1
    assert "refusing to write the output onto the input" in _one_error_line(res)
    assert cap.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({cap.name, out.name})


def test_output_onto_a_topology_dump_is_refused(tmp_path: Path) -> None:
    dump = tmp_path / "ip-a.txt"
    shutil.copy(TOPO / "worker-ip-a-l.txt", dump)
    before = dump.read_bytes()
    res = run("explain", POD, "-t", str(dump), "-o", str(dump))
    assert res.exit_code == 1 and "onto the input" in _one_error_line(res)
    assert dump.read_bytes() == before


def test_disk_full_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    res = run("packets", POD, "-o", "/dev/full")
    assert res.exit_code == 1
    assert "No space left on device" in _one_error_line(res)


def test_unwritable_output_is_one_vxlanlens_error(tmp_path: Path) -> None:
    res = run("packets", POD, "-o", str(tmp_path / "no" / "such" / "dir" / "p.txt"))
    assert res.exit_code == 1 and "cannot write the output" in _one_error_line(res)


def test_output_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vxlanlens import stream as stream_mod

    out = tmp_path / "p.csv"
    out.write_text("old content\n")
    real = stream_mod.write_stream

    def interrupted(batches, fmt, fh, **_kw):  # type: ignore[no-untyped-def]
        fh.write("half a table")  # packets streams: interrupted after its first batch
        raise KeyboardInterrupt

    monkeypatch.setattr(stream_mod, "write_stream", interrupted)
    res = CliRunner().invoke(cli, ["packets", POD, "-f", "csv", "-o", str(out)])
    assert res.exit_code != 0  # click turns the interrupt into an abort
    assert out.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]  # no temporary file left
    monkeypatch.setattr(stream_mod, "write_stream", real)
    res = run("packets", POD, "-f", "csv", "-o", str(out))
    assert res.exit_code == 0 and out.read_text().startswith("capture,")
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]


def test_diagram_written_through_a_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "d.svg"
    res = run("diagram", POD, "-o", str(out))
    assert res.exit_code == 0 and out.read_text().lstrip().startswith("<?xml")
    assert [p.name for p in tmp_path.iterdir()] == ["d.svg"]


def test_out_of_memory_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from vxlanlens.options import ReadOptions

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        np.empty(1 << 62, dtype=np.uint8)  # numpy's _ArrayMemoryError, a MemoryError

    monkeypatch.setattr(ReadOptions, "read", boom)
    res = run("exchanges", POD)
    assert res.exit_code == 1 and "out of memory" in _one_error_line(res)


# --- issue 14: timeout overflow, closed stdin, broken pipe -----------------------------------


def test_huge_timeout_is_a_usage_error() -> None:
    res = run("explain", POD, "--timeout", "1e308")
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_closed_stdin_is_one_line() -> None:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "vxlanlens", "packets", "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: __import__("os").close(0),
    )
    assert res.returncode == 1, res.stderr
    assert (
        res.stderr.strip()
        == "vxlanlens: error: -: standard input is closed; expected a capture on it"
    )


def test_closed_stdout_is_one_line() -> None:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "vxlanlens", "packets", POD],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: __import__("os").close(1),
    )
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip() == (
        "vxlanlens: error: standard output is closed; expected it open, or use -o FILE"
    )


def test_broken_pipe_ends_quietly() -> None:
    import subprocess
    import sys

    many = [f"p{i}={POD}" for i in range(3000)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vxlanlens", "packets", *many],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0
    assert err == ""


# --- issue 11: one set of reading options, one way to say an error, one way to say "wrote" ----

READING = {
    "--vxlan-port", "--geneve-port", "--gpe-port", "--no-guess", "--engine", "--workers",
    "--capture-at", "--scheduler",
}  # fmt: skip
READERS = ["annotate", "diagram", "exchanges", "explain", "packets", "report", "topology"]


def _flags(command: str) -> set[str]:
    return {o for p in cli.commands[command].params for o in getattr(p, "opts", [])}


@pytest.mark.parametrize("command", READERS)
def test_every_reader_takes_the_same_reading_options(command: str) -> None:
    assert _flags(command) >= READING


def test_topology_takes_the_port_options() -> None:
    plain = run("topology", "-f", "json", POD, NODE)
    ported = run("topology", "-f", "json", "--vxlan-port", "9999", POD, NODE)
    assert plain.exit_code == ported.exit_code == 0
    assert json.loads(plain.stdout) == json.loads(ported.stdout)


def test_main_called_from_python_leaves_the_collector_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import gc

    from vxlanlens.cli import main

    frozen = gc.get_freeze_count()  # the program itself freezes its objects before exiting
    with pytest.raises(SystemExit) as exc:
        main(["packets", "-f", "json", POD])
    assert exc.value.code == 0 and gc.get_freeze_count() == frozen
    capsys.readouterr()


def _main_err(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from vxlanlens.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return int(exc.value.code or 0), err[0]


def test_stdin_given_twice_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main_err(capsys, "explain", "-", "again=-")
    assert code == 2 and err.startswith("vxlanlens: error: ")
    assert "standard input (-) is given 2 times (captures 1, 2)" in err
    code, err = _main_err(capsys, "explain", POD, "-t", "-")
    assert code == 2 and "not from standard input (-)" in err and "--topology" in err


@pytest.mark.parametrize(
    "args",
    [
        ["explain", POD, "-o", "/nonexistent-dir/x.md"],
        ["report", POD, "-o", "/nonexistent-dir/x.html"],
        ["exchanges", POD, "-o", "/nonexistent-dir/x.txt"],
        ["topology", POD, "-o", "/nonexistent-dir/x.txt"],
        ["diagram", POD, "-o", "/nonexistent-dir/x.png"],
        ["annotate", POD, "-o", "/nonexistent-dir/x.pcapng"],
        ["explain", POD, "--scheduler", "local:0"],
        ["topology", "--vxlan-port", "0", POD],
        ["watch", "--geneve-port", "70000", POD],
        ["packets", "--engine", "nope", POD],
    ],
)
def test_every_error_is_one_vxlanlens_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _main_err(capsys, *args)
    assert code in (1, 2) and err.startswith("vxlanlens: error: ")


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["explain", "-f", "md"], "x.md"),
        (["report"], "x.html"),
        (["packets", "-f", "csv"], "x.csv"),
        (["exchanges"], "x.txt"),
        (["topology"], "x.txt"),
        (["diagram"], "x.png"),
        (["annotate"], "x.pcapng"),
    ],
)
def test_every_output_file_is_announced_alike(args: list[str], name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    res = run(*args, POD, "-o", str(out))
    assert res.exit_code == 0 and out.stat().st_size > 0
    assert res.stderr.startswith(f"vxlanlens: wrote {out}"), res.stderr
    assert res.stdout == ""


def test_reproduce_line_keeps_every_reading_option(tmp_path: Path) -> None:
    res = run(
        "explain", "-f", "md", POD, "-t", str(TOPO), "--timeout", "2", "--vxlan-port", "9999",
        "--no-guess", "--capture-at", "pod-eth0=worker:eth0", "--cni", "cilium",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("vxlanlens explain "))
    for words in (
        "--timeout 2", "--vxlan-port 9999", "--no-guess", "--capture-at pod-eth0=worker:eth0",
        "--cni cilium", "--format md", f"--topology {TOPO}",
    ):  # fmt: skip
        assert words in line


def _synopsis() -> dict[str, set[str]]:
    """The options each command's line in the README's synopsis names."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    found: dict[str, set[str]] = {}
    command = ""
    for line in block.splitlines():
        m = re.match(r"vxlanlens (-*\w+)", line)
        if m:
            command = m.group(1).lstrip("-")
        elif line.startswith("common to"):
            command = "*"
        if command:
            found.setdefault(command, set()).update(re.findall(r"(?<![\w-])--?[a-z][\w-]*", line))
    return found


def test_readme_synopsis_matches_help() -> None:
    synopsis = _synopsis()
    common = synopsis.pop("*")
    assert set(synopsis) - {"version"} == set(cli.commands)
    for command, named in synopsis.items():
        if command == "version":
            continue
        flags = _flags(command) | {"-h", "--help"}
        assert named <= flags, (command, named - flags)
        if command in READERS:
            assert common <= flags, (command, common - flags)
        for param in cli.commands[command].params:
            opts = set(getattr(param, "opts", [])) - {"captures", "capture"}
            if opts and not opts & common:
                assert opts & named, (command, "missing in the README:", opts)
