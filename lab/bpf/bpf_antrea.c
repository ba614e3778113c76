/* SPDX-License-Identifier: Apache-2.0
 *
 * Antrea-shaped inter-node datapath for the lab (OVS cannot run here, and this kernel has no
 * geneve device): what Antrea's OVS flows do to a pod's packet for a pod on another node,
 * written as two tc programs (lab/lab_antrea.py attaches them).
 *
 * from-pod: tc ingress of the pod's port on br-int. An IPv4 packet to the remote pod CIDR is
 *   routed as Antrea's L3Forwarding flow does (antrea-io/antrea pkg/agent/openflow,
 *   l3FwdFlowToRemoteViaTun: source MAC := the local gateway's, destination MAC :=
 *   GlobalVirtualMAC aa:bb:cc:dd:ee:ff, then L3DecTTL), then encapsulated in Geneve (UDP 6081,
 *   VNI 0, no option) from this node's address to the remote node's and sent out of eth0.
 *   Anything else (ARP, same-node frames) goes on through the bridge untouched.
 * from-netdev: tc ingress of eth0. Geneve to this node: the outer headers are removed; a
 *   frame addressed to the global virtual MAC for the local pod is routed to it as Antrea's
 *   flows do for a local pod (source MAC := local gateway's, destination := pod's, TTL - 1)
 *   and redirected to the pod's port.
 *
 * Config (-include header): NODE_IPV4, REMOTE_NODE_IPV4, NODE_MAC, PEER_NODE_MAC, GW_MAC,
 * POD_IPV4, POD_MAC, POD_IFINDEX, UNDERLAY_IFINDEX, REMOTE_V4_NET, REMOTE_V4_MASK.
 */
#include "lab_common.h"

#define GENEVE_OUTER_LEN (20 + 8 + 8 + ETH_HLEN)
#define VXL_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)

static const __u8 node_mac[ETH_ALEN] = { NODE_MAC };
static const __u8 peer_node_mac[ETH_ALEN] = { PEER_NODE_MAC };
static const __u8 gw_mac[ETH_ALEN] = { GW_MAC };
static const __u8 pod_mac[ETH_ALEN] = { POD_MAC };
static const __u8 virtual_mac[ETH_ALEN] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

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

/* TTL - 1 with the IPv4 header checksum fixed; the MACs set to src, dst. */
static __always_inline int route(struct __sk_buff *skb, const __u8 *src, const __u8 *dst)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u16 old, new;

	if ((void *)(ip + 1) > data_end || ip->ttl <= 1)
		return -1;
	old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	new = *(__u16 *)&ip->ttl;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 2) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, dst, ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, src, ETH_ALEN, 0) < 0)
		return -1;
	return 0;
}

SEC("from-pod")
int from_pod(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	const __u32 room = sizeof(struct geneve_outer);
	struct geneve_outer o = {};
	struct ethhdr inner;
	__u32 hash, len;
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
		      BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct ethhdr));

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if ((bpf_ntohl(ip->daddr) & REMOTE_V4_MASK) != REMOTE_V4_NET)
		return TC_ACT_OK;
	if (route(skb, gw_mac, virtual_mac) < 0)
		return TC_ACT_SHOT;
	hash = bpf_get_hash_recalc(skb);
	len = skb->len;
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
	o.ip.frag_off = bpf_htons(0x4000); /* DF, as OVS sets on its tunnels by default */
	o.ip.ttl = 64;
	o.ip.protocol = IPPROTO_UDP;
	o.ip.saddr = bpf_htonl(NODE_IPV4);
	o.ip.daddr = bpf_htonl(REMOTE_NODE_IPV4);
	{
		struct iphdr copy = o.ip;

		o.ip.check = csum_fold32((__u64)bpf_csum_diff(NULL, 0, (__be32 *)&copy, sizeof(copy), 0));
	}
	o.sport = bpf_htons(32768 + (hash % (61000 - 32768)));
	o.dport = bpf_htons(6081);
	o.ulen = bpf_htons(len - sizeof(struct ethhdr) + room - sizeof(struct iphdr));
	o.ucsum = 0; /* OVS sends Geneve without outer UDP checksum by default */
	o.proto = bpf_htons(0x6558);
	/* VNI 0: o.vni left zero */
	if (bpf_skb_store_bytes(skb, 0, &o, sizeof(o), 0) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, sizeof(o), &inner, sizeof(inner), 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(UNDERLAY_IFINDEX, 0);
}

SEC("from-netdev")
int from_netdev(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u8 *l4 = (void *)(ip + 1);
	struct ethhdr inner;
	struct iphdr *iip;

	if ((void *)(l4 + 16 + ETH_HLEN + sizeof(struct iphdr)) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    bpf_ntohl(ip->daddr) != NODE_IPV4 || *(__be16 *)(l4 + 2) != bpf_htons(6081) ||
	    *(__be16 *)(l4 + 10) != bpf_htons(0x6558) || (l4[8] & 0x3f) != 0)
		return TC_ACT_OK;
	__builtin_memcpy(&inner, l4 + 16, sizeof(inner));
	iip = (void *)(l4 + 16 + ETH_HLEN);
	if (inner.h_proto != bpf_htons(ETH_P_IP) || !mac_eq(inner.h_dest, virtual_mac) ||
	    bpf_ntohl(iip->daddr) != POD_IPV4)
		return TC_ACT_SHOT;
	if (bpf_skb_adjust_room(skb, -GENEVE_OUTER_LEN, BPF_ADJ_ROOM_MAC,
				VXL_ADJ_ROOM_DECAP_L3_IPV4) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, &inner, sizeof(inner), 0) < 0)
		return TC_ACT_SHOT;
	if (route(skb, gw_mac, pod_mac) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(POD_IFINDEX, 0);
}

char __license[] SEC("license") = "GPL";
