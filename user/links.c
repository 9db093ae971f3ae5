// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Parallel link teardown; see links.h. */
#include <pthread.h>
#include <bpf/libbpf.h>

#include "links.h"

#define LINK_THREADS 8

struct slice {
	struct bpf_link **links;
	size_t n, start, step;
};

static void *destroy_slice(void *arg)
{
	struct slice *s = arg;
	size_t i;

	for (i = s->start; i < s->n; i += s->step) {
		bpf_link__destroy(s->links[i]);
		s->links[i] = NULL;
	}
	return NULL;
}

void links_destroy(struct bpf_link **links, size_t n)
{
	struct slice s[LINK_THREADS];
	pthread_t th[LINK_THREADS];
	bool started[LINK_THREADS] = { 0 };
	size_t i;

	for (i = 0; i < LINK_THREADS; i++) {
		s[i] = (struct slice){ .links = links, .n = n, .start = i, .step = LINK_THREADS };
		started[i] = !pthread_create(&th[i], NULL, destroy_slice, &s[i]);
		if (!started[i])
			destroy_slice(&s[i]); /* no thread: do it here */
	}
	for (i = 0; i < LINK_THREADS; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}
