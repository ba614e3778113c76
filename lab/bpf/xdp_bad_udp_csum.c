/* SPDX-License-Identifier: Apache-2.0
 *
 * Underlay fault for the lab: garble the outer UDP checksum of tunnelled frames.
 *
 * Attached in generic XDP mode to the receiving node's eth0 (lab/lab_cni.py, fault
 * `outer-udp-checksum`): generic XDP runs before the kernel's packet taps, so the receiving
 * node's capture shows the damaged checksum while the sending node's capture shows the one it
 * sent, as if a link or a middlebox between the nodes corrupted it. Only IPv4 UDP datagrams to
 * TUNNEL_PORT (passed with -D) with a non-zero checksum are touched; the UDP payload is left
 * as it was. The kernel then drops them (UDP checksum error) before the VXLAN device sees them.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef TUNNEL_PORT
#error "TUNNEL_PORT must be defined"
#endif

SEC("xdp")
int garble_udp_csum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(TUNNEL_PORT) || udp->check == 0)
		return XDP_PASS;
	udp->check ^= bpf_htons(0x5a5a);
	if (udp->check == 0)
		udp->check = bpf_htons(0x5a5a);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
