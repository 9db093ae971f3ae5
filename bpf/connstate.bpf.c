// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connstate's kernel side: reports facts about the TCP connections that the
 * target processes accepted (accepted, read N bytes starting with these,
 * wrote, closed, TCP state changed). It decides nothing about HTTP.
 *
 * Tracepoints by default: kprobes and fentry are not available everywhere
 * we run; the socket hooks at the end of this file (fentry/fexit) are used
 * where they are. Every syscall program checks the caller's tgid against
 * "targets" before any other work, because attaching a syscall tracepoint
 * makes every syscall on the host run it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "connstate.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define MSG_PEEK 2
#define EAGAIN 11
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LISTEN 10
#define RCV_SHUTDOWN 1
#define SEND_SHUTDOWN 2

/* iovecs walked per readv/writev/recvmsg/sendmsg; the rest is counted. */
#define CS_MAX_IOV 8
/* iovecs the HTTP/2 frame walk follows: nginx writes a 9-byte frame header
 * and an 8 KiB payload per DATA frame, two iovecs each */
#define CS_WALK_IOV 64
/* the fd of an event from a hook that does not know it (the user side
 * does not use it) */
#define CS_NO_FD 0xffffffff

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Waking the reader costs the traced process microseconds per event (an
 * irq_work and a context switch), more than all our other work. So events
 * wake it only once this many bytes were written by one CPU since that CPU
 * last woke it (counted in its scratch: asking the ring how much waits,
 * bpf_ringbuf_query, cost about 100 ns an event here); otherwise the reader
 * finds them at its next poll timeout. The loader sets it to a share of the
 * ring per CPU; 0 wakes on every event.
 */
const volatile __u64 wakeup_bytes = 0;
#include "wake.h"

/*
 * Set by the user side (through the mmapped .bss) when it stops, before it
 * detaches anything: every program checks it first, so all of them stop
 * seeing at one instant. Detaching takes a while and goes program by
 * program; without this, reads stopped being seen before accepts did and
 * the last second's connections came out without their requests.
 */
__u32 stopping = 0;

/* K_KIOV: an iovec array in kernel memory (the socket hooks see the
 * kernel's copy of it), pointing into user memory like K_IOV's. */
/* K_UNCOPIED: set at the exit, for a read or write wholly inside a body the
 * user side framed (body_uncopied()): counted, nothing copied. */
enum stash_kind { K_BUF, K_IOV, K_MSG, K_SENDFILE, K_CLOSE, K_KIOV, K_UNCOPIED };

/* Set by the loader when the socket hooks are loaded instead of the
 * syscall programs: then every iovec array is the kernel's copy (K_KIOV),
 * else every one is in user memory (K_IOV). A constant, so the verifier
 * walks only the loaded mode's read in copy_iov's loop: a runtime choice
 * there doubled its states and took tp_io_exit past the 1M-instruction
 * limit of 5.10's and 6.1's verifiers. */
const volatile bool socket_hooks = false;

/* One struct iovec of an iovec array (K_IOV or K_KIOV, by the mode). */
static __always_inline long read_iovec(struct iovec *iov, __u64 addr)
{
	if (socket_hooks)
		return bpf_probe_read_kernel(iov, sizeof(*iov), (void *)addr);
	return bpf_probe_read_user(iov, sizeof(*iov), (void *)addr);
}

/* Arguments saved at sys_enter for the matching sys_exit of one thread. */
struct stash {
	__u64 sk;
	__u64 ptr; /* buffer, iovec array or msghdr in user memory */
	__u64 cnt; /* iovec count for K_IOV */
	__u64 gen; /* the connection's gen, for K_CLOSE */
	__u32 fd;
	__u8 kind;
	__u8 dir; /* CS_EV_READ or CS_EV_WRITE */
	__u8 tls; /* made inside a TLS library call: ciphertext */
	__u8 live; /* saved by an enter, not yet taken by its exit */
};

/* An event being assembled: room for a full head copied at any offset
 * below CS_HEAD_CAP, which keeps the verifier's bounds simple. */
struct walk {
	__u64 base[CS_WALK_IOV]; /* the payload's pieces in user memory */
	__u64 len[CS_WALK_IOV];
	__u32 n;
	__u8 hdr[32];		 /* a frame header being read (room past 9 for the verifier) */
	/* where the walk of the current syscall stands */
	__u64 pos, total, ev_off, ps; /* ps: offset of piece pi */
	__u32 pi, d;
};

struct scratch {
	struct cs_event e;
	/* head, tail, then the HTTP/2 frame records (struct cs_frame) */
	__u8 data[2 * CS_HEAD_CAP + CS_TAIL_CAP];
	struct walk w; /* not sent */
	__u64 unwoken; /* bytes this CPU wrote since it last woke the reader */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* Targets that exited (tp_exit took them out of targets), by tgid: their
 * start time. The exit closes their files after the exit tracepoint, and a
 * connection no call had touched yet is claimed at that close (under the
 * sock tracepoints). LRU: nothing else removes them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} exited SEC(".maps");

#include "conns.h"

/* Ports the targets listen on: a socket of a target with one of these as
 * its local port was accepted before we attached, and is adopted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} listen_ports SEC(".maps");

/* Every local port a tracked connection can have (the targets' listening
 * ports, set by the user side and, under the sock tracepoints, at a
 * target's listen(); every accepted socket's, set at accept): a cheap first
 * filter for the hooks that run for every TCP socket on the host, before
 * the hash lookups. Never cleared: a port too many costs a lookup, a port
 * too few would lose a connection. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} port_seen SEC(".maps");

/* Set by the loader when the sock tracepoints follow reads and writes, and
 * no syscall is hooked at all: accept, close and splice are found at the
 * socket (conn_pending(), file_released(), seq_check()). */
const volatile bool socktp_hooks = false;

/* Whether a socket with this local port may be a tracked connection. A
 * socket's inet_num (skc_num) is zeroed when it reaches CLOSE
 * (inet_put_port), and the reads, closes and destroy of a reset connection
 * come after that: port 0 always passes. */
static __always_inline bool port_maybe_tracked(__u16 port)
{
	__u32 idx = port;
	__u8 *v;

	if (!port)
		return true;
	v = bpf_map_lookup_elem(&port_seen, &idx);
	return v && *v;
}

static __always_inline void port_mark(__u16 port)
{
	__u32 idx = port;
	__u8 *v = bpf_map_lookup_elem(&port_seen, &idx);

	if (v)
		*v = 1;
}

/* One entry per thread (pid_tgid), reused: an exit marks it taken instead
 * of deleting it, and the thread's exit deletes it (tp_exit). A hash insert
 * and delete per syscall cost about 230 ns of the 1.1 us an enter and exit
 * of a tracked read or write took (README, Cost). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct stash);
} stashes SEC(".maps");

/* Saves st as thread id's syscall in progress; false if the map is full. */
static __always_inline bool stash_put(__u64 id, struct stash *st)
{
	struct stash *sp = bpf_map_lookup_elem(&stashes, &id);

	st->live = 1;
	if (sp) {
		/* only this thread writes its entry */
		*sp = *st;
		return true;
	}
	return !bpf_map_update_elem(&stashes, &id, st, BPF_ANY);
}

/* Takes thread id's syscall in progress into *st; false if there is none. */
static __always_inline bool stash_take(__u64 id, struct stash *st)
{
	struct stash *sp = bpf_map_lookup_elem(&stashes, &id);

	if (!sp || !sp->live)
		return false;
	*st = *sp;
	sp->live = 0;
	return true;
}

/* Connections whose end event was lost (see struct cs_end), keyed by gen:
 * the user side ends them once, instead of printing them open forever. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct cs_end);
} unseen_ends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct scratch);
} scratches SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* TLS library calls in progress: filled and read by tls.bpf.c; here a
 * syscall inside one names the call's socket (note_tls_call()), and a
 * thread's exit drops its call (tls_call_gone()). */
#include "tls_calls.h"
#include "skips.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader */
} events SEC(".maps");

/* Before 6.13, whose "fs: port files to file_ref" replaced f_count with f_ref */
struct file___old {
	atomic_long_t f_count;
};

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/* --cgroup: the cgroup v2 id whose processes (and their descendant
 * cgroups') are the targets, and its depth; 0 means "targets" decides. */
const volatile __u64 target_cgroup = 0;
const volatile __u32 target_cgroup_level = 0;

/* bpf_get_current_pid_tgid()'s value, from the current task in hand: loads,
 * not a helper call */
static __always_inline __u64 task_pid_tgid(struct task_struct *task)
{
	return (__u64)task->tgid << 32 | (__u32)task->pid;
}

static __always_inline bool is_target(__u32 tgid)
{
	if (target_cgroup)
		return bpf_get_current_ancestor_cgroup_id(target_cgroup_level) == target_cgroup;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/* Set by the loader where bpf_get_current_task_btf() exists (5.11+): the
 * walk to the descriptor table is then plain loads, not helper calls. The
 * verifier drops the branch a kernel cannot take. */
const volatile bool have_task_btf = false;

/* The current task's file at descriptor fd; task: the current task if the
 * caller has it from bpf_get_current_task_btf() (NULL: get it here). */
static __always_inline struct file *fd_to_file_of(struct task_struct *task, __u32 fd)
{
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;

	if (have_task_btf) {
		fdt = (task ?: bpf_get_current_task_btf())->files->fdt;
		if (fd >= fdt->max_fds)
			return NULL;
		fds = fdt->fd;
	} else {
		struct task_struct *task = (void *)bpf_get_current_task();

		fdt = BPF_CORE_READ(task, files, fdt);
		if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
			return NULL;
		fds = BPF_CORE_READ(fdt, fd);
	}
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline struct file *fd_to_file(__u32 fd)
{
	return fd_to_file_of(NULL, fd);
}

static __always_inline struct sock *file_to_sock(struct file *file)
{
	struct socket *sock;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

static __always_inline bool is_inet_tcp(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return (family == AF_INET || family == AF_INET6) &&
	       BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

/* v & mask where v <= mask already: the mask shows the verifier the bound,
 * and the empty asm keeps the compiler from dropping it. */
static __always_inline __u32 bounded(__u32 v, __u32 mask)
{
	asm volatile("" : "+r"(v));
	return v & mask;
}

/* min(v, max), done after an empty asm so the compiler keeps the check the
 * verifier needs even where it can prove it redundant. */
static __always_inline __u32 clamped(__u64 v, __u32 max)
{
	asm volatile("" : "+r"(v));
	return v > max ? max : v;
}

/* A BTF pointer's value as a plain number, for the global functions,
 * which take scalars only. It costs a helper call (about 35 ns): the socket
 * hooks call it on the way into the HTTP/2 walk alone, and ptr_bits() below
 * once. */
static __always_inline __u64 ptr_value(const void *p)
{
	__u64 r = 0;

	bpf_probe_read_kernel(&r, sizeof(r), &p);
	return r;
}

/*
 * A BTF pointer's value as a plain number without a helper call, for the
 * connection table's hash (bpf/conns.h): the verifier lets root subtract
 * one pointer from another and calls the difference a number. So the
 * socket's distance from a global of ours, plus that global's address
 * (learnt once through ptr_value()).
 */
__u64 anchor_addr = 0;

static __always_inline __u64 ptr_bits(const void *p)
{
	__u64 v = (__u64)p, base = anchor_addr;

	if (!base) {
		base = ptr_value(&anchor_addr);
		anchor_addr = base;
	}
	/* pointer minus pointer, in this order (the compiler may not turn
	 * it into base - anchor + p, a pointer the verifier refuses) */
	asm volatile("%0 -= %1" : "+r"(v) : "r"(&anchor_addr));
	return v + base;
}

/* The key of socket sk in the connection store: the sock tracepoints' table
 * hashes it (a number); the hash map takes the pointer as it is. table: a
 * constant, true in the sock tracepoints' programs. */
static __always_inline __u64 sk_key(struct sock *sk, bool table)
{
	return table ? ptr_bits(sk) : (__u64)sk;
}

/* Slot 0 holds the event being built; slot 1 the held reads sent ahead of it. */
static __always_inline struct scratch *scratch_get(__u32 slot)
{
	return bpf_map_lookup_elem(&scratches, &slot);
}

/* The head of struct sock_common as 5.10 to 6.18 lay it out: fill_addrs()
 * reads it at once where CO-RE finds it so. */
struct sk_head {
	__be32 daddr;
	__be32 rcv_saddr;
	__u32 hash;
	__be16 dport;
	__u16 num;
	__u16 family;
};

static __always_inline bool sk_head_matches(void)
{
	return bpf_core_field_offset(struct sock, __sk_common) == 0 &&
	       bpf_core_field_offset(struct sock_common, skc_daddr) == 0 &&
	       bpf_core_field_offset(struct sock_common, skc_rcv_saddr) == 4 &&
	       bpf_core_field_offset(struct sock_common, skc_dport) == 12 &&
	       bpf_core_field_offset(struct sock_common, skc_num) == 14 &&
	       bpf_core_field_offset(struct sock_common, skc_family) == 16;
}

_Static_assert(sizeof(struct sk_head) == sizeof(struct cs_addr), "sk_head lands in a cs_addr");

/* One read for IPv4, three for IPv6, not five or seven: each helper call
 * costs tens of ns where every kernel return is mitigated (README, Cost).
 * The verifier keeps the branch the relocated offsets choose; the head
 * lands in e->remote, not on the stack (raw_sys_exit's is nearly full). */
static __always_inline void fill_addrs(struct cs_event *e, struct sock *sk)
{
	struct sk_head *h = (struct sk_head *)&e->remote;
	__be32 l, r;
	__u16 family, lport, rport;

	if (sk_head_matches() && !bpf_probe_read_kernel(h, sizeof(*h), sk)) {
		family = h->family;
		lport = h->num;
		rport = h->dport;
		l = h->rcv_saddr;
		r = h->daddr;
	} else {
		family = BPF_CORE_READ(sk, __sk_common.skc_family);
		lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		rport = BPF_CORE_READ(sk, __sk_common.skc_dport);
		l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	}
	__builtin_memset(&e->remote, 0, sizeof(e->remote));
	e->local.family = family;
	e->remote.family = family;
	e->local.port = lport;
	e->remote.port = bpf_ntohs(rport);
	if (family == AF_INET) {
		__builtin_memcpy(e->local.addr, &l, 4);
		__builtin_memcpy(e->remote.addr, &r, 4);
	} else {
		bpf_core_read(e->local.addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->remote.addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* Start an event in the per-CPU scratch; NULL only if the map is broken. */
static __always_inline struct scratch *event_begin_in(__u32 slot, __u16 type, __u64 sk,
						       __u32 tgid, __u32 tid)
{
	struct scratch *s = scratch_get(slot);

	if (!s)
		return NULL;
	__builtin_memset(&s->e, 0, sizeof(s->e));
	s->e.ts_ns = bpf_ktime_get_ns();
	s->e.type = type;
	s->e.sk = sk;
	s->e.tgid = tgid;
	s->e.tid = tid;
	return s;
}

static __always_inline struct scratch *event_begin(__u16 type, __u64 sk, __u32 tgid)
{
	return event_begin_in(0, type, sk, tgid, (__u32)bpf_get_current_pid_tgid());
}

/* The same for the caller's pid_tgid in hand (one helper call less). */
static __always_inline struct scratch *event_begin_id(__u16 type, __u64 sk, __u64 id)
{
	return event_begin_in(0, type, sk, id >> 32, (__u32)id);
}

/* False if the ring buffer was full: the event is lost and counted. */
static __always_inline bool event_submit(struct scratch *s, struct cs_conn *c)
{
	__u64 len = (__u64)s->e.head_len + s->e.tail_len;
	__u32 unannounced = 0;

	if (len > CS_HEAD_CAP + CS_TAIL_CAP)
		len = CS_HEAD_CAP + CS_TAIL_CAP;
	len += (__u64)s->e.nframes * sizeof(struct cs_frame);
	/* clamped(): 5.10's verifier lost this bound when the compiler
	 * spilled len before the check (seen with --hooks=tracepoints) */
	len = clamped(len, sizeof(s->data));
	if (c) {
		s->e.lost = c->lost;
		s->e.gen = c->gen;
		unannounced = c->unannounced;
		/* the socket still knows its addresses: the user side must
		 * not print a connection under an address it never saw */
		if (unannounced && s->e.type != CS_EV_ACCEPT && s->e.type != CS_EV_ADOPT) {
			fill_addrs(&s->e, (struct sock *)s->e.sk);
			s->e.local.port = c->lport;
			if (unannounced == CS_CLAIMED) {
				s->e.flags |= CS_F_ACCEPTED;
				s->e.tgid = c->tgid; /* the acceptor, not the caller */
				s->e.acc_old = c->pend_old;
				s->e.acc_new = c->pend_new;
			} else {
				s->e.flags |= CS_F_ADDRS;
				if (unannounced == CS_EV_ADOPT)
					s->e.flags |= CS_F_ADOPTED;
			}
		}
	}
	if (bpf_ringbuf_output(&events, s, sizeof(s->e) + len, wake_flag(&s->unwoken, len))) {
		stat_inc(CS_STAT_LOST_EVENTS);
		if (c)
			__sync_fetch_and_add(&c->lost, 1);
		/* the ACCEPT it carried is lost with it */
		if (c && unannounced == CS_CLAIMED)
			c->unannounced = CS_EV_ACCEPT;
		return false;
	}
	if (c && unannounced)
		c->unannounced = 0;
	if (c)
		told_count(c, &s->e);
	stat_inc(CS_STAT_EVENTS);
	return true;
}

/* The end of c was not told (its CLOSE or DESTROY was lost, or it was
 * replaced): leave it where the user side looks when losses grow. */
static __always_inline void record_unseen_end(__u64 sk, struct cs_conn *c)
{
	struct cs_end end = { .gen = c->gen, .sk = sk, .ts_ns = bpf_ktime_get_ns(),
			      .tgid = c->tgid };
	struct scratch *s = scratch_get(1);

	if (c->unannounced && s) {
		/* fill_addrs writes an event's fields: borrow a free slot */
		fill_addrs(&s->e, (struct sock *)sk);
		end.unannounced = c->unannounced;
		end.local = s->e.local;
		end.local.port = c->lport;
		end.remote = s->e.remote;
	}
	bpf_map_update_elem(&unseen_ends, &end.gen, &end, BPF_ANY);
}

/* Sends the tiny reads held for c as one READ event, ahead of whatever
 * event of the connection comes next. */
static __always_inline void flush_held(struct cs_conn *c, __u64 sk)
{
	struct scratch *s;
	__u32 n = c->held_len;

	if (!n)
		return;
	c->held_len = 0;
	s = event_begin_in(1, CS_EV_READ, sk, c->tgid, c->held_tid);
	if (!s)
		return;
	s->e.ts_ns = c->held_ts;
	s->e.fd = c->held_fd;
	s->e.ret = n;
	s->e.flags = CS_F_HELD;
	n = clamped(n, CS_PENDING_CAP);
	bpf_probe_read_kernel(s->data, n, c->held);
	s->e.head_len = n;
	event_submit(s, c);
}

enum hold { HOLD_NO, HOLD_KEPT, HOLD_SEND };

/* Appends a tiny read to c's held bytes. HOLD_KEPT: wait for more;
 * HOLD_SEND: it ended a line, send the held bytes now; HOLD_NO: not tiny
 * (or no room), send the held bytes and then the read itself. */
static __always_inline enum hold hold_tiny(struct cs_conn *c, struct scratch *s, long ret)
{
	__u32 have = c->held_len, i;
	bool eol = false;

	if (ret > CS_TINY_READ || s->e.head_len != ret || have + ret > CS_PENDING_CAP)
		return HOLD_NO;
	if (!have) {
		c->held_ts = s->e.ts_ns;
		c->held_tid = s->e.tid;
		c->held_fd = s->e.fd;
	}
	for (i = 0; i < CS_TINY_READ && i < ret; i++) {
		c->held[bounded(have + i, CS_PENDING_CAP - 1)] = s->data[i];
		eol |= s->data[i] == '\n';
	}
	c->held_len = have + ret;
	return eol ? HOLD_SEND : HOLD_KEPT;
}

/* Sends c's ACCEPT or ADOPT (type) with its addresses, and the first state
 * change it had before it (old, new), if any; ts: its time, if not now. */
static __always_inline void conn_announce(__u64 key, struct cs_conn *c, struct sock *sk,
					  __u16 type, __u32 fd, __u8 old, __u8 new, __u64 ts)
{
	struct scratch *s = event_begin(type, key, c->tgid);

	if (!s)
		return;
	if (ts)
		s->e.ts_ns = ts;
	s->e.fd = fd;
	s->e.tcp_old = old;
	s->e.tcp_new = new;
	fill_addrs(&s->e, sk);
	if (!event_submit(s, c))
		c->unannounced = type;
}

/*
 * Track a new connection of tgid; emits ACCEPT or ADOPT with its addresses.
 * An ACCEPT carries the first state change the connection had before it,
 * if any: the client's FIN or reset can come before accept().
 */
static __always_inline struct cs_conn *conn_add(struct sock *sk, __u32 tgid, __u32 fd, __u16 type,
					       bool table)
{
	__u64 key = sk_key(sk, table);
	struct cs_conn c = { .tgid = tgid, .gen = bpf_ktime_get_ns(),
			     .lport = BPF_CORE_READ(sk, __sk_common.skc_num),
			     .fd_seen = fd == CS_NO_FD ? 0 : fd + 1 };
	struct cs_conn *cp;
	__u8 st, old = 0, new = 0;
	bool made;

	/* the positions the reads and writes we see start from (the sock
	 * tracepoints follow copied_seq at each read: seq_check()) */
	if (!socktp_hooks) {
		c.rd_seq = BPF_CORE_READ((struct tcp_sock *)sk, copied_seq);
		c.wr_seq = BPF_CORE_READ((struct tcp_sock *)sk, write_seq);
	}
	if (type == CS_EV_ACCEPT) {
		st = BPF_CORE_READ(sk, __sk_common.skc_state);
		if (st == TCP_CLOSE_WAIT || st == TCP_CLOSE) {
			old = TCP_ESTABLISHED;
			new = st;
			c.state_told = 1;
		}
	}
	/* its port first: a state change on another CPU that finds the
	 * entry must not have been filtered out by its port */
	port_mark(c.lport);
	/* an accepted socket is new even if an entry for its address
	 * outlived the old one (its destroy was missed): replace it */
	cp = conn_put(key, &c, type == CS_EV_ACCEPT, table, &made);
	if (!cp)
		stat_inc(CS_STAT_CONN_MAP_FULL);
	else if (made) /* else another thread adopted it first */
		conn_announce(key, cp, sk, type, fd, old, new, 0);
	return cp;
}

/*
 * A socket the targets use that we do not track yet: adopt it if it is a
 * TCP connection on a port they listen on (accepted before we attached).
 */
static __always_inline struct cs_conn *conn_adopt(struct sock *sk, __u32 tgid, __u32 fd,
						 bool table)
{
	__u16 port;
	__u8 state;

	if (!is_inet_tcp(sk))
		return NULL;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!bpf_map_lookup_elem(&listen_ports, &port))
		return NULL;
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT)
		return NULL;
	return conn_add(sk, tgid, fd, CS_EV_ADOPT, table);
}

/* A socket call of a tracked connection whose bytes we cannot read (the
 * syscall says nothing of where they are): data lost for the connection,
 * its states withheld, the call counted. */
static __always_inline void io_unread(struct cs_conn *c)
{
	stat_inc(CS_STAT_IO_UNREAD);
	__sync_fetch_and_add(&c->lost, 1);
}

/*
 * The process whose accept() made sk, for a connection claimed at its first
 * call by tgid: tgid's, unless the socket's file was opened under the
 * credentials the parent holds (each forked process gets its own copy,
 * threads share them): then the parent accepted it before a fork (busybox
 * httpd and other inetd-style servers) or passed it on (a Node cluster's
 * primary), and is the acceptor, if a target, as the accept hooks report
 * it. A file opened under credentials neither holds now is the caller's
 * own, accepted before it changed them (setuid() after accept(), as
 * Apache's mpm-itk does).
 */
static __always_inline __u32 acceptor_of(struct sock *sk, struct task_struct *task, __u32 tgid)
{
	struct socket *sock = sk->sk_socket;
	struct file *file = sock ? sock->file : NULL;
	struct task_struct *parent;

	if (!file || file->f_cred == task->cred)
		return tgid;
	parent = task->real_parent;
	if (file->f_cred != parent->cred || !is_target(parent->tgid))
		return tgid;
	return parent->tgid;
}

/* c's first change out of ESTABLISHED, as its own event. */
static __always_inline void send_tcp_state(__u64 key, struct cs_conn *c, __u8 old, __u8 new)
{
	struct scratch *s = event_begin(CS_EV_TCP_STATE, key, c->tgid);

	if (!s)
		return;
	s->e.tcp_old = old;
	s->e.tcp_new = new;
	event_submit(s, c);
}

/*
 * A target's first call on a pending connection c (or its close): it is
 * accepted. Its ACCEPT, carrying the first state change it had, goes with
 * the next event sent for it (CS_CLAIMED, event_submit()), which the
 * caller makes now, or else sends by itself (claim_told()). Two threads'
 * first calls at once send the same ACCEPT twice (the same gen: the user
 * side takes one).
 */
static __always_inline void conn_claim(struct cs_conn *c, struct sock *sk, struct task_struct *task,
				       __u32 tgid)
{
	c->tgid = acceptor_of(sk, task, tgid);
	c->unannounced = CS_CLAIMED;
}

/* After the claiming call: its ACCEPT on its own if no event took it (a
 * call whose bytes we cannot read). */
static __always_inline void claim_told(__u64 key, struct cs_conn *c, struct sock *sk)
{
	if (c->unannounced != CS_CLAIMED)
		return;
	/* dated at its handshake (gen): nearer its accept than this call */
	conn_announce(key, c, sk, CS_EV_ACCEPT, CS_NO_FD, c->pend_old, c->pend_new, c->gen);
}

/*
 * bpf_rdonly_cast (6.2+) is a kfunc the verifier turns into a register move;
 * bpf_skc_to_tcp_sock is a helper call (some 25 ns each on a kernel whose
 * returns go through the SRSO thunk). Only the sock tracepoints' programs
 * (6.3+) pass cast, and only theirs hold the call: 6.1's add_kfunc_call()
 * checks each kfunc call in a program as it loads it, reached or not. The
 * cast's loads are fault-checked; its callers know sk is a TCP socket.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

static __always_inline struct tcp_sock *tcp_of(struct sock *sk, bool cast)
{
	if (cast)
		return bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
	return bpf_skc_to_tcp_sock(sk);
}

/*
 * Bytes the process took from c's socket that no read we saw returned
 * (splice out of it, TCP_ZEROCOPY_RECEIVE, a read by a process that is not
 * a target): the socket's copied_seq moved past the reads we saw. Checked
 * at reads (want: the last position plus this read's bytes) and at the
 * close, not at writes: a reader of another thread may have moved it and
 * not reached its tracepoint yet. Data lost for c, and counted. Not under
 * kernel TLS, whose reads return plaintext of another length.
 */
/* Whether a socket's sequence position seq is past want, the bytes seen:
 * a FIN read or sent (its RCV_SHUTDOWN or SEND_SHUTDOWN bit, fin, set in
 * shut) takes one more. */
static __always_inline bool seq_gap(__u32 seq, __u32 want, __u8 shut, __u8 fin)
{
	return seq != want && !(seq == want + 1 && (shut & fin));
}

static __always_inline void seq_check(struct cs_conn *c, struct sock *sk, long got)
{
	/* only the sock tracepoints' programs check (socktp_hooks) */
	struct tcp_sock *tp = tcp_of(sk, true);
	__u32 seq, want;

	if (!tp)
		return;
	seq = tp->copied_seq;
	want = c->rd_seq + (__u32)got;
	if (c->seq_known &&
	    seq_gap(seq, want, tp->inet_conn.icsk_inet.sk.sk_shutdown, RCV_SHUTDOWN) &&
	    !tp->inet_conn.icsk_ulp_ops)
		io_unread(c);
	c->rd_seq = seq;
	c->seq_known = 1;
}

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */
#define PF_IO_WORKER 0x00000010 /* include/linux/sched.h */
#define PF_KTHREAD 0x00200000
#define PF_EXITING 0x00000004

static __always_inline bool in_compat_syscall(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT;
}

/* Set by the loader when the raw sys_enter/sys_exit programs are the
 * syscall hooks: they see ia32 syscalls too. */
const volatile bool raw_hooks = false;

/* A syscall of a target that we follow: checked before any other work. */
static __always_inline bool syscall_wanted(__u32 tgid)
{
	return !stopping && is_target(tgid) && !(raw_hooks && in_compat_syscall());
}

static __always_inline int on_accept_exit(long fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sock *sk;

	if (fd < 0 || !syscall_wanted(tgid))
		return 0;
	sk = file_to_sock(fd_to_file(fd));
	if (!sk || !is_inet_tcp(sk))
		return 0;
	conn_add(sk, tgid, fd, CS_EV_ACCEPT, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tp_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tp_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

/* A syscall of c we cannot follow is data lost for c, like a lost event:
 * the user side then withholds its states instead of guessing. */
static __always_inline void stash_failed(struct cs_conn *c)
{
	stat_inc(CS_STAT_STASH_FULL);
	__sync_fetch_and_add(&c->lost, 1);
}

/* Set by the user side (through the mmapped .bss) before it attaches the
 * first TLS uprobe: until then no call can be inside a TLS library call,
 * and the lookup below is spared (most hosts trace no TLS). */
__u32 tls_probed = 0;

/* Inside a TLS library call, the socket it uses is sk: tell the call. */
static __always_inline bool note_tls_call(__u64 id, __u64 sk, __u64 gen)
{
	struct cs_tls_call *tc;

	if (!tls_probed || !calls_any())
		return false;
	tc = bpf_map_lookup_elem(&tls_calls, &id);
	if (!tc)
		return false;
	tc->sk = sk;
	tc->gen = gen;
	return true;
}

/* Save a syscall's arguments if fd is a tracked connection of a target. */
static __always_inline int io_enter(__u32 fd, __u64 ptr, __u64 cnt, __u8 kind, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct stash st = {};
	struct cs_conn *c;
	struct sock *sk;
	__u64 key;

	if (!syscall_wanted(tgid))
		return 0;
	sk = file_to_sock(fd_to_file(fd));
	if (!sk)
		return 0;
	key = (__u64)sk;
	c = conn_find(key);
	if (!c && !(c = conn_adopt(sk, tgid, fd, false)))
		return 0;
	st.sk = key;
	st.ptr = ptr;
	st.cnt = cnt;
	st.fd = fd;
	st.kind = kind;
	st.dir = dir;
	st.tls = note_tls_call(id, key, c->gen);
	if (!stash_put(id, &st))
		stash_failed(c);
	return 0;
}

/* io_unread for fd, if it is a tracked connection of a target. */
static __always_inline int fd_unread(__u32 fd)
{
	struct cs_conn *c;
	struct sock *sk;
	__u64 key;

	if (!syscall_wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	sk = file_to_sock(fd_to_file(fd));
	key = (__u64)sk;
	c = sk ? conn_find(key) : NULL;
	if (c)
		io_unread(c);
	return 0;
}

/* splice(2): into a tracked socket, pages counted like sendfile; out of
 * one (tcp_splice_read, not recvmsg: no hook sees its bytes), unread. */
static __always_inline int splice_enter(__u32 fd_in, __u32 fd_out)
{
	fd_unread(fd_in);
	return io_enter(fd_out, 0, 0, K_SENDFILE, CS_EV_WRITE);
}

/* Copy up to CS_HEAD_CAP bytes of a flat buffer, and its tail if longer. */
static __always_inline void copy_buf(struct scratch *s, __u64 buf, __u64 len)
{
	__u32 n = len > CS_HEAD_CAP ? CS_HEAD_CAP : len;

	if (bpf_probe_read_user(s->data, n, (void *)buf))
		return;
	s->e.head_len = n;
	if (len > CS_HEAD_CAP &&
	    !bpf_probe_read_user(s->data + CS_HEAD_CAP, CS_TAIL_CAP, (void *)(buf + len - CS_TAIL_CAP)))
		s->e.tail_len = CS_TAIL_CAP;
}

/*
 * A read while a request's header block may be arriving (fewer than
 * CS_HEAD_BLOCK_MAX bytes read since the last write): nginx reads a long
 * request line or header block with one recv of up to its buffer's size,
 * and the user side cannot frame a header block with a hole in it. So the
 * read goes out as events of CS_HEAD_CAP bytes, up to CS_HEAD_BLOCK_MAX in
 * all; the caller copies the rest as usual. Returns the bytes sent. Other
 * connections and reads pay one comparison: Go reads 4 KiB at a time.
 */
static __always_inline __u64 send_read_pieces(struct scratch *s, struct cs_conn *c, __u64 sk,
					      __u64 buf, __u64 len)
{
	__u64 off = 0;
	int i;

	if (len <= CS_HEAD_CAP || c->rd_since_wr >= CS_HEAD_BLOCK_MAX)
		return 0;
	flush_held(c, sk); /* held bytes came first */
	for (i = 0; i < CS_HEAD_BLOCK_MAX / CS_HEAD_CAP - 1; i++) {
		if (len - off <= CS_HEAD_CAP ||
		    bpf_probe_read_user(s->data, CS_HEAD_CAP, (void *)(buf + off)))
			break;
		s->e.ret = CS_HEAD_CAP;
		s->e.head_len = CS_HEAD_CAP;
		event_submit(s, c);
		off += CS_HEAD_CAP;
	}
	return off;
}

/* Copy the first bytes of the first iovecs, and the last bytes of the
 * iovec holding the payload's last byte when the payload is long. */
static __always_inline void copy_iov(struct scratch *s, __u64 iovp, __u64 cnt, __u64 len)
{
	struct iovec iov;
	__u64 left = len, n;
	__u32 off = 0, take, t;
	bool gap = false;
	int i;

	for (i = 0; i < CS_MAX_IOV; i++) {
		if (i >= cnt || !left)
			break;
		if (read_iovec(&iov, iovp + i * sizeof(iov)))
			break;
		n = iov.iov_len < left ? iov.iov_len : left;
		if (off < CS_HEAD_CAP && !gap) {
			take = clamped(n > CS_HEAD_CAP - off ? CS_HEAD_CAP - off : n, CS_HEAD_CAP);
			if (bpf_probe_read_user(s->data + bounded(off, CS_HEAD_CAP - 1), take,
						iov.iov_base))
				gap = true;
			else
				off += take;
		}
		left -= n;
		if (!left && len > CS_HEAD_CAP) {
			t = n > CS_TAIL_CAP ? CS_TAIL_CAP : n;
			if (!bpf_probe_read_user(s->data + bounded(off, 2 * CS_HEAD_CAP - 1), t,
						 iov.iov_base + n - t))
				s->e.tail_len = t;
		}
	}
	s->e.head_len = off;
	if (left)
		s->e.flags |= CS_F_TRUNC_IOV;
}

/*
 * HTTP/2 frame walk. The user side frames HTTP/2 from the copied bytes,
 * but a write of many 16 KiB DATA frames (nginx, nghttpd) puts frame
 * headers past the copied head, where it would lose the stream. So for a
 * connection whose first read was the client preface, the kernel follows
 * frame headers through every read and write by their 24-bit lengths and
 * appends those the copy missed to the event. Other connections pay one
 * comparison per syscall and one 24-byte read at their first read.
 */

static const char h2_preface[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* The payload's memory as up to CS_WALK_IOV pieces in scratch slot 0's
 * walk; 0 if unreadable. A global function: verified once. */
__noinline int cs_walk_setup(__u32 kind, __u64 ptr, __u64 cnt, __u64 len)
{
	__u32 slot = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratches, &slot);
	struct iovec iov;
	struct walk *w;
	int i;

	if (!s)
		return 0;
	w = &s->w;
	w->n = 0;
	if (kind == K_BUF) {
		w->base[0] = ptr;
		w->len[0] = len;
		w->n = 1;
		return 1;
	}
	if (kind != K_IOV && kind != K_KIOV)
		return 0; /* sendfile: the bytes are in a file */
	for (i = 0; i < CS_WALK_IOV; i++) {
		if (i >= cnt || !len)
			break;
		if (read_iovec(&iov, ptr + i * sizeof(iov)))
			return 0;
		w->base[i] = (__u64)iov.iov_base;
		w->len[i] = iov.iov_len < len ? iov.iov_len : len;
		len -= w->len[i];
		w->n = i + 1;
	}
	return !len;
}

static __always_inline __u32 frame_len(const __u8 *h)
{
	return (__u32)h[0] << 16 | (__u32)h[1] << 8 | h[2];
}

/* The first read decides whether c is walked: the whole preface in its
 * first piece (clients send it in one write). got: its first 24 bytes (a
 * read of fewer is not walked: the caller says so). */
static __always_inline void h2_decide(struct cs_conn *c, const __u64 *got)
{
	__u64 want[3];

	c->h2 = CS_H2_NO;
	__builtin_memcpy(want, h2_preface, sizeof(want));
	if (got[0] != want[0] || got[1] != want[1] || got[2] != want[2])
		return;
	c->h2 = CS_H2_YES;
	c->h2_rem[0] = sizeof(h2_preface);
}

/* Reads n (1..CS_FRAME_HDR) bytes at payload offset pos, which lies in
 * piece i (starting at offset start), into dst; a header may go on into
 * piece i + 1. */
static __always_inline bool walk_read(struct walk *w, __u32 i, __u64 start, __u64 pos, __u8 *dst,
				      __u32 n)
{
	__u64 in_i = start + w->len[i & (CS_WALK_IOV - 1)] - pos;
	__u32 a = clamped(in_i < n ? in_i : n, CS_FRAME_HDR), b;

	if (!a || bpf_probe_read_user(dst, a, (void *)(w->base[i & (CS_WALK_IOV - 1)] + pos - start)))
		return false;
	if (a == n)
		return true;
	b = clamped(n - a, CS_FRAME_HDR);
	if (i + 1 >= w->n || !b || b > w->len[(i + 1) & (CS_WALK_IOV - 1)])
		return false;
	return !bpf_probe_read_user(dst + bounded(a, 15), b, (void *)w->base[(i + 1) & (CS_WALK_IOV - 1)]);
}

/* The walk lost its place: say so once in the event, walk no more. */
static __always_inline int walk_lost(struct scratch *s, struct cs_conn *c)
{
	s->e.flags |= CS_F_WALK_CUT;
	c->h2 = CS_H2_LOST;
	return 1;
}

/*
 * The frame walk of one syscall is the loop in h2_walk() around these two
 * global functions: the verifier checks a global function once, with all
 * of its state in the scratch map, instead of once per path and iteration.
 * Both return 1 when the walk of this syscall is over.
 *
 * cs_h2_begin: sets the walk up for len bytes of sk's connection in
 * direction d (0 read, 1 write), whose event covers the payload from
 * ev_off on (reads sent in pieces start later), and finishes a frame
 * header cut by the previous syscall's end (the copies hold its bytes;
 * the walk needs only its length).
 */
__noinline int cs_h2_begin(__u64 sk, __u32 d, __u64 len, __u64 ev_off)
{
	__u32 slot = 0, hlen, want;
	struct scratch *s = bpf_map_lookup_elem(&scratches, &slot);
	struct cs_conn *c = conn_find(sk);
	struct walk *w;

	if (!s || !c)
		return 1;
	w = &s->w;
	d &= 1;
	w->d = d;
	w->total = len;
	w->ev_off = ev_off > len ? len : ev_off;
	w->pi = 0;
	w->ps = 0;
	s->e.nframes = 0;
	hlen = c->h2_hlen[d];
	if (!hlen) {
		w->pos = c->h2_rem[d];
		return 0;
	}
	want = CS_FRAME_HDR - clamped(hlen, CS_FRAME_HDR - 1);
	__builtin_memcpy(w->hdr, c->h2_hdr[d], CS_FRAME_HDR);
	if (!w->n)
		return walk_lost(s, c);
	if (len < want) {
		if (!walk_read(w, 0, 0, 0, w->hdr + bounded(hlen, 15), clamped(len, CS_FRAME_HDR - 1)))
			return walk_lost(s, c);
		__builtin_memcpy(c->h2_hdr[d], w->hdr, CS_FRAME_HDR);
		c->h2_hlen[d] = hlen + len;
		return 1;
	}
	if (!walk_read(w, 0, 0, 0, w->hdr + bounded(hlen, 15), want))
		return walk_lost(s, c);
	c->h2_hlen[d] = 0;
	w->pos = want + frame_len(w->hdr);
	return 0;
}

/* cs_h2_step: one frame header, or one piece passed. */
__noinline int cs_h2_step(__u64 sk)
{
	__u32 slot = 0, rec, n, d;
	struct scratch *s = bpf_map_lookup_elem(&scratches, &slot);
	struct cs_conn *c = conn_find(sk);
	__u64 pos, len, rp, end;
	struct walk *w;

	if (!s || !c)
		return 1;
	w = &s->w;
	d = w->d & 1;
	pos = w->pos;
	len = w->total;
	if (pos >= len) {
		c->h2_rem[d] = pos - len;
		return 1;
	}
	if (w->pi >= w->n || w->pi >= CS_WALK_IOV)
		return walk_lost(s, c);
	end = w->ps + w->len[w->pi & (CS_WALK_IOV - 1)];
	if (pos >= end) {
		w->ps = end;
		w->pi++;
		return 0;
	}
	if (len - pos < CS_FRAME_HDR) {
		/* cut by the end of this syscall: the tail copy holds it */
		if (!walk_read(w, w->pi, w->ps, pos, w->hdr, clamped(len - pos, 8)))
			return walk_lost(s, c);
		__builtin_memcpy(c->h2_hdr[d], w->hdr, CS_FRAME_HDR);
		c->h2_hlen[d] = len - pos;
		c->h2_rem[d] = 0;
		return 1;
	}
	if (!walk_read(w, w->pi, w->ps, pos, w->hdr, CS_FRAME_HDR))
		return walk_lost(s, c);
	rp = pos - w->ev_off;
	n = s->e.nframes;
	if (pos >= w->ev_off && rp + CS_FRAME_HDR > s->e.head_len &&
	    rp < w->total - w->ev_off - s->e.tail_len) {
		if (n >= CS_MAX_FRAMES)
			return walk_lost(s, c);
		rec = s->e.head_len + s->e.tail_len + n * sizeof(struct cs_frame);
		rec = bounded(rec, 8191);
		*(__u32 *)(s->data + rec) = rp;
		__builtin_memcpy(s->data + rec + 4, w->hdr, CS_FRAME_HDR);
		s->e.nframes = n + 1;
	}
	w->pos = pos + CS_FRAME_HDR + frame_len(w->hdr);
	return 0;
}

/* Walks the frame headers of a syscall whose pieces s->w holds, appending
 * to s's event those that lie in its hole. */
static __always_inline void h2_walk(struct scratch *s, struct cs_conn *c, __u64 sk, __u32 d,
				    __u64 len, __u64 ev_off)
{
	int i;

	if (cs_h2_begin(sk, d, len, ev_off))
		return;
	for (i = 0; i < CS_WALK_STEPS + CS_WALK_IOV + 1; i++)
		if (cs_h2_step(sk))
			return;
	/* more frames than the walk takes in one syscall */
	walk_lost(s, c);
}

/*
 * A large read or write of an HTTP/1 connection wholly inside a body the
 * user side framed by its Content-Length (struct cs_skip): it goes out
 * counted, not copied. The user side says so when it has read the head,
 * so the first bytes of a body are copied (its reader is not woken for
 * this: waking it costs more than copying, measured), and the rest of a
 * long body, which a client takes over many round trips, is not.
 */
static __always_inline bool body_uncopied(struct cs_conn *c, __u64 sk, __u8 dir, long ret)
{
	__u32 d = dir == CS_EV_WRITE;

	/* held tiny reads go out first, before this read's bytes */
	if (c->h2 != CS_H2_NO || (!d && c->held_len))
		return false;
	return inside_body(c, sk, d, ret);
}

/* The end of thread id's read or write st, which returned ret: the event,
 * with the payload copied from user memory. c is st's connection if the
 * caller has looked it up (NULL: look it up here). */
static __always_inline int io_finish(__u64 id, struct stash *stp, long ret, struct cs_conn *c)
{
	struct stash st = *stp;
	struct user_msghdr msg;
	struct scratch *s;
	enum hold hold;
	__u64 off = 0, got[3];

	/* Would-block says nothing about the connection; a zero write neither. */
	if (ret == -EAGAIN || (ret == 0 && st.dir == CS_EV_WRITE))
		return 0;
	if (!c)
		c = conn_find(st.sk);
	if (!c)
		return 0;
	if (!socktp_hooks && ret > 0) {
		if (st.dir == CS_EV_READ)
			c->rd_seq += ret;
		else
			c->wr_seq += ret;
	}
	/* Ciphertext, whose plaintext comes from tls.bpf.c: the user side
	 * learns from the first that the connection is TLS and ignores the
	 * bytes of the rest, so those are not sent (an end or an error is;
	 * so is one that must carry the connection's addresses) */
	if (st.tls && ret > 0 && c->tls_told && !c->unannounced) {
		flush_held(c, st.sk);
		return 0;
	}
	s = event_begin_id(st.dir, st.sk, id);
	if (!s)
		return 0;
	s->e.ret = ret;
	s->e.fd = st.fd;
	if (st.tls) {
		s->e.flags |= CS_F_TLS;
		flush_held(c, st.sk);
		if (event_submit(s, c))
			c->tls_told = 1;
		return 0;
	}
	if (ret > 0) {
		if (st.kind != K_SENDFILE && body_uncopied(c, st.sk, st.dir, ret)) {
			s->e.flags |= CS_F_UNCOPIED;
			stat_inc(CS_STAT_UNCOPIED);
			st.kind = K_UNCOPIED;
		}
		/* one copy_iov call site: the verifier walks each one */
		if (st.kind == K_MSG) {
			if (bpf_probe_read_user(&msg, sizeof(msg), (void *)st.ptr))
				st.cnt = 0;
			else {
				st.ptr = (__u64)msg.msg_iov;
				st.cnt = msg.msg_iovlen;
			}
			st.kind = K_IOV;
		}
		if (st.kind == K_BUF && st.dir == CS_EV_READ) {
			off = send_read_pieces(s, c, st.sk, st.ptr, ret);
			s->e.ret = ret - off;
			s->e.head_len = 0;
		}
		if (st.kind == K_BUF)
			copy_buf(s, st.ptr + off, ret - off);
		else if (st.kind == K_IOV || st.kind == K_KIOV)
			copy_iov(s, st.ptr, st.cnt, ret);
		else if (st.kind == K_SENDFILE)
			s->e.flags |= CS_F_SENDFILE;
		if (c->h2 == CS_H2_UNDECIDED && st.dir == CS_EV_READ) {
			/* a flat read's first bytes are copied already (no
			 * pointer-or-NULL here: 5.10's and 6.1's verifiers
			 * followed its impossible NULL branch) */
			if (st.kind == K_BUF && !off && s->e.head_len >= sizeof(h2_preface))
				h2_decide(c, (__u64 *)s->data);
			else if (st.kind == K_BUF && !off)
				c->h2 = CS_H2_NO;
			else if (cs_walk_setup(st.kind, st.ptr, st.cnt, ret) && s->w.n &&
				 s->w.len[0] >= sizeof(h2_preface) &&
				 !bpf_probe_read_user(got, sizeof(got), (void *)s->w.base[0]))
				h2_decide(c, got);
			else
				c->h2 = CS_H2_NO;
		}
		if (c->h2 == CS_H2_YES) {
			if (cs_walk_setup(st.kind, st.ptr, st.cnt, ret)) {
				/* a number already under the sock tracepoints (sk_key()) */
				h2_walk(s, c, socktp_hooks ? st.sk : ptr_value((void *)st.sk),
					st.dir == CS_EV_WRITE, ret, off);
			} else {
				c->h2 = CS_H2_LOST;
				s->e.flags |= CS_F_WALK_CUT;
			}
		}
	}
	if (ret > 0)
		c->rd_since_wr = st.dir == CS_EV_WRITE ? 0 :
				 clamped(c->rd_since_wr + (__u64)ret, CS_HEAD_BLOCK_MAX);
	/* not the first read of a connection just claimed: its ACCEPT
	 * goes with it (a tiny read held would hold the ACCEPT too) */
	hold = st.dir == CS_EV_READ && ret > 0 && st.kind == K_BUF && c->unannounced != CS_CLAIMED ?
		       hold_tiny(c, s, ret) :
		       HOLD_NO;
	if (hold != HOLD_KEPT)
		flush_held(c, st.sk);
	if (hold == HOLD_NO)
		event_submit(s, c);
	return 0;
}

static __always_inline int io_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct stash st;

	if (stopping || !stash_take(id, &st))
		return 0;
	return io_finish(id, &st, ret, NULL);
}

SEC("tracepoint/syscalls/sys_enter_read")
int tp_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, K_BUF, CS_EV_READ);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int tp_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], ctx->args[2], K_IOV, CS_EV_READ);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int tp_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[3] & MSG_PEEK)
		return 0;
	return io_enter(ctx->args[0], ctx->args[1], 0, K_BUF, CS_EV_READ);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int tp_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & MSG_PEEK)
		return 0;
	return io_enter(ctx->args[0], ctx->args[1], 0, K_MSG, CS_EV_READ);
}

SEC("tracepoint/syscalls/sys_enter_write")
int tp_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, K_BUF, CS_EV_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int tp_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], ctx->args[2], K_IOV, CS_EV_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, K_BUF, CS_EV_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int tp_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, K_MSG, CS_EV_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int tp_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], 0, 0, K_SENDFILE, CS_EV_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_splice")
int tp_enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	return splice_enter(ctx->args[0], ctx->args[2]);
}

/* Several messages per call, each its own piece of the payload: not read */
SEC("tracepoint/syscalls/sys_enter_recvmmsg")
int tp_enter_recvmmsg(struct trace_event_raw_sys_enter *ctx)
{
	return fd_unread(ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int tp_enter_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	return fd_unread(ctx->args[0]);
}

/*
 * One program for the exits of every read- and write-like syscall: their
 * contexts are alike, and the stash says what the enter saw. The loader
 * attaches it to each sys_exit_* in its io_exits table; verifying it once
 * instead of once per syscall is most of connstate's start-up time.
 */
SEC("tracepoint/syscalls/sys_exit_read")
int tp_io_exit(struct trace_event_raw_sys_exit *ctx)
{
	return io_exit(ctx->ret);
}

/* True if closing this descriptor drops the file's last reference: a
 * forked child or a dup keeps the connection open. */
static __always_inline bool file_last_ref(struct file *file)
{
	long cnt;

	if (bpf_core_field_exists(file->f_ref)) {
		/* file_ref_t counts from 0 for one reference */
		cnt = BPF_CORE_READ(file, f_ref.refcnt.counter);
		return cnt == 0;
	}
	cnt = BPF_CORE_READ((struct file___old *)file, f_count.counter);
	return cnt == 1;
}

/* The end of tracked connection c (key): its last event (CLOSE or
 * DESTROY), then it is tracked no more; an end the ring buffer had no room
 * for is kept in unseen_ends for the user side. id: the closing thread's
 * pid_tgid (a DESTROY's: the owner's tgid, no thread). tcp_old and tcp_new:
 * the first change out of ESTABLISHED, when the close made it (else 0). */
static __always_inline void conn_end(__u64 key, struct cs_conn *c, __u16 type, __u64 id, __u32 fd,
				     long ret, __u8 tcp_old, __u8 tcp_new)
{
	struct scratch *s;

	flush_held(c, key);
	s = event_begin_id(type, key, id);
	if (s) {
		s->e.fd = fd;
		s->e.ret = ret;
		s->e.tcp_old = tcp_old;
		s->e.tcp_new = tcp_new;
		if (!event_submit(s, c))
			record_unseen_end(key, c);
	}
	conn_remove(key);
}

/*
 * At the last close under the syscall and socket hooks: bytes the process
 * took from or gave to the socket through calls no hook saw (io_uring's
 * reads and writes, which make no read or write syscall; a splice out of
 * it, which the socket hooks miss) moved copied_seq or write_seq past the
 * reads and writes we saw. Then the connection's states were guessed from
 * part of its bytes: it is marked, as io_unread(). Not under kernel TLS
 * (plaintext lengths); not one marked already (the call was counted).
 */
static __always_inline void seq_close_check(struct cs_conn *c, __u64 key)
{
	struct tcp_sock *tp = (struct tcp_sock *)key;
	struct sock *sk = (struct sock *)key;
	__u32 rd, wr;
	__u8 shut;

	if (socktp_hooks || c->lost || BPF_CORE_READ(tp, inet_conn.icsk_ulp_ops))
		return;
	rd = BPF_CORE_READ(tp, copied_seq);
	wr = BPF_CORE_READ(tp, write_seq);
	shut = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown);
	if (seq_gap(rd, c->rd_seq, shut, RCV_SHUTDOWN) || seq_gap(wr, c->wr_seq, shut, SEND_SHUTDOWN))
		io_unread(c);
}

/* The last close of a tracked connection's socket, for close_exit (the
 * syscall hooks' and the socket hooks' alike). */
static __always_inline void stash_close(__u64 id, __u64 key, struct cs_conn *c, __u32 fd)
{
	struct stash st = {};

	seq_close_check(c, key);

	st.gen = c->gen;
	st.sk = key;
	st.fd = fd;
	st.kind = K_CLOSE;
	if (!stash_put(id, &st))
		stash_failed(c);
}

static __always_inline int close_enter(__u32 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct file *file;
	struct cs_conn *c;
	struct sock *sk;
	__u64 key;

	if (!syscall_wanted(id >> 32))
		return 0;
	file = fd_to_file(fd);
	sk = file_to_sock(file);
	if (!sk)
		return 0;
	key = (__u64)sk;
	c = conn_find(key);
	if (!c || !file_last_ref(file))
		return 0;
	stash_close(id, key, c, fd);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return close_enter(ctx->args[0]);
}

/* Reported at exit so that the state change close() causes comes first. */
static __always_inline int close_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cs_conn *c;
	struct stash st;
	__u64 key;

	if (stopping)
		return 0;

	if (!stash_take(id, &st))
		return 0;
	key = st.sk;
	c = conn_find(key);
	/* destroyed inside close() (its DESTROY was sent), and the address
	 * perhaps taken by a connection accepted meanwhile */
	if (!c || c->gen != st.gen)
		return 0;
	conn_end(key, c, CS_EV_CLOSE, id, st.fd, ret, 0, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_close")
int tp_exit_close(struct trace_event_raw_sys_exit *ctx)
{
	return close_exit(ctx->ret);
}

/* SHUTDOWN for tracked connection c, after its held bytes: the syscall
 * hooks' and the socket hooks' alike. */
static __always_inline void send_shutdown(__u64 key, struct cs_conn *c, __u32 tgid, __u32 fd,
					  long how)
{
	struct scratch *s;

	flush_held(c, key);
	s = event_begin(CS_EV_SHUTDOWN, key, tgid);
	if (!s)
		return;
	s->e.fd = fd;
	s->e.ret = how;
	event_submit(s, c);
}

static __always_inline int shutdown_enter(__u32 fd, long how)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct cs_conn *c;
	struct sock *sk;
	__u64 key;

	if (!syscall_wanted(tgid))
		return 0;
	sk = file_to_sock(fd_to_file(fd));
	key = (__u64)sk;
	c = sk ? conn_find(key) : NULL;
	if (!c)
		return 0;
	send_shutdown(key, c, tgid, fd, how);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_shutdown")
int tp_enter_shutdown(struct trace_event_raw_sys_enter *ctx)
{
	return shutdown_enter(ctx->args[0], ctx->args[1]);
}

/*
 * The same syscalls through the raw sys_enter/sys_exit tracepoints (BTF
 * flavour, 5.5+; the loader picks these or the tracepoint/syscalls/ ones
 * above, --hooks). A tracepoint/syscalls/ program costs every syscall of
 * the host a perf record of its arguments before it can return; these
 * run for every syscall number instead, so they turn away the numbers we
 * do not follow with one comparison, then non-targets with one lookup.
 * x86-64 numbers (arch/x86/entry/syscalls/syscall_64.tbl); an ia32
 * syscall (TS_COMPAT) has other numbers and is skipped, as the syscalls/
 * tracepoints skip it.
 */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_shutdown 48
#define NR_accept4 288
#define NR_splice 275
#define NR_recvmmsg 299
#define NR_sendmmsg 307
SEC("tp_btf/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long nr)
{
	__u64 a0, a1, a2;

	switch (nr) {
	case NR_read: case NR_readv: case NR_recvfrom: case NR_recvmsg:
	case NR_write: case NR_writev: case NR_sendto: case NR_sendmsg:
	case NR_sendfile: case NR_close: case NR_shutdown:
	case NR_splice: case NR_recvmmsg: case NR_sendmmsg:
		break;
	default:
		return 0;
	}
	a0 = regs->di;
	a1 = regs->si;
	a2 = regs->dx;
	switch (nr) {
	case NR_splice:
		return splice_enter(a0, a2);
	case NR_recvmmsg: case NR_sendmmsg:
		return fd_unread(a0);
	case NR_read:
		return io_enter(a0, a1, 0, K_BUF, CS_EV_READ);
	case NR_readv:
		return io_enter(a0, a1, a2, K_IOV, CS_EV_READ);
	case NR_recvfrom:
		if (regs->r10 & MSG_PEEK)
			return 0;
		return io_enter(a0, a1, 0, K_BUF, CS_EV_READ);
	case NR_recvmsg:
		if (a2 & MSG_PEEK)
			return 0;
		return io_enter(a0, a1, 0, K_MSG, CS_EV_READ);
	case NR_write:
		return io_enter(a0, a1, 0, K_BUF, CS_EV_WRITE);
	case NR_writev:
		return io_enter(a0, a1, a2, K_IOV, CS_EV_WRITE);
	case NR_sendto:
		return io_enter(a0, a1, 0, K_BUF, CS_EV_WRITE);
	case NR_sendmsg:
		return io_enter(a0, a1, 0, K_MSG, CS_EV_WRITE);
	case NR_sendfile:
		return io_enter(a0, 0, 0, K_SENDFILE, CS_EV_WRITE);
	case NR_close:
		return close_enter(a0);
	case NR_shutdown:
		return shutdown_enter(a0, a1);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;

	switch (nr) {
	case NR_accept: case NR_accept4:
		return on_accept_exit(ret);
	case NR_read: case NR_readv: case NR_recvfrom: case NR_recvmsg:
	case NR_write: case NR_writev: case NR_sendto: case NR_sendmsg:
	case NR_sendfile: case NR_splice:
		/* a stash of this thread exists only if its enter was wanted */
		return io_exit(ret);
	case NR_close:
		return close_exit(ret);
	}
	return 0;
}

/*
 * A fexit program's int result as a long the verifier knows nothing of,
 * like a tracepoint's ctx->ret: with the bounds of a sign-extended int,
 * 5.10's verifier took minutes (under emulation) over io_exit here, where
 * tp_io_exit takes seconds. Reading a stack slot cannot fault.
 */
static __always_inline long opaque_ret(int ret)
{
	long v = ret, r = 0;

	bpf_probe_read_kernel(&r, sizeof(r), &v);
	return r;
}

/*
 * The sock tracepoints (--hooks=sock-tracepoints): sock:sock_recv_length
 * and sock:sock_send_length fire at the end of every socket's recvmsg and
 * sendmsg, in the calling task, with the socket and the result, so only
 * socket calls run a program (a dd on the same host runs none). They carry
 * no payload, but the syscall that made the call is still on the task's
 * stack: its number and arguments in the user registers (regs_of()) say
 * where the bytes are, in user memory as at sys_exit. No syscall is hooked
 * (a syscall tracepoint sends every syscall on the host through the
 * tracing slow path): an accept is found at the handshake (conn_pending()),
 * a close at the state change it makes (file_released()), and a splice out
 * of the socket, which goes through no recvmsg, by its copied_seq
 * (seq_check()).
 */

/* The payload of a socket call made by syscall nr (regs): false if the
 * syscall is not one we can read (io_uring, recvmmsg, sendmmsg, ia32). */
static __always_inline bool stash_regs(struct stash *st, struct pt_regs *regs, long nr)
{
	bool rd = st->dir == CS_EV_READ;

	st->fd = regs->di;
	st->ptr = regs->si;
	switch (nr) {
	case NR_read: case NR_recvfrom:
		st->kind = K_BUF;
		return rd;
	case NR_write: case NR_sendto:
		st->kind = K_BUF;
		return !rd;
	case NR_readv:
		st->kind = K_IOV;
		st->cnt = regs->dx;
		return rd;
	case NR_writev:
		st->kind = K_IOV;
		st->cnt = regs->dx;
		return !rd;
	case NR_recvmsg:
		st->kind = K_MSG;
		return rd;
	case NR_sendmsg:
		st->kind = K_MSG;
		return !rd;
	case NR_sendfile:
		/* pages from a file or a pipe: counted, not copied */
		st->kind = K_SENDFILE;
		return !rd;
	case NR_splice:
		st->fd = regs->dx; /* fd_out */
		st->kind = K_SENDFILE;
		return !rd;
	}
	return false;
}

/*
 * The task's user registers without a helper call: task_pt_regs() is
 * task->stack plus a constant of the kernel's build (THREAD_SIZE less the
 * stack's top padding and the registers' size), learnt from
 * bpf_task_pt_regs() at the first call and kept; the registers are read
 * through a cast (tcp_of()), whose loads are fault-checked.
 */
__u64 regs_off = 0;

static __always_inline struct pt_regs *regs_of(struct task_struct *task)
{
	__u64 stack = (__u64)task->stack, off = regs_off;

	if (!off) {
		off = ptr_value((void *)bpf_task_pt_regs(task)) - stack;
		regs_off = off;
	}
	return bpf_rdonly_cast((void *)(stack + off), bpf_core_type_id_kernel(struct pt_regs));
}

/*
 * The syscall's descriptor is c's socket: a socket call can run inside a
 * syscall that is not its own (io_uring's task work runs at the exit of
 * whatever syscall the task made, read() of a pipe included), and then the
 * registers point at another buffer. The descriptor the connection was
 * last used through passes at once; another is walked to its socket once.
 */
static __always_inline bool fd_is_conn(struct task_struct *task, struct cs_conn *c, __u32 fd,
				       struct sock *sk)
{
	struct socket *sock;
	struct file *file;

	if (c->fd_seen == fd + 1)
		return true;
	/* the socket's own file (plain loads from the BTF pointer), against
	 * the descriptor's: one read, not file_to_sock()'s four */
	sock = sk->sk_socket;
	file = sock ? sock->file : NULL;
	if (!file || fd_to_file_of(task, fd) != file)
		return false;
	c->fd_seen = fd + 1;
	return true;
}

static __always_inline int sock_length(struct sock *sk, long ret, int flags, __u8 dir)
{
	struct task_struct *task;
	struct stash st = {};
	struct pt_regs *regs;
	struct cs_conn *c;
	__u32 tgid;
	__u64 key, id;

	/* would-block (half of a server's reads) ends here, before any lookup
	 * or helper call: every TCP call on the host comes this far */
	if (ret == -EAGAIN || (ret == 0 && dir == CS_EV_WRITE) ||
	    (dir == CS_EV_READ && (flags & MSG_PEEK)) || !sk ||
	    !port_maybe_tracked(sk->__sk_common.skc_num) || stopping)
		return 0;
	/* one helper call for the task and its ids */
	task = bpf_get_current_task_btf();
	id = task_pid_tgid(task);
	tgid = id >> 32;
	key = sk_key(sk, true);
	c = conn_find(key);
	/* a call by the connection's own process (whose accept made it)
	 * needs no target lookup; any other, as before, must be a target's */
	if (c ? c->tgid != tgid && !is_target(tgid) : !is_target(tgid))
		return 0;
	/* one from before we attached is adopted; no accept() is hooked: a
	 * target's first call claims a pending one (conn_pending()) */
	if (!c && !(c = conn_adopt(sk, tgid, CS_NO_FD, true)))
		return 0;
	if (!c->tgid)
		conn_claim(c, sk, task, tgid);
	if (dir == CS_EV_READ)
		seq_check(c, sk, ret > 0 ? ret : 0);
	st.sk = key;
	st.dir = dir;
	regs = regs_of(task);
	/* an io_uring worker (or a kernel thread) made no syscall: its
	 * registers would pass for a read(0, NULL) */
	if ((task->flags & (PF_IO_WORKER | PF_KTHREAD)) ||
	    (task->thread_info.status & TS_COMPAT) || !stash_regs(&st, regs, regs->orig_ax) ||
	    !fd_is_conn(task, c, st.fd, sk)) {
		claim_told(key, c, sk); /* its new is sure, what follows is not */
		io_unread(c);
		return 0;
	}
	st.tls = note_tls_call(id, key, c->gen);
	io_finish(id, &st, ret, c);
	claim_told(key, c, sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sk_recv_length, struct sock *sk, int ret, int flags)
{
	return sock_length(sk, ret, flags, CS_EV_READ);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sk_send_length, struct sock *sk, int ret, int flags)
{
	return sock_length(sk, ret, flags, CS_EV_WRITE);
}

/*
 * Under the sock tracepoints no close() is hooked (a syscall tracepoint
 * sends every syscall on the host through the tracing slow path). The last
 * close of a socket releases its file (__fput, in the closing task) and
 * then calls tcp_close(), which changes the state (FIN_WAIT1, LAST_ACK,
 * CLOSE, or the same state again: the tracepoint fires for each call) or,
 * already CLOSE, destroys the socket (tcp_destroy_sock). So a state change
 * of a tracked socket whose file's count has dropped to zero is its close;
 * shutdown() changes the state with the file alive, and a close() that
 * leaves another reference (dup, fork) releases nothing, as inet_release
 * and file_last_ref() have it.
 */
static __always_inline bool file_released(struct sock *sk)
{
	/* plain loads from the BTF pointer, no helper calls: only the sock
	 * tracepoints come here, and their state change program is
	 * bt_set_state (tp_set_state's branch is dropped by the verifier) */
	struct socket *sock = sk->sk_socket;
	struct file *file = sock ? sock->file : NULL;

	if (!file)
		return false;
	if (bpf_core_field_exists(file->f_ref))
		/* file_ref_t: FILE_REF_DEAD (negative) once the last is put */
		return (long)file->f_ref.refcnt.counter < 0;
	return ((struct file___old *)file)->f_count.counter == 0;
}

/* A target's listen(), in its own task: its port is followed from now on
 * (the ports listened on before we attached come from the user side). */
static __always_inline void listen_started(__u16 port)
{
	__u8 one = 1;

	if (!port || !is_target(bpf_get_current_pid_tgid() >> 32))
		return;
	bpf_map_update_elem(&listen_ports, &port, &one, BPF_ANY);
	port_mark(port);
}

/*
 * Under the sock tracepoints no accept() is hooked (a syscall tracepoint
 * sends every syscall of the host through the tracing slow path). A
 * handshake completed on a port the targets listen on (in softirq: whose
 * it is, nobody knows yet) enters the connections map with tgid 0: pending
 * until the first call on it, or its close, names its process (a target's
 * is claimed, another's dropped). A full map leaves it to be adopted.
 */
static __always_inline void conn_pending(__u64 key, struct sock *sk, __u16 port)
{
	struct tcp_sock *tp = tcp_of(sk, true);
	struct cs_conn c = { .gen = bpf_ktime_get_ns(), .lport = port, .seq_known = 1 };
	bool made;

	if (!tp)
		return;
	c.rd_seq = tp->copied_seq;
	/* an entry whose destroy was missed is replaced, as at accept() */
	conn_put(key, &c, true, true, &made);
}

/* The calling task is exiting, and its process (tgid) was a target until
 * its exit began: the start time tells a reused pid apart. */
static __always_inline bool exiting_target(struct task_struct *task, __u32 tgid)
{
	__u64 *start;

	if (!(task->flags & PF_EXITING))
		return false;
	start = bpf_map_lookup_elem(&exited, &tgid);
	return start && *start == task->group_leader->start_time;
}

/* A state change of pending connection c (key): its first change out of
 * ESTABLISHED is kept for its ACCEPT; its close (the closing task is the
 * first to use it) claims it for a target, or drops it. */
static __always_inline void pending_change(__u64 key, struct cs_conn *c, struct sock *sk, int old,
					   int new)
{
	struct task_struct *task;
	__u32 tgid;
	__u64 id;

	if (old == TCP_ESTABLISHED && !c->state_told) {
		c->state_told = 1;
		c->pend_old = old;
		c->pend_new = new;
	}
	if (!file_released(sk))
		return;
	task = bpf_get_current_task_btf();
	id = task_pid_tgid(task);
	tgid = id >> 32;
	if (!is_target(tgid) && !exiting_target(task, tgid)) {
		conn_remove(key);
		return;
	}
	conn_claim(c, sk, task, tgid);
	seq_check(c, sk, 0);
	conn_end(key, c, CS_EV_CLOSE, id, CS_NO_FD, 0, 0, 0); /* its ACCEPT too */
}

/* A TCP state change of socket key (sk): runs in softirq for any socket
 * on the host, so the pid means nothing (but for the close found by
 * file_released(), made in the closing task). socktp: a constant, true in
 * the sock tracepoints' program (the compiler drops their branches from
 * the others: see tcp_of()). */
static __always_inline int state_change(__u64 key, struct sock *sk, __u16 port, int old, int new,
					bool has_file, bool socktp)
{
	struct cs_conn *c;
	bool first;

	if (stopping)
		return 0;
	/* the sock tracepoints hook no accept(): see conn_pending() */
	if (socktp && new == TCP_LISTEN) {
		listen_started(port);
		return 0;
	}
	/* a connect(): port 0 then, which passes the port filter, and no
	 * tracked (accepted) socket ever connects */
	if (new == TCP_SYN_SENT)
		return 0;
	if (socktp && old == TCP_SYN_RECV && new == TCP_ESTABLISHED) {
		if (port && port_maybe_tracked(port))
			conn_pending(key, sk, port);
		return 0;
	}
	/* only the first change out of ESTABLISHED, and under the sock
	 * tracepoints a close, which a socket without a file cannot be */
	if ((old != TCP_ESTABLISHED && !(socktp && has_file)) || !port_maybe_tracked(port))
		return 0;
	c = conn_find(key);
	if (!c)
		return 0;
	if (socktp && !c->tgid) {
		pending_change(key, c, sk, old, new);
		return 0;
	}
	/* the user side wants only who ended it: the first change */
	first = old == TCP_ESTABLISHED && !c->state_told;
	if (first)
		c->state_told = 1;
	/* the sock tracepoints hook no close(): see file_released(). A close
	 * that is also the first change (the server's) says both at once. */
	if (socktp && file_released(sk)) {
		seq_check(c, sk, 0);
		conn_end(key, c, CS_EV_CLOSE, bpf_get_current_pid_tgid(), CS_NO_FD, 0,
			 first ? old : 0, first ? new : 0);
		return 0;
	}
	if (first)
		send_tcp_state(key, c, old, new);
	return 0;
}

/* The socket is freed: a connection whose close we did not see ends here. */
static __always_inline int sock_destroyed(__u64 key, __u16 port)
{
	struct cs_conn *c;

	if (stopping || !port_maybe_tracked(port))
		return 0;
	c = conn_find(key);
	if (c && !c->tgid) /* pending, and no target ever used it */
		conn_remove(key);
	else if (c)
		conn_end(key, c, CS_EV_DESTROY, (__u64)c->tgid << 32, 0, 0, 0, 0);
	return 0;
}

/* The tracepoint programs build the trace record before they run (its
 * addresses too); the BTF ones below, taken with the kernel's own BTF
 * (the socket hooks and the sock tracepoints), get the arguments as they
 * are. The loader loads one pair. */
SEC("tracepoint/sock/inet_sock_set_state")
int tp_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return state_change((__u64)ctx->skaddr, (struct sock *)ctx->skaddr, ctx->sport,
			    ctx->oldstate, ctx->newstate, true, false);
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int tp_destroy_sock(struct trace_event_raw_tcp_event_sk *ctx)
{
	return sock_destroyed((__u64)ctx->skaddr, ctx->sport);
}

static __always_inline int btf_set_state(struct sock *sk, int old, int new, bool socktp)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	return state_change(sk_key(sk, socktp), sk, sk->__sk_common.skc_num, old, new,
			    sk->sk_socket, socktp);
}

static __always_inline int btf_destroy_sock(struct sock *sk, bool cast)
{
	/* inet_num is 0 by now (inet_put_port): the port filter takes
	 * inet_sport, which stays, as the tracefs program's sport */
	struct tcp_sock *tp = tcp_of(sk, cast);

	return sock_destroyed(sk_key(sk, cast),
			      tp ? bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport) : 0);
}

/* the socket hooks' pair */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(bt_set_state, struct sock *sk, int oldstate, int newstate)
{
	return btf_set_state(sk, oldstate, newstate, false);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(bt_destroy_sock, struct sock *sk)
{
	return btf_destroy_sock(sk, false);
}

/* the sock tracepoints' pair: the same programs, with tcp_of()'s cast */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(st_set_state, struct sock *sk, int oldstate, int newstate)
{
	return btf_set_state(sk, oldstate, newstate, true);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(st_destroy_sock, struct sock *sk)
{
	return btf_destroy_sock(sk, true);
}

/* Thread id exits: a TLS library call it was inside (its uprobe saw the
 * entry, no return will come) is dropped with its count, which else stays
 * high and costs every socket call a tls_calls lookup from then on. */
static __always_inline void tls_call_gone(__u64 id)
{
	if (calls_any())
		calls_drop(id);
}

/* A target's new process (not a new thread) becomes a target too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;
	struct scratch *s;

	if (stopping)
		return 0;

	if (ptgid == ctgid || !is_target(ptgid))
		return 0;
	bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
	s = event_begin(CS_EV_PROC_FORK, 0, ctgid);
	if (s) {
		s->e.fd = ptgid;
		/* the reader wakes for it: the child has no TLS probes until
		 * the user side attaches them (user/tls.c), and forks are few */
		s->unwoken = wakeup_bytes;
		event_submit(s, NULL);
	}
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tp_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct scratch *s;
	__u64 start;
	bool dead;

	if (stopping)
		return 0;

	/* every thread's: a removed target's threads leave none behind */
	bpf_map_delete_elem(&stashes, &id);
	tls_call_gone(id);
	if (bpf_core_field_exists(ctx->group_dead))
		dead = BPF_CORE_READ(ctx, group_dead);
	else
		dead = (__u32)id == tgid;
	if (!dead || !is_target(tgid))
		return 0;
	bpf_map_delete_elem(&targets, &tgid);
	start = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), group_leader, start_time);
	bpf_map_update_elem(&exited, &tgid, &start, BPF_ANY);
	s = event_begin(CS_EV_PROC_EXIT, 0, tgid);
	if (s)
		event_submit(s, NULL);
	return 0;
}

/*
 * Socket hooks (--hooks=socket): fentry/fexit on the socket layer instead
 * of the syscalls. They run only for TCP calls (the target check first),
 * so the rest of the host pays nothing for its other syscalls (a syscall
 * tracepoint sends every syscall on the host through the tracing slow
 * path). Where they meet each syscall, on 5.10,
 * 6.1 and 6.12:
 *   read, readv, recvfrom, recvmsg: sock_recvmsg -> inet{,6}_recvmsg ->
 *     tcp_recvmsg, TCP only (its signature changed in 5.19: see below);
 *   write, writev, sendto, sendmsg: sock_sendmsg (6.6+: the inlined
 *     __sock_sendmsg) -> inet{,6}_sendmsg -> tcp_sendmsg, TCP only;
 *   sendfile: up to 6.4 splice -> kernel_sendpage -> tcp_sendpage, per
 *     page; 6.5+ splice -> sock_sendmsg(MSG_SPLICE_PAGES) -> tcp_sendmsg
 *     with a bio_vec iterator;
 *   accept, accept4: inet_accept (IPv6 too), grafting the new sock;
 *   close: the last reference's __fput -> sock_close -> inet_release (or
 *     inet6_release, which calls it), in the closing task;
 *   shutdown: inet_shutdown.
 * The socket is an argument, so no descriptor table walk; the descriptor
 * is unknown, and events carry CS_NO_FD (the user side does not use it).
 * The loader loads these or the syscall programs, never both.
 */
/* Before 5.14 ("iov_iter: separate direction from flavour"): type held
 * the flavour as a bit (enum iter_type), the direction in bit 0. */
struct iov_iter___510 {
	unsigned int type;
};

/* Before 6.4 ("iov_iter: add iter_iovec() helper") renamed iov to __iov */
struct iov_iter___61 {
	const struct iovec *iov;
};

/* Where the payload of a socket call is: user memory (K_BUF for one
 * piece, as read() and write() give, K_KIOV for the kernel's copy of an
 * iovec array) or not (K_SENDFILE: pages, nothing to copy). */
static __always_inline void stash_iter(struct stash *st, struct iov_iter *it)
{
	__u32 t, iovec = bpf_core_enum_value(enum iter_type, ITER_IOVEC);
	struct iovec iov;
	__u64 arr;

	st->kind = K_SENDFILE;
	if (bpf_core_field_exists(it->iter_type))
		t = BPF_CORE_READ(it, iter_type);
	else
		t = BPF_CORE_READ((struct iov_iter___510 *)it, type) & ~1u;
	if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    bpf_core_field_exists(it->ubuf) && t == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
		st->kind = K_BUF;
		st->ptr = (__u64)BPF_CORE_READ(it, ubuf) + BPF_CORE_READ(it, iov_offset);
		return;
	}
	if (t != iovec)
		return;
	if (bpf_core_field_exists(it->__iov))
		arr = (__u64)BPF_CORE_READ(it, __iov);
	else
		arr = (__u64)BPF_CORE_READ((struct iov_iter___61 *)it, iov);
	st->ptr = arr;
	st->cnt = BPF_CORE_READ(it, nr_segs);
	st->kind = K_KIOV;
	/* one piece: a flat buffer, so tiny reads are held and header
	 * blocks sent whole as with the syscall hooks */
	if (st->cnt == 1 && !bpf_probe_read_kernel(&iov, sizeof(iov), (void *)arr)) {
		st->kind = K_BUF;
		st->ptr = (__u64)iov.iov_base + BPF_CORE_READ(it, iov_offset);
	}
}

/* io_enter for a socket call: the socket is known, the payload is in msg
 * (NULL: pages, sendpage). */
static __always_inline int sock_io_enter(struct sock *sk, struct msghdr *msg, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct stash st = {};
	struct cs_conn *c;
	__u64 key = (__u64)sk;

	if (!syscall_wanted(tgid) || !sk)
		return 0;
	c = conn_find(key);
	if (!c && !(c = conn_adopt(sk, tgid, CS_NO_FD, false)))
		return 0;
	st.sk = key;
	st.fd = CS_NO_FD;
	st.dir = dir;
	st.kind = K_SENDFILE;
	if (msg)
		stash_iter(&st, &msg->msg_iter);
	st.tls = note_tls_call(id, key, c->gen);
	if (!stash_put(id, &st))
		stash_failed(c);
	return 0;
}

/*
 * TCP only, IPv4 and IPv6: inet{,6}_recvmsg both call tcp_recvmsg, so one
 * program pair serves both (each fexit program verifies all of io_exit).
 * Its signature changed in 5.19 ("net: remove noblock parameter from
 * recvmsg() entities"): the _nb pair is for the kernels before, and the
 * loader loads the programs whose argument count the kernel's BTF has.
 */
SEC("fentry/tcp_recvmsg")
int BPF_PROG(fe_tcp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	if (flags & MSG_PEEK)
		return 0;
	return sock_io_enter(sk, msg, CS_EV_READ);
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(fx_tcp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	return io_exit(opaque_ret(ret));
}

/* Newer kernels dropped addr_len too (our 6.18 machines' BTF has four
 * arguments; 6.12's five): the result moved up again */
SEC("fexit/tcp_recvmsg")
int BPF_PROG(fx_tcp_recvmsg4, struct sock *sk, struct msghdr *msg, size_t len, int flags, int ret)
{
	return io_exit(opaque_ret(ret));
}

SEC("fentry/tcp_recvmsg")
int BPF_PROG(fe_tcp_recvmsg_nb, struct sock *sk, struct msghdr *msg, size_t len, int nonblock,
	     int flags)
{
	if (flags & MSG_PEEK)
		return 0;
	return sock_io_enter(sk, msg, CS_EV_READ);
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(fx_tcp_recvmsg_nb, struct sock *sk, struct msghdr *msg, size_t len, int nonblock,
	     int flags, int *addr_len, int ret)
{
	return io_exit(opaque_ret(ret));
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(fe_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size)
{
	return sock_io_enter(sk, msg, CS_EV_WRITE);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fx_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return io_exit(opaque_ret(ret));
}

/* Up to 6.4 only (the loader skips them where tcp_sendpage is gone): one
 * call per page of a sendfile, each a WRITE of its length. */
SEC("fentry/tcp_sendpage")
int BPF_PROG(fe_tcp_sendpage, struct sock *sk, struct page *page, int offset, size_t size,
	     int flags)
{
	return sock_io_enter(sk, NULL, CS_EV_WRITE);
}

/* io_exit for a write of pages, which copies nothing: one more fexit
 * program with all of io_exit in it would cost its verification again
 * (seconds on 5.10 under emulation) for code a sendpage never runs. */
static __always_inline int sendpage_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct scratch *s;
	struct cs_conn *c;
	struct stash st;

	if (stopping)
		return 0;
	if (!stash_take(id, &st))
		return 0;
	if (ret == -EAGAIN || ret == 0)
		return 0;
	c = conn_find(st.sk);
	if (!c)
		return 0;
	if (ret > 0)
		c->wr_seq += ret;
	s = event_begin_id(CS_EV_WRITE, st.sk, id);
	if (!s)
		return 0;
	s->e.ret = ret;
	s->e.fd = st.fd;
	if (st.tls) {
		s->e.flags |= CS_F_TLS;
	} else if (ret > 0) {
		s->e.flags |= CS_F_SENDFILE;
		/* as io_exit: the frame walk cannot follow bytes it cannot read */
		if (c->h2 == CS_H2_YES) {
			c->h2 = CS_H2_LOST;
			s->e.flags |= CS_F_WALK_CUT;
		}
		c->rd_since_wr = 0;
	}
	flush_held(c, st.sk);
	event_submit(s, c);
	return 0;
}

SEC("fexit/tcp_sendpage")
int BPF_PROG(fx_tcp_sendpage, struct sock *sk, struct page *page, int offset, size_t size,
	     int flags, int ret)
{
	return sendpage_exit(ret);
}

/* inet_accept's third argument changed in 6.10 (struct proto_accept_arg):
 * only the first two are read. newsock has its sock once it succeeded. */
SEC("fexit/inet_accept")
int BPF_PROG(fx_inet_accept, struct socket *sock, struct socket *newsock)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct sock *sk;

	if (!syscall_wanted(tgid))
		return 0;
	sk = BPF_CORE_READ(newsock, sk);
	if (!sk || !is_inet_tcp(sk))
		return 0;
	conn_add(sk, tgid, CS_NO_FD, CS_EV_ACCEPT, false);
	return 0;
}

/* inet_release runs for the socket's last reference only, as close_enter's
 * file_last_ref() check; CLOSE goes out at its exit, after the state
 * change tcp_close() makes. */
SEC("fentry/inet_release")
int BPF_PROG(fe_inet_release, struct socket *sock)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cs_conn *c;
	__u64 key;

	if (!syscall_wanted(id >> 32))
		return 0;
	key = (__u64)BPF_CORE_READ(sock, sk);
	c = key ? conn_find(key) : NULL;
	if (!c)
		return 0;
	stash_close(id, key, c, CS_NO_FD);
	return 0;
}

SEC("fexit/inet_release")
int BPF_PROG(fx_inet_release, struct socket *sock, int ret)
{
	return close_exit(0);
}

SEC("fentry/inet_shutdown")
int BPF_PROG(fe_inet_shutdown, struct socket *sock, int how)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct cs_conn *c;
	__u64 key;

	if (!syscall_wanted(tgid))
		return 0;
	key = (__u64)BPF_CORE_READ(sock, sk);
	c = key ? conn_find(key) : NULL;
	if (!c)
		return 0;
	send_shutdown(key, c, tgid, CS_NO_FD, how);
	return 0;
}
