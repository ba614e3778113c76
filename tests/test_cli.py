"""The command line: help, version, packets output formats, errors as one line with exit 1."""

from __future__ import annotations

import io
import json
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
