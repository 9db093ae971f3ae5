/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by connstate.bpf.c and tls.bpf.c, after their wakeup_bytes. */
#ifndef CONNSTATE_WAKE_H
#define CONNSTATE_WAKE_H

/* Whether this event (len bytes after its header) wakes the reader. */
static __always_inline __u64 wake_flag(__u64 *unwoken, __u64 len)
{
	*unwoken += sizeof(struct cs_event) + len;
	if (*unwoken < wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	*unwoken = 0;
	return BPF_RB_FORCE_WAKEUP;
}

#endif
