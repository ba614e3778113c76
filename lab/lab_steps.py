"""Steps every two-node CNI scenario of the lab shares (Flannel, Calico, Antrea, OVN, mirrors):
a clean output folder, the capture points, and the one ping the captures record."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def fresh_outdir(outdir: Path, lab: ModuleType) -> None:
    """``outdir`` created, emptied of a previous run's captures, README and dumps, and the lab
    torn down (every ``vl-lab-*`` namespace removed)."""
    outdir.mkdir(parents=True, exist_ok=True)
    for old in [*outdir.glob("*.pcap"), outdir / "README.md"]:
        old.unlink(missing_ok=True)
    if (outdir / "topology").is_dir():
        shutil.rmtree(outdir / "topology")
    lab.teardown()


def two_node_points(cni: Any, lab: ModuleType) -> list[Any]:
    """Capture points of a two-node CNI: each pod's eth0, then each node's eth0 and ``-i any``."""
    points = [
        lab.CapturePoint(n.pod.netns, "eth0", f"pod-{n.pod.name}-eth0.pcap", "pod")
        for n in cni.nodes
    ]
    for n in cni.nodes:
        points.append(lab.CapturePoint(n.netns, "eth0", f"node-{n.short}-eth0.pcap", "node eth0"))
        points.append(lab.CapturePoint(n.netns, "any", f"node-{n.short}-any.pcap", "node any"))
    return points


def ping_once(
    cni: Any, lab: ModuleType, family: str = "-4", *, answered: bool = True
) -> tuple[str, str]:
    """One ping from the first node's pod to the second's: the command as the README shows it
    and ping's output. Raises ``lab.LabError`` when the answer is not what the scenario plants
    (``answered=False``: a fault that must leave it unanswered)."""
    a, b = cni.nodes
    argv = ["ping", family, "-n", "-c", "1", "-W", "2", b.pod.ipv4]
    cp = lab.run(argv, netns=a.pod.netns, check=False, timeout=20)
    out = (cp.stdout + cp.stderr).strip()
    if (cp.returncode == 0) != answered:
        raise lab.LabError(f"ping {'failed' if answered else 'answered'}: {out}")
    return f"ping {family} -c 1 -W 2 {b.pod.ipv4}", out


def run_bpf_ping(
    sc: Any,
    outdir: Path,
    log: Any,
    lab: ModuleType,
    cni: Any,
    build: Callable[[Any, ModuleType, Path], None],
    dump: Callable[[Any, Path, ModuleType], None],
    readme: Callable[[Any, Any, Path, str, str, dict[str, str]], None],
) -> None:
    """Build a two-node scenario whose datapath is compiled eBPF (``build(cni, lab, workdir)``),
    capture one answered ping, dump the nodes, write the README, and tear it all down."""
    fresh_outdir(outdir, lab)
    caps = lab.Captures(outdir, points=two_node_points(cni, lab))
    try:
        with tempfile.TemporaryDirectory(prefix=f"vl-{sc.name}-") as work:
            build(cni, lab, Path(work))
            time.sleep(1.0)
            caps.start()
            time.sleep(0.3)
            cmd, out = ping_once(cni, lab)
            time.sleep(0.2)
            caps.stop()
            dump(cni, outdir, lab)
        readme(cni, sc, outdir, cmd, out, caps.stats)
        log(f"{sc.name}: ok -> {outdir}")
    finally:
        caps.kill()
        lab.teardown()
