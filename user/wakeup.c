// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "wakeup.h"

uint64_t wake_share(uint64_t ring_bytes, long online, long possible)
{
	uint64_t share, cap;

	if (online < 1)
		online = 1;
	if (possible < online)
		possible = online;
	share = ring_bytes / 16 / (uint64_t)online;
	cap = ring_bytes / 2 / (uint64_t)possible;
	if (share > cap)
		share = cap;
	return share ? share : 1;
}
