"""Inference from packets tables: small tables built with the schema's names and dtypes, and the
shipped reference captures when the reader is available."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vxlanlens.schema import COLUMNS
from vxlanlens.topology import infer, load_many, merge

ROOT = Path(__file__).resolve().parents[2]
CAPS = ROOT / "captures" / "cilium-dual-stack"
DATA = Path(__file__).resolve().parent / "data"

POD_MAC, LXC_MAC, POD6, GW6 = (
    "4e:5b:57:45:63:3b",
    "a2:79:14:47:80:b3",
    "fd00:10:244:1::4749",
    "fd00:10:244:1::22f1",
)


def table(rows: list[dict]) -> pd.DataFrame:
    """A packets table with every schema column, in its dtype, from a few row dicts."""
    data = {}
    for c in COLUMNS:
        vals = [r.get(c.name) for r in rows]
        if c.dtype.startswith("datetime"):
            data[c.name] = pd.to_datetime(pd.Series([0] * len(rows)), utc=True)
        elif c.dtype == "int64":
            data[c.name] = pd.Series([v or 0 for v in vals], dtype="int64")
        else:
            data[c.name] = pd.Series(vals, dtype="object" if c.dtype == "object" else c.dtype)
    return pd.DataFrame(data)


def walkthrough_rows() -> list[dict]:
    pod = dict(capture="pod", linktype=1)
    node = dict(
        capture="node",
        linktype=1,
        tunnel="vxlan",
        outer_src_ip="172.18.0.3",
        outer_dst_ip="172.18.0.4",
        vni=40172,
    )
    return [
        dict(
            pod,
            frame_no=1,
            src_mac=POD_MAC,
            dst_mac="33:33:ff:00:22:f1",
            src_ip="fe80::4c5b:57ff:fe45:633b",
            dst_ip="ff02::1:ff00:22f1",
            icmp_type=135,
            nd_target=GW6,
            nd_lladdr=POD_MAC,
        ),
        dict(
            pod,
            frame_no=2,
            src_mac=LXC_MAC,
            dst_mac=POD_MAC,
            src_ip=GW6,
            dst_ip="fe80::4c5b:57ff:fe45:633b",
            icmp_type=136,
            nd_target=GW6,
            nd_flags="RS",
            nd_lladdr=LXC_MAC,
        ),
        dict(
            pod,
            frame_no=3,
            src_mac=POD_MAC,
            dst_mac=LXC_MAC,
            src_ip=POD6,
            dst_ip="fd00:10:244:2::9461",
            icmp_type=128,
        ),
        dict(
            node,
            frame_no=1,
            src_mac=POD_MAC,
            dst_mac=LXC_MAC,
            src_ip=POD6,
            dst_ip="fd00:10:244:2::9461",
            icmp_type=128,
        ),
        dict(
            node,
            frame_no=2,
            outer_src_ip="172.18.0.4",
            outer_dst_ip="172.18.0.3",
            vni=40999,
            src_mac="b6:61:48:ae:63:f5",
            dst_mac="9e:2f:0c:71:d4:a8",
            src_ip="fd00:10:244:2::9461",
            dst_ip=POD6,
            icmp_type=129,
        ),
    ]


def test_infer_small_table() -> None:
    t = infer(table(walkthrough_rows()))
    assert {n.addresses[0].value for n in t.nodes} == {"172.18.0.3", "172.18.0.4"}
    assert all(n.name is None and n.confidence == "inferred-high" for n in t.nodes)
    lxc = t.interface_by_mac(LXC_MAC)
    assert lxc.kind == "lxc" and lxc.confidence == "inferred-high"
    assert set(lxc.source.frames) == {("pod", 1), ("pod", 2)}
    pod = t.pod_by_mac(POD_MAC)
    assert (
        pod.ips == [POD6]
        and pod.host_mac == LXC_MAC
        and pod.identity == 40172
        and pod.node_ip == "172.18.0.3"
    )
    assert t.pod_by_ip("fd00:10:244:2::9461").identity == 40999
    nb = t.neighbors[0]
    assert (nb.ip, nb.lladdr, nb.router) == (GW6, LXC_MAC, True)
    assert GW6 in [f.value for f in t.node_by_ip("172.18.0.3").router_ips]
    assert any(u.startswith("interface names") for u in t.unknown)
    assert any(u.startswith("identity labels") and "40172" in u for u in t.unknown)


def test_infer_arp_and_sll2() -> None:
    rows = [
        dict(
            capture="any",
            frame_no=1,
            linktype=276,
            ifindex=19,
            pkt_type="host",
            src_mac="4e:5b:57:45:63:3b",
            arp_op=1,
            arp_sender_mac=POD_MAC,
            arp_sender_ip="10.244.1.233",
            arp_target_ip="10.244.1.154",
            arp_target_mac="00:00:00:00:00:00",
        ),
        dict(
            capture="any",
            frame_no=2,
            linktype=276,
            ifindex=19,
            pkt_type="outgoing",
            src_mac=LXC_MAC,
            arp_op=2,
            arp_sender_mac=LXC_MAC,
            arp_sender_ip="10.244.1.154",
            arp_target_mac=POD_MAC,
            arp_target_ip="10.244.1.233",
        ),
    ]
    t = infer(table(rows))
    assert t.pod_by_mac(POD_MAC).ips == ["10.244.1.233"]
    assert t.pod_by_mac(POD_MAC).host_mac == LXC_MAC
    assert any(n.ip == "10.244.1.154" and n.lladdr == LXC_MAC and not n.router for n in t.neighbors)
    idx = [i for i in t.interfaces if i.ifindex == 19]
    assert idx and idx[0].mac == LXC_MAC


def test_empty_table() -> None:
    t = infer(table([]))
    assert t.is_empty() and t.unknown


def test_loaded_facts_win_and_inferred_nodes_fold_into_named_ones() -> None:
    loaded = load_many(
        [
            f"cilium-dual-stack-worker={DATA / 'walkthrough-node-worker.txt'}",
            f"cilium-dual-stack-worker/cni-7t9p4={DATA / 'walkthrough-pod-cni-7t9p4.txt'}",
        ]
    )
    rows = walkthrough_rows()
    rows[3]["src_mac"] = "4e:5b:57:45:63:00"  # a capture that disagrees with the dump
    t = merge(infer(table(rows)), loaded)
    pod = t.pod("cni-7t9p4")
    assert pod.mac == POD_MAC and pod.confidence == "loaded"
    assert any(c.field == "mac" and "loaded value" in c.resolution for c in t.conflicts)
    worker = t.node("cilium-dual-stack-worker")
    assert "172.18.0.3" in [f.value for f in worker.addresses]
    assert not any(u.startswith("interface names") for u in t.unknown)


@pytest.mark.skipif(not (CAPS / "pod-eth0.pcap").exists(), reason="shipped captures absent")
def test_infer_from_shipped_reference_captures() -> None:
    import vxlanlens

    read = getattr(vxlanlens, "read", None)
    if read is None:
        pytest.skip("vxlanlens.read not available yet")
    packets = read([str(CAPS / "pod-eth0.pcap"), str(CAPS / "worker-eth0.pcap")]).packets
    t = infer(packets)
    assert t.interface_by_mac(LXC_MAC).kind == "lxc"
    assert t.pod_by_mac(POD_MAC).host_mac == LXC_MAC
    assert {f.value for n in t.nodes for f in n.addresses} == {"172.18.0.3", "172.18.0.4"}
    assert any(u.startswith("interface names") for u in t.unknown)
    assert any(u.startswith("pod names") for u in t.unknown)


def test_vtep_macs_are_not_taken_for_pods() -> None:
    """Calico/Flannel inner frames go VTEP MAC to VTEP MAC: a MAC that is the inner source one
    way and the inner destination the other is no pod's MAC and no veth's."""
    from testpaths import CAPTURES

    import vxlanlens

    d = CAPTURES / "lab-calico-ping"
    cap = vxlanlens.read(sorted(str(p) for p in d.glob("node-*.pcap")))
    tun = cap.packets[cap.packets["tunnel"].notna()]
    vteps = set(tun["src_mac"].astype(str)) & set(tun["dst_mac"].astype(str))
    assert len(vteps) == 2  # one per node
    pods = [p for p in cap.topology.pods if p.ips]
    assert pods
    assert not {p.mac for p in pods} & vteps
    assert not {p.host_mac for p in pods} & vteps


@pytest.mark.parametrize("frames", ["distinct", "repeated"])
def test_node_evidence_on_codes_is_the_group_by_of_frame_order(frames: str) -> None:
    """``_ev_of_codes`` gives the first frames per value that a group-by of the rows stacked
    (sources first) in frame order gives, also when two rows are one frame."""
    import numpy as np
    import pandas as pd

    from vxlanlens.topology._infer_rows import _ev_by, _ev_of_codes, _in_frame_order

    r = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame(
        {
            "_cap": pd.array(r.choice(["b", "a", "c"], n), dtype="str"),
            "_fno": r.permutation(n) + 1 if frames == "distinct" else r.integers(1, 40, n),
            "s": r.choice(["10.0.0.1", "10.0.0.2", "10.0.0.3"], n),
            "d": r.choice(["10.0.0.2", "10.0.0.4", None], n),
        }
    )
    stacked = _in_frame_order(
        pd.concat(
            [
                df[["_cap", "_fno", "s"]].rename(columns={"s": "ip"}),
                df[["_cap", "_fno", "d"]].rename(columns={"d": "ip"}),
            ]
        )
    )
    values = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    want = {k: v for k, v in _ev_by(stacked, ["ip"]).items() if k in values}  # nulls: none
    code = {v: k for k, v in enumerate(values)}
    keys = [np.array([code.get(x, -1) if x else -1 for x in df[c]]) for c in ("s", "d")]
    rows = np.arange(n)
    assert _ev_of_codes(df, rows, keys, values) == want


def _crossing_rows() -> list[dict]:
    """A VXLAN L2 segment between two hosts of 10.50.0.0/24 behind two VTEPs: an ARP and an
    NS exchange seen inside the tunnel at the first VTEP's NIC, and the ARP again untunnelled
    at the asking host's own NIC."""
    a_mac, b_mac = "02:00:00:00:0a:01", "02:00:00:00:0b:02"
    out = dict(capture="vtep", linktype=1, tunnel="vxlan", vni=100)
    there = dict(out, outer_src_ip="192.0.2.1", outer_dst_ip="192.0.2.2")
    back = dict(out, outer_src_ip="192.0.2.2", outer_dst_ip="192.0.2.1")
    arp_q = dict(src_mac=a_mac, dst_mac="ff:ff:ff:ff:ff:ff", arp_op=1, arp_sender_mac=a_mac,
                 arp_sender_ip="10.50.0.5", arp_target_ip="10.50.0.9",
                 arp_target_mac="00:00:00:00:00:00")  # fmt: skip
    arp_a = dict(src_mac=b_mac, dst_mac=a_mac, arp_op=2, arp_sender_mac=b_mac,
                 arp_sender_ip="10.50.0.9", arp_target_mac=a_mac, arp_target_ip="10.50.0.5")  # fmt: skip
    host = dict(capture="host-a", linktype=1)
    return [
        dict(there, frame_no=1, **arp_q),
        dict(back, frame_no=2, **arp_a),
        dict(
            there,
            frame_no=3,
            src_mac=a_mac,
            dst_mac="33:33:ff:00:00:09",
            src_ip="fd50::5",
            dst_ip="ff02::1:ff00:9",
            icmp_type=135,
            nd_target="fd50::9",
            nd_lladdr=a_mac,
        ),
        dict(
            back,
            frame_no=4,
            src_mac=b_mac,
            dst_mac=a_mac,
            src_ip="fd50::9",
            dst_ip="fd50::5",
            icmp_type=136,
            nd_target="fd50::9",
            nd_flags="SO",
            nd_lladdr=b_mac,
        ),
        dict(host, frame_no=1, **arp_q),
        dict(host, frame_no=2, **arp_a),
    ]


def test_exchanges_across_the_tunnel_name_both_hosts_and_no_gateway() -> None:
    # an ARP or NS answered across the tunnel comes from the target host on a stretched L2
    # segment (a VXLAN LAN, Weave, an OVN logical switch): taking the answer for the asker's
    # host-side veth made every pod the host veth of each peer it asked for (thousands of
    # topology conflicts on a large capture)
    t = infer(table(_crossing_rows()))
    a, b = t.pod_by_mac("02:00:00:00:0a:01"), t.pod_by_mac("02:00:00:00:0b:02")
    assert set(a.ips) == {"10.50.0.5", "fd50::5"} and a.host_mac is None
    assert a.node_ip == "192.0.2.1" and a.confidence == "inferred-high"
    assert set(b.ips) == {"10.50.0.9", "fd50::9"} and b.node_ip == "192.0.2.2"
    assert b.confidence == "inferred-low"
    # the asking host's own capture shows the same ARP untunnelled: still no gateway
    assert not t.interfaces and not t.neighbors and not t.conflicts


def test_exchanges_seen_only_untunnelled_still_give_the_gateway() -> None:
    rows = [r for r in _crossing_rows() if r["capture"] == "host-a"]
    t = infer(table(rows))
    assert t.pod_by_mac("02:00:00:00:0a:01").host_mac == "02:00:00:00:0b:02"


def test_pods_answering_each_other_across_the_tunnel_keep_their_macs() -> None:
    # Cilium-style data frames (pod MAC -> its lxc MAC, the sender's identity in the VNI) plus an
    # NS / NA between the two pods inside the tunnel: the NA goes to the asker's own MAC, which
    # made it "inner source one way, inner destination the other way", a VTEP's: both pods lost
    # their MACs (the 300k bench capture: each pod stated twice, 5,965 pods of 3,072), and the
    # answerer got the asker's MAC as its host veth
    a_mac, a_lxc, b_mac, b_lxc = ("02:00:00:00:0a:01", "02:00:00:00:0a:02",
                                  "02:00:00:00:0b:01", "02:00:00:00:0b:02")  # fmt: skip
    out = dict(capture="wire", linktype=1, tunnel="vxlan")
    there = dict(out, outer_src_ip="192.0.2.1", outer_dst_ip="192.0.2.2", vni=4001)
    back = dict(out, outer_src_ip="192.0.2.2", outer_dst_ip="192.0.2.1", vni=4002)
    rows = [
        dict(there, frame_no=1, src_mac=a_mac, dst_mac=a_lxc, src_ip="10.60.1.5",
             dst_ip="10.60.2.9", ip_proto=6),
        dict(back, frame_no=2, src_mac=b_mac, dst_mac=b_lxc, src_ip="10.60.2.9",
             dst_ip="10.60.1.5", ip_proto=6),
        dict(there, frame_no=3, src_mac=a_mac, dst_mac="33:33:ff:00:00:09", src_ip="fd60:1::5",
             dst_ip="ff02::1:ff00:9", icmp_type=135, nd_target="fd60:2::9", nd_lladdr=a_mac),
        dict(back, frame_no=4, src_mac=b_mac, dst_mac=a_mac, src_ip="fd60:2::9",
             dst_ip="fd60:1::5", icmp_type=136, nd_target="fd60:2::9", nd_flags="SO",
             nd_lladdr=b_mac),
    ]  # fmt: skip
    t = infer(table(rows))
    a, b = t.pod_by_mac(a_mac), t.pod_by_mac(b_mac)
    assert a is not None and b is not None and len(t.pods) == 2
    assert set(a.ips) == {"10.60.1.5", "fd60:1::5"} and a.host_mac == a_lxc
    assert set(b.ips) == {"10.60.2.9", "fd60:2::9"} and b.host_mac == b_lxc
    assert not t.conflicts
