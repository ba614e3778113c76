/*
 * The decoder's common paths in compiled code: one loop over a batch's records instead of the
 * stages' passes over NumPy arrays (vxlanlens/decode/stack.py, which stays the reference).
 *
 * decode(data, offsets, cap_len, wire_len, linktype, ports, guess, max_depth,
 *        values, masks, addrs, families, tunnel, nd_flags, declined, pkt_type)
 *     -> (n_declined, touched)
 * factorize_u64(values, valid, codes, uniques) -> count (for the table builder, below)
 *
 * Each record is decoded only when every header it holds is one this file knows, decoded the
 * way the stages decode it (every check, every column, every value): Ethernet II without VLAN
 * tags, Linux SLL and SLL2; IPv4 without options and not a fragment; IPv6 without extension
 * headers; UDP, TCP, ARP; ICMP and ICMPv6 other than errors, ICMPv6 Neighbor Solicitation and
 * Advertisement with their options; one VXLAN tunnel, or one Geneve tunnel without options.
 * Anything else, and every record the stages would mark with a decode error, is left to the
 * stages: its byte in `declined` is set to 1 and nothing is written for it.
 * tests/decode/test_compiled.py decodes every shipped and public capture, and mutated frames,
 * both ways and compares every column.
 *
 * values[k] / masks[k]: writable 1-D arrays of the column VALUE_NAMES[k] (values in the
 * schema's integer width, masks bool), zeroed by the caller; addrs[k] (n x 16 uint8) and
 * families[k] (uint8) the IP column IP_NAMES[k]; tunnel (int8) the TunnelKind code; nd_flags
 * (int8) and pkt_type (int32) as the stages' state (-1 none). touched has bit k set when value
 * column k got a value, bit 63 - j when IP column j did.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The value columns: enum id, name, C type of the schema's NumPy dtype (bool: uint8_t). */
#define VALUE_COLUMNS(X) \
    X(V_DST_MAC, "dst_mac", uint64_t) \
    X(V_SRC_MAC, "src_mac", uint64_t) \
    X(V_ETHERTYPE, "ethertype", uint16_t) \
    X(V_IP_VERSION, "ip_version", uint8_t) \
    X(V_TTL, "ttl", uint8_t) \
    X(V_IP_PROTO, "ip_proto", uint8_t) \
    X(V_IP_LEN, "ip_len", uint32_t) \
    X(V_IP_ID, "ip_id", uint32_t) \
    X(V_FRAG_OFFSET, "frag_offset", uint16_t) \
    X(V_MORE_FRAGMENTS, "more_fragments", uint8_t) \
    X(V_DONT_FRAGMENT, "dont_fragment", uint8_t) \
    X(V_SPORT, "sport", uint16_t) \
    X(V_DPORT, "dport", uint16_t) \
    X(V_PAYLOAD_LEN, "payload_len", uint32_t) \
    X(V_TCP_SEQ, "tcp_seq", uint32_t) \
    X(V_TCP_ACK, "tcp_ack", uint32_t) \
    X(V_TCP_FLAGS, "tcp_flags", uint16_t) \
    X(V_ICMP_TYPE, "icmp_type", uint8_t) \
    X(V_ICMP_CODE, "icmp_code", uint8_t) \
    X(V_ECHO_ID, "echo_id", uint16_t) \
    X(V_ECHO_SEQ, "echo_seq", uint16_t) \
    X(V_ARP_OP, "arp_op", uint16_t) \
    X(V_ARP_SENDER_MAC, "arp_sender_mac", uint64_t) \
    X(V_ARP_TARGET_MAC, "arp_target_mac", uint64_t) \
    X(V_ND_LLADDR, "nd_lladdr", uint64_t) \
    X(V_OUTER_SRC_MAC, "outer_src_mac", uint64_t) \
    X(V_OUTER_DST_MAC, "outer_dst_mac", uint64_t) \
    X(V_OUTER_IP_VERSION, "outer_ip_version", uint8_t) \
    X(V_OUTER_TTL, "outer_ttl", uint8_t) \
    X(V_OUTER_FRAG_OFFSET, "outer_frag_offset", uint16_t) \
    X(V_OUTER_MORE_FRAGMENTS, "outer_more_fragments", uint8_t) \
    X(V_OUTER_DONT_FRAGMENT, "outer_dont_fragment", uint8_t) \
    X(V_OUTER_SPORT, "outer_sport", uint16_t) \
    X(V_OUTER_DPORT, "outer_dport", uint16_t) \
    X(V_OUTER_UDP_LEN, "outer_udp_len", uint16_t) \
    X(V_OUTER_UDP_CHECKSUM, "outer_udp_checksum", uint16_t) \
    X(V_VXLAN_FLAGS, "vxlan_flags", uint8_t) \
    X(V_VNI, "vni", uint32_t) \
    X(V_OUTER_VNI, "outer_vni", uint32_t) \
    X(V_TUNNEL_PROTO, "tunnel_proto", uint16_t) \
    X(V_VXLAN_GBP, "vxlan_gbp", uint16_t) \
    X(V_TUNNEL_DEPTH, "tunnel_depth", uint8_t) \
    X(V_IFINDEX, "ifindex", uint32_t) \
    X(V_GENEVE_CRITICAL, "geneve_critical", uint8_t)

#define ID(id, name, type) id,
enum { VALUE_COLUMNS(ID) N_VALUES };
#undef ID
#define NAME(id, name, type) name,
static const char *VALUE_NAMES[N_VALUES] = {VALUE_COLUMNS(NAME)};
#undef NAME
#define SIZE(id, name, type) sizeof(type),
static const Py_ssize_t VALUE_SIZES[N_VALUES] = {VALUE_COLUMNS(SIZE)};
#undef SIZE
enum { I_SRC, I_DST, I_OUTER_SRC, I_OUTER_DST, I_ARP_SENDER, I_ARP_TARGET, I_ND_TARGET, N_IPS };
_Static_assert(N_VALUES + N_IPS <= 64, "touched: one bit a column");
static const char *IP_NAMES[N_IPS] = {
    "src_ip", "dst_ip", "outer_src_ip", "outer_dst_ip", "arp_sender_ip", "arp_target_ip",
    "nd_target",
};

/* Columns a tunnel's entry copies to outer_* (schema.OUTER_COLUMNS; vlan is never set here). */
static const int MOVES[][2] = {
    {V_SRC_MAC, V_OUTER_SRC_MAC}, {V_DST_MAC, V_OUTER_DST_MAC},
    {V_IP_VERSION, V_OUTER_IP_VERSION}, {V_TTL, V_OUTER_TTL},
    {V_FRAG_OFFSET, V_OUTER_FRAG_OFFSET}, {V_MORE_FRAGMENTS, V_OUTER_MORE_FRAGMENTS},
    {V_DONT_FRAGMENT, V_OUTER_DONT_FRAGMENT}, {V_SPORT, V_OUTER_SPORT}, {V_DPORT, V_OUTER_DPORT},
};
/* ... and then makes null (POD_COLUMNS and the overlay columns that this file sets). */
static const int CLEARS[] = {
    V_SRC_MAC, V_DST_MAC, V_ETHERTYPE, V_IP_VERSION, V_TTL, V_IP_PROTO, V_IP_LEN, V_IP_ID,
    V_FRAG_OFFSET, V_MORE_FRAGMENTS, V_DONT_FRAGMENT, V_SPORT, V_DPORT, V_PAYLOAD_LEN,
    V_VXLAN_FLAGS, V_VNI, V_TUNNEL_PROTO, V_VXLAN_GBP, V_GENEVE_CRITICAL,
};

#define ETH_IPV4 0x0800
#define ETH_ARP 0x0806
#define ETH_IPV6 0x86DD
#define ETH_TEB 0x6558
#define PORT_VXLAN 1
#define PORT_GPE 2
#define PORT_GENEVE 4
#define TUNNEL_VXLAN 1
#define TUNNEL_GENEVE 3
#define ARPHRD_NETLINK 824
#define GUESS_MIN_PAYLOAD 38

/* One record's decoded fields, committed to the columns only when the whole record is. */
typedef struct {
    uint64_t v[N_VALUES];
    uint64_t has; /* bit k: value k set */
    uint8_t ip[N_IPS][16];
    uint8_t fam[N_IPS];
    int8_t nd_flags;
} Row;

static inline unsigned be16(const uint8_t *p) { return ((unsigned)p[0] << 8) | p[1]; }
static inline uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t mac48(const uint8_t *p)
{
    return ((uint64_t)be16(p) << 32) | be32(p + 2);
}
static inline void set(Row *r, int k, uint64_t value)
{
    r->v[k] = value;
    r->has |= (uint64_t)1 << k;
}
static inline void set_ip(Row *r, int k, const uint8_t *p, int size)
{
    memset(r->ip[k], 0, 16);
    memcpy(r->ip[k], p, size);
    r->fam[k] = size == 4 ? 4 : 6;
}

/* The header each step of decode_one() reads next (NEXT_DECLINE: leave it to the stages). */
enum {
    NEXT_DONE, NEXT_ETH, NEXT_SLL, NEXT_SLL2, NEXT_ETYPE, NEXT_IPV4, NEXT_IPV6, NEXT_ARP,
    NEXT_UDP, NEXT_TCP, NEXT_ICMP, NEXT_ICMP6, NEXT_VXLAN, NEXT_GENEVE, NEXT_DECLINE
};

/* _guess of tunnel.py: a payload on no tunnel port that is surely VXLAN. */
static int guess_vxlan(const uint8_t *g, int64_t wire)
{
    if (!(g[0] == 0x08 && (g[1] | g[2] | g[3] | g[7]) == 0))
        return 0;
    if (g[14] & 1)
        return 0;
    unsigned et = be16(g + 20);
    int64_t left = wire - 22;
    unsigned v0 = g[22];
    if (et == ETH_IPV4) {
        unsigned ihl = (v0 & 0x0F) * 4, tl = be16(g + 24);
        return (v0 >> 4) == 4 && ihl >= 20 && tl >= ihl && (int64_t)tl <= left;
    }
    if (et == ETH_IPV6)
        return (v0 >> 4) == 6 && 40 + (int64_t)be16(g + 26) <= left;
    if (et == ETH_ARP) {
        unsigned op = be16(g + 28);
        return be16(g + 22) == 1 && be16(g + 24) == ETH_IPV4 && g[26] == 6 && g[27] == 4
               && op >= 1 && op <= 4 && left >= 28;
    }
    return 0;
}

typedef struct {
    const uint8_t *ports; /* 65536 entries: PORT_* bits */
    int guess;
    int64_t max_depth;
} Options;

/* enter() of tunnel.py at the outermost tunnel: the underlay to outer_*, the pod columns null. */
static void enter(Row *r, int64_t udp_len, int64_t udp_csum)
{
    for (size_t i = 0; i < sizeof MOVES / sizeof MOVES[0]; i++) {
        int s = MOVES[i][0], d = MOVES[i][1];
        if (r->has & ((uint64_t)1 << s))
            set(r, d, r->v[s]);
    }
    memcpy(r->ip[I_OUTER_SRC], r->ip[I_SRC], 16);
    memcpy(r->ip[I_OUTER_DST], r->ip[I_DST], 16);
    r->fam[I_OUTER_SRC] = r->fam[I_SRC];
    r->fam[I_OUTER_DST] = r->fam[I_DST];
    set(r, V_OUTER_UDP_LEN, (uint64_t)udp_len);
    set(r, V_OUTER_UDP_CHECKSUM, (uint64_t)udp_csum);
    for (size_t i = 0; i < sizeof CLEARS / sizeof CLEARS[0]; i++)
        r->has &= ~((uint64_t)1 << CLEARS[i]);
    r->fam[I_SRC] = r->fam[I_DST] = 0;
}

/*
 * Decode record p[0:cap] (wire length `wire`) into r. Returns 1 when every header was decoded
 * as the stages would, 0 to leave the record to them.
 */
static int decode_one(const uint8_t *p, int64_t cap, int64_t wire, int64_t linktype,
                      const Options *o, Row *r, int *tunnel, int64_t *depth, int32_t *pkt_type)
{
    int64_t pos = 0, end = wire > cap ? wire : cap, lim;
    int next;
    int64_t udp_len = 0, udp_csum = 0;
    unsigned et = 0;
    int llc = 0; /* an Ethertype below 0x0600 is an 802.3 length (Ethernet, not SLL) */
    *depth = 0;
    *tunnel = 0;
    if (cap == 0)
        return 0;
    switch (linktype) {
    case 1: next = NEXT_ETH; break;
    case 113: next = NEXT_SLL; break;
    case 276: next = NEXT_SLL2; break;
    default: return 0;
    }
    for (;;) {
        lim = cap < end ? cap : end; /* bytes that are both captured and in the packet */
        switch (next) {
        case NEXT_DONE:
            return 1;
        case NEXT_DECLINE:
            return 0;
        case NEXT_ETH: {
            if (pos + 14 > lim)
                return 0;
            const uint8_t *h = p + pos;
            set(r, V_DST_MAC, mac48(h));
            set(r, V_SRC_MAC, mac48(h + 6));
            et = be16(h + 12);
            llc = 1;
            pos += 14;
            next = NEXT_ETYPE;
            break;
        }
        case NEXT_SLL: { /* Linux cooked capture v1 */
            if (pos + 16 > lim)
                return 0;
            const uint8_t *h = p + pos;
            *pkt_type = be16(h);
            if (be16(h + 4) == 6)
                set(r, V_SRC_MAC, mac48(h + 6));
            et = be16(h + 14);
            llc = 0;
            pos += 16;
            next = be16(h + 2) == ARPHRD_NETLINK ? NEXT_DONE : NEXT_ETYPE;
            break;
        }
        case NEXT_SLL2: { /* Linux cooked capture v2 */
            if (pos + 20 > lim)
                return 0;
            const uint8_t *h = p + pos;
            set(r, V_IFINDEX, be32(h + 4));
            *pkt_type = h[10];
            if (h[11] == 6)
                set(r, V_SRC_MAC, mac48(h + 12));
            et = be16(h);
            llc = 0;
            pos += 20;
            next = be16(h + 8) == ARPHRD_NETLINK ? NEXT_DONE : NEXT_ETYPE;
            break;
        }
        case NEXT_ETYPE: /* the Ethertype (or SLL protocol) `et` */
            if (et == 0x8100 || et == 0x88A8 || et == 0x9100)
                return 0; /* VLAN tags */
            if (et < 0x0600) {
                if (llc)
                    return 0; /* 802.3 length: LLC follows */
                next = NEXT_DONE; /* SLL protocols below 0x0600 stop, without an Ethertype */
                break;
            }
            set(r, V_ETHERTYPE, et);
            if (et == ETH_IPV4)
                next = NEXT_IPV4;
            else if (et == ETH_IPV6)
                next = NEXT_IPV6;
            else if (et == ETH_ARP)
                next = NEXT_ARP;
            else if (et == 0x8035 || et == 0x8847 || et == 0x8848 || et == 0x8863
                     || et == 0x8864 || et == 0x894F)
                return 0; /* RARP, MPLS, PPPoE, NSH */
            else
                next = NEXT_DONE;
            break;
        case NEXT_IPV4: {
            if (pos + 20 > lim)
                return 0;
            const uint8_t *h = p + pos;
            if (h[0] != 0x45)
                return 0;
            int64_t tl = be16(h + 2);
            if (tl < 20 || tl > end - pos)
                return 0; /* errors, and 0 (BIG TCP) */
            unsigned flags = be16(h + 6);
            if (flags & 0x3FFF)
                return 0; /* a fragment */
            unsigned proto = h[9];
            end = pos + tl;
            set(r, V_IP_VERSION, 4);
            set_ip(r, I_SRC, h + 12, 4);
            set_ip(r, I_DST, h + 16, 4);
            set(r, V_TTL, h[8]);
            set(r, V_IP_PROTO, proto);
            set(r, V_IP_LEN, (uint64_t)tl);
            set(r, V_IP_ID, be16(h + 4));
            set(r, V_FRAG_OFFSET, 0);
            set(r, V_MORE_FRAGMENTS, 0);
            set(r, V_DONT_FRAGMENT, (flags & 0x4000) != 0);
            pos += 20;
            switch (proto) {
            case 1: next = NEXT_ICMP; break;
            case 6: next = NEXT_TCP; break;
            case 17: next = NEXT_UDP; break;
            case 4: case 41: case 47: case 51: next = NEXT_DECLINE; break; /* IPIP, GRE, AH */
            default: next = NEXT_DONE;
            }
            break;
        }
        case NEXT_IPV6: {
            if (pos + 40 > lim)
                return 0;
            const uint8_t *h = p + pos;
            if ((h[0] >> 4) != 6)
                return 0;
            int64_t plen = be16(h + 4);
            if (plen == 0 || plen > end - pos - 40)
                return 0; /* jumbogram, error */
            unsigned nh = h[6];
            switch (nh) {
            case 0: case 43: case 44: case 60: case 51: case 50: case 59: /* extensions */
            case 4: case 41: case 47: /* IP in IP, GRE */
                return 0;
            }
            end = pos + 40 + plen;
            set(r, V_IP_VERSION, 6);
            set_ip(r, I_SRC, h + 8, 16);
            set_ip(r, I_DST, h + 24, 16);
            set(r, V_TTL, h[7]);
            set(r, V_IP_LEN, (uint64_t)(40 + plen));
            set(r, V_IP_PROTO, nh);
            pos += 40;
            next = nh == 6 ? NEXT_TCP : nh == 17 ? NEXT_UDP : nh == 58 ? NEXT_ICMP6 : NEXT_DONE;
            break;
        }
        case NEXT_ARP: {
            if (pos + 28 > lim)
                return 0;
            const uint8_t *h = p + pos;
            unsigned htype = be16(h);
            if ((htype != 1 && htype != 6) || h[4] != 6 || h[5] != 4)
                return 0;
            set(r, V_ARP_OP, be16(h + 6));
            set(r, V_ARP_SENDER_MAC, mac48(h + 8));
            set_ip(r, I_ARP_SENDER, h + 14, 4);
            set(r, V_ARP_TARGET_MAC, mac48(h + 18));
            set_ip(r, I_ARP_TARGET, h + 24, 4);
            pos += 28;
            next = NEXT_DONE;
            break;
        }
        case NEXT_TCP: {
            if (pos + 20 > lim)
                return 0;
            const uint8_t *h = p + pos;
            int64_t off = (h[12] >> 4) * 4;
            if (off < 20 || pos + off > lim)
                return 0;
            set(r, V_SPORT, be16(h));
            set(r, V_DPORT, be16(h + 2));
            set(r, V_TCP_SEQ, be32(h + 4));
            set(r, V_TCP_ACK, be32(h + 8));
            set(r, V_TCP_FLAGS, ((unsigned)(h[12] & 1) << 8) | h[13]);
            set(r, V_PAYLOAD_LEN, (uint64_t)(end - pos - off));
            pos += off;
            next = NEXT_DONE;
            break;
        }
        case NEXT_UDP: {
            if (pos + 8 > lim)
                return 0;
            const uint8_t *h = p + pos;
            int64_t ulen = be16(h + 4);
            if (ulen < 8 || ulen > end - pos)
                return 0;
            unsigned sport = be16(h), dport = be16(h + 2);
            end = pos + ulen;
            set(r, V_SPORT, sport);
            set(r, V_DPORT, dport);
            set(r, V_PAYLOAD_LEN, (uint64_t)(ulen - 8));
            udp_len = ulen;
            udp_csum = be16(h + 6);
            pos += 8;
            next = NEXT_DONE;
            /* classify() of tunnel.py */
            unsigned kind = o->ports[sport] | o->ports[dport];
            int64_t w = end - pos, capt = cap - pos;
            if (kind) {
                if (w < 8)
                    break;
                if (capt < 8)
                    return 0;
                const uint8_t *t = p + pos;
                unsigned b0 = t[0], b1 = t[1], b3 = t[3], b7 = t[7], proto = be16(t + 2);
                int ibit = (b0 & 0x08) != 0, gver0 = (b0 >> 6) == 0;
                int gen_strict = gver0
                                 && (proto == ETH_TEB || proto == ETH_IPV4 || proto == ETH_IPV6
                                     || proto == ETH_ARP)
                                 && (b1 & 0x3F) == 0 && b7 == 0
                                 && (int64_t)(b0 & 0x3F) * 4 + 8 <= w;
                int vx_strict = be32(t) == 0x08000000u && b7 == 0;
                int gpe_ok = (b0 & 0x04) && b3 >= 1 && b3 <= 4;
                int on_vx = (kind & PORT_VXLAN) != 0, on_gp = (kind & PORT_GPE) != 0,
                    on_gn = (kind & PORT_GENEVE) != 0;
                int gpe = on_gp && gpe_ok;
                int vx = !gpe && on_vx && ibit && !gen_strict;
                int gen = !gpe && !vx
                          && ((on_gn && gver0 && !(vx_strict && !gen_strict))
                              || ((on_vx || on_gp) && gen_strict));
                vx |= !gpe && !gen && (on_gn || on_gp) && vx_strict;
                if (gpe)
                    return 0;
                if (vx)
                    next = NEXT_VXLAN;
                else if (gen)
                    next = NEXT_GENEVE;
            }
            else if (o->guess && capt >= GUESS_MIN_PAYLOAD && w >= 8 + 14 + 20
                     && guess_vxlan(p + pos, w))
                next = NEXT_VXLAN;
            break;
        }
        case NEXT_VXLAN:
        case NEXT_GENEVE: {
            /* (the 8 bytes were checked by the classification) */
            if (pos + 8 > lim || *depth != 0 || o->max_depth < 1)
                return 0;
            const uint8_t *h = p + pos;
            if (next == NEXT_GENEVE && (h[0] & 0xFF) != 0)
                return 0; /* a version other than 0, or options */
            enter(r, udp_len, udp_csum);
            *depth = 1;
            uint64_t vni = be32(h + 4) >> 8;
            set(r, V_VNI, vni);
            set(r, V_OUTER_VNI, vni);
            pos += 8;
            if (next == NEXT_VXLAN) {
                *tunnel = TUNNEL_VXLAN;
                set(r, V_VXLAN_FLAGS, h[0]);
                set(r, V_TUNNEL_PROTO, ETH_TEB);
                if (h[0] & 0x80)
                    set(r, V_VXLAN_GBP, be16(h + 2));
                next = NEXT_ETH;
                break;
            }
            *tunnel = TUNNEL_GENEVE;
            unsigned proto = be16(h + 2);
            set(r, V_TUNNEL_PROTO, proto);
            set(r, V_GENEVE_CRITICAL, (h[1] & 0x40) != 0);
            next = proto == ETH_TEB    ? NEXT_ETH
                   : proto == ETH_IPV4 ? NEXT_IPV4
                   : proto == ETH_IPV6 ? NEXT_IPV6
                   : proto == ETH_ARP  ? NEXT_ARP
                                       : NEXT_DONE;
            break;
        }
        case NEXT_ICMP: {
            if (pos + 8 > lim)
                return 0;
            const uint8_t *h = p + pos;
            unsigned t = h[0];
            if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12)
                return 0; /* errors quote a packet */
            set(r, V_ICMP_TYPE, t);
            set(r, V_ICMP_CODE, h[1]);
            set(r, V_PAYLOAD_LEN, (uint64_t)(end - pos - 8));
            if (t == 0 || t == 8 || (t >= 13 && t <= 18)) {
                set(r, V_ECHO_ID, be16(h + 4));
                set(r, V_ECHO_SEQ, be16(h + 6));
            }
            next = NEXT_DONE;
            break;
        }
        case NEXT_ICMP6: {
            if (pos + 8 > lim)
                return 0;
            const uint8_t *h = p + pos;
            unsigned t = h[0];
            if ((t >= 1 && t <= 4) || t == 133 || t == 134 || t == 137)
                return 0; /* errors, RS, RA, Redirect */
            set(r, V_ICMP_TYPE, t);
            set(r, V_ICMP_CODE, h[1]);
            set(r, V_PAYLOAD_LEN, (uint64_t)(end - pos - 8));
            next = NEXT_DONE;
            if (t == 128 || t == 129) {
                set(r, V_ECHO_ID, be16(h + 4));
                set(r, V_ECHO_SEQ, be16(h + 6));
            }
            else if (t == 135 || t == 136) { /* Neighbor Solicitation / Advertisement */
                if (pos + 24 > lim)
                    return 0;
                set_ip(r, I_ND_TARGET, h + 8, 16);
                if (t == 136)
                    r->nd_flags = (int8_t)((h[4] >> 5) & 7);
                int64_t cur = pos + 24;
                unsigned want = t == 135 ? 1 : 2; /* source / target link-layer address */
                for (int i = 0; i < 128 && cur < end; i++) {
                    if (cur + 2 > lim)
                        return 0;
                    int64_t ln = (int64_t)p[cur + 1] * 8;
                    if (ln == 0 || cur + ln > lim)
                        return 0;
                    if (p[cur] == want && ln >= 8)
                        set(r, V_ND_LLADDR, mac48(p + cur + 2));
                    cur += ln;
                }
            }
            break;
        }
        default:
            return 0;
        }
    }
}

typedef struct {
    Py_buffer view;
    int held;
} Buf;

static int
get(PyObject *obj, Buf *b, int writable, Py_ssize_t min_bytes, const char *what)
{
    if (PyObject_GetBuffer(obj, &b->view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS)
        < 0)
        return -1;
    b->held = 1;
    if (b->view.len < min_bytes) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected at least %zd", what,
                     b->view.len, min_bytes);
        return -1;
    }
    return 0;
}

static void release(Buf *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i].held)
            PyBuffer_Release(&b[i].view);
}

/* Buffers: 0 data, 1 offsets, 2 cap, 3 wire, 4 linktype, 5 ports, 6 tunnel, 7 nd_flags,
 * 8 declined, 9 pkt_type, then values, masks, addrs, families. */
#define FIXED 10
#define PREFETCH 8
#define NBUF (FIXED + 2 * N_VALUES + 2 * N_IPS)

static PyObject *
decode(PyObject *self, PyObject *args)
{
    PyObject *in[FIXED], *values, *masks, *addrs, *families;
    int guess;
    long long max_depth;
    if (!PyArg_ParseTuple(args, "OOOOOOpLOOOOOOOO", &in[0], &in[1], &in[2], &in[3], &in[4],
                          &in[5], &guess, &max_depth, &values, &masks, &addrs, &families,
                          &in[6], &in[7], &in[8], &in[9]))
        return NULL;
    if (!PyTuple_Check(values) || PyTuple_GET_SIZE(values) != N_VALUES || !PyTuple_Check(masks)
        || PyTuple_GET_SIZE(masks) != N_VALUES || !PyTuple_Check(addrs)
        || PyTuple_GET_SIZE(addrs) != N_IPS || !PyTuple_Check(families)
        || PyTuple_GET_SIZE(families) != N_IPS) {
        PyErr_SetString(PyExc_ValueError, "values, masks, addrs, families: wrong tuples");
        return NULL;
    }
    Buf b[NBUF];
    memset(b, 0, sizeof b);
    void *vb[N_VALUES];
    uint8_t *mb[N_VALUES];
    PyObject *result = NULL;
    if (get(in[1], &b[1], 0, 0, "offsets") < 0)
        goto done;
    Py_ssize_t n = b[1].view.len / 8;
    if (get(in[0], &b[0], 0, 0, "data") < 0 || get(in[2], &b[2], 0, n * 8, "cap_len") < 0
        || get(in[3], &b[3], 0, n * 8, "wire_len") < 0
        || get(in[4], &b[4], 0, n * 8, "linktype") < 0
        || get(in[5], &b[5], 0, 65536, "ports") < 0 || get(in[6], &b[6], 1, n, "tunnel") < 0
        || get(in[7], &b[7], 1, n, "nd_flags") < 0 || get(in[8], &b[8], 1, n, "declined") < 0
        || get(in[9], &b[9], 1, n * 4, "pkt_type") < 0)
        goto done;
    for (int k = 0; k < N_VALUES; k++) {
        Buf *bv = &b[FIXED + k], *bm = &b[FIXED + N_VALUES + k];
        if (get(PyTuple_GET_ITEM(values, k), bv, 1, 0, VALUE_NAMES[k]) < 0
            || get(PyTuple_GET_ITEM(masks, k), bm, 1, n, VALUE_NAMES[k]) < 0)
            goto done;
        if (bv->view.itemsize != VALUE_SIZES[k] || bv->view.len < n * VALUE_SIZES[k]) {
            PyErr_Format(PyExc_ValueError, "%s: expected %zd-byte values", VALUE_NAMES[k],
                         VALUE_SIZES[k]);
            goto done;
        }
        vb[k] = bv->view.buf;
        mb[k] = bm->view.buf;
    }
    for (int k = 0; k < N_IPS; k++)
        if (get(PyTuple_GET_ITEM(addrs, k), &b[FIXED + 2 * N_VALUES + k], 1, n * 16,
                IP_NAMES[k]) < 0
            || get(PyTuple_GET_ITEM(families, k), &b[FIXED + 2 * N_VALUES + N_IPS + k], 1, n,
                   IP_NAMES[k]) < 0)
            goto done;

    const uint8_t *data = b[0].view.buf;
    const int64_t *offsets = b[1].view.buf, *caps = b[2].view.buf, *wires = b[3].view.buf,
                  *lts = b[4].view.buf;
    int8_t *tunnel = b[6].view.buf, *nd_flags = b[7].view.buf;
    int32_t *pkt_types = b[9].view.buf;
    uint8_t *declined = b[8].view.buf;
    Options o = {b[5].view.buf, guess, (int64_t)max_depth};
    Py_ssize_t size = b[0].view.len, n_declined = 0;
    uint64_t touched = 0;
    Row r;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t off = offsets[i], cap = caps[i];
        if (i + PREFETCH < n) { /* the headers of a record a few ahead: hide the memory latency */
            int64_t ahead = offsets[i + PREFETCH];
            if (ahead >= 0 && ahead + 128 <= size) {
                __builtin_prefetch(data + ahead);
                __builtin_prefetch(data + ahead + 64);
            }
        }
        int tun;
        int64_t depth;
        r.has = 0;
        memset(r.fam, 0, sizeof r.fam);
        r.nd_flags = -1;
        int32_t pkt_type = -1;
        if (off < 0 || cap < 0 || off + cap > size
            || !decode_one(data + off, cap, wires[i], lts[i], &o, &r, &tun, &depth, &pkt_type)) {
            declined[i] = 1;
            n_declined++;
            continue;
        }
        set(&r, V_TUNNEL_DEPTH, (uint64_t)depth);
        tunnel[i] = (int8_t)tun;
        nd_flags[i] = r.nd_flags;
        pkt_types[i] = pkt_type;
        uint64_t has = r.has;
        touched |= has;
        /* the columns this record has: value and validity (the others stay 0, null) */
#define COMMIT(id, name, type)                                                                 \
    if (has >> id & 1) {                                                                       \
        ((type *)vb[id])[i] = (type)r.v[id];                                                   \
        mb[id][i] = 1;                                                                         \
    }
        VALUE_COLUMNS(COMMIT)
#undef COMMIT
        for (int k = 0; k < N_IPS; k++) {
            if (!r.fam[k])
                continue;
            touched |= (uint64_t)1 << (63 - k);
            memcpy((uint8_t *)b[FIXED + 2 * N_VALUES + k].view.buf + 16 * i, r.ip[k], 16);
            ((uint8_t *)b[FIXED + 2 * N_VALUES + N_IPS + k].view.buf)[i] = r.fam[k];
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("nK", n_declined, (unsigned long long)touched);
done:
    release(b, NBUF);
    return result;
}

/*
 * factorize_u64(values, valid, codes, uniques) -> count: codes[i] (int64, -1 where valid is 0)
 * numbers the uint64 values in order of first appearance and uniques[:count] (uint64) are the
 * distinct values, as pandas' factorize_array gives them (the table builder's factorization of
 * MACs and addresses). valid is a bool array or None (every row); codes and uniques are
 * writable arrays of len(values) items.
 */
static PyObject *
factorize_u64(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *vobj, *mobj, *cobj, *uobj;
    if (!PyArg_ParseTuple(args, "OOOO", &vobj, &mobj, &cobj, &uobj))
        return NULL;
    Buf b[4];
    memset(b, 0, sizeof b);
    PyObject *result = NULL;
    int32_t *slot_code = NULL;
    if (get(vobj, &b[0], 0, 0, "values") < 0)
        goto done;
    Py_ssize_t n = b[0].view.len / 8;
    if (b[0].view.itemsize != 8 || n >= ((Py_ssize_t)1 << 30)) {
        PyErr_SetString(PyExc_ValueError, "values: expected fewer than 2**30 8-byte integers");
        goto done;
    }
    if ((mobj != Py_None && get(mobj, &b[1], 0, n, "valid") < 0)
        || get(cobj, &b[2], 1, n * 8, "codes") < 0 || get(uobj, &b[3], 1, n * 8, "uniques") < 0)
        goto done;
    const uint64_t *v = b[0].view.buf;
    const uint8_t *ok = mobj != Py_None ? b[1].view.buf : NULL;
    int64_t *c = b[2].view.buf;
    uint64_t *u = b[3].view.buf;
    int bits = 4;
    while (((Py_ssize_t)1 << bits) < 2 * n)
        bits++;
    size_t slots = (size_t)1 << bits, wrap = slots - 1;
    slot_code = PyMem_Malloc(slots * sizeof(int32_t));
    if (slot_code == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int32_t found = 0;
    Py_BEGIN_ALLOW_THREADS
    memset(slot_code, 0xFF, slots * sizeof(int32_t)); /* -1: an empty slot */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ok != NULL && !ok[i]) {
            c[i] = -1;
            continue;
        }
        uint64_t key = v[i];
        size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - bits)); /* Fibonacci hash */
        for (;;) {
            int32_t at = slot_code[h];
            if (at < 0) { /* a new value */
                slot_code[h] = found;
                u[found] = key;
                c[i] = found++;
                break;
            }
            if (u[at] == key) {
                c[i] = at;
                break;
            }
            h = (h + 1) & wrap;
        }
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromLong(found);
done:
    PyMem_Free(slot_code);
    release(b, 4);
    return result;
}

static PyMethodDef methods[] = {
    {"factorize_u64", factorize_u64, METH_VARARGS,
     "Codes in order of first appearance (-1 where not valid) and distinct values of uint64s."},
    {"decode", decode, METH_VARARGS, "Decode the records of a batch that take the common paths."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__fast(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    PyObject *vn = PyTuple_New(N_VALUES), *in = PyTuple_New(N_IPS);
    if (vn == NULL || in == NULL)
        goto fail;
    for (int k = 0; k < N_VALUES; k++)
        PyTuple_SET_ITEM(vn, k, PyUnicode_FromString(VALUE_NAMES[k]));
    for (int k = 0; k < N_IPS; k++)
        PyTuple_SET_ITEM(in, k, PyUnicode_FromString(IP_NAMES[k]));
    if (PyModule_AddObject(m, "VALUE_NAMES", vn) < 0)
        goto fail;
    vn = NULL;
    if (PyModule_AddObject(m, "IP_NAMES", in) < 0)
        goto fail;
    return m;
fail:
    Py_XDECREF(vn);
    Py_XDECREF(in);
    Py_DECREF(m);
    return NULL;
}
