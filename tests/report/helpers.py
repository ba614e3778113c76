"""Scenarios and checks shared by the report tests."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from testpaths import CAPTURES

import vxlanlens
from vxlanlens.explain.model import Explanation

HERE = Path(__file__).resolve().parent
HOSTILE_TOPOLOGY = HERE / "data" / "hostile-topology.yaml"
HOSTILE = "<img src=x onerror=alert(1)>"
REFERENCE = CAPTURES / "cilium-dual-stack"
LABS = ("lab-no-such-pod", "lab-ns-unanswered", "lab-tcp-connect", "lab-geneve-ipv6-ping")


def reference_files() -> list[str]:
    return [str(REFERENCE / "pod-eth0.pcap"), str(REFERENCE / "worker-eth0.pcap")]


@functools.cache
def reference(topology: bool = True) -> vxlanlens.Capture:
    """The reference scenario (walkthrough captures, with or without its dumps)."""
    topo = [str(REFERENCE / "topology")] if topology else None
    return vxlanlens.read(reference_files(), topology=topo)


@functools.cache
def lab(name: str) -> vxlanlens.Capture:
    """A lab scenario with its topology folder."""
    folder = CAPTURES / name
    return vxlanlens.read(
        [str(p) for p in sorted(folder.glob("*.pcap"))], topology=[str(folder / "topology")]
    )


@functools.cache
def hostile() -> vxlanlens.Capture:
    """The reference captures with a hand-written topology whose names are HTML/JS."""
    return vxlanlens.read(
        reference_files(), topology=[str(REFERENCE / "topology"), str(HOSTILE_TOPOLOGY)]
    )


def explanation(cap: vxlanlens.Capture) -> Explanation:
    return cap.explain()


# --- a parser-level check of Mermaid sequence diagrams -------------------------------------

_ID = r"[A-Za-z][A-Za-z0-9_]*"
_ARROWS = ("-->>", "->>", "-->", "->", "--x", "-x", "--)", "-)")
_MSG = re.compile(rf"^({_ID})(-->>|->>|-->|->|--x|-x|--\)|-\))({_ID}): (.+)$")
_NOTE = re.compile(rf"^Note (left of|right of|over) ({_ID})(?:,({_ID}))?: (.+)$")
_PARTICIPANT = re.compile(rf"^participant ({_ID}) as (.+)$")
_ENTITY = re.compile(r"#(?:\d+|[a-z]+);")


def _check_text(text: str, where: str) -> list[str]:
    """Characters Mermaid's lexer acts on in free text: # (comments, unless an entity code),
    ; (statement end), %% (comment), < > (HTML), and backticks (end the Markdown fence)."""
    errors = []
    bare = _ENTITY.sub("", text)
    for ch in "#;<>`":
        if ch in bare:
            errors.append(f"{where}: unescaped {ch!r} in {text!r}")
    if "%%" in bare:
        errors.append(f"{where}: '%%' starts a comment in {text!r}")
    if not text.strip():
        errors.append(f"{where}: empty text")
    return errors


def mermaid_errors(source: str) -> list[str]:
    """Syntax problems of a Mermaid ``sequenceDiagram`` (the subset vxlanlens writes):
    participants declared before use and once, arrows ``A->>B: text``, notes, boxes and rects
    balanced, label text free of characters that break Mermaid."""
    lines = [ln.strip() for ln in source.strip().splitlines()]
    errors: list[str] = []
    if not lines or lines[0] != "sequenceDiagram":
        return ["first line is not 'sequenceDiagram'"]
    declared: set[str] = set()
    blocks: list[str] = []
    for n, line in enumerate(lines[1:], 2):
        where = f"line {n}"
        if not line:
            continue
        if m := _PARTICIPANT.match(line):
            if m.group(1) in declared:
                errors.append(f"{where}: participant {m.group(1)} declared twice")
            declared.add(m.group(1))
            errors += _check_text(m.group(2), where)
        elif line.startswith("box "):
            if blocks:
                errors.append(f"{where}: box inside {blocks[-1]}")
            blocks.append("box")
            errors += _check_text(line[4:], where)
        elif line.startswith("rect "):
            blocks.append("rect")
            if not re.fullmatch(r"rect rgba?\([\d.,\s]+\)", line):
                errors.append(f"{where}: bad rect colour {line!r}")
        elif line == "end":
            if not blocks:
                errors.append(f"{where}: 'end' without a block")
            else:
                blocks.pop()
        elif m := _MSG.match(line):
            for actor in (m.group(1), m.group(3)):
                if actor not in declared:
                    errors.append(f"{where}: {actor} used before it is declared")
            errors += _check_text(m.group(4), where)
        elif m := _NOTE.match(line):
            for actor in (m.group(2), m.group(3)):
                if actor is not None and actor not in declared:
                    errors.append(f"{where}: {actor} used before it is declared")
            errors += _check_text(m.group(4), where)
        else:
            errors.append(f"{where}: not a statement: {line!r}")
    if blocks:
        errors.append(f"unclosed {blocks}")
    return errors


def mermaid_blocks(markdown: str) -> list[str]:
    """The bodies of the ```mermaid fences of a Markdown text."""
    fences = re.findall(r"^(`{3,})mermaid\n(.*?)\n\1$", markdown, flags=re.S | re.M)
    return [body for _, body in fences]
