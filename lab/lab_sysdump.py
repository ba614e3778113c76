"""A ``cilium sysdump``-shaped zip of a lab run (standard library only; used by lab/run.py).

Layout, following cilium-cli's sysdump file names (``sysdump/constants.go``: ``k8s-pods-<ts>.yaml``,
``k8s-nodes-<ts>.yaml``, ``ciliumendpoints-<ts>.yaml``, ``ciliumnodes-<ts>.yaml``,
``cilium-bugtool-%s-<ts>.tar.gz`` with ``<ts>`` = ``20060102-150405``)::

    cilium-sysdump-<ts>/
      k8s-nodes-<ts>.yaml          NodeList, items without kind/apiVersion (typed client lists)
      k8s-pods-<ts>.yaml           PodList: the lab pods and one cilium agent pod per node
      ciliumendpoints-<ts>.yaml    CiliumEndpointList
      ciliumnodes-<ts>.yaml        CiliumNodeList (pod CIDRs, CiliumInternalIP = router IPv4/IPv6)
      cilium-bugtool-<agent pod>-<ts>.tar.gz   per node: cilium-bugtool-<ts>/cmd/<command>.md

Inside each bugtool archive, every file is one command's output named the way cilium-bugtool
names them (the command with spaces replaced by ``-``): ``ip-a.md``, ``ip--4-r.md``,
``ip--6-r.md``, ``ip--4-n.md``, ``ip--6-n.md``, ``ip--d-l.md`` and
``cilium-dbg-endpoint-list--o-json.md`` (the endpoint list JSON the lab writes per node). The
``ip`` outputs are the real ones of the node's namespace; everything Kubernetes-side is made up
from the lab's values (uids, timestamps and agent pod names are invented).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z][\w./:@-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _RESERVED and ": " not in s:
        return s
    return json.dumps(s)


def to_yaml(v: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (what ``kubectl -o yaml`` looks like)."""
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return pad + "{}\n"
        out = []
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{_scalar(k)}:\n{to_yaml(x, indent + 2)}")
            else:
                out.append(f"{pad}{_scalar(k)}: {_inline(x)}\n")
        return "".join(out)
    if isinstance(v, list):
        if not v:
            return pad + "[]\n"
        out = []
        for x in v:
            if isinstance(x, (dict, list)) and x:
                body = to_yaml(x, indent + 2)
                out.append(f"{pad}- {body[indent + 2 :]}")
            else:
                out.append(f"{pad}- {_inline(x)}\n")
        return "".join(out)
    return pad + _scalar(v) + "\n"


def _inline(x: Any) -> str:
    if isinstance(x, dict):
        return "{}"
    if isinstance(x, list):
        return "[]"
    return _scalar(x)


def _k8s_list(kind: str, items: list[dict[str, Any]], api: str = "v1") -> str:
    return to_yaml(
        {"apiVersion": api, "items": items, "kind": kind, "metadata": {"resourceVersion": "4711"}}
    )


def _uid(*parts: str) -> str:
    import hashlib

    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def agent_pod_name(node: Any) -> str:
    """The invented cilium agent pod name of a node (``cilium-`` + 5 characters)."""
    h = _uid("agent", node.name).replace("-", "")
    return "cilium-" + "".join(c for c in h if c.isalpha())[:5].ljust(5, "x")


def write_sysdump(
    outdir: Path,
    nodes: list[Any],
    identities: dict[str, int],
    ip_outputs: dict[str, dict[str, str]],
    endpoint_lists: dict[str, list[Any]],
    when: float | None = None,
) -> Path:
    """Write ``outdir/cilium-sysdump-<ts>.zip`` and give its path."""
    t = time.gmtime(when if when is not None else time.time())
    ts = time.strftime("%Y%m%d-%H%M%S", t)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", t)
    top = f"cilium-sysdump-{ts}"
    k8s_nodes, pods, ceps, cnodes = [], [], [], []
    for n in nodes:
        k8s_nodes.append(
            {
                "metadata": {
                    "creationTimestamp": created,
                    "labels": {"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux"},
                    "name": n.name,
                    "uid": _uid("node", n.name),
                },
                "spec": {"podCIDR": n.pod_cidr4, "podCIDRs": [n.pod_cidr4, n.pod_cidr6]},
                "status": {
                    "addresses": [
                        {"address": n.ipv4, "type": "InternalIP"},
                        {"address": n.ipv6, "type": "InternalIP"},
                        {"address": n.name, "type": "Hostname"},
                    ]
                },
            }
        )
        cnodes.append(
            {
                "metadata": {"name": n.name, "uid": _uid("ciliumnode", n.name)},
                "spec": {
                    "addresses": [
                        {"ip": n.ipv4, "type": "InternalIP"},
                        {"ip": n.ipv6, "type": "InternalIP"},
                        {"ip": n.router_ipv4, "type": "CiliumInternalIP"},
                        {"ip": n.router_ipv6, "type": "CiliumInternalIP"},
                    ],
                    "ipam": {"podCIDRs": [n.pod_cidr4, n.pod_cidr6]},
                },
            }
        )
        agent = agent_pod_name(n)
        pods.append(
            {
                "metadata": {
                    "labels": {"k8s-app": "cilium"},
                    "name": agent,
                    "namespace": "kube-system",
                    "uid": _uid("pod", agent),
                },
                "spec": {
                    "containers": [{"name": "cilium-agent", "image": "quay.io/cilium/cilium"}],
                    "hostNetwork": True,
                    "nodeName": n.name,
                },
                "status": {
                    "hostIP": n.ipv4,
                    "phase": "Running",
                    "podIP": n.ipv4,
                    "podIPs": [{"ip": n.ipv4}, {"ip": n.ipv6}],
                },
            }
        )
        for p in n.pods:
            pods.append(
                {
                    "metadata": {
                        "labels": {"app": "cni"},
                        "name": p.name,
                        "namespace": "default",
                        "uid": _uid("pod", p.name),
                    },
                    "spec": {
                        "containers": [{"name": "cni", "image": "nicolaka/netshoot"}],
                        "nodeName": n.name,
                    },
                    "status": {
                        "hostIP": n.ipv4,
                        "phase": "Running",
                        "podIP": p.ipv4,
                        "podIPs": [{"ip": p.ipv4}, {"ip": p.ipv6}],
                    },
                }
            )
            ceps.append(
                {
                    "metadata": {"name": p.name, "namespace": "default"},
                    "status": {
                        "external-identifiers": {
                            "container-id": p.container_id,
                            "k8s-namespace": "default",
                            "k8s-pod-name": p.name,
                            "pod-name": f"default/{p.name}",
                        },
                        "id": p.endpoint_id,
                        "identity": {"id": identities[p.name], "labels": list(p.labels)},
                        "networking": {
                            "addressing": [{"ipv4": p.ipv4, "ipv6": p.ipv6}],
                            "node": n.ipv4,
                        },
                        "state": "ready",
                    },
                }
            )
    zpath = outdir / f"{top}.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:

        def put(name: str, text: str | bytes) -> None:
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=t[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)

        put(f"k8s-nodes-{ts}.yaml", _k8s_list("NodeList", k8s_nodes))
        put(f"k8s-pods-{ts}.yaml", _k8s_list("PodList", pods))
        put(f"ciliumendpoints-{ts}.yaml", _k8s_list("CiliumEndpointList", ceps, "cilium.io/v2"))
        put(f"ciliumnodes-{ts}.yaml", _k8s_list("CiliumNodeList", cnodes, "cilium.io/v2"))
        for n in nodes:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
                files = dict(ip_outputs[n.name])
                files["cilium-dbg-endpoint-list--o-json.md"] = (
                    json.dumps(endpoint_lists[n.name], indent=2) + "\n"
                )
                for fname, text in sorted(files.items()):
                    data = text.encode()
                    ti = tarfile.TarInfo(f"cilium-bugtool-{ts}/cmd/{fname}")
                    ti.size, ti.mtime, ti.mode = len(data), int(time.mktime(t)), 0o644
                    tf.addfile(ti, io.BytesIO(data))
            put(f"cilium-bugtool-{agent_pod_name(n)}-{ts}.tar.gz", buf.getvalue())
    return zpath


# Commands whose output goes into each bugtool archive: file name -> ``ip`` arguments.
BUGTOOL_IP = {
    "ip-a.md": ["a"],
    "ip--4-r.md": ["-4", "r"],
    "ip--6-r.md": ["-6", "r"],
    "ip--4-n.md": ["-4", "n"],
    "ip--6-n.md": ["-6", "n"],
    "ip--d-l.md": ["-d", "l"],
}
