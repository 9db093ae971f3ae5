/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where the kernel keeps its entry of each tracked connection, shared by
 * connstate.bpf.c and tls.bpf.c (the loader reuses the maps).
 *
 * The hash map "conns" cost a handshake's insert about 320 ns and a
 * close's delete about 140 ns on our 2-vCPU VM under the sock tracepoints:
 * the handshake runs in a softirq (over loopback, on the client's CPU), the
 * close in the server's task, so the preallocated elements a close frees
 * go to one CPU's free list and every insert takes one from another CPU's.
 * Under the sock tracepoints (Linux 6.2+) the entries live instead in two
 * arrays allocated whole (struct cs_conn_row in connstate.h): a lookup
 * reads one row (two if the socket is not in its first), an insert claims
 * a free way with a compare-and-swap, a delete is a store. The keys are
 * the sockets' addresses as numbers (ptr_bits()). Other modes keep the
 * hash: 5.10 has no compare-and-swap (BPF atomics beyond add came in
 * 5.12), so only the sock tracepoints' programs, which 5.10 never loads,
 * hold one and insert into the table (conn_put()'s table argument).
 */
#ifndef CONNSTATE_CONNS_H
#define CONNSTATE_CONNS_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* resized by the loader */
	__type(key, __u64);
	__type(value, struct cs_conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* rows: resized by the loader */
	__type(key, __u32);
	__type(value, struct cs_conn_row);
} conn_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* rows * CS_CONN_WAYS: resized by the loader */
	__type(key, __u32);
	__type(value, struct cs_conn);
} conn_vals SEC(".maps");

/* Set by the loader: the table is in use (the sock tracepoints), and its
 * rows. */
const volatile bool conn_table = false;
const volatile __u32 conn_rows = 1;

/* A socket's address with the low bit set: a way claimed, its entry being
 * written (no lookup matches it, no insert takes it). */
#define CONN_CLAIMED 1

/* The way of socket key in row, or CS_CONN_WAYS if it has none. */
static __always_inline __u32 conn_way(const struct cs_conn_row *row, __u64 key)
{
	__u32 i;

#pragma unroll
	for (i = 0; i < CS_CONN_WAYS; i++)
		if (row->key[i] == key)
			break;
	return i;
}

/* The entry of socket key in row r of the table, or NULL. */
static __always_inline struct cs_conn *conn_row_find(__u32 r, __u64 key)
{
	struct cs_conn_row *row = bpf_map_lookup_elem(&conn_keys, &r);
	__u32 i, idx;

	if (!row || (i = conn_way(row, key)) >= CS_CONN_WAYS)
		return NULL;
	idx = r * CS_CONN_WAYS + i;
	return bpf_map_lookup_elem(&conn_vals, &idx);
}

/* The entry of socket key, or NULL. */
static __always_inline struct cs_conn *conn_find(__u64 key)
{
	struct cs_conn *c;

	if (!conn_table)
		return bpf_map_lookup_elem(&conns, &key);
	c = conn_row_find(cs_conn_row_of(key, conn_rows, 0), key);
	return c ?: conn_row_find(cs_conn_row_of(key, conn_rows, 1), key);
}

/* Drops the entry of socket key, if any. */
static __always_inline void conn_remove(__u64 key)
{
	struct cs_conn_row *row;
	__u32 r, i, second;

	if (!conn_table) {
		bpf_map_delete_elem(&conns, &key);
		return;
	}
	for (second = 0; second < 2; second++) {
		r = cs_conn_row_of(key, conn_rows, second);
		row = bpf_map_lookup_elem(&conn_keys, &r);
		if (!row)
			return;
		i = conn_way(row, key);
		if (i < CS_CONN_WAYS) {
			row->key[i] = 0;
			return;
		}
	}
}

/* Claims a free way of row r for key and writes *init there; the entry, or
 * NULL if the row is full. */
static __always_inline struct cs_conn *conn_row_claim(__u32 r, __u64 key,
						       const struct cs_conn *init)
{
	struct cs_conn_row *row = bpf_map_lookup_elem(&conn_keys, &r);
	struct cs_conn *c;
	__u32 i, idx;

	if (!row)
		return NULL;
#pragma unroll
	for (i = 0; i < CS_CONN_WAYS; i++) {
		if (row->key[i] ||
		    __sync_val_compare_and_swap(&row->key[i], 0, key | CONN_CLAIMED))
			continue;
		idx = r * CS_CONN_WAYS + i;
		c = bpf_map_lookup_elem(&conn_vals, &idx);
		if (!c) {
			row->key[i] = 0;
			return NULL;
		}
		*c = *init;
		/* an exchange: the entry is written before anyone finds it */
		__sync_lock_test_and_set(&row->key[i], key);
		return c;
	}
	return NULL;
}

/*
 * Puts *init as socket key's entry (replace: over an entry it has; else
 * that entry is returned as it is); the entry, or NULL if there is no
 * room. table: a constant, true only in the sock tracepoints' programs
 * (the only ones that may hold a compare-and-swap, and the only ones
 * that run while the table is in use).
 *
 * In the table, a handshake's entry (replace) is put before any call can
 * use its socket: nothing else puts the same socket at once. Two threads
 * that adopt one socket at once could: adoptions take the lock of the
 * socket's first row, so the second finds the first's entry.
 */
static __always_inline struct cs_conn *conn_put(__u64 key, const struct cs_conn *init,
						bool replace, bool table, bool *made)
{
	struct cs_conn_row *row;
	struct cs_conn *c;
	__u32 r0, i;

	*made = true;
	if (!table) {
		if (bpf_map_update_elem(&conns, &key, init, replace ? BPF_ANY : BPF_NOEXIST)) {
			if (replace)
				return NULL;
			*made = false; /* another thread put it first, or no room */
		}
		return bpf_map_lookup_elem(&conns, &key);
	}
	r0 = cs_conn_row_of(key, conn_rows, 0);
	row = bpf_map_lookup_elem(&conn_keys, &r0);
	if (!row)
		return NULL;
	/* held for a few loads and stores: a holder interrupted on this CPU
	 * makes this one give up (counted as no room) rather than spin */
	for (i = 0; !replace && i < 64; i++)
		if (!__sync_val_compare_and_swap(&row->lock, 0, 1))
			break;
	if (i == 64)
		return NULL;
	c = conn_find(key);
	if (c && replace)
		*c = *init;
	else if (c)
		*made = false;
	else
		c = conn_row_claim(r0, key, init) ?:
		    conn_row_claim(cs_conn_row_of(key, conn_rows, 1), key, init);
	if (!replace)
		__sync_lock_test_and_set(&row->lock, 0);
	return c;
}

#endif
