/* SPDX-License-Identifier: Apache-2.0
 *
 * Receive side of the lab datapath: local delivery of decapsulated pod frames.
 *
 * from-overlay: tc ingress of the node's tunnel device (cilium_vxlan, external/collect_md).
 *   The kernel has already removed the outer headers. For a frame addressed to a local
 *   endpoint: decrement TTL / hop limit once (IPv4 checksum fixed), rewrite the MACs to
 *   lxc MAC -> pod MAC and redirect to the endpoint's lxc veth. Anything else is dropped
 *   (a pod IP that no endpoint on this node owns).
 * from-netdev (only with ENCAP_BPF_GENEVE): tc ingress of the node's eth0 for the variant in
 *   which the kernel has no geneve driver: strips outer IPv4 + UDP 6081 + Geneve + inner
 *   Ethernet itself, then delivers as above.
 *
 * Node configuration comes from a header passed with -include (see lab/run.py):
 *  N_ENDPOINTS and LOCAL_ENDPOINTS (initialisers of struct local_ep), NODE_IPV4 (geneve),
 *  DROP_TCP_DPORT (optional: decapsulated TCP SYNs to that port are dropped, like a policy
 *  drop at the destination endpoint).
 */
#include "lab_common.h"
#include <linux/tcp.h>

struct local_ep {
	__u32 ifindex;
	__u32 ipv4; /* host byte order */
	__u8 ipv6[16];
	__u8 macs[2 * ETH_ALEN]; /* pod eth0 MAC then lxc MAC: the delivered frame's dst, src */
};

static const struct local_ep local_eps[N_ENDPOINTS] = { LOCAL_ENDPOINTS };

static __always_inline int deliver(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	const struct local_ep *ep = NULL;
	int i;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u16 old, new;

		if ((void *)(ip + 1) > data_end)
			return TC_ACT_SHOT;
#pragma unroll
		for (i = 0; i < N_ENDPOINTS; i++)
			if (bpf_ntohl(ip->daddr) == local_eps[i].ipv4)
				ep = &local_eps[i];
		if (!ep || ip->ttl <= 1)
			return TC_ACT_SHOT;
		old = *(__u16 *)&ip->ttl;
#ifdef DROP_TCP_DPORT
		if (ip->protocol == IPPROTO_TCP && ip->ihl == 5) {
			struct tcphdr *th = (void *)(ip + 1);

			if ((void *)(th + 1) > data_end)
				return TC_ACT_SHOT;
			if (th->syn && !th->ack && th->dest == bpf_htons(DROP_TCP_DPORT))
				return TC_ACT_SHOT;
		}
#endif
		ip->ttl--;
		new = *(__u16 *)&ip->ttl;
		if (bpf_l3_csum_replace(skb, sizeof(*eth) + __builtin_offsetof(struct iphdr, check),
					old, new, 2) < 0)
			return TC_ACT_SHOT;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return TC_ACT_SHOT;
#pragma unroll
		for (i = 0; i < N_ENDPOINTS; i++)
			if (ip6_eq(ip6->daddr.s6_addr, local_eps[i].ipv6))
				ep = &local_eps[i];
		if (!ep || ip6->hop_limit <= 1)
			return TC_ACT_SHOT;
#ifdef DROP_TCP_DPORT
		if (ip6->nexthdr == IPPROTO_TCP) {
			struct tcphdr *th = (void *)(ip6 + 1);

			if ((void *)(th + 1) > data_end)
				return TC_ACT_SHOT;
			if (th->syn && !th->ack && th->dest == bpf_htons(DROP_TCP_DPORT))
				return TC_ACT_SHOT;
		}
#endif
		ip6->hop_limit--;
	} else {
		return TC_ACT_SHOT;
	}

	if (bpf_skb_store_bytes(skb, 0, ep->macs, sizeof(ep->macs), 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(ep->ifindex, 0);
}

SEC("from-overlay")
int from_overlay(struct __sk_buff *skb)
{
	return deliver(skb);
}

#ifdef ENCAP_BPF_GENEVE
#define GENEVE_OUTER_LEN (20 + 8 + 8 + ETH_HLEN)
/* uapi values from Linux 6.3+ (older libc headers do not name them). */
#define VXL_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define VXL_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)

SEC("from-netdev")
int from_netdev(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u8 *l4 = (void *)(ip + 1);
	struct ethhdr inner;
	__u64 flags;

	if ((void *)(l4 + 16 + ETH_HLEN) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    bpf_ntohl(ip->daddr) != NODE_IPV4 || *(__be16 *)(l4 + 2) != bpf_htons(6081) ||
	    *(__be16 *)(l4 + 10) != bpf_htons(0x6558) || (l4[8] & 0x3f) != 0)
		return TC_ACT_OK;
	__builtin_memcpy(&inner, l4 + 16, sizeof(inner));
	if (inner.h_proto == bpf_htons(ETH_P_IPV6))
		flags = VXL_ADJ_ROOM_DECAP_L3_IPV6;
	else if (inner.h_proto == bpf_htons(ETH_P_IP))
		flags = VXL_ADJ_ROOM_DECAP_L3_IPV4;
	else
		return TC_ACT_SHOT;
	if (bpf_skb_adjust_room(skb, -GENEVE_OUTER_LEN, BPF_ADJ_ROOM_MAC, flags) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, &inner, sizeof(inner), 0) < 0)
		return TC_ACT_SHOT;
	return deliver(skb);
}
#endif

char __license[] SEC("license") = "GPL";
