/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS library calls in progress, shared by connstate.bpf.c and tls.bpf.c
 * (the loader reuses the maps: the same definitions, from here). The
 * uprobes at a call's entry put it (tls.bpf.c), the syscall programs name
 * its socket, its return probe (or the thread's exit) drops it.
 */
#ifndef CONNSTATE_TLS_CALLS_H
#define CONNSTATE_TLS_CALLS_H

/* By pid_tgid (struct cs_tls_call): a syscall inside such a call names the
 * call's socket and is marked ciphertext. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cs_tls_call);
} tls_calls SEC(".maps");

/* How many tls_calls entries there are, counted by calls_put() and
 * calls_drop(): with none, no syscall can be inside a TLS library call,
 * and the socket programs skip the lookup (a server that links a TLS
 * library and serves cleartext makes no TLS call at all). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tls_inflight SEC(".maps");

static __always_inline __u64 *calls_count(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&tls_inflight, &zero);
}

/* Whether any thread is inside a TLS library call. */
static __always_inline bool calls_any(void)
{
	__u64 *n = calls_count();

	return n && *n;
}

/* Set this thread's call, counting it if it is new. */
static __always_inline void calls_put(__u64 id, struct cs_tls_call *tc)
{
	__u64 *n;

	if (bpf_map_update_elem(&tls_calls, &id, tc, BPF_NOEXIST)) {
		bpf_map_update_elem(&tls_calls, &id, tc, BPF_EXIST);
		return;
	}
	n = calls_count();
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Drop this thread's call, if it has one. */
static __always_inline void calls_drop(__u64 id)
{
	__u64 *n;

	if (bpf_map_delete_elem(&tls_calls, &id))
		return;
	n = calls_count();
	if (n)
		__sync_fetch_and_add(n, -1);
}

#endif
