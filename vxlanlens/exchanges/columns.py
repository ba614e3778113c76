"""Documented columns of the exchanges, journeys and clock-offsets tables.

Each table's columns are a tuple of ``(name, dtype, doc)``; ``docs/exchanges.md`` embeds them
(``exchanges_markdown()`` gives the file's text and a test fails when the file is stale).
"""

from __future__ import annotations

from ..proto import ExchangeKind, ExchangeStatus

__all__ = [
    "CLOCK_COLUMNS",
    "EXCHANGE_COLUMNS",
    "JOURNEY_COLUMNS",
    "KINDS",
    "STATUSES",
    "exchanges_markdown",
]

KINDS: tuple[str, ...] = ExchangeKind.values()
"""The ``kind`` categories, in order (from :class:`~vxlanlens.proto.ExchangeKind`)."""

_STATUS_DOCS: dict[ExchangeStatus, str] = {
    ExchangeStatus.ANSWERED: (
        "The request got a reply that passed verification (addressed to the requester, after the request, within the timeout)."
    ),
    ExchangeStatus.UNANSWERED: "No verified reply within the timeout at this observation point.",
    ExchangeStatus.UNSOLICITED: (
        "A reply with no matching request before it at this point within the timeout (for `icmp-error`: the packet it quotes was not seen here)."
    ),
    ExchangeStatus.DUPLICATE: (
        "A retransmitted request (same key as an earlier request at this point, within the timeout of the previous copy; `duplicate_of` names the first copy), or a repeated reply to an already answered request (`duplicate_of` names the first reply)."
    ),
    ExchangeStatus.GRATUITOUS: (
        "A gratuitous ARP: an announcement (request or reply whose sender IP equals its target IP); nobody is expected to answer."
    ),
    ExchangeStatus.DAD: (
        "A duplicate-address-detection probe nobody contested: an NS from `::`, or an ARP probe from 0.0.0.0. A contested probe is `answered` (the address is in use) and says so in `note`."
    ),
}

STATUSES: tuple[tuple[str, str], ...] = tuple((s.value, _STATUS_DOCS[s]) for s in ExchangeStatus)
"""``(status, meaning)`` in the order of the ``status`` categories (:class:`ExchangeStatus`)."""


_KIND_NOTES: dict[str, str] = {
    ExchangeKind.ND: "IPv6 neighbour solicitation/advertisement",
    ExchangeKind.ECHO: "ICMP and ICMPv6",
    ExchangeKind.TCP: "handshake",
}


def _code_list(values: tuple[str, ...], notes: dict[str, str] | None = None) -> str:
    """```a`, `b (note)` or `c``` for the docs."""
    notes = notes or {}
    quoted = [f"`{v}`" + (f" ({notes[v]})" if v in notes else "") for v in values]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


EXCHANGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (
        "kind",
        "category",
        _code_list(ExchangeKind.values(), _KIND_NOTES) + ".",
    ),
    (
        "status",
        "category",
        f"{_code_list(ExchangeStatus.values())} (see the table of statuses).",
    ),
    (
        "key",
        "str",
        "Readable key of the exchange, e.g. `who-has fd00::1 from fe80::2` or `fd00::1 > fd00::2 id 44 seq 0`.",
    ),
    (
        "point",
        "category",
        "Observation point: the capture label, followed by `/interface` or `/ifN` when the capture holds several interfaces (pcapng IDBs, SLL2 ifindex of `-i any`). Request and reply are always paired at one point.",
    ),
    (
        "ts",
        "datetime64[ns, UTC]",
        "Time of the row's first frame: the request, or the reply when there is no request.",
    ),
    ("request_capture", "category", "Capture of the request frame (null when there is none)."),
    (
        "request_frame",
        "Int64",
        "Frame number of the request (for `icmp-error`: of the packet the error quotes).",
    ),
    ("reply_capture", "category", "Capture of the reply frame (null when there is none)."),
    (
        "reply_frame",
        "Int64",
        "Frame number of the reply (for `icmp-error`: of the ICMP error itself).",
    ),
    (
        "latency_s",
        "Float64",
        "Seconds from the request frame to the reply frame, in the capture's own clock.",
    ),
    (
        "requester_mac",
        "category",
        "Who asked, by MAC: the request's source MAC (ARP: sender hardware address); for an unsolicited reply, the MAC it was sent to.",
    ),
    (
        "requester_ip",
        "category",
        "Who asked, by IP: the request's source IP (ARP: sender IP; `::` or 0.0.0.0 for DAD probes); for an unsolicited reply, the IP it was sent to.",
    ),
    (
        "responder_mac",
        "category",
        "Who answered, by MAC: the reply's source MAC (NA without one: its target link-layer address; ARP: sender hardware address).",
    ),
    (
        "responder_ip",
        "category",
        "Who answered, by IP: the reply's source IP (ARP: sender IP; `icmp-error`: the router that sent the error).",
    ),
    (
        "target",
        "category",
        "What was asked for: ARP target IP, NS target, echo/TCP destination IP, the destination of the packet an ICMP error quotes.",
    ),
    (
        "answer",
        "category",
        "What the reply was: `is-at`, `na`, `echo-reply`, `syn-ack`, `rst`, or the ICMP error (`packet-too-big`, `frag-needed`, `dest-unreachable`, `time-exceeded`, `parameter-problem`).",
    ),
    ("ip_version", "UInt8", "IP version of the exchange (4 for ARP)."),
    (
        "tunnelled",
        "boolean",
        "The request or the reply was seen inside a tunnel (VXLAN/Geneve) at this point.",
    ),
    (
        "vni_request",
        "UInt32",
        "VNI around the request (in Cilium: the sender's identity). Never used for pairing.",
    ),
    (
        "vni_reply",
        "UInt32",
        "VNI around the reply; differs from `vni_request` in Cilium since each side sends its own identity.",
    ),
    (
        "retransmissions",
        "UInt32",
        "Number of retransmitted copies of this request (rows with status `duplicate`); e.g. SYN retransmissions.",
    ),
    (
        "duplicate_of",
        "Int64",
        "For `duplicate` rows: frame number of the first copy (of the request, or of the first reply).",
    ),
    ("echo_id", "UInt16", "Echo identifier (`echo`), or of the quoted echo (`icmp-error`)."),
    ("echo_seq", "UInt16", "Echo sequence number (`echo`), or of the quoted echo (`icmp-error`)."),
    (
        "sport",
        "UInt16",
        "Requester's TCP port (`tcp`), or the quoted packet's source port (`icmp-error`).",
    ),
    (
        "dport",
        "UInt16",
        "Responder's TCP port (`tcp`), or the quoted packet's destination port (`icmp-error`).",
    ),
    (
        "nd_flags",
        "category",
        "Flags of the Neighbor Advertisement, a subset of `RSO` (R router, S solicited, O override).",
    ),
    ("nd_lladdr", "category", "Target link-layer address option of the Neighbor Advertisement."),
    ("icmp_type", "UInt8", "`icmp-error`: ICMP/ICMPv6 type of the error."),
    ("icmp_code", "UInt8", "`icmp-error`: ICMP/ICMPv6 code of the error."),
    (
        "mtu",
        "UInt32",
        "`icmp-error`: the MTU announced by a Packet Too Big or fragmentation-needed message.",
    ),
    (
        "note",
        "str",
        "Short remark when there is one: DAD conflict, ARP probe, which headers an ICMP error quotes, ...",
    ),
)

JOURNEY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (
        "journey",
        "Int64",
        "Journey number (0-based, in order of the first observation's corrected time).",
    ),
    ("obs", "Int64", "Observation number within the journey, 1-based, in corrected-time order."),
    ("n_obs", "Int64", "Number of observations of this journey."),
    (
        "point",
        "category",
        "Observation point (capture, or capture/interface; see the exchanges table).",
    ),
    ("capture", "category", "Capture of this observation."),
    ("frame_no", "Int64", "Frame number of this observation in its capture."),
    (
        "ts",
        "datetime64[ns, UTC]",
        "Timestamp of the frame as its capture recorded it (the capture's own clock).",
    ),
    (
        "clock_offset_s",
        "Float64",
        "Estimated offset of this capture's clock against the reference capture (see `clock_offsets`); 0 for the reference, null when it could not be estimated.",
    ),
    (
        "ts_corrected",
        "datetime64[ns, UTC]",
        "`ts` minus the clock offset: the time in the reference capture's clock.",
    ),
    ("since_first_s", "Float64", "Corrected seconds since the journey's first observation."),
    (
        "hop_latency_s",
        "Float64",
        "Corrected seconds since the previous observation (null for the first).",
    ),
    ("is_last", "boolean", "This is the last point where the packet was seen."),
    (
        "last_point",
        "category",
        "The last point where the packet was seen (same on every row of a journey).",
    ),
    (
        "key",
        "str",
        "Readable description of the pod packet, e.g. `fd00::1 > fd00::2 icmpv6 echo-request id 44 seq 0`.",
    ),
    ("src_ip", "category", "Pod-frame source IP (ARP: sender IP)."),
    ("dst_ip", "category", "Pod-frame destination IP (ARP: target IP)."),
    ("ip_proto", "UInt8", "Pod-frame transport protocol."),
    ("ttl", "UInt8", "Pod-frame TTL / hop limit at this point (it drops by one per routing hop)."),
    (
        "src_mac",
        "category",
        "Pod-frame source MAC at this point (not used for matching: it changes along the path).",
    ),
    ("dst_mac", "category", "Pod-frame destination MAC at this point."),
    ("tunnelled", "boolean", "The packet was inside a tunnel at this point."),
    ("vni", "UInt32", "VNI of the tunnel at this point."),
    ("outer_src_ip", "category", "Underlay source IP at this point (tunnelled observations)."),
    ("outer_dst_ip", "category", "Underlay destination IP at this point."),
)

CLOCK_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("capture", "category", "Capture label."),
    ("reference", "category", "The reference capture whose clock the offsets are relative to."),
    (
        "offset_s",
        "Float64",
        "Estimated clock offset: this capture's clock minus the reference's (subtract it from this capture's timestamps). Null when no packet links the capture to the reference.",
    ),
    (
        "spread_s",
        "Float64",
        "Interquartile range of the time differences behind the estimate (largest over the two directions), a measure of its uncertainty.",
    ),
    (
        "one_way_delay_s",
        "Float64",
        "Half the difference between the two directions' medians: the transit time between the two points (two-way estimates only).",
    ),
    (
        "n_matched",
        "Int64",
        "Number of packets matched between this capture and the one it was compared with.",
    ),
    (
        "via",
        "category",
        "The capture it was compared with (the reference, or an intermediate capture when no packet links it to the reference directly).",
    ),
    (
        "method",
        "category",
        "`reference`, `two-way` (packets in both directions: delay cancels out), `one-way` (one direction only: the offset includes the transit time) or `none`.",
    ),
)


_INTRO = """\
# Exchanges and journeys

Generated from `vxlanlens/exchanges/columns.py` (`exchanges_markdown()`); do not edit by hand
(a test fails when this file is stale).

```python
from vxlanlens.exchanges import exchanges, journeys, clock_offsets
ex = exchanges(packets, timeout_s=3.0, kinds=None)   # one row per exchange
jr = journeys(packets, max_skew_s=5.0)               # one row per (journey, observation)
co = clock_offsets(packets)                          # one row per capture
```

All three take the packets table (`docs/columns.md`) and return pandas DataFrames.

## How requests and replies are paired

Pairing happens **per observation point**: a capture, or one interface of a capture that holds
several (pcapng interfaces, SLL2 interface indexes of `tcpdump -i any`). A request seen in
capture A is answered only by a reply seen in capture A; the same exchange seen in several
captures gives one row per capture, and `journeys()` ties the copies together.

Requests and replies get a key and are sorted by (key, time) once; no packet is compared with
every other. A reply answers the latest request of its key before it when that request is less
than `timeout_s` old. The key is built so that a reply matches only when it is addressed back
to the requester. **The VNI is never part of a key**: Cilium writes the sender's identity into
it, so a request and its reply carry different VNIs (both are reported).

| kind | request | reply | key (besides the observation point) |
|---|---|---|---|
| `arp` | ARP request (op 1) | ARP reply (op 2) | requested IP = the reply's sender IP; the requester's MAC = the reply's target MAC |
| `nd` | Neighbor Solicitation (ICMPv6 135) | Neighbor Advertisement (136) | NS target = NA target; NA with the S flag sent to the solicitor's source address; an NA to all-nodes `ff02::1` answers every solicitor of that target (with S) and DAD probes (without S); an NA without S to a unicast address answers nothing |
| `echo` | ICMP 8 / ICMPv6 128 | ICMP 0 / ICMPv6 129 | addresses swapped, echo id, sequence number; a request to a multicast/broadcast address is answered by a reply from anyone (the first is `answered`, the others `duplicate`) |
| `tcp` | SYN (without ACK/RST) | SYN/ACK, or RST/ACK | addresses and ports swapped; acknowledgement number = SYN sequence + 1. A RST that answers no SYN is not reported |
| `icmp-error` | the packet the error quotes | ICMP dest-unreachable (incl. frag-needed), time-exceeded, parameter-problem; ICMPv6 dest-unreachable, Packet Too Big, time-exceeded, parameter-problem | the quoted IP version, addresses, protocol, ports and echo id/seq (`emb_*` columns) against each earlier packet's pod frame and, for tunnelled frames, its underlay headers; the closest earlier match within `timeout_s` wins |

Several requests with one key within `timeout_s` of each other are one request and its
retransmissions: the first gets the row with the answer and the `retransmissions` count, the
others are `duplicate` rows. Echo sequence numbers that wrap around, or an id/seq reused later,
are new exchanges as soon as the previous request is older than the timeout. Several pods using
the same echo id are kept apart by their addresses. The latency is measured from the first copy
of the request to the reply, in the capture's own clock.

Statuses:

| status | meaning |
|---|---|
"""

_JOURNEYS = """
## Journeys across observation points

A packet that leaves a pod may be seen in the pod's capture, inside VXLAN/Geneve on the node's
eth0, on the other node's eth0, and in the other pod; an `-i any` capture sees it once per
interface. `journeys()` recognises the sightings of one packet by a fingerprint of **pod-frame
fields only**: IP version, source and destination IP, protocol, IPv4 identification (or the IPv6
fragment id) and fragment offset, ports, TCP flags, sequence and acknowledgement numbers, ICMP
type/code/id/sequence, ND target, ARP opcode and addresses, payload length, and the quoted
header of ICMP errors. MACs, TTL / hop limit and all outer (underlay) headers are left out:
they change along the path (the tables still show them per observation).

Sightings of one fingerprint are sorted by clock-corrected time; a new journey starts when the
gap to the previous sighting is larger than `max_skew_s`, or when the packet shows up again at a
point it has already passed (a retransmission). Packets that look exactly alike (e.g. IPv6 UDP
datagrams with the same ports and length sent within `max_skew_s`) cannot be told apart: the
packets table has no payload bytes to hash.

Columns (one row per journey and observation):

| column | dtype | meaning |
|---|---|---|
"""

_CLOCKS = """
## Clock offsets

Captures taken on different machines have different clocks; the tables never assume they agree.
`clock_offsets()` matches packets seen in two captures (fingerprints seen once per capture, or at
several interfaces of one capture within a second) and takes the median of the time differences.
When packets go both ways between the two captures, it takes the mean of the two directions'
medians, so the transit time cancels out (assuming it is the same both ways) and reports half
their difference as the one-way delay; with one direction only, the offset includes the transit
time. Captures that share no packet with the reference are linked through another capture (the
link with the most matched packets wins), else their offset is null. `journeys()` subtracts the
offsets before ordering observations.

| column | dtype | meaning |
|---|---|---|
"""


def _table(cols: tuple[tuple[str, str, str], ...]) -> list[str]:
    return [f"| `{name}` | `{dtype}` | {doc} |" for name, dtype, doc in cols]


def exchanges_markdown() -> str:
    """The Markdown text of ``docs/exchanges.md``."""
    lines = [_INTRO.rstrip("\n")]
    lines += [f"| `{name}` | {doc} |" for name, doc in STATUSES]
    lines += ["", "## Exchanges table columns", "", "| column | dtype | meaning |", "|---|---|---|"]
    lines += _table(EXCHANGE_COLUMNS)
    lines += [_JOURNEYS.rstrip("\n")]
    lines += _table(JOURNEY_COLUMNS)
    lines += [_CLOCKS.rstrip("\n")]
    lines += _table(CLOCK_COLUMNS)
    return "\n".join(lines) + "\n"
