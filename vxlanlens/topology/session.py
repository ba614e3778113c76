"""Splitting pasted terminal sessions at their shell prompts, and naming commands.

People paste ``ip a l``, then ``ip r s``, then ``ip -6 n s`` into one ticket, each after a
prompt such as ``root@host:~#``, ``cni-7t9p4~$``, ``[root@node ~]#``, ``/ #`` or a bare ``$``.
:func:`split_session` cuts such text at the prompts; :func:`classify_command` tells which
loader a command's output needs (also used for the ``cmd.md`` files of a cilium-bugtool
archive, whose names are the command with spaces turned into ``-``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Piece", "bugtool_command", "classify_command", "split_session"]

_PROMPT = re.compile(
    r"^(?P<prompt>(?P<who>\[[^\]\n]{1,80}\]|[\w.\-]{1,64}@[\w.\-]{1,64}(?::[^\s#$%>]{0,80})?"
    r"|[\w.\-/~:]{0,80})\s?[#$%>])(?:\s+(?P<cmd>\S.*))?\s*$"
)
_KNOWN = {
    "ip",
    "bridge",
    "kubectl",
    "k",
    "cilium",
    "cilium-dbg",
    "docker",
    "crictl",
    "nsenter",
    "sudo",
    "cat",
    "tcpdump",
    "ping",
    "ping6",
    "nslookup",
    "hubble",
    "kind",
    "ls",
    "curl",
    "bash",
    "sh",
    "/sbin/ip",
    "/usr/sbin/ip",
    "/bin/ip",
    "oc",
    "microk8s",
    "k3s",
}
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9.\-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Piece:
    """A part of a pasted session: the command (``None`` before the first prompt), the line of
    the prompt, and the output lines that follow (starting at ``first_line``, 0-based)."""

    command: str | None
    prompt_line: int | None
    first_line: int
    text: str
    host: str | None


def _prompt(line: str) -> tuple[str, str | None] | None:
    m = _PROMPT.match(line)
    if not m:
        return None
    who, cmd = m.group("who") or "", (m.group("cmd") or "").strip()
    if not cmd and not ("@" in who or who.startswith("[") or "~" in who):
        return None
    first = cmd.split()[0] if cmd else ""
    bare = not who or who in ("/", "~")
    if bare and first not in _KNOWN:
        return None
    if not bare and not (
        ("@" in who)
        or who.startswith("[")
        or "~" in who
        or ":" in who
        or "/" in who
        or first in _KNOWN
    ):
        return None
    host = None
    if who.startswith("["):
        inner = who[1:-1].split()[0] if who[1:-1].split() else ""
        host = inner.split("@", 1)[1] if "@" in inner else None
    elif "@" in who:
        host = who.split("@", 1)[1].split(":", 1)[0]
    else:
        cand = re.split(r"[~:/]", who, maxsplit=1)[0]
        host = cand or None
    if host and (not _HOSTNAME.match(host.lower()) or re.match(r"^(ba|z|k)?sh(-[\d.]+)?$", host)):
        host = None
    return cmd, host


def split_session(text: str) -> list[Piece] | None:
    """The pieces of ``text`` cut at shell prompts, or ``None`` when it holds no prompt."""
    lines = text.splitlines()
    cuts: list[tuple[int, str, str | None]] = []
    for i, line in enumerate(lines):
        if line[:1].isspace():
            continue
        p = _prompt(line.rstrip())
        if p:
            cuts.append((i, p[0], p[1]))
    if not cuts:
        return None
    pieces = []
    if cuts[0][0] > 0:
        pieces.append(Piece(None, None, 0, "\n".join(lines[: cuts[0][0]]), None))
    for k, (i, cmd, host) in enumerate(cuts):
        end = cuts[k + 1][0] if k + 1 < len(cuts) else len(lines)
        pieces.append(Piece(cmd, i, i + 1, "\n".join(lines[i + 1 : end]), host))
    return pieces


_IP_OBJ = {
    "a": "ip-addr",
    "ad": "ip-addr",
    "add": "ip-addr",
    "addr": "ip-addr",
    "addre": "ip-addr",
    "address": "ip-addr",
    "l": "ip-addr",
    "li": "ip-addr",
    "lin": "ip-addr",
    "link": "ip-addr",
    "r": "ip-route",
    "ro": "ip-route",
    "rou": "ip-route",
    "rout": "ip-route",
    "route": "ip-route",
    "n": "ip-neigh",
    "ne": "ip-neigh",
    "nei": "ip-neigh",
    "neigh": "ip-neigh",
    "neighbor": "ip-neigh",
    "neighbour": "ip-neigh",
}


def classify_command(cmd: str) -> tuple[str | None, int | None]:
    """``(format, family)`` for a shell command: format is ``ip-addr``, ``ip-route``,
    ``ip-neigh``, ``bridge-fdb``, ``endpoints``, ``identities``, ``kubectl`` or ``None`` when the command
    prints nothing vxlanlens reads; family is 4/6 for ``ip -4``/``ip -6``."""
    words = cmd.replace("cilium dbg ", "cilium-dbg ").split()
    for k, w in enumerate(words):
        base = w.rsplit("/", 1)[-1]
        if base == "ip":
            family = None
            for r in words[k + 1 :]:
                if r.startswith("-"):
                    if r in ("-6", "-f6", "-family=inet6"):
                        family = 6
                    elif r in ("-4",):
                        family = 4
                    continue
                if r in ("inet6",):
                    family = 6
                    continue
                return _IP_OBJ.get(r), family
            return None, None
        if base == "bridge":
            rest = [x for x in words[k + 1 :] if not x.startswith("-")]
            return ("bridge-fdb" if rest[:1] == ["fdb"] else None), None
        if base in ("cilium", "cilium-dbg") and k + 2 <= len(words):
            rest = [x for x in words[k + 1 :] if not x.startswith("-")]
            if rest[:2] == ["endpoint", "list"]:
                return "endpoints", None
            if rest[:2] == ["identity", "list"]:
                return "identities", None
            return None, None
        if base in ("kubectl", "k", "oc") and "get" in words[k + 1 :]:
            return "kubectl", None
    return None, None


def bugtool_command(member: str) -> str:
    """The command behind a cilium-bugtool output file name (``ip--6-r.md`` → ``ip -6 r``)."""
    base = member.rsplit("/", 1)[-1]
    base = re.sub(r"\.(md|txt|json|log)$", "", base)
    return re.sub(r"-(-?)", lambda m: " " + m.group(1), base)
