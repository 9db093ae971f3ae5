/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where the bodies the user side framed end (struct cs_skip), and the count
 * of event bytes that end is given in: shared by connstate.bpf.c (cleartext
 * reads and writes) and tls.bpf.c (TLS plaintext); the loader reuses the
 * map, so both define it from here.
 */
#ifndef CONNSTATE_SKIPS_H
#define CONNSTATE_SKIPS_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cs_skip);
} skips SEC(".maps");

/* After e went out for c: its bytes, as the user side's io_off counts
 * them (the stream's reads and writes, cleartext or TLS plaintext; never
 * ciphertext). */
static __always_inline void told_count(struct cs_conn *c, const struct cs_event *e)
{
	if (e->ret <= 0 || (e->flags & CS_F_TLS))
		return;
	if (e->type == CS_EV_READ || e->type == CS_EV_TLS_READ)
		c->told_bytes[0] += e->ret;
	else if (e->type == CS_EV_WRITE || e->type == CS_EV_TLS_WRITE)
		c->told_bytes[1] += e->ret;
}

/* Whether the next n bytes of c (socket sk) read (d 0) or written (d 1)
 * lie wholly inside a body the user side framed: then they need no copy.
 * Small calls cost no lookup; a connection with lost events is not sure. */
static __always_inline bool inside_body(struct cs_conn *c, __u64 sk, __u32 d, __u64 n)
{
	struct cs_skip *k;

	if (n < CS_SKIP_MIN || c->lost)
		return false;
	k = bpf_map_lookup_elem(&skips, &sk);
	return k && k->gen == c->gen && c->told_bytes[d & 1] + n <= k->until[d & 1];
}

#endif
