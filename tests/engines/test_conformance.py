"""The three engines' packets tables agree cell by cell, except for the listed differences."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from edgecases import edge_cases
from testpaths import CAPTURES, PUBLIC, ROOT, public_files

from vxlanlens.decode import DecodeOptions
from vxlanlens.engines import ENGINES, decoder_for
from vxlanlens.engines.conformance import (
    ALLOWED,
    PairStats,
    allowed,
    compare_tables,
    engine_tables,
    file_batches,
)
from vxlanlens.errors import EngineError
from vxlanlens.read.records import RecordBatch


def _files() -> list[tuple[str, Path]]:
    out = [
        (f"public/{p.relative_to(PUBLIC).as_posix()}", p)
        for p in public_files()
        if p.relative_to(PUBLIC).parts[0] != "libpcap"
    ]
    out += [
        (f"captures/{p.relative_to(CAPTURES).as_posix()}", p)
        for p in sorted(CAPTURES.glob("**/*.pcap*"))
        if p.is_file()
    ]
    return out


FILES = _files()
CASES = edge_cases()


def _engines() -> list[str]:
    return ["fast", "scapy"] + (["tshark"] if shutil.which("tshark") else [])


def _check(label: str, batches: list[RecordBatch]) -> None:
    tables = engine_tables(batches, _engines())
    frames = {len(t) for t in tables.values()}
    assert len(frames) == 1, f"{label}: engines gave different row counts {frames}"
    for name, table in tables.items():
        dtypes = [t.name for t in table.dtypes]
        assert dtypes == [t.name for t in tables["fast"].dtypes], f"{label}: {name} dtypes differ"
    new = [d.line() for d in compare_tables(label, tables) if allowed(d) is None]
    assert not new, f"{label}: {len(new)} new differences:\n" + "\n".join(new[:40])


@pytest.mark.skipif(not FILES, reason="no captures found")
@pytest.mark.parametrize(("label", "path"), FILES, ids=[f[0] for f in FILES])
def test_capture_conforms(label: str, path: Path) -> None:
    _check(label, list(file_batches(path)))


@pytest.mark.parametrize(("name", "batch"), CASES, ids=[c[0] for c in CASES])
def test_edge_case_conforms(name: str, batch: RecordBatch) -> None:
    _check(f"generated/{name}", [batch])


def test_comparison_finds_a_difference() -> None:
    """The comparison is not vacuous: a changed cell is reported, and is not allowed."""
    name, batch = CASES[0]
    tables = engine_tables([batch], ["fast", "scapy"])
    tables["scapy"].loc[3, "ttl"] = 1
    diffs = compare_tables(f"generated/{name}", tables, stats := {})
    assert [(d.frame, d.column) for d in diffs] == [(4, "ttl")]
    assert allowed(diffs[0]) is None
    assert isinstance(stats["fast/scapy"], PairStats)
    assert stats["fast/scapy"].differing["ttl"] == 1


def test_allow_list_entries_have_reasons() -> None:
    for engine, source, _frame, _column, reason in ALLOWED:
        assert engine in ENGINES
        assert source.startswith(("public/", "captures/", "generated/"))
        assert len(reason) > 20


def test_unknown_engine() -> None:
    with pytest.raises(EngineError, match="fast, scapy, tshark"):
        decoder_for("wireshark")


def test_fast_is_the_default_decoder() -> None:
    from vxlanlens.decode import decode_batch

    assert decoder_for("fast") is decode_batch


def test_missing_tshark_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("TSHARK", raising=False)
    with pytest.raises(EngineError, match="apt-get install tshark"):
        decoder_for("tshark")


def test_scapy_engine_does_not_touch_scapy_bindings() -> None:
    from scapy.layers.inet import UDP

    before = list(UDP.payload_guess)
    _name, batch = CASES[0]
    decoder_for("scapy")(batch, DecodeOptions(vxlan_ports=frozenset({9999})))
    assert UDP.payload_guess == before


def test_scapy_engine_honours_ports() -> None:
    """VXLAN on a port the options do not list is not a tunnel (with guessing off)."""
    batch = next(b for n, b in CASES if n == "vxlan")
    opts = DecodeOptions(vxlan_ports=frozenset({1}), guess_tunnels=False)
    fast = engine_tables([batch], ["fast"], opts)["fast"]
    slow = engine_tables([batch], ["scapy"], opts)["scapy"]
    assert fast["tunnel_depth"].tolist() == slow["tunnel_depth"].tolist()
    assert slow["tunnel_depth"].tolist() == [0] * len(batch)
    default = engine_tables([batch], ["scapy"])["scapy"]
    assert default["tunnel_depth"].iloc[0] == 1


def test_docs_generator_runs_and_doc_lists_the_allow_list(tmp_path: Path) -> None:
    """The generator renders; the committed doc names every allow-listed source.

    The doc's exact figures depend on the tshark version and on the corpus being present, so
    they are not compared byte for byte; regenerate with ``python scripts/conformance.py``.
    """
    spec = importlib.util.spec_from_file_location(
        "conformance_script", ROOT / "scripts" / "conformance.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    name, batch = CASES[0]
    stats: dict[str, PairStats] = {}
    diffs = compare_tables(f"generated/{name}", engine_tables([batch], _engines()), stats)
    text = mod.markdown(stats, diffs, 1, len(batch))
    assert "## fast/scapy" in text and "1 sources" in text
    doc = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    for _engine, source, _frame, _column, _reason in ALLOWED:
        if source.startswith("generated/") or (PUBLIC.is_dir() and source.startswith("public/")):
            assert f"`{source}`" in doc, (
                f"docs/conformance.md does not list {source}; regenerate it"
            )
