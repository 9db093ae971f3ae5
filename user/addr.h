/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Socket address formatting, as Go's net.Addr.String() prints it. */
#ifndef CONNSTATE_ADDR_H
#define CONNSTATE_ADDR_H

#include <stddef.h>

#include <linux/types.h>

#include "connstate.h"

/* "[addr]:port" with the brackets for IPv6 */
#define ADDR_STR_MAX 64

/* IPv4-mapped IPv6 prints as IPv4, as Go does for a dual-stack listener. */
void addr_format(const struct cs_addr *a, char *buf, size_t len);

#endif /* CONNSTATE_ADDR_H */
