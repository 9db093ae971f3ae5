/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event ABI shared by bpf/connstate.bpf.c and user/. Fixed-width types
 * only: this header includes neither vmlinux.h nor libc.
 *
 * The kernel side reports facts about the sockets of the target processes;
 * the user side decides HTTP states from them.
 */
#ifndef CONNSTATE_H
#define CONNSTATE_H

/* Bytes of a read or write copied from its start; the rest is counted only. */
#define CS_HEAD_CAP 4096
/* A read larger than CS_HEAD_CAP, made before this many bytes were read
 * since the server's last write (so while a request's header block may be
 * arriving), is sent whole in events of CS_HEAD_CAP bytes, up to this many
 * bytes of it: a header block must not fall into an uncopied hole. */
#define CS_HEAD_BLOCK_MAX (64 << 10)
/* Bytes copied from the end of a write larger than CS_HEAD_CAP: enough to
 * see a chunked body's terminator without copying the body. */
#define CS_TAIL_CAP 64
/* Reads of at most this many bytes with no line end in them are held in
 * the connection's entry and sent with its next event: a client that
 * trickles a header byte by byte costs one event per line, not per byte. */
#define CS_TINY_READ 16
#define CS_PENDING_CAP 32

enum cs_event_type {
	CS_EV_ACCEPT = 1, /* accept/accept4 returned a TCP connection */
	CS_EV_ADOPT,	  /* first sight of a connection that predates attach */
	CS_EV_READ,	  /* read-like syscall returned >= 0 or an error */
	CS_EV_WRITE,	  /* write-like syscall returned > 0 or an error */
	CS_EV_CLOSE,	  /* the last descriptor of the socket was closed */
	CS_EV_SHUTDOWN,	  /* shutdown(2); ret holds how */
	CS_EV_TCP_STATE,  /* the first state change out of ESTABLISHED */
	CS_EV_DESTROY,	  /* tcp_destroy_sock: the socket is gone */
	CS_EV_PROC_FORK,  /* a target forked: tgid is the child, fd the parent */
	CS_EV_PROC_EXIT,  /* a target process exited */
	/* TLS plaintext, from uprobes on the server's TLS library (tls.bpf.c):
	 * ret is the bytes SSL_read returned or SSL_write took; sk is the
	 * socket a syscall inside the library call (or an earlier call on the
	 * same SSL object) used */
	CS_EV_TLS_READ,
	CS_EV_TLS_WRITE,
};

enum cs_event_flags {
	CS_F_SENDFILE = 1 << 0, /* payload came from a file: nothing copied */
	CS_F_TRUNC_IOV = 1 << 1, /* more iovecs than the copy walks */
	CS_F_HELD = 1 << 2,	 /* tiny reads held back, sent before the next event */
	/* local/remote are filled: the connection's ACCEPT or ADOPT was lost,
	 * and this is the first of its events that got through */
	CS_F_ADDRS = 1 << 3,
	CS_F_ADOPTED = 1 << 4, /* with CS_F_ADDRS: it was an ADOPT that was lost */
	/* a READ or WRITE made inside a TLS library call: ciphertext, so
	 * nothing is copied; the connection is TLS */
	CS_F_TLS = 1 << 5,
	/* HTTP/2: the frame walk stopped before the end of the payload (more
	 * than CS_MAX_FRAMES frames, or unreadable memory) */
	CS_F_WALK_CUT = 1 << 6,
	/* the connection's ACCEPT goes with this event (the sock tracepoints
	 * claim a connection at its first call, and one event is cheaper
	 * than two): local/remote are filled, acc_old/acc_new are the first
	 * state change it had, tgid is the acceptor's (acceptor_of(): maybe
	 * the caller's parent), and the ACCEPT is dated at gen */
	CS_F_ACCEPTED = 1 << 7,
	/* a READ or WRITE wholly inside a body the user side framed by its
	 * Content-Length (struct cs_skip): counted, nothing copied */
	CS_F_UNCOPIED = 1 << 8,
};

struct cs_addr {
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 port;   /* host order */
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
};

struct cs_event {
	__u64 ts_ns;	/* bpf_ktime_get_ns() */
	__u64 sk;	/* struct sock address: the connection's key */
	__s64 ret;	/* syscall result: bytes or -errno */
	__u32 tgid;
	__u32 tid;
	__u32 fd;
	__u16 type;	/* enum cs_event_type */
	__u16 flags;	/* enum cs_event_flags */
	__u32 lost;	/* events of this connection lost so far */
	__u16 head_len; /* bytes of data[] from the start of the payload */
	__u16 tail_len; /* bytes of data[] after head: the payload's last bytes */
	__u8 tcp_old;
	__u8 tcp_new;
	__u8 nframes;	/* struct cs_frame records after the payload bytes */
	__u8 acc_old;	/* CS_F_ACCEPTED: the ACCEPT's tcp_old and tcp_new */
	__u8 acc_new;
	__u8 pad[3];
	__u64 gen;	/* the connection's generation: tells a reused sk apart */
	struct cs_addr local;  /* ACCEPT, ADOPT and CS_F_ADDRS only */
	struct cs_addr remote; /* ACCEPT, ADOPT and CS_F_ADDRS only */
	/* head_len + tail_len bytes of payload follow the struct, then
	 * nframes struct cs_frame */
};

/* HTTP/2 frame headers followed per syscall (copied ones included), and
 * reported per event (those outside the copied bytes): 1 MiB of 16 KiB
 * DATA frames is 64 of them. */
#define CS_WALK_STEPS 256
#define CS_MAX_FRAMES 64
#define CS_FRAME_HDR 9

/* An HTTP/2 frame header that starts past the copied head of a read or
 * write of a connection the kernel knows speaks HTTP/2. */
struct cs_frame {
	__u32 off; /* from the start of this syscall's payload */
	__u8 hdr[CS_FRAME_HDR];
	__u8 pad[3];
};

/* A connection whose CLOSE or DESTROY event was lost, in the hash map
 * "unseen_ends" keyed by gen (a socket address is reused faster than the
 * reader may come): the user side ends it there, once. */
struct cs_end {
	__u64 gen;
	__u64 sk;
	__u64 ts_ns;
	__u32 tgid;
	__u32 unannounced; /* none of its events got through: the addresses
			    * below are all the user side will know of it */
	struct cs_addr local, remote;
};

/* The kernel's entry for a tracked connection, the value of the hash map
 * "conns" keyed by sk (or of the table below). The user side reads gen at
 * exit: a connection it holds open whose sk is absent, or holds another
 * gen, ended unseen. */
struct cs_conn {
	__u32 tgid; /* whose accept made it; 0: pending (sock tracepoints) */
	__u32 lost;
	__u32 state_told; /* its end (the first change from ESTABLISHED) was sent */
	__u32 unannounced; /* its ACCEPT/ADOPT (this type) was lost: addresses go
			    * with its next event that gets through; or
			    * CS_CLAIMED */
	__u64 gen;     /* when it was added: tells a reused socket address apart */
	__u64 held_ts; /* time of the first held tiny read */
	__u32 held_tid;
	__u32 held_fd;
	__u16 lport;  /* the socket forgets its local port when it is closed */
	__u8 held_len;
	__u8 held[CS_PENDING_CAP];
	__u32 rd_since_wr; /* bytes read since the last write, up to CS_HEAD_BLOCK_MAX */
	/* HTTP/2 prior knowledge (the preface was the first read): where the
	 * frame walk stands in each direction ([0] read, [1] written), carried
	 * across syscalls. h2 is enum cs_h2. */
	__u8 h2;
	__u8 h2_hlen[2];	 /* bytes of a frame header cut by a syscall's end */
	__u8 h2_hdr[2][CS_FRAME_HDR]; /* ... and those bytes */
	__u32 h2_rem[2];	 /* from the next syscall's start to its first frame header */
	__u32 fd_seen; /* sock tracepoints: 1 + the descriptor a syscall last
			* used it through (0: none yet) */
	__u32 rd_seq;	/* sock tracepoints: the socket's copied_seq after the
			 * last read we saw (seq_known: since its handshake
			 * or its first read), to find bytes taken unseen;
			 * the other modes: see wr_seq */
	__u8 seq_known; /* sock tracepoints only: the others know it always */
	/* sock tracepoints: while tgid is 0 (pending: no process has used it
	 * yet), its first change out of ESTABLISHED, for its ACCEPT */
	__u8 pend_old;
	__u8 pend_new;
	/* the other modes: the socket's write_seq at its accept (or
	 * adoption) plus the bytes of every write we saw (rd_seq: copied_seq
	 * plus the reads), checked at its close (seq_close_check()) */
	__u32 wr_seq;
	/* the bytes of the READ ([0]) and WRITE ([1]) events sent, as the
	 * user side counts them: where a struct cs_skip's until[] points */
	__u64 told_bytes[2];
	__u8 tls_told; /* a ciphertext event of it was sent (io_finish()) */
};

/*
 * Under the sock tracepoints the entries live in a table of our own, not
 * in "conns": rows of CS_CONN_WAYS socket addresses (conn_keys) and their
 * entries at the same index (conn_vals, row * CS_CONN_WAYS + way). A
 * socket's entry is in its first row, or in its second if the first was
 * full. Both arrays are allocated whole: no allocator runs at a handshake
 * or a close (bpf/conns.h). The user side finds an entry the same way.
 */
#define CS_CONN_WAYS 7

struct cs_conn_row {
	__u64 key[CS_CONN_WAYS]; /* the socket's address; 0: free */
	__u64 lock; /* held by an adoption whose first row this is */
};

/* The row (0 or 1: first or second) of socket key in a table of rows rows:
 * the top of a multiplicative hash, scaled to rows without a division. */
static inline __u32 cs_conn_row_of(__u64 key, __u32 rows, int second)
{
	__u64 h = (key >> 6) * (second ? 0xc2b2ae3d27d4eb4fULL : 0x9e3779b97f4a7c15ULL);

	return ((h >> 32) * rows) >> 32;
}

/* cs_conn.unannounced of a connection just claimed (sock tracepoints): its
 * ACCEPT goes with its next event (CS_F_ACCEPTED) */
#define CS_CLAIMED 0x100

enum cs_h2 {
	CS_H2_UNDECIDED, /* no byte read yet */
	CS_H2_NO,	 /* not HTTP/2 prior knowledge: never walked */
	CS_H2_YES,	 /* walked */
	CS_H2_LOST,	 /* the walk gave up once: never walked again */
	/* TLS: the socket's bytes are ciphertext (CS_H2_NO); tls.bpf.c walks
	 * the plaintext instead, decided by the first plaintext read */
	CS_H2_TLS,	 /* it began with the preface: walked */
	CS_H2_TLS_NO,	 /* it did not, or the walk gave up: never walked */
};

/* A TLS library call in progress on a thread, the value of the hash map
 * "tls_calls" keyed by pid_tgid: the uprobe at its entry fills it, the
 * syscall programs note the socket it uses, its return probe reads it. */
struct cs_tls_call {
	__u64 ssl;   /* the SSL* */
	__u64 buf;   /* SSL_read/SSL_write's buffer */
	__u64 sizep; /* SSL_read_ex/SSL_write_ex: where the byte count goes */
	__u64 sk;    /* set by a syscall of the call on a tracked connection */
	__u64 gen;
	__u32 kind;  /* private to tls.bpf.c */
	__u32 pad;
};

/*
 * The user side's word on a connection, in the LRU hash "skips" keyed by
 * its sk: in each direction ([0] read, [1] written), the byte (counted as
 * told_bytes) up to which the stream is the body of a message it framed by
 * Content-Length. A read or write wholly before it goes out counted, not
 * copied: body bytes are only counted there. A wrong gen is ignored.
 */
struct cs_skip {
	__u64 gen;
	__u64 until[2];
};

/* Reads and writes smaller than this are copied without asking "skips". */
#define CS_SKIP_MIN 1024

/* Counters in the per-CPU array "stats", indexed by this enum. */
enum cs_stat {
	CS_STAT_LOST_EVENTS, /* ring buffer reservation failed */
	CS_STAT_CONN_MAP_FULL, /* a connection could not be tracked */
	CS_STAT_STASH_FULL, /* a syscall's arguments could not be saved */
	CS_STAT_EVENTS, /* events submitted */
	CS_STAT_TLS_UNTIED, /* TLS plaintext of no tracked connection (not sent) */
	CS_STAT_IO_UNREAD, /* a socket call of a tracked connection whose syscall
			    * we cannot read (sock tracepoints: io_uring, ...) */
	CS_STAT_UNCOPIED, /* reads and writes sent uncopied (struct cs_skip) */
	CS_STAT_MAX,
};

#endif /* CONNSTATE_H */
