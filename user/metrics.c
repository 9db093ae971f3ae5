// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The /metrics endpoint; see metrics.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"

int metrics_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hl;
	uint32_t port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || cli_parse_u32(colon + 1, 1, 65535, &port))
		return -1;
	hl = colon - s;
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -1;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (!hl)
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (!strcmp(host, "localhost"))
			a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -1;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
	}
	return 0;
}

#ifdef CS_NO_METRICS
struct metrics *metrics_start(const struct sockaddr_storage *ss, socklen_t len,
			      metrics_render_fn render, void *ctx, char *err, size_t errlen)
{
	snprintf(err, errlen, "this static build has no --metrics (use the dynamic build)");
	return NULL;
}

void metrics_poll(struct metrics *m)
{
}

void metrics_stop(struct metrics *m)
{
}
#else
#include <microhttpd.h>

struct metrics {
	struct MHD_Daemon *d;
	int fd;
	metrics_render_fn render;
	void *ctx;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **con_cls)
{
	static const char not_found[] = "connstate serves /metrics only\n";
	static const char not_allowed[] = "GET or HEAD only\n";
	struct metrics *m = cls;
	char *page = NULL;
	size_t len = 0;
	FILE *f;

	(void)version;
	(void)upload;
	if (*upload_len) {
		*upload_len = 0; /* a body is ignored: answered once it is read */
		return MHD_YES;
	}
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", (void *)not_allowed,
			     sizeof(not_allowed) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", (void *)not_found,
			     sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
	f = open_memstream(&page, &len);
	if (!f)
		return MHD_NO;
	m->render(m->ctx, f);
	if (fclose(f)) {
		free(page);
		return MHD_NO;
	}
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", page, len,
		     MHD_RESPMEM_MUST_FREE);
}

struct metrics *metrics_start(const struct sockaddr_storage *ss, socklen_t len,
			      metrics_render_fn render, void *ctx, char *err, size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int one = 1;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->render = render;
	m->ctx = ctx;
	m->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->fd, (const struct sockaddr *)ss, len) || listen(m->fd, 64)) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	/* no thread of its own: metrics_poll runs it from connstate's loop */
	m->d = MHD_start_daemon(ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : MHD_NO_FLAG, 0, NULL,
				NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, m->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
	if (!m->d) {
		snprintf(err, errlen, "libmicrohttpd could not start");
		goto fail;
	}
	return m;
fail:
	if (m->fd >= 0)
		close(m->fd);
	free(m);
	return NULL;
}

void metrics_poll(struct metrics *m)
{
	if (m)
		MHD_run(m->d);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	close(m->fd);
	free(m);
}
#endif /* CS_NO_METRICS */
