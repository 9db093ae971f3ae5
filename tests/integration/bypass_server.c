/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A test server whose socket reads and writes bypass the read and write
 * syscalls (tests/integration/sockcalls.sh, tests/vm/bypass.sh): io_uring
 * (IORING_OP_RECV/SEND, made with raw syscalls: no liburing) and splice(2)
 * out of the socket. Accept and close stay plain syscalls. One request per
 * connection, answered and closed; the connections take turns:
 *   1st, 5th, ...: the request read through io_uring, the response write()n;
 *   2nd, 6th, ...: the request read(), the response sent through io_uring;
 *   3rd, 7th, ...: both through io_uring;
 *   4th, 8th, ...: the request spliced into a pipe, the response write()n.
 *
 * usage: bypass_server PORT   (listens on 127.0.0.1, prints "ready")
 */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
	int fd;
	struct io_uring_sqe *sqes;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void ring_init(struct ring *r)
{
	struct io_uring_params p = { 0 };
	char *sq, *cq;

	r->fd = syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		die("io_uring_setup");
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		die("mmap");
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

/* One op on fd, waited for: its result (bytes or -errno). */
static int ring_io(struct ring *r, int op, int fd, void *buf, unsigned len)
{
	unsigned tail = *r->sq_tail, i = tail & *r->sq_mask, head;
	struct io_uring_sqe *sqe = &r->sqes[i];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->addr = (unsigned long)buf;
	sqe->len = len;
	r->sq_array[i] = i;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		die("io_uring_enter");
	head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "bypass_server: no completion\n");
		exit(1);
	}
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

/* The socket's next bytes through a pipe: splice(2) out of it (no recvmsg). */
static int splice_read(int fd, char *buf, unsigned len)
{
	int p[2], n;

	if (pipe(p))
		die("pipe");
	n = splice(fd, NULL, p[1], NULL, len, 0);
	if (n > 0)
		n = read(p[0], buf, n);
	close(p[0]);
	close(p[1]);
	return n;
}

int main(int argc, char **argv)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned long conns = 0;
	struct ring r;
	char buf[4096];
	int ls, c, n, turn, one = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: bypass_server PORT\n");
		return 2;
	}
	ring_init(&r);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(atoi(argv[1]));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 64))
		die("listen");
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		c = accept(ls, NULL, NULL);
		if (c < 0)
			die("accept");
		turn = conns++ % 4;
		/* the request: one read (the tests send it in one piece) */
		if (turn == 1)
			n = read(c, buf, sizeof(buf));
		else if (turn == 3)
			n = splice_read(c, buf, sizeof(buf));
		else
			n = ring_io(&r, IORING_OP_RECV, c, buf, sizeof(buf));
		if (n > 0 && (turn == 0 || turn == 3)) {
			if (write(c, resp, sizeof(resp) - 1) < 0)
				perror("write");
		} else if (n > 0) {
			ring_io(&r, IORING_OP_SEND, c, (void *)resp, sizeof(resp) - 1);
		}
		close(c);
	}
}
