/* SPDX-License-Identifier: Apache-2.0
 *
 * ERSPAN encapsulation for the lab's mirror session: tc egress of the mirror port (span0)
 * takes each frame copied there by mirror_span.c and pushes, in front of the untouched frame,
 *   Ethernet (switch -> collector) + IPv4 (proto 47, checksum computed) + GRE with the S bit
 *   and a sequence number + an ERSPAN type II header (8 bytes, GRE protocol 0x88be) or a type
 *   III header (12 bytes, GRE protocol 0x22eb, with the direction bit D),
 * as a switch's ERSPAN source session does. The kernel has no gre/erspan driver, so the
 * program writes every byte (bpf_skb_change_head + bpf_skb_store_bytes).
 *
 * Config (-include): ERSPAN_VER (1 = type II, 2 = type III, the header's Ver field),
 * SESSION_ID (10 bits), PORT_INDEX (type II index, 20 bits: the mirrored port), HW_ID (type III
 * hardware id, 6 bits: the mirroring engine),
 * SRC_MAC, DST_MAC, SRC_IPV4, DST_IPV4 (host order).
 */
#include "lab_common.h"

#define MARK_EGRESS 0x5e2

static const __u8 src_mac[ETH_ALEN] = { SRC_MAC };
static const __u8 dst_mac[ETH_ALEN] = { DST_MAC };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gre_seq SEC(".maps");

struct erspan_outer {
	struct ethhdr eth;
	struct iphdr ip;
	__be16 gre_flags;
	__be16 gre_proto;
	__be32 gre_seq;
	__be16 ver_vlan;      /* Ver(4) VLAN(12) */
	__be16 cos_session;   /* COS(3) En or BSO(2) T(1) Session ID(10) */
#if ERSPAN_VER == 1
	__be32 index;         /* Reserved(12) Index(20) */
#else
	__be32 timestamp;     /* type III: Timestamp(32) */
	__be16 sgt;           /* Security Group Tag(16) */
	__be16 p_ft_hw_d_o;   /* P(1) FT(5) Hw ID(6) D(1) Gra(2) O(1) */
#endif
} __attribute__((packed));

SEC("erspan-encap")
int erspan_encap(struct __sk_buff *skb)
{
	const __u32 room = sizeof(struct erspan_outer);
	struct erspan_outer o = {};
	__u32 len = skb->len;
	__u32 key = 0, seq = 0, *cnt;
	int egress = skb->mark == MARK_EGRESS;

	cnt = bpf_map_lookup_elem(&gre_seq, &key);
	if (cnt) {
		seq = *cnt; /* no fetch-add with a result before -mcpu=v3; one mirror, one CPU at a time */
		*cnt = seq + 1;
	}
	if (bpf_skb_change_head(skb, room, 0) < 0)
		return TC_ACT_SHOT;
	__builtin_memcpy(o.eth.h_dest, dst_mac, ETH_ALEN);
	__builtin_memcpy(o.eth.h_source, src_mac, ETH_ALEN);
	o.eth.h_proto = bpf_htons(ETH_P_IP);
	o.ip.version = 4;
	o.ip.ihl = 5;
	o.ip.tot_len = bpf_htons(len + room - sizeof(struct ethhdr));
	o.ip.id = bpf_htons((__u16)seq);
	o.ip.frag_off = bpf_htons(0x4000); /* DF, as switches send ERSPAN */
	o.ip.ttl = 64;
	o.ip.protocol = IPPROTO_GRE;
	o.ip.saddr = bpf_htonl(SRC_IPV4);
	o.ip.daddr = bpf_htonl(DST_IPV4);
	{
		struct iphdr ip = o.ip;

		o.ip.check = csum_fold32((__u64)bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0));
	}
	o.gre_flags = bpf_htons(0x1000); /* S: sequence number present; version 0 */
	o.gre_seq = bpf_htonl(seq);
	o.ver_vlan = bpf_htons(ERSPAN_VER << 12);
#if ERSPAN_VER == 1
	o.gre_proto = bpf_htons(0x88be);
	/* COS 0, En 0 (the mirrored frames carry no VLAN tag), T 0 */
	o.cos_session = bpf_htons(SESSION_ID & 0x3ff);
	o.index = bpf_htonl(PORT_INDEX & 0xfffff);
	(void)egress; /* type II has no direction bit */
#else
	o.gre_proto = bpf_htons(0x22eb);
	o.cos_session = bpf_htons(SESSION_ID & 0x3ff); /* COS 0, BSO 0 (good frame), T 0 */
	o.timestamp = bpf_htonl((__u32)(bpf_ktime_get_ns() / 100000)); /* 100 µs units */
	o.sgt = 0;
	/* P 0, FT 0 (Ethernet), Hw ID, D (0 ingress, 1 egress), Gra 00 (100 µs), O 0 */
	o.p_ft_hw_d_o = bpf_htons(((HW_ID & 0x3f) << 4) | (egress << 3));
	(void)PORT_INDEX; /* type III carries a port index only in a platform subheader (O = 0) */
#endif
	if (bpf_skb_store_bytes(skb, 0, &o, sizeof(o), 0) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
