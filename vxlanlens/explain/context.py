"""What the explainer works from, and how it names things: MACs, IPs, pods, nodes, capture points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..topology import Pod, Topology, place
from ..topology.placement import label_codes
from ._points import Endpoint, Point
from ._rows import (
    FrameIndex,
    Row,
    _Columns,
    as_text,
    combination,
    ev,
    first_of_each,
    first_row,
    groups,
    na,
    records,
    repeated,
    runs,
    text_is,
    vals,
)

if TYPE_CHECKING:
    from ..overlays import Datapath, Recognition, RouterPort

__all__ = [
    "Context",
    "Endpoint",
    "Point",
    "Row",
    "ev",
    "first_row",
    "groups",
    "na",
    "records",
    "vals",
]

BROADCAST = "ff:ff:ff:ff:ff:ff"


_NATIVE = (
    "the node routes the packet (TTL or hop limit − 1) out of its NIC, to the other node or to "
    "a router that knows the pod addresses: the pod's packet itself, no tunnel (native routing)"
)
"""Native routing in no CNI's words (no overlay recognised)."""
_NEUTRAL_ARP = (
    "no host on the requester's link answered for that address (it is not configured there, "
    "or the host holding it is down)"
)
"""Why an ARP request went unanswered, in no CNI's words (no overlay recognised)."""
_NATIVE_DELIVER = "the node routes it on to the destination pod's veth"


@dataclass
class Context:
    """The packets (annotated), the topology and the exchanges an explanation is built from."""

    packets: pd.DataFrame
    topology: Topology
    exchanges: pd.DataFrame
    journeys: pd.DataFrame
    loaded: bool
    """Whether any topology dump was given (facts not only inferred from the captures)."""
    points: dict[str, Point] = field(default_factory=dict)
    underlay_ips: set[str] = field(default_factory=set)
    """Addresses of the nodes' underlay (outer addresses of tunnelled frames)."""
    overlay: Recognition | None = None
    """The overlay recognised (or stated): its profile names the hops of paths."""
    one_way: dict[str, str] = field(default_factory=dict)
    """Capture label -> why its file may hold one direction of the traffic only (the tool
    that wrote it: :func:`vxlanlens.overlays.one_way_captures`)."""
    timeout_s: float = 3.0
    """The answer timeout the exchanges were paired with (seconds)."""
    stopped: dict[str, pd.Timestamp] = field(default_factory=dict)
    """Capture label -> when capturing stopped, where its file says so (pcapng statistics;
    :func:`stopped_captures`); what is believed of it: :meth:`stopped_at`."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Capture label -> packets its capturing dropped, where its file says so and it is more
    than none (pcapng statistics: :func:`dropping_captures`)."""
    _cilium: list[str] | None = None
    _journey_pos: dict[tuple[str, int], int] | None = None
    _journey_obs: list[tuple[str, int]] = field(default_factory=list)
    _journey_start: list[int] = field(default_factory=list)
    _journey_end: list[int] = field(default_factory=list)
    _rows: FrameIndex | None = None
    _columns: _Columns | None = None
    _spans: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = field(default_factory=dict)
    _texts: dict[str, pd.Series] = field(default_factory=dict)
    _capture_codes: tuple[np.ndarray, list[str]] | None = None
    _flows: dict[tuple[str, str], np.ndarray] | None = None
    _overlay_macs: dict[str, Any] | None = None
    _datapath: Datapath | None = None
    _plain: bool | None = None
    _ready: bool = False
    """Whether :meth:`__post_init__` is done (the capture points placed)."""
    _routers: dict[str, RouterPort] | None = None
    _placed: dict[str, Point] | None = None
    """:func:`~vxlanlens.explain.paths.placed_points`, once worked out (paths and summary)."""

    def __post_init__(self) -> None:
        if isinstance(self.topology, Topology):
            # thousands of look-ups follow: the index answers them (and hands every other
            # attribute to the topology), so it stands for it
            self.topology = cast(Topology, self.topology.indexed())
        p = self.packets
        self._columns = _Columns(p)
        captures = p["capture"]  # a categorical's codes, not a text per row, where it is one
        self._rows = FrameIndex(
            captures if isinstance(captures.dtype, pd.CategoricalDtype) else self.text("capture"),
            p["frame_no"].to_numpy(dtype=np.int64) if len(p) else [],
        )
        self.underlay_ips = {
            str(x) for col in ("outer_src_ip", "outer_dst_ip") for x in p[col].dropna().unique()
        }
        self.points = self._place()
        self._ready = True

    @property
    def datapath(self) -> Datapath:
        """The datapath paths are drawn with: the recognised overlay's; with none, no CNI's
        when the frames rule Cilium out, else Cilium's (whose native routing is then told in no
        CNI's words unless the input shows Cilium)."""
        if self._datapath is None:
            from ..overlays import CILIUM_PROFILE

            recognised = self.overlay is not None and self.overlay.name is not None
            dp = CILIUM_PROFILE.datapath
            if recognised and self.overlay is not None:
                dp = self.overlay.profile.datapath
            elif self.cilium_ruled_out and self.overlay is not None:
                dp = self.overlay.profile.datapath  # no CNI's words, routed or bridged
            elif not self.cilium_likely:
                dp = replace(
                    dp,
                    native=_NATIVE,
                    native_deliver=_NATIVE_DELIVER,
                    host_veth="veth",
                    arp_unanswered=_NEUTRAL_ARP,
                    ns_unanswered="",
                )
            self._datapath = dp
        return self._datapath

    @property
    def cilium_words(self) -> bool:
        """Whether reasons may be given in Cilium's terms: Cilium recognised (or stated), or no
        overlay recognised and the input shows signs of Cilium."""
        if self.overlay is not None and self.overlay.name is not None:
            return self.overlay.name == "cilium"
        return self.cilium_likely

    @property
    def cilium_ruled_out(self) -> bool:
        """Whether no overlay is recognised, the frames say it is not Cilium
        (:attr:`Recognition.ruled_out`) and nothing else in the input shows Cilium: paths are
        then drawn in no CNI's words and Cilium's rules are not applied."""
        o = self.overlay
        return (
            o is not None and o.name is None and "cilium" in o.ruled_out and not self.cilium_likely
        )

    @property
    def plain(self) -> bool:
        """Whether the input shows no overlay at all: no tunnel packet, no topology dump, no
        overlay stated or recognised, no sign of Cilium, no node the frames show (hosts routing
        pods' addresses to each other) and no capture the user placed at a pod or a node. Paths
        then run from host to host through the network the captures saw (:mod:`._plain`):
        nothing shows a pod, a veth or a tunnel to draw."""
        if not self._ready:
            return False  # asked while placing the captures: nothing plain is said yet
        if self._plain is None:
            o = self.overlay
            stated = o is not None and o.confidence == "stated"
            self._plain = not (
                overlay_evident(self.packets, self.topology, loaded=self.loaded, stated=stated)
                or self.underlay_ips
                or self.cilium_likely
                or (o is not None and o.name is not None)
                # a place inferred without a tunnel or dump (a "pod" that asked for its
                # gateway) is the overlay model's reading of a host's traffic; a place the
                # user stated is not
                or any(p.stated for p in self.points.values())
            )
        return self._plain

    @property
    def overlay_is_not_cilium(self) -> bool:
        """Whether another overlay than Cilium was recognised (or stated): Cilium's datapath
        rules are then not stated."""
        return self.overlay is not None and self.overlay.name not in (None, "cilium")

    # --- rows ------------------------------------------------------------------------------
    def text(self, column: str) -> pd.Series:
        """``packets[column].astype(str)``, made once per column (for comparisons with text)."""
        hit = self._texts.get(column)
        if hit is None:
            hit = self._texts[column] = as_text(self.packets[column])
        return hit

    @property
    def capture_codes(self) -> tuple[np.ndarray, list[str]]:
        """Each row's capture as a code (``-1`` for none) into the list of distinct capture
        labels as text: what :meth:`text` of ``capture`` says, a code per row instead of a
        string (for a categorical column, its own codes when its labels print apart)."""
        if self._capture_codes is None:
            self._capture_codes = label_codes(self.packets["capture"])
        return self._capture_codes

    def untunnelled(self, src_ip: object, dst_ip: object) -> np.ndarray:
        """Positions (in table order) of the frames outside tunnels whose source and destination
        addresses, as text, are those of ``src_ip`` and ``dst_ip``."""
        if self._flows is None:
            p = self.packets
            plain = np.flatnonzero(
                (p["tunnel"].isna() & p["src_ip"].notna() & p["dst_ip"].notna()).to_numpy()
            )
            ends = [p[c].iloc[plain] for c in ("src_ip", "dst_ip")]
            # the rows of each pair of addresses, found on the columns' codes (a group-by of
            # their text took a tenth of a gigabyte at a million frames); text made per pair
            pair = combination(ends)
            order = np.argsort(pair, kind="stable")
            bounds = np.r_[0, np.cumsum(np.bincount(pair))] if len(pair) else np.zeros(1, int)
            firsts = np.flatnonzero(first_of_each(pair))
            texts = zip(*(as_text(e.iloc[firsts]).tolist() for e in ends), strict=True)
            self._flows = {}
            for k, (s, d) in enumerate(texts):
                at = plain[order[bounds[k] : bounds[k + 1]]]
                had = self._flows.get((str(s), str(d)))  # two values of one text: one flow
                self._flows[(str(s), str(d))] = (
                    at if had is None else np.sort(np.concatenate([had, at]))
                )
        hit = self._flows.get((str(src_ip), str(dst_ip)))
        return hit if hit is not None else np.zeros(0, dtype=np.int64)

    def row_at(self, position: int) -> Row:
        """The packets-table row at ``position`` (read column by column when asked)."""
        assert self._columns is not None
        return Row(self._columns, position)

    def row(self, capture: object, frame: object) -> Row | None:
        """The packets-table row of a frame (read column by column when asked), or ``None``."""
        if na(capture) or na(frame):
            return None
        assert self._rows is not None
        i = self._rows.get(str(capture), int(frame))  # type: ignore[call-overload]
        return None if i is None else self.row_at(i)

    def rows_at(self, captures: pd.Series, frames: pd.Series) -> np.ndarray:
        """Positions in the packets table of many ``(capture, frame)`` pairs (``-1`` where
        there is none): :meth:`row` of each, as positions."""
        assert self._rows is not None
        return self._rows.rows_of(captures, frames)

    def values_at(self, captures: pd.Series, frames: pd.Series, column: str) -> np.ndarray:
        """``column`` of the packets at many ``(capture, frame)`` pairs (None where there is none)."""
        assert self._rows is not None
        at = self._rows.rows_of(captures, frames)
        found = at >= 0
        out = np.full(len(at), None, dtype=object)
        if not found.any():
            return out
        # only the rows asked for are converted (the values ``astype(object)`` gives them)
        values = np.array(self.packets[column].take(at[found]).astype(object), dtype=object)
        values[pd.isna(values)] = None
        out[found] = values
        return out

    # --- journeys --------------------------------------------------------------------------
    def journey_frames(self, capture: object, frame: object) -> list[tuple[str, int]]:
        """Every observation ``(capture, frame_no)`` of the packet seen at this frame, in
        journey order (just this frame when it belongs to no journey)."""
        if na(capture) or na(frame):
            return []
        if self._journey_pos is None:
            self._index_journeys()
            assert self._journey_pos is not None
        key = (str(capture), int(frame))  # type: ignore[call-overload]
        at = self._journey_pos.get(key)
        if at is None:
            return [key]
        return self._journey_obs[self._journey_start[at] : self._journey_end[at]]

    def first_observations(
        self, captures: list[str | None], frames: list[int | None]
    ) -> list[tuple[str, int] | None]:
        """``journey_frames(c, f)[0]`` of many frames given as text and int (None where either
        part is None): the first observation of each one's packet."""
        if self._journey_pos is None:
            self._index_journeys()
            assert self._journey_pos is not None
        pos, obs, start = self._journey_pos, self._journey_obs, self._journey_start
        if not pos:  # no packet seen twice: each frame is its own first observation
            return [
                None if c is None or f is None else (c, f)
                for c, f in zip(captures, frames, strict=True)
            ]
        out: list[tuple[str, int] | None] = []
        for c, f in zip(captures, frames, strict=True):
            if c is None or f is None:
                out.append(None)
                continue
            key = (c, f)
            at = pos.get(key) if pos else None
            out.append(key if at is None else obs[start[at]])
        return out

    def _index_journeys(self) -> None:
        """List the observations of the journeys of more than one observation in journey order,
        with where each one's journey starts and ends in that list, and each frame's place in it.

        A frame in no journey or alone in its journey is its own journey (a frame in several
        journeys belongs to the last, so a one-observation journey is listed if its frame is
        in another one too)."""
        self._journey_pos = {}
        j = self.journeys
        if j.empty:
            return
        jids, obs = j["journey"].to_numpy(), j["obs"].to_numpy()
        if (jids[1:] < jids[:-1]).any() or (
            (jids[1:] == jids[:-1]) & (obs[1:] <= obs[:-1])
        ).any():  # not in journey order already (journey_index and journeys give it so)
            j = j.sort_values(["journey", "obs"], kind="stable")
            jids = j["journey"].to_numpy()
        # rows of a journey of more than one observation: a neighbour in the same journey
        same = jids[1:] == jids[:-1]
        keep = _listed_twice(j["capture"], j["frame_no"])
        keep[1:] |= same
        keep[:-1] |= same
        del same, obs
        if not keep.any():
            return
        order, jids = j[keep], jids[keep].astype(np.int64)
        self._journey_obs = list(
            zip(
                as_text(order["capture"]).tolist(),
                order["frame_no"].to_numpy(dtype=np.int64).tolist(),
                strict=True,
            )
        )
        self._journey_pos = dict(zip(self._journey_obs, range(len(jids)), strict=True))
        starts, ends, run = runs(jids)
        self._journey_start = starts[run].tolist()
        self._journey_end = ends[run].tolist()

    # --- names -----------------------------------------------------------------------------
    def mac_name(self, mac: object) -> str | None:
        """What a MAC is: ``lxc237a31216c0f`` / ``cni-7t9p4 eth0`` / ``broadcast``, or None."""
        if na(mac):
            return None
        m = str(mac)
        if m == BROADCAST:
            return "broadcast"
        if m.startswith("33:33:"):
            return "IPv6 multicast"
        if int(m[:2], 16) & 1:
            return "multicast"
        if self.plain:
            return None  # no overlay shown: no role of its datapath to name
        dp = self.datapath
        if dp.shared_host_mac is not None and m == dp.shared_host_mac:
            return f"every {dp.host_veth}'s MAC"
        if dp.virtual_mac is not None and m == dp.virtual_mac:
            return dp.virtual_mac_name or "the overlay's virtual MAC"
        pod = self.topology.pod_by_mac(m)
        iface = self.topology.interface_by_mac(m)
        if (
            iface is not None
            and iface.confidence == "loaded"
            and iface.namespace in (None, "host")
            and dp.role(iface.name, iface.kind) in ("bridge", "tunnel", "gateway")
        ):
            return f"{iface.label}{f' on {iface.node}' if iface.node else ''}"
        rp = self.router_ports.get(m)
        if rp is not None and (iface is None or iface.confidence != "loaded"):
            return f"{dp.router_port}{' ' + ', '.join(rp.ips) if rp.ips else ''} (inferred)"
        if pod is not None and not (
            pod.confidence != "loaded"
            and iface is not None
            and iface.confidence == "loaded"
            and iface.namespace == "host"
        ):
            return f"{pod.label} eth0"
        pod = self.topology.pod_by_host_mac(m)
        if pod is not None:
            if pod.host_interface:
                return f"{pod.host_interface}, host-side veth of {pod.label}"
            if self.overlay is not None and self.overlay.name not in (None, "cilium"):
                return f"host-side {dp.host_veth} of {pod.label}"
            if not self.cilium_likely:
                return f"the MAC that answers {pod.label}'s gateway"
            return f"host-side lxc veth of {pod.label}"
        said = self.overlay_mac(m)
        if said is not None:
            return f"{said.label} (inferred)"
        if iface is not None:
            where = f" on {iface.node}" if iface.node else ""
            suffix = "" if iface.confidence == "loaded" else " (inferred)"
            return f"{iface.label}{where}{suffix}"
        return None

    def overlay_mac(self, mac: object) -> Any:
        """What the recognised overlay's datapath says a MAC no dump names is
        (:class:`~vxlanlens.explain._macroles.MacRole`: a VTEP, the bridge or gateway device
        answering the pods' gateway), or None."""
        if na(mac):
            return None
        if self._overlay_macs is None:
            from ._macroles import overlay_macs

            self._overlay_macs = overlay_macs(self)
        return self._overlay_macs.get(str(mac))

    def mac_text(self, mac: object) -> str:
        """``aa:..:ff (what it is)`` or just the MAC."""
        if na(mac):
            return "?"
        name = self.mac_name(mac)
        return f"{mac} ({name})" if name else str(mac)

    def pod_label(self, ip: object = None, mac: object = None) -> str | None:
        """The label of the pod with this IP (or eth0 MAC), if known (never for an input that
        shows no overlay: :attr:`plain`)."""
        if self.plain:
            return None
        pod = None
        if not na(ip):
            pod = self.topology.pod_by_ip(str(ip))
        if pod is None and not na(mac):
            pod = self.topology.pod_by_mac(str(mac))
        return pod.label if pod is not None else None

    def pod_of(self, ip: object = None, mac: object = None):
        """The pod with this IP (or eth0 MAC), if known (never for an input that shows no
        overlay: :attr:`plain`)."""
        if self.plain:
            return None
        pod = None
        if not na(ip):
            pod = self.topology.pod_by_ip(str(ip))
        if pod is None and not na(mac):
            pod = self.topology.pod_by_mac(str(mac))
        return pod

    def requester(self, ip: object = None, mac: object = None) -> Endpoint:
        """Who sent a frame (an ARP request, an NS) from ``ip`` / ``mac``: a pod's eth0 (by IP,
        else by eth0 MAC), else a node's NIC (the MAC of a host interface in the dumps, or the
        node's underlay address), else an unknown pod's eth0 (``pod <mac> eth0``). A node
        resolving a neighbour on the underlay is never named a pod. In an input that shows no
        overlay (:attr:`plain`) it is ``host <ip>`` (or ``host <mac>``)."""
        m = None if na(mac) else str(mac)
        if self.plain:
            return Endpoint(f"host {ip if not na(ip) else m or '?'}", "host", None, None)
        pod = self.pod_of(ip=ip)
        iface = self.topology.interface_by_mac(m) if m else None
        nic = (
            iface
            if iface is not None
            and iface.confidence == "loaded"
            and iface.namespace == "host"
            and iface.node
            else None
        )
        if pod is None and nic is None and m:
            pod = self.topology.pod_by_mac(m)
        if pod is not None:
            return Endpoint(f"{pod.label} eth0", "pod-eth0", pod.node, pod.label)
        if nic is not None:
            kind = "underlay" if nic.kind == "underlay" else "node"
            return Endpoint(f"{nic.node}/{nic.label}", kind, nic.node, None)
        node = self.topology.node_by_ip(str(ip)) if not na(ip) else None
        if node is not None and not na(ip) and str(ip) in node.all_ips():
            return Endpoint(f"{node.label}'s underlay NIC", "underlay", node.label, None)
        return Endpoint(f"pod {m or ip} eth0", "pod-eth0", None, None)

    def node_label(self, ip: object) -> str | None:
        """The label of the node with this underlay (or router) IP, if known."""
        if na(ip):
            return None
        node = self.topology.node_by_ip(str(ip))
        return node.label if node is not None else None

    def node_of_pod(self, pod: Pod | None) -> str | None:
        """The label of ``pod``'s node: named, or known by its underlay address."""
        if pod is None:
            return None
        if pod.node:
            return pod.node
        return self.node_label(pod.node_ip) if pod.node_ip else None

    def node_of_pod_ip(self, ip: object) -> str | None:
        """The node a pod address lives on: from its pod, else from the node's pod CIDRs."""
        if na(ip):
            return None
        pod = self.topology.pod_by_ip(str(ip))
        if (on := self.node_of_pod(pod)) is not None:
            return on
        node = self.topology.node_by_pod_cidr(str(ip))
        return node.label if node is not None else None

    def ip_text(self, ip: object) -> str:
        """``fd00::1 (pod x)`` or the address."""
        if na(ip):
            return "?"
        who = self.pod_label(ip=ip) or self.node_label(ip)
        return f"{ip} ({who})" if who else str(ip)

    # --- capture points ----------------------------------------------------------------------
    def _place(self) -> dict[str, Point]:
        """The capture points, as placed in ``topology.captures``; captures the topology has not
        placed are placed here by the same function (:func:`vxlanlens.topology.place`)."""
        codes, names = self.capture_codes
        # the labels in order of first appearance ("nan" for none, counted as no frame)
        caps = [names[k] if k >= 0 else "nan" for k in pd.unique(codes).tolist()]
        frames = np.bincount(codes[codes >= 0], minlength=len(names)).tolist()
        counts = {name: n for name, n in zip(names, frames, strict=True) if n}
        placed = {c.capture: c for c in self.topology.captures if c.decided}
        if any(c not in placed for c in caps):
            for cp in place(self.packets, self.topology):
                placed.setdefault(cp.capture, cp)
        points = {
            c: Point.of(placed[c], int(counts.get(c, 0)), self.topology)
            for c in caps
            if c in placed
        }
        veth = self.datapath.host_veth
        if veth != "lxc veth":  # an unnamed host-side veth in the overlay's words (cali veth)
            for p in points.values():
                p.interfaces = {
                    k: v.replace("/lxc ifindex ", f"/{veth} ifindex ")
                    for k, v in p.interfaces.items()
                }
        return points

    def point_text(self, capture: str) -> str:
        """``pod-eth0 (cni-7t9p4 eth0)`` / ``worker-eth0 (underlay of worker, 172.18.0.3)``."""
        p = self.points.get(capture)
        if p is None or not p.label or (self.plain and p.kind == "pod"):
            return capture  # placed at a "pod" with no overlay shown: a host's capture
        if p.kind == "node" and p.node:
            ip = f", {p.node_ip}" if p.node_ip and p.node_ip not in p.node else ""
            if p.interface == "any":
                return f"{capture} (every interface of {p.node}{ip}, -i any)"
            if p.interface:
                return f"{capture} ({p.interface} of {p.node}{ip})"
            return f"{capture} (underlay of {p.node}{ip})"
        return f"{capture} ({p.label})"

    def points_of(
        self, kind: str, *, pod: str | None = None, node: str | None = None
    ) -> list[Point]:
        """Capture points of a kind, at a pod or node."""
        return [
            p
            for p in self.points.values()
            if p.kind == kind and (pod is None or p.pod == pod) and (node is None or p.node == node)
        ]

    def interface_at(self, row: Mapping[str, Any]) -> str | None:
        """The interface a frame was captured on, when the capture says: ``node/interface`` for
        an SLL2 ifindex found in the node's dumps (``ifindex N`` otherwise), the pcapng name."""
        point = self.points.get(str(row["capture"]))
        if not na(row["ifindex"]):
            name = point.interfaces.get(int(row["ifindex"])) if point is not None else None
            return name or f"ifindex {int(row['ifindex'])}"
        if not na(row["interface"]) and str(row["interface"]) not in ("", "if0"):
            return str(row["interface"])
        return None

    @property
    def cilium_signals(self) -> list[str]:
        """What in the input says it comes from Cilium (empty when nothing does)."""
        if self._cilium is not None:
            return self._cilium
        out: list[str] = []
        kinds = {i.kind for i in self.topology.interfaces if i.confidence == "loaded"}
        named = sorted(kinds & {"cilium_host", "cilium_net", "cilium_vxlan", "cilium_geneve"})
        if named:
            out.append(f"the dumps show {', '.join(named)}")
        if any(i.confidence == "loaded" and i.labels for i in self.topology.identities):
            out.append("the dumps list Cilium identities")
        ex = self.exchanges
        if not ex.empty and "nd_flags" in ex:
            na_rs = ex[(ex["kind"] == "nd") & (ex["nd_flags"].astype(str) == "RS")]
            if not na_rs.empty:
                out.append(
                    "a pod's gateway was answered with the R and S flags but not O, as Cilium's eBPF answers"
                )
        if not ex.empty and {"vni_request", "vni_reply"} <= set(ex.columns):
            both = ex[ex["vni_request"].notna() & ex["vni_reply"].notna()]
            if not both.empty and (both["vni_request"] != both["vni_reply"]).any():
                out.append(
                    "requests and replies carry different VNIs, as Cilium's per-sender identities do"
                )
        self._cilium = out
        return out

    @property
    def router_ports(self) -> dict[str, RouterPort]:
        """The overlay's logical router ports the packets show, by MAC (OVN's; see
        :func:`vxlanlens.overlays.router_ports`)."""
        if self._routers is None:
            from ..overlays import router_ports

            self._routers = router_ports(self.packets, self.datapath)
        return self._routers

    @property
    def cilium_likely(self) -> bool:
        """Whether the input shows signs of Cilium's datapath (see :attr:`cilium_signals`)."""
        return bool(self.cilium_signals)

    def span(self, capture: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """When a capture ran, in its own clock: its first frame, and its last frame or, later,
        when its file says capturing stopped (``None`` when it has no frame)."""
        if capture not in self._spans:
            ts = self.packets.loc[text_is(self.packets["capture"], capture), "ts"]
            if ts.empty:
                self._spans[capture] = (None, None)
            else:
                last, stop = ts.max(), self.stopped.get(capture)
                later = stop is not None and last < stop <= last + STOP_AFTER_LAST
                self._spans[capture] = (ts.min(), stop if later else last)
        return self._spans[capture]

    def stopped_at(self, capture: str) -> pd.Timestamp | None:
        """When capturing stopped, where the file says so and it is believed: after the
        capture's last frame and at most :data:`STOP_AFTER_LAST` after it (else a wrong clock
        or unit); None otherwise."""
        stop = self.stopped.get(capture)
        return stop if stop is not None and self.span(capture)[1] == stop else None


def overlay_evident(
    packets: pd.DataFrame, topology: Topology, *, loaded: bool, stated: bool
) -> bool:
    """Whether the input shows an overlay before anything is paired or recognised: a topology
    dump (``loaded``), an overlay stated (``stated``), a tunnel packet, or a node the frames
    show (hosts routing pods' addresses to each other). Each makes :attr:`Context.plain`
    false."""
    return loaded or stated or bool(topology.nodes) or bool(packets["tunnel"].notna().any())


def _listed_twice(captures: pd.Series, frames: pd.Series) -> np.ndarray:
    """Which rows name a ``(capture, frame)`` that another row names too:
    ``DataFrame.duplicated(keep=False)`` of the two columns, on one integer per row (the hash
    table of a million text and number pairs was most of the journeys index's memory)."""
    if isinstance(captures.dtype, pd.CategoricalDtype):
        codes = captures.cat.codes.to_numpy()  # one or two bytes a row, -1 for null
    else:
        codes, _ = pd.factorize(captures, use_na_sentinel=True)
    f = frames.to_numpy(dtype=np.int64, na_value=-1)
    width = int(f.max(initial=0)) + 2
    key = codes.astype(np.int64)
    if len(key) and int(key.min()) < 0:
        key += 1  # null captures get a number of their own
    key *= width
    key += f
    key += 1
    del f
    return repeated(key)


STOP_AFTER_LAST = pd.Timedelta(days=1)
"""The longest a capture is taken to have run after its last frame when its file says it
stopped later (a later stop time is taken for a wrong clock or unit and left)."""


def stopped_captures(captures: Sequence[Mapping[str, Any]]) -> dict[str, pd.Timestamp]:
    """Capture label -> when capturing stopped, from the ``stopped`` of each ``captures``
    entry (:meth:`vxlanlens.capture.CaptureSource.to_dict`) that has one."""
    out: dict[str, pd.Timestamp] = {}
    for c in captures:
        label, stop = c.get("label"), c.get("stopped")
        if label is None or not stop:
            continue
        try:
            out[str(label)] = pd.Timestamp(stop).tz_convert("UTC")
        except (ValueError, TypeError):
            continue
    return out


def dropping_captures(captures: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Capture label -> packets dropped while capturing, from the ``dropped`` of each
    ``captures`` entry that says more than none."""
    out: dict[str, int] = {}
    for c in captures:
        label, dropped = c.get("label"), c.get("dropped")
        if label is not None and isinstance(dropped, int) and dropped > 0:
            out[str(label)] = dropped
    return out
