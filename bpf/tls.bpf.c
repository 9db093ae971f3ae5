// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TLS plaintext from the server's OpenSSL (libssl.so.1.1 / .3, dynamically
 * linked), with uprobes: SSL_read/SSL_read_ex/SSL_write/SSL_write_ex give
 * the bytes; SSL_do_handshake/SSL_accept/SSL_shutdown only mark the
 * syscalls they make as ciphertext; SSL_free forgets the SSL*.
 *
 * Which socket an SSL* uses is learnt without OpenSSL's struct layout:
 * while a call runs, this thread's entry in "tls_calls" is set, and the
 * syscall programs of connstate.bpf.c note there the socket the call reads
 * or writes. A call that makes no syscall (its bytes were already
 * buffered) uses the socket its SSL* used last ("ssl_socks").
 *
 * Loaded as its own object by user/tls.c, sharing connstate.bpf.c's maps
 * events, conns (and its table), targets, stats and tls_calls
 * (bpf_map__reuse_fd): it is only loaded where a target maps a libssl.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "connstate.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the user side as in connstate.bpf.c (the same values). */
const volatile __u64 wakeup_bytes = 0;
#include "wake.h"
const volatile __u64 target_cgroup = 0;
const volatile __u32 target_cgroup_level = 0;
__u32 stopping = 0;

/* Plaintext of one SSL_read sent whole while a request may be arriving:
 * one TLS record at most. */
#define TLS_READ_PIECES 4

enum call_kind { TK_READ = 1, TK_READ_EX, TK_WRITE, TK_WRITE_EX, TK_OTHER };

struct ssl_key {
	__u64 ssl;
	__u32 tgid; /* SSL* values repeat across processes (nginx workers) */
	__u32 pad;
};

struct ssl_sock {
	__u64 sk;
	__u64 gen;
};

/* Where the plaintext frame walk of one call stands (see tls_walk). */
struct tls_walk {
	__u64 sk;
	__u64 buf;    /* the call's plaintext */
	__u64 n;      /* its length */
	__u64 ev_off; /* where its last event starts in it */
	__u64 head;   /* that event's copied head */
	__u64 pos;    /* the next frame header */
	__u64 pad;
};

struct scratch {
	struct cs_event e;
	__u8 data[CS_HEAD_CAP + CS_TAIL_CAP + CS_MAX_FRAMES * sizeof(struct cs_frame)];
	struct tls_walk w; /* not sent */
	__u64 unwoken; /* as in connstate.bpf.c's scratch */
};

/* Shared with connstate.bpf.c (reused by the loader): same definitions. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

#include "conns.h"

#include "tls_calls.h"
#include "skips.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/* Ours: the socket each SSL* used last. LRU: an SSL_free we missed (the
 * object freed before we attached) must not fill it for good. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, struct ssl_sock);
} ssl_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} tls_scratch SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline bool is_target(__u32 tgid)
{
	if (target_cgroup)
		return bpf_get_current_ancestor_cgroup_id(target_cgroup_level) == target_cgroup;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

static __always_inline int call_enter(void *ssl, void *buf, void *sizep, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cs_tls_call tc = { .ssl = (__u64)ssl, .buf = (__u64)buf, .sizep = (__u64)sizep,
				  .kind = kind };
	struct cs_tls_call *cur;

	if (stopping || !is_target(id >> 32))
		return 0;
	/* a handshake run from inside SSL_read/SSL_write belongs to it */
	cur = bpf_map_lookup_elem(&tls_calls, &id);
	if (cur && kind == TK_OTHER && cur->kind != TK_OTHER && cur->ssl == tc.ssl)
		return 0;
	calls_put(id, &tc);
	return 0;
}

static __always_inline bool submit(struct scratch *s, struct cs_conn *c)
{
	__u64 len = (__u64)s->e.head_len + s->e.tail_len +
		    (__u64)s->e.nframes * sizeof(struct cs_frame);

	if (len > sizeof(s->data))
		len = sizeof(s->data);
	s->e.lost = c->lost;
	s->e.gen = c->gen;
	if (bpf_ringbuf_output(&events, s, sizeof(s->e) + len, wake_flag(&s->unwoken, len))) {
		stat_inc(CS_STAT_LOST_EVENTS);
		__sync_fetch_and_add(&c->lost, 1);
		return false;
	}
	told_count(c, &s->e);
	stat_inc(CS_STAT_EVENTS);
	return true;
}

/* min(v, max), kept through the compiler so the verifier sees the bound */
static __always_inline __u32 clamped(__u64 v, __u32 max)
{
	asm volatile("" : "+r"(v));
	return v > max ? max : v;
}

/*
 * HTTP/2 over TLS. The kernel's frame walk (connstate.bpf.c) sees only
 * ciphertext here, but a plaintext call larger than the copied head (nginx
 * writes 16 KiB of 8 KiB DATA frames per SSL_write) would put frame headers
 * into the hole. So the plaintext is walked here, by the same rules: the
 * first plaintext read decides (the whole client preface at its start), the
 * place of the next frame header is carried across calls per direction in
 * c->h2_rem / h2_hdr / h2_hlen (unused by the ciphertext walk, which never
 * walks a TLS socket), and headers the copy misses are appended to the
 * call's last event as struct cs_frame records. Writes made before that
 * first read (a server's SETTINGS) are walked too, in case it says yes.
 */
static const char h2_preface[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static __always_inline __u32 frame_len(const __u8 *h)
{
	return (__u32)h[0] << 16 | (__u32)h[1] << 8 | h[2];
}

static __always_inline bool plain_undecided(const struct cs_conn *c)
{
	return c->h2 == CS_H2_UNDECIDED || c->h2 == CS_H2_NO;
}

/* The first plaintext read of c, at buf (n bytes): the preface or not. */
static __always_inline void tls_h2_decide(struct cs_conn *c, __u64 buf, __u64 n)
{
	__u64 got[3], want[3];

	c->h2 = CS_H2_TLS_NO;
	if (n < sizeof(h2_preface) || bpf_probe_read_user(got, sizeof(got), (void *)buf))
		return;
	__builtin_memcpy(want, h2_preface, sizeof(want));
	if (got[0] != want[0] || got[1] != want[1] || got[2] != want[2])
		return;
	c->h2 = CS_H2_TLS;
	c->h2_rem[0] = sizeof(h2_preface);
	c->h2_hlen[0] = 0;
}

/* The walk lost its place: say so in the event, walk no more. */
static __always_inline void tls_walk_lost(struct scratch *s, struct cs_conn *c)
{
	c->h2 = CS_H2_TLS_NO;
	s->e.flags |= CS_F_WALK_CUT;
}

/*
 * One step of the walk that s->w describes: one frame header passed (and
 * recorded in s's event if the event starts before it and its head does
 * not hold it whole), or the call's end reached. Returns 1 when the walk
 * of this call is over. A global function: verified once, not per step.
 */
__noinline int tls_walk_step(__u32 dir)
{
	__u32 zero = 0, k;
	struct scratch *s = bpf_map_lookup_elem(&tls_scratch, &zero);
	struct cs_conn *c;
	__u8 hdr[16] = {};
	__u64 pos, n, rec;
	__u32 d;

	if (!s)
		return 1;
	c = conn_find(s->w.sk);
	if (!c)
		return 1;
	pos = s->w.pos;
	n = s->w.n;
	d = dir & 1; /* the argument is used: the compiler must pass it */
	if (pos >= n) {
		c->h2_rem[d] = pos - n;
		return 1;
	}
	if (pos + CS_FRAME_HDR > n) {
		/* cut by this call's end: keep what there is */
		if (bpf_probe_read_user(c->h2_hdr[d], clamped(n - pos, 8), (void *)(s->w.buf + pos)))
			goto lost;
		c->h2_hlen[d] = n - pos;
		c->h2_rem[d] = 0;
		return 1;
	}
	if (bpf_probe_read_user(hdr, CS_FRAME_HDR, (void *)(s->w.buf + pos)))
		goto lost;
	if (pos >= s->w.ev_off && pos + CS_FRAME_HDR > s->w.ev_off + s->w.head) {
		k = s->e.nframes;
		if (k >= CS_MAX_FRAMES)
			goto lost;
		rec = clamped((__u64)s->e.head_len + s->e.tail_len, CS_HEAD_CAP + CS_TAIL_CAP) +
		      (__u64)(k & (CS_MAX_FRAMES - 1)) * sizeof(struct cs_frame);
		((struct cs_frame *)(s->data + rec))->off = (__u32)(pos - s->w.ev_off);
		__builtin_memcpy(((struct cs_frame *)(s->data + rec))->hdr, hdr, CS_FRAME_HDR);
		s->e.nframes = k + 1;
	}
	s->w.pos = pos + CS_FRAME_HDR + frame_len(hdr);
	return 0;
lost:
	tls_walk_lost(s, c);
	return 1;
}

/*
 * Walks the frame headers of one call's n plaintext bytes at buf in
 * direction d (0 read, 1 write); its last event s starts at ev_off of them
 * and holds head copied bytes from there.
 */
static __always_inline void tls_walk(struct scratch *s, struct cs_conn *c, __u64 sk, __u32 d,
				     __u64 buf, __u64 n, __u64 ev_off, __u64 head)
{
	__u8 hdr[16] = {}, len[3];
	__u32 hlen = c->h2_hlen[d & 1], want, i;
	__u64 pos;

	if (hlen) {
		/* a header cut by the last call's end: its first hlen bytes are
		 * kept, the rest starts this call */
		if (hlen >= CS_FRAME_HDR)
			return tls_walk_lost(s, c);
		want = CS_FRAME_HDR - hlen;
		if (n < want) {
			if (bpf_probe_read_user(c->h2_hdr[d & 1] + (hlen & 7), clamped(n, 7),
						(void *)buf))
				return tls_walk_lost(s, c);
			c->h2_hlen[d & 1] = hlen + n;
			return;
		}
		if (bpf_probe_read_user(hdr, clamped(want, 8), (void *)buf))
			return tls_walk_lost(s, c);
		/* the length: its first hlen bytes kept, the rest in hdr */
		len[0] = c->h2_hdr[d & 1][0];
		len[1] = hlen >= 2 ? c->h2_hdr[d & 1][1] : hdr[0];
		len[2] = hlen >= 3 ? c->h2_hdr[d & 1][2] : hlen == 2 ? hdr[0] : hdr[1];
		c->h2_hlen[d & 1] = 0;
		pos = want + frame_len(len);
	} else {
		pos = c->h2_rem[d & 1];
	}
	s->w.sk = sk;
	s->w.buf = buf;
	s->w.n = n;
	s->w.ev_off = ev_off;
	s->w.head = head;
	s->w.pos = pos;
	for (i = 0; i < CS_WALK_STEPS; i++)
		if (tls_walk_step(d))
			return;
	/* more frames than the walk takes in one call */
	tls_walk_lost(s, c);
}

/* Sends n plaintext bytes at buf as TLS_READ/TLS_WRITE events of c. */
static __always_inline void send_plain(struct cs_conn *c, __u64 sk, __u16 type, __u64 buf,
				       __u64 n)
{
	__u32 zero = 0, take;
	struct scratch *s = bpf_map_lookup_elem(&tls_scratch, &zero);
	__u64 id = bpf_get_current_pid_tgid();
	__u64 buf0 = buf, n0 = n;
	__u32 d = type == CS_EV_TLS_WRITE;
	int i;

	if (!s)
		return;
	__builtin_memset(&s->e, 0, sizeof(s->e));
	s->e.type = type;
	s->e.sk = sk;
	s->e.tgid = id >> 32;
	s->e.tid = (__u32)id;
	s->e.ts_ns = bpf_ktime_get_ns();
	/* inside a body the user side framed: counted, not copied */
	if (c->h2 == CS_H2_TLS_NO && inside_body(c, sk, d, n)) {
		s->e.ret = n;
		s->e.flags = CS_F_UNCOPIED;
		stat_inc(CS_STAT_UNCOPIED);
		submit(s, c);
		return;
	}
	/* a header block must not fall into a hole (see CS_HEAD_BLOCK_MAX) */
	if (type == CS_EV_TLS_READ && c->rd_since_wr < CS_HEAD_BLOCK_MAX) {
		for (i = 0; i < TLS_READ_PIECES - 1; i++) {
			if (n <= CS_HEAD_CAP ||
			    bpf_probe_read_user(s->data, CS_HEAD_CAP, (void *)buf))
				break;
			s->e.ret = CS_HEAD_CAP;
			s->e.head_len = CS_HEAD_CAP;
			submit(s, c);
			buf += CS_HEAD_CAP;
			n -= CS_HEAD_CAP;
		}
	}
	take = clamped(n, CS_HEAD_CAP);
	s->e.ret = n;
	s->e.head_len = 0;
	s->e.tail_len = 0;
	if (!bpf_probe_read_user(s->data, take, (void *)buf))
		s->e.head_len = take;
	if (n > CS_HEAD_CAP && s->e.head_len &&
	    !bpf_probe_read_user(s->data + CS_HEAD_CAP, CS_TAIL_CAP, (void *)(buf + n - CS_TAIL_CAP)))
		s->e.tail_len = CS_TAIL_CAP;
	if (!d && plain_undecided(c))
		tls_h2_decide(c, buf0, n0);
	if (c->h2 == CS_H2_TLS || plain_undecided(c))
		tls_walk(s, c, sk, d, buf0, n0, n0 - n, s->e.head_len);
	submit(s, c);
}

/* Sends n plaintext bytes a call read or wrote on socket sk (generation gen)
 * as TLS_READ/TLS_WRITE events of its connection, if we track it. */
static __always_inline void deliver(__u64 sk, __u64 gen, bool is_read, __u64 buf, __u64 n)
{
	struct cs_conn *c = sk ? conn_find(sk) : NULL;

	if (!c || c->gen != gen) {
		/* not a connection we track (a client connection of the
		 * server, or one accepted before we attached whose SSL* we
		 * never saw use its socket): counted, never guessed */
		stat_inc(CS_STAT_TLS_UNTIED);
		return;
	}
	if (c->unannounced) {
		/* its ACCEPT was lost: the user side could not place these
		 * bytes; the loss makes it uncertain instead */
		__sync_fetch_and_add(&c->lost, 1);
		return;
	}
	if (is_read) {
		send_plain(c, sk, CS_EV_TLS_READ, buf, n);
		c->rd_since_wr = clamped(c->rd_since_wr + n, CS_HEAD_BLOCK_MAX);
	} else {
		send_plain(c, sk, CS_EV_TLS_WRITE, buf, n);
		c->rd_since_wr = 0;
	}
}

static __always_inline int call_exit(struct pt_regs *ctx, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_key key = { .tgid = id >> 32 };
	struct cs_tls_call tc, *cur;
	struct ssl_sock *known, now;
	__u64 n = 0;
	int rc;

	if (stopping)
		return 0;
	cur = bpf_map_lookup_elem(&tls_calls, &id);
	if (!cur)
		return 0;
	/* the end of a handshake nested in SSL_read: the read goes on */
	if (kind == TK_OTHER && cur->kind != TK_OTHER)
		return 0;
	tc = *cur;
	calls_drop(id);
	key.ssl = tc.ssl;
	if (tc.sk) {
		now.sk = tc.sk;
		now.gen = tc.gen;
		bpf_map_update_elem(&ssl_socks, &key, &now, BPF_ANY);
	} else if ((known = bpf_map_lookup_elem(&ssl_socks, &key))) {
		tc.sk = known->sk;
		tc.gen = known->gen;
	}
	if (kind == TK_OTHER)
		return 0;
	rc = (int)PT_REGS_RC(ctx);
	if (kind == TK_READ || kind == TK_WRITE) {
		if (rc <= 0)
			return 0;
		n = rc;
	} else {
		if (rc != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)tc.sizep) || !n)
			return 0;
	}
	deliver(tc.sk, tc.gen, kind == TK_READ || kind == TK_READ_EX, tc.buf, n);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return call_enter(ssl, buf, NULL, TK_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit)
{
	return call_exit(ctx, TK_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, void *readbytes)
{
	return call_enter(ssl, buf, readbytes, TK_READ_EX);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit)
{
	return call_exit(ctx, TK_READ_EX);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf, int num)
{
	return call_enter(ssl, buf, NULL, TK_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit)
{
	return call_exit(ctx, TK_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, void *written)
{
	return call_enter(ssl, buf, written, TK_WRITE_EX);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit)
{
	return call_exit(ctx, TK_WRITE_EX);
}

/* SSL_do_handshake, SSL_accept, SSL_shutdown: their syscalls are ciphertext,
 * and tie the SSL* to its socket before its first SSL_read. */
SEC("uprobe")
int BPF_KPROBE(ssl_other_enter, void *ssl)
{
	return call_enter(ssl, NULL, NULL, TK_OTHER);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_other_exit)
{
	return call_exit(ctx, TK_OTHER);
}

SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	struct ssl_key key = { .ssl = (__u64)ssl, .tgid = bpf_get_current_pid_tgid() >> 32 };

	if (!stopping && is_target(key.tgid))
		bpf_map_delete_elem(&ssl_socks, &key);
	return 0;
}

/*
 * Go's crypto/tls, Go 1.17+ register ABI on amd64: the receiver is in RAX,
 * a []byte argument in RBX (pointer) and RCX (length), the int result in
 * RAX, and R14 holds the running goroutine (g). Go moves goroutine stacks,
 * so there are no uretprobes here: user/tls_go.c puts a uprobe on every RET
 * of the function instead (the *_ret programs).
 *
 * A goroutine may park in the netpoller inside a call and resume on another
 * thread, so a call's state is keyed by goroutine ("go_calls"). The
 * thread-keyed tls_calls entry that connstate.bpf.c's syscall programs mark
 * and fill is made at the call's entry, dropped where the goroutine parks
 * (internal/poll's call of pollDesc.wait, "go_park") and made again where
 * it resumes ("go_resume"): so the syscalls the goroutine makes inside the
 * call, and no other goroutine's, are marked ciphertext and name the socket.
 */
#define TK_GO 6

struct go_key {
	__u64 g;
	__u32 tgid; /* g values repeat across processes */
	__u32 pad;
};

struct go_call {
	__u64 conn; /* the *tls.Conn */
	__u64 buf;
	__u64 sk; /* learnt from the call's syscalls so far */
	__u64 gen;
	__u32 kind;
	__u32 sent; /* a Write told at its entry */
};

/* LRU: a call whose RET we never see (a panic unwinding through it, or
 * connstate attached while it ran) must not fill it for good. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* Drops this thread's tls_calls entry if a goroutine's call made it; the
 * socket its syscalls named goes to that call first. */
static __always_inline void go_unbind(__u64 id)
{
	struct cs_tls_call *tc = bpf_map_lookup_elem(&tls_calls, &id);
	struct go_key k = { .tgid = id >> 32 };
	struct go_call *call;

	if (!tc || tc->kind != TK_GO)
		return;
	k.g = tc->sizep;
	if (tc->sk && (call = bpf_map_lookup_elem(&go_calls, &k)) && call->conn == tc->ssl) {
		call->sk = tc->sk;
		call->gen = tc->gen;
	}
	calls_drop(id);
}

/* The goroutine g runs call on this thread: its syscalls belong to it. */
static __always_inline void go_bind(__u64 id, __u64 g, const struct go_call *call)
{
	struct cs_tls_call tc = { .ssl = call->conn, .sizep = g, .sk = call->sk, .gen = call->gen,
				  .kind = TK_GO };

	calls_put(id, &tc);
}

static __always_inline int go_enter(struct pt_regs *ctx, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key k = { .g = ctx->r14, .tgid = id >> 32 };
	struct go_call call = { .conn = ctx->ax, .buf = ctx->bx, .kind = kind }, *cur;

	if (stopping || !is_target(k.tgid))
		return 0;
	cur = bpf_map_lookup_elem(&go_calls, &k);
	/* a handshake run from inside Read/Write belongs to it */
	if (cur && kind == TK_OTHER && cur->kind != TK_OTHER && cur->conn == call.conn)
		return 0;
	/*
	 * An HTTP/2 connection's Write is told here, at its entry: Go's HTTP/2
	 * server writes from one goroutine and reads from another, so a RET
	 * probe may run after the client has answered the bytes and the server
	 * has read that answer (the next stream's HEADERS would come before the
	 * last one's END_STREAM). Its length is the slice's (RCX): Go's Write
	 * writes it all or fails the connection, which then closes its streams
	 * (idle, closed) either way. HTTP/1 reads and writes on one goroutine;
	 * its Writes stay at RET, where a failed one is not told as written
	 * (a response cut by the client is active, closed).
	 */
	if (kind == TK_WRITE && (__s64)ctx->cx > 0) {
		struct ssl_key key = { .ssl = call.conn, .tgid = k.tgid };
		struct ssl_sock *known = bpf_map_lookup_elem(&ssl_socks, &key);
		struct cs_conn *c = known ? conn_find(known->sk) : NULL;

		if (c && c->gen == known->gen && c->h2 == CS_H2_TLS) {
			deliver(known->sk, known->gen, false, call.buf, ctx->cx);
			call.sent = 1;
		}
	}
	go_unbind(id);
	bpf_map_update_elem(&go_calls, &k, &call, BPF_ANY);
	go_bind(id, k.g, &call);
	return 0;
}

static __always_inline int go_ret(struct pt_regs *ctx, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key k = { .g = ctx->r14, .tgid = id >> 32 };
	struct ssl_key key = { .tgid = id >> 32 };
	__s64 n = (__s64)ctx->ax;
	struct ssl_sock *known, now;
	struct go_call call, *cur;

	if (stopping)
		return 0;
	cur = bpf_map_lookup_elem(&go_calls, &k);
	/* another kind: the end of a handshake nested in Read/Write */
	if (!cur || cur->kind != kind)
		return 0;
	go_unbind(id);
	call = *cur;
	bpf_map_delete_elem(&go_calls, &k);
	key.ssl = call.conn;
	if (call.sk) {
		now.sk = call.sk;
		now.gen = call.gen;
		bpf_map_update_elem(&ssl_socks, &key, &now, BPF_ANY);
	} else if ((known = bpf_map_lookup_elem(&ssl_socks, &key))) {
		/* its bytes were already decrypted and buffered: no syscall */
		call.sk = known->sk;
		call.gen = known->gen;
	}
	if (kind == TK_OTHER || n <= 0 || call.sent)
		return 0;
	deliver(call.sk, call.gen, kind == TK_READ, call.buf, n);
	return 0;
}

SEC("uprobe")
int go_read_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, TK_READ);
}

SEC("uprobe")
int go_read_ret(struct pt_regs *ctx)
{
	return go_ret(ctx, TK_READ);
}

SEC("uprobe")
int go_write_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, TK_WRITE);
}

SEC("uprobe")
int go_write_ret(struct pt_regs *ctx)
{
	return go_ret(ctx, TK_WRITE);
}

/* (*Conn).serverHandshake: its syscalls are ciphertext and tie the conn to
 * its socket; it runs once per connection, not on every Read. */
SEC("uprobe")
int go_hs_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, TK_OTHER);
}

SEC("uprobe")
int go_hs_ret(struct pt_regs *ctx)
{
	return go_ret(ctx, TK_OTHER);
}

/* internal/poll.(*FD).Read/Write, at the call that parks the goroutine
 * until the socket is ready: this thread will run other goroutines. */
SEC("uprobe")
int go_park(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (stopping || !is_target(id >> 32))
		return 0;
	go_unbind(id);
	return 0;
}

/* ... and right after it: the goroutine runs again, maybe on another thread. */
SEC("uprobe")
int go_resume(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key k = { .g = ctx->r14, .tgid = id >> 32 };
	struct go_call *call;

	if (stopping || !is_target(k.tgid))
		return 0;
	call = bpf_map_lookup_elem(&go_calls, &k);
	if (!call)
		return 0;
	go_unbind(id);
	go_bind(id, k.g, call);
	return 0;
}
