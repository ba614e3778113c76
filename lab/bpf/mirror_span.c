/* SPDX-License-Identifier: Apache-2.0
 *
 * The lab's "switch" port mirror (SPAN): tc ingress and egress of the switch port that faces
 * node worker's eth0 copy every frame, untouched, to MIRROR_IFINDEX with bpf_clone_redirect
 * (the original frame goes on through the bridge). The copy carries its direction in
 * skb->mark for the encapsulating program: MARK_INGRESS for frames the switch port received
 * (sent by the node), MARK_EGRESS for frames the switch port sent (received by the node).
 *
 * Config (-include): MIRROR_IFINDEX (a veth for ERSPAN built by mirror_erspan.c, or a kernel
 * vxlan device for cloud-style VXLAN mirroring).
 */
#include "lab_common.h"

#define MARK_INGRESS 0x5e1
#define MARK_EGRESS 0x5e2

static __always_inline int span(struct __sk_buff *skb, __u32 mark)
{
	__u32 old = skb->mark;

	skb->mark = mark;
	bpf_clone_redirect(skb, MIRROR_IFINDEX, 0);
	skb->mark = old;
	return TC_ACT_OK;
}

SEC("span-ingress")
int span_ingress(struct __sk_buff *skb)
{
	return span(skb, MARK_INGRESS);
}

SEC("span-egress")
int span_egress(struct __sk_buff *skb)
{
	return span(skb, MARK_EGRESS);
}

char _license[] SEC("license") = "GPL";
