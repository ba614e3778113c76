"""HTML report: self-contained, escaped, and rendered by headless Chromium without errors."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from testpaths import ROOT

from vxlanlens._version import __version__
from vxlanlens.report.html import CSP, explanation_html, explanation_html_fragment

from .helpers import HOSTILE, hostile, lab, reference, reference_files

ARTIFACTS = ROOT / "test-artifacts" / "report"


def _report(cap) -> str:
    meta = {
        "command": "vxlanlens explain ... --format html",
        "version": __version__,
        "files": [{"name": s.path, "size": s.size, "sha256": s.sha256} for s in cap.sources],
    }
    return explanation_html(cap.explain(), packets=cap.packets, meta=meta)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(doc: str) -> _Tags:
    p = _Tags()
    p.feed(doc)
    return p


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_self_contained_with_csp():
    doc = _report(reference())
    tags = _parse(doc).tags
    for tag, attrs in tags:
        for name in ("src", "href", "action", "data", "poster"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, name, value[:80])
        assert tag not in ("link", "iframe", "object", "embed", "base")
    csp = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1 and csp[0]["content"] == CSP
    assert "default-src 'none'" in CSP and "img-src data:" in CSP
    # the inline style and script are allowed by their hashes and nothing else is inline
    style = re.search(r"<style>(.*?)</style>", doc, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", doc, re.S).group(1)
    assert _sha(style) in CSP and _sha(script) in CSP
    assert "unsafe-inline" not in CSP
    assert not [a for _, a in tags if "style" in a or any(k.startswith("on") for k in a)]
    assert "https://" not in doc.replace("https://json-schema", "") or "http" not in CSP


def test_same_content_as_markdown():
    cap = reference()
    doc = _report(cap)
    exp = cap.explain()
    for f in exp.findings:
        assert f.id in doc
    for i in range(len(exp.paths)):
        assert f'id="path-{i + 1}"' in doc
    assert doc.count('class="ladder"') == len(exp.paths)
    assert doc.count('class="sortable"') >= 4
    for path in reference_files():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() in doc
    assert __version__ in doc
    assert "Evidence frames" in doc and "pod-eth0" in doc


def test_hostile_strings_are_escaped():
    doc = _report(hostile())
    p = _parse(doc)
    assert not [a for t, a in p.tags if t == "img" and not (a.get("src") or "").startswith("data:")]
    assert not [t for t, _ in p.tags if t in ("svg", "b")]
    assert doc.count("<script") == 1
    assert HOSTILE in "".join(p.text)  # shows as text
    frag = explanation_html_fragment(hostile().explain())
    assert "<script" not in frag and HOSTILE not in frag


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run_chromium(html_file: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    binary = _chromium()
    assert binary is not None
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-default-browser-check",
        "--proxy-server=127.0.0.1:9",  # nothing may leave; a load attempt fails visibly
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        html_file.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _console_problems(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line or "ERR_" in line
    ]


@pytest.mark.skipif(
    _chromium() is None, reason="chromium is not installed (apt-get install chromium)"
)
@pytest.mark.parametrize(
    "scenario", ["reference", "hostile", "lab-no-such-pod", "lab-ns-unanswered"]
)
def test_renders_in_headless_chromium(tmp_path, scenario):
    cap = {"reference": reference, "hostile": hostile}.get(scenario, lambda: lab(scenario))()
    page = tmp_path / f"{scenario}.html"
    page.write_text(_report(cap), encoding="utf-8")

    dom = _run_chromium(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console_problems(dom.stderr) == []
    # the inline script ran under the CSP (it marks the document) and found the tables
    assert re.search(r'<html[^>]*data-sortable="(\d+)"', dom.stdout), dom.stdout[:300]
    assert int(re.search(r'data-sortable="(\d+)"', dom.stdout).group(1)) >= 3
    parsed = _parse(dom.stdout)
    assert not [
        a for t, a in parsed.tags if t == "img" and not (a.get("src") or "").startswith("data:")
    ]
    if scenario == "hostile":
        assert HOSTILE in "".join(parsed.text)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{scenario}.png"
    shot.unlink(missing_ok=True)
    run = _run_chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console_problems(run.stderr) == []
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 20_000  # something was drawn, not a blank page
