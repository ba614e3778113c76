"""``bridge fdb show`` (text, JSON, in a pasted session) and ``ip -d link`` tunnel attributes."""

from __future__ import annotations

import json

import pytest

from vxlanlens.errors import TopologyError
from vxlanlens.topology import load

FDB_TEXT = """\
56:b8:0e:7a:24:cf dev flannel.1 dst 172.18.0.3 self permanent
00:00:00:00:00:00 dev vxlan0 dst 10.0.0.9 port 4790 vni 42 self permanent
9e:21:6b:d4:03:8a dev veth3f2a9c71 vlan 1 master cni0 permanent
33:33:00:00:00:01 dev eth0 self permanent
"""


def test_fdb_text() -> None:
    t = load(FDB_TEXT, node="n1")
    assert len(t.fdb) == 4
    e = t.fdb[0]
    assert (e.node, e.dev, e.mac, e.dst, e.flags, e.state) == (
        "n1", "flannel.1", "56:b8:0e:7a:24:cf", "172.18.0.3", ["self"], "permanent"
    )  # fmt: skip
    assert e.source.line == 1
    assert (t.fdb[1].vni, t.fdb[1].port) == (42, 4790)
    assert (t.fdb[2].master, t.fdb[2].vlan) == ("cni0", 1)
    assert t.to_dict()["fdb"][0]["dst"] == "172.18.0.3"
    assert "Forwarding database (4)" in t.format_table()


def test_fdb_json_and_session() -> None:
    data = [
        {"mac": "56:b8:0e:7a:24:cf", "ifname": "flannel.1", "dst": "172.18.0.3",
         "flags": ["self"], "state": "permanent"},
    ]  # fmt: skip
    t = load(json.dumps(data), node="n1")
    assert [(f.dev, f.dst, f.source.path) for f in t.fdb] == [("flannel.1", "172.18.0.3", "$[0]")]
    s = load("$ bridge fdb show dev flannel.1\n56:b8:0e:7a:24:cf dst 172.18.0.3 self permanent\n")
    assert [(f.dev, f.dst) for f in s.fdb] == [(None, "172.18.0.3")]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("56:b8:0e:7a:24:cf dst 172.18.0.3 self permanent\nnot-a-mac dev x\n", "line 2"),
        ("56:b8:0e:7a:24:cf dst 172.18.0.300 self permanent\n", "line 1"),
        ('[{"mac": "56:b8:0e:7a:24:cf", "ifname": "x", "dst": "nope"}]', "$[0].dst"),
        ('[{"mac": "56:b8:0e:7a:24:cf", "ifname": "x", "vni": "abc"}]', "$[0].vni"),
    ],
)
def test_bad_fdb_names_the_place(text: str, where: str) -> None:
    with pytest.raises(TopologyError) as e:
        load(text)
    assert where in str(e.value)


IP_D_LINK = """\
2: flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN mode DEFAULT
    link/ether a6:3e:19:c0:5b:71 brd ff:ff:ff:ff:ff:ff promiscuity 0
    vxlan id 1 local 172.18.0.4 dev eth0 srcport 0 0 dstport 8472 nolearning ttl auto udpcsum
3: antrea-tun0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN
    link/ether 0a:3e:19:c0:5b:72 brd ff:ff:ff:ff:ff:ff promiscuity 0
    geneve id 0 remote 172.18.0.3 ttl auto dstport 6081 noudpcsum
"""


def test_ip_d_link_tunnel_attributes() -> None:
    t = load(IP_D_LINK, node="n1")
    fl = next(i for i in t.interfaces if i.name == "flannel.1")
    assert fl.tunnel == {"kind": "vxlan", "id": 1, "local": "172.18.0.4", "dev": "eth0",
                         "dstport": 8472, "learning": False, "udpcsum": True}  # fmt: skip
    gn = next(i for i in t.interfaces if i.name == "antrea-tun0")
    assert gn.tunnel == {"kind": "geneve", "id": 0, "remote": "172.18.0.3", "dstport": 6081,
                         "udpcsum": False}  # fmt: skip


def test_ip_j_d_link_tunnel_attributes_and_bad_value() -> None:
    item = {"ifindex": 2, "ifname": "vxlan.calico", "address": "66:7f:2d:91:c4:0e",
            "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 4096, "port": 4789,
                         "local": "172.18.0.4", "learning": False, "udp_csum": True}}}  # fmt: skip
    t = load(json.dumps([item]), node="n1")
    assert t.interfaces[0].tunnel == {"kind": "vxlan", "id": 4096, "dstport": 4789,
                                      "local": "172.18.0.4", "learning": False,
                                      "udpcsum": True}  # fmt: skip
    item["linkinfo"]["info_data"]["port"] = "x"  # type: ignore[index]
    with pytest.raises(TopologyError) as e:
        load(json.dumps([item]))
    assert "$[0].linkinfo.info_data.port" in str(e.value)
