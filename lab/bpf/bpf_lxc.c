/* SPDX-License-Identifier: Apache-2.0
 *
 * tc ingress program for a pod's host-side veth (lxc...): what the pod sends.
 *
 * Mirrors what Cilium's bpf_lxc does for the overlay case, in miniature:
 *  - ARP request for any target other than the pod's own IPv4: answered with the lxc MAC;
 *  - Neighbor Solicitation for the router IPv6: answered with a Neighbor Advertisement
 *    (R=1, S=1, O=0, target link-layer option = lxc MAC, source = router IP, hop limit 255);
 *    any other NS target is dropped;
 *  - IPv4/IPv6 to the remote pod CIDR: tunnel key (VNI = this pod's identity, remote = the
 *    other node) and redirect to the tunnel device, Ethernet header untouched.
 * Everything else goes to the node's stack unchanged.
 *
 * Per-endpoint configuration comes from a header passed with -include (see lab/run.py):
 *  LXC_MAC, POD_IPV4, ROUTER_IPV6, IDENTITY, TUNNEL_IFINDEX, REMOTE_V4_NET,
 *  REMOTE_V4_MASK, REMOTE_V6_PREFIX, REMOTE_NODE_IPV4 or (UNDERLAY_IPV6 and REMOTE_NODE_IPV6),
 *  or, for three nodes or more, N_REMOTES and REMOTES (initialisers of struct remote),
 *  ENABLE_ARP_RESPONDER (0: ARP requests dropped), ENABLE_NDP_RESPONDER (0: router NS
 *  handed to the node's kernel, which owns no such address and stays silent), TUNNEL_DF
 *  (optional: DF on the outer IPv4 header), and for the eBPF-built Geneve variant
 *  ENCAP_BPF_GENEVE with NODE_IPV4, NODE_MAC, PEER_NODE_MAC, UNDERLAY_IFINDEX.
 */
#include "lab_common.h"

static const __u8 lxc_mac[ETH_ALEN] = { LXC_MAC };
static const __u8 router_ipv6[16] = { ROUTER_IPV6 };

/* The other nodes: pod CIDRs and node IPv4. Two-node runs give the single REMOTE_* values;
 * clusters of three or more pass N_REMOTES and REMOTES (VXLAN over IPv4 only). */
struct remote {
	__u32 net4;  /* host byte order */
	__u32 mask4; /* host byte order */
	__u8 prefix6[16];
	__u32 node4; /* host byte order */
};
#ifndef N_REMOTES
#define N_REMOTES 1
#define REMOTES { REMOTE_V4_NET, REMOTE_V4_MASK, { REMOTE_V6_PREFIX }, REMOTE_NODE_IPV4 }
#endif
static const struct remote remotes[N_REMOTES] = { REMOTES };
#ifdef UNDERLAY_IPV6
static const __u8 remote_node_ipv6[16] = { REMOTE_NODE_IPV6 };
#endif
#ifdef ENCAP_BPF_GENEVE
static const __u8 node_mac[ETH_ALEN] = { NODE_MAC };
static const __u8 peer_node_mac[ETH_ALEN] = { PEER_NODE_MAC };
#endif

static __always_inline int answer_arp(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct arp_eth_ipv4 *arp = data + sizeof(*eth);
	__u8 sha[ETH_ALEN];
	__be32 sip, tip;

	if ((void *)(arp + 1) > data_end)
		return TC_ACT_OK;
	if (arp->ar_op != ARPOP_REQUEST_BE || arp->ar_hln != ETH_ALEN || arp->ar_pln != 4)
		return TC_ACT_OK;
	tip = arp->ar_tip;
	sip = arp->ar_sip;
	if (bpf_ntohl(tip) == POD_IPV4 || tip == sip)
		return TC_ACT_OK; /* the pod's own address, or a gratuitous ARP */
#if !ENABLE_ARP_RESPONDER
	return TC_ACT_SHOT; /* responder missing: dropped, not handed to the node's kernel */
#endif
	__builtin_memcpy(sha, arp->ar_sha, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, lxc_mac, ETH_ALEN);
	arp->ar_op = ARPOP_REPLY_BE;
	__builtin_memcpy(arp->ar_tha, sha, ETH_ALEN);
	arp->ar_tip = sip;
	__builtin_memcpy(arp->ar_sha, lxc_mac, ETH_ALEN);
	arp->ar_sip = tip;
	return bpf_redirect(skb->ifindex, 0);
}

static __always_inline int answer_ns(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + sizeof(*eth);
	struct nd_msg_lla *nd = (void *)(ip6 + 1);
	struct icmp6_csum_buf buf = {};
	__s64 sum;

	if ((void *)(nd + 1) > data_end)
		return TC_ACT_OK; /* NS without a source link-layer option: leave to the kernel */
	if (!ip6_eq(nd->target, router_ipv6))
		return TC_ACT_SHOT; /* Cilium drops NS for unknown targets */
#if !ENABLE_NDP_RESPONDER
	return TC_ACT_OK;
#endif
	if (bpf_ntohs(ip6->payload_len) != sizeof(*nd))
		return TC_ACT_OK;

	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, lxc_mac, ETH_ALEN);
	__builtin_memcpy(ip6->daddr.s6_addr, ip6->saddr.s6_addr, 16);
	__builtin_memcpy(ip6->saddr.s6_addr, router_ipv6, 16);
	ip6->hop_limit = 255;
	nd->type = 136; /* Neighbor Advertisement */
	nd->code = 0;
	nd->csum = 0;
	nd->flags = bpf_htonl(0xC0000000); /* R=1 S=1 O=0 */
	nd->opt_type = 2;                  /* target link-layer address */
	nd->opt_len = 1;
	__builtin_memcpy(nd->opt_mac, lxc_mac, ETH_ALEN);

	__builtin_memcpy(buf.saddr, ip6->saddr.s6_addr, 16);
	__builtin_memcpy(buf.daddr, ip6->daddr.s6_addr, 16);
	buf.len = bpf_htonl(sizeof(*nd));
	buf.nexthdr = bpf_htonl(IPPROTO_ICMPV6);
	__builtin_memcpy(&buf.msg, nd, sizeof(*nd));
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&buf, sizeof(buf), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	nd->csum = csum_fold32((__u64)sum);
	return bpf_redirect(skb->ifindex, 0);
}

#ifdef ENCAP_BPF_GENEVE
/* Outer headers written by the program itself (the kernel has no geneve driver). */
struct geneve_outer {
	struct ethhdr eth;
	struct iphdr ip;
	__be16 sport;
	__be16 dport;
	__be16 ulen;
	__be16 ucsum;
	__u8 ver_optlen;
	__u8 flags;
	__be16 proto;
	__u8 vni[3];
	__u8 rsvd;
} __attribute__((packed));

static __always_inline int encap_geneve(struct __sk_buff *skb)
{
	/* room = outer IPv4 + UDP + Geneve + the inner Ethernet header that moves behind them */
	const __u32 room = sizeof(struct geneve_outer);
	struct ethhdr inner;
	struct geneve_outer o = {};
	__u32 hash = bpf_get_hash_recalc(skb);
	__u32 len = skb->len;
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
		      BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct ethhdr));

	if (bpf_skb_load_bytes(skb, 0, &inner, sizeof(inner)) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, flags) < 0)
		return TC_ACT_SHOT;
	__builtin_memcpy(o.eth.h_dest, peer_node_mac, ETH_ALEN);
	__builtin_memcpy(o.eth.h_source, node_mac, ETH_ALEN);
	o.eth.h_proto = bpf_htons(ETH_P_IP);
	o.ip.version = 4;
	o.ip.ihl = 5;
	o.ip.tot_len = bpf_htons(len - sizeof(struct ethhdr) + room);
	o.ip.id = bpf_htons((__u16)hash);
	o.ip.frag_off = 0; /* no DF, like the kernel's vxlan driver with default settings */
	o.ip.ttl = 64;
	o.ip.protocol = IPPROTO_UDP;
	o.ip.saddr = bpf_htonl(NODE_IPV4);
	o.ip.daddr = bpf_htonl(REMOTE_NODE_IPV4);
	{
		struct iphdr ip = o.ip;

		o.ip.check = csum_fold32((__u64)bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0));
	}
	o.sport = bpf_htons(32768 + (hash % (61000 - 32768)));
	o.dport = bpf_htons(6081);
	o.ulen = bpf_htons(len - sizeof(struct ethhdr) + room - sizeof(struct iphdr));
	o.ucsum = 0;
	o.ver_optlen = 0;
	o.flags = 0;
	o.proto = bpf_htons(0x6558); /* transparent Ethernet bridging */
	o.vni[0] = (IDENTITY >> 16) & 0xff;
	o.vni[1] = (IDENTITY >> 8) & 0xff;
	o.vni[2] = IDENTITY & 0xff;
	if (bpf_skb_store_bytes(skb, 0, &o, sizeof(o), 0) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, sizeof(o), &inner, sizeof(inner), 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(UNDERLAY_IFINDEX, 0);
}
#endif

static __always_inline int to_tunnel(struct __sk_buff *skb, __u32 node4)
{
#ifdef ENCAP_BPF_GENEVE
	return encap_geneve(skb);
#else
	struct bpf_tunnel_key key = {};
	__u64 flags = BPF_F_ZERO_CSUM_TX;

	key.tunnel_id = IDENTITY;
	key.tunnel_ttl = 64;
#ifdef TUNNEL_DF
	flags |= BPF_F_DONT_FRAGMENT; /* DF on the outer IPv4 header */
#endif
#ifdef UNDERLAY_IPV6
	__builtin_memcpy(key.remote_ipv6, remote_node_ipv6, 16);
	flags = BPF_F_TUNINFO_IPV6;
#else
	key.remote_ipv4 = node4;
#endif
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), flags) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(TUNNEL_IFINDEX, 0);
#endif
}

SEC("from-container")
int from_container(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;

	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return answer_arp(skb);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return TC_ACT_OK;
#pragma unroll
		for (int i = 0; i < N_REMOTES; i++)
			if ((bpf_ntohl(ip->daddr) & remotes[i].mask4) == remotes[i].net4)
				return to_tunnel(skb, remotes[i].node4);
		return TC_ACT_OK;
	}

	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u8 *icmp_type = (void *)(ip6 + 1);

		if ((void *)(icmp_type + 1) > data_end)
			return TC_ACT_OK;
		if (ip6->nexthdr == IPPROTO_ICMPV6 && *icmp_type == 135)
			return answer_ns(skb);
#pragma unroll
		for (int i = 0; i < N_REMOTES; i++)
			if (ip6_prefix64_eq(ip6->daddr.s6_addr, remotes[i].prefix6))
				return to_tunnel(skb, remotes[i].node4);
		return TC_ACT_OK;
	}
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
