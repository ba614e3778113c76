/* SPDX-License-Identifier: Apache-2.0
 *
 * OVN-shaped inter-node datapath for the lab (OVS and ovn-controller cannot run here, and this
 * kernel has no geneve device): what OVN's logical flows and its Geneve tunnel do to a pod's
 * packet for a pod on another node, written as two tc programs (lab/lab_ovn.py attaches them).
 *
 * from-pod: tc ingress of the pod's port (the host side of its veth, an OVS port in OVN).
 *   - ARP request for the gateway GW_IPV4: answered with the router port's MAC ROUTER_MAC, as
 *     OVN's ARP responder flows answer for a logical router port's address.
 *   - IPv4 to the remote pod subnet: routed by the distributed logical router on this node
 *     (TTL - 1), then switched on the remote node's logical switch, whose ingress pipeline runs
 *     here too: source MAC := the remote switch's router port MAC, destination MAC := the remote
 *     pod's MAC (OVN-Kubernetes derives both from their IPv4 addresses: 0a:58:<a.b.c.d>).
 *     Encapsulated in Geneve (UDP 6081) with VNI := the remote switch's logical datapath key
 *     and one option of class 0x0102 type 0x80 (OVN's) holding the logical ingress port
 *     (15 bits: the remote switch's router port) and egress port (16 bits: the remote pod's
 *     port), sent out of eth0 to the remote node.
 * from-netdev: tc ingress of eth0. Geneve to this node carrying OVN's option for this node's
 *   logical switch and the local pod's port: the outer headers are removed and the frame, as
 *   the sender's pipeline left it, is output to the pod's port (no TTL change here).
 *
 * Config (-include header): NODE_IPV4, REMOTE_NODE_IPV4, NODE_MAC, PEER_NODE_MAC, GW_IPV4,
 * ROUTER_MAC, REMOTE_ROUTER_MAC, POD_IFINDEX, UNDERLAY_IFINDEX, REMOTE_V4_NET, REMOTE_V4_MASK,
 * LOCAL_DP_KEY, REMOTE_DP_KEY, LOCAL_POD_PORT_KEY, REMOTE_ROUTER_PORT_KEY, REMOTE_POD_PORT_KEY.
 */
#include "lab_common.h"

#define OVN_GENEVE_CLASS 0x0102
#define OVN_GENEVE_TYPE 0x80
#define GENEVE_OUTER_LEN (20 + 8 + 8 + 8 + ETH_HLEN)
#define VXL_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)

static const __u8 node_mac[ETH_ALEN] = { NODE_MAC };
static const __u8 peer_node_mac[ETH_ALEN] = { PEER_NODE_MAC };
static const __u8 router_mac[ETH_ALEN] = { ROUTER_MAC };
static const __u8 remote_router_mac[ETH_ALEN] = { REMOTE_ROUTER_MAC };

struct geneve_ovn_outer {
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
	__be16 opt_class;
	__u8 opt_type;
	__u8 opt_len;
	__be32 opt_ports;
} __attribute__((packed));

static __always_inline int answer_gateway_arp(struct __sk_buff *skb)
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
	if (bpf_ntohl(tip) != GW_IPV4)
		return TC_ACT_SHOT; /* no other logical port on this switch in the lab */
	__builtin_memcpy(sha, arp->ar_sha, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, router_mac, ETH_ALEN);
	arp->ar_op = ARPOP_REPLY_BE;
	__builtin_memcpy(arp->ar_tha, sha, ETH_ALEN);
	arp->ar_tip = sip;
	__builtin_memcpy(arp->ar_sha, router_mac, ETH_ALEN);
	arp->ar_sip = tip;
	return bpf_redirect(skb->ifindex, 0);
}

/* 0a:58:<a.b.c.d>: the MAC OVN-Kubernetes gives the port holding IPv4 address a.b.c.d. */
static __always_inline void mac_of(__u8 *mac, __be32 addr)
{
	mac[0] = 0x0a;
	mac[1] = 0x58;
	__builtin_memcpy(mac + 2, &addr, 4);
}

SEC("from-pod")
int from_pod(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	const __u32 room = sizeof(struct geneve_ovn_outer);
	struct geneve_ovn_outer o = {};
	struct ethhdr inner;
	__u32 hash, len;
	__u16 old, new;
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
		      BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct ethhdr));

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return answer_gateway_arp(skb);
	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if ((bpf_ntohl(ip->daddr) & REMOTE_V4_MASK) != REMOTE_V4_NET || ip->ttl <= 1)
		return TC_ACT_SHOT;
	/* the logical router: TTL - 1; the remote logical switch: router port -> pod */
	old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	new = *(__u16 *)&ip->ttl;
	mac_of(inner.h_dest, ip->daddr);
	__builtin_memcpy(inner.h_source, remote_router_mac, ETH_ALEN);
	inner.h_proto = bpf_htons(ETH_P_IP);
	if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 2) < 0)
		return TC_ACT_SHOT;
	hash = bpf_get_hash_recalc(skb);
	len = skb->len;
	if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, flags) < 0)
		return TC_ACT_SHOT;
	__builtin_memcpy(o.eth.h_dest, peer_node_mac, ETH_ALEN);
	__builtin_memcpy(o.eth.h_source, node_mac, ETH_ALEN);
	o.eth.h_proto = bpf_htons(ETH_P_IP);
	o.ip.version = 4;
	o.ip.ihl = 5;
	o.ip.tot_len = bpf_htons(len - sizeof(struct ethhdr) + room);
	o.ip.id = bpf_htons((__u16)hash);
	o.ip.frag_off = bpf_htons(0x4000);
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
	o.ucsum = 0; /* not computed here (OVN's default ovn-encap-csum=true would set it) */
	o.ver_optlen = 2; /* 8 bytes of options */
	o.flags = 0x40; /* C: a critical option is present */
	o.proto = bpf_htons(0x6558);
	o.vni[0] = (REMOTE_DP_KEY >> 16) & 0xff;
	o.vni[1] = (REMOTE_DP_KEY >> 8) & 0xff;
	o.vni[2] = REMOTE_DP_KEY & 0xff;
	o.opt_class = bpf_htons(OVN_GENEVE_CLASS);
	o.opt_type = OVN_GENEVE_TYPE;
	o.opt_len = 1; /* 4 bytes of data */
	o.opt_ports = bpf_htonl(((__u32)(REMOTE_ROUTER_PORT_KEY & 0x7fff) << 16) |
				(REMOTE_POD_PORT_KEY & 0xffff));
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
	struct geneve_ovn_outer *o = data;
	struct ethhdr inner;
	__u32 vni, ports;

	if ((void *)(o + 1) + ETH_HLEN > data_end)
		return TC_ACT_OK;
	if (o->eth.h_proto != bpf_htons(ETH_P_IP) || o->ip.ihl != 5 ||
	    o->ip.protocol != IPPROTO_UDP || bpf_ntohl(o->ip.daddr) != NODE_IPV4 ||
	    o->dport != bpf_htons(6081))
		return TC_ACT_OK;
	vni = ((__u32)o->vni[0] << 16) | ((__u32)o->vni[1] << 8) | o->vni[2];
	ports = bpf_ntohl(o->opt_ports);
	if ((o->ver_optlen & 0x3f) != 2 || o->opt_class != bpf_htons(OVN_GENEVE_CLASS) ||
	    o->opt_type != OVN_GENEVE_TYPE || vni != LOCAL_DP_KEY ||
	    (ports & 0xffff) != LOCAL_POD_PORT_KEY)
		return TC_ACT_SHOT;
	__builtin_memcpy(&inner, (void *)(o + 1), sizeof(inner));
	if (bpf_skb_adjust_room(skb, -GENEVE_OUTER_LEN, BPF_ADJ_ROOM_MAC,
				VXL_ADJ_ROOM_DECAP_L3_IPV4) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, &inner, sizeof(inner), 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(POD_IFINDEX, 0);
}

char __license[] SEC("license") = "GPL";
