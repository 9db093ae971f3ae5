/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How many bytes of events each CPU writes before it wakes the reader
 * (bpf/wake.h counts them per CPU). Pure.
 */
#ifndef CONNSTATE_WAKEUP_H
#define CONNSTATE_WAKEUP_H

#include <stdint.h>

/*
 * A sixteenth of the ring shared among the online CPUs, so that those
 * together wake the reader long before the ring is full; but never more
 * than half the ring over all the possible CPUs, so that CPUs brought
 * online later cannot fill it unwoken. Dividing by the possible CPUs
 * alone made it a few KiB where a VM has many more possible CPUs than
 * online ones (hotplug slots: 4 KiB for 2 of 64 with the default ring), a
 * wakeup every dozen events, each costing the traced process
 * microseconds. At least 1 (0 would mean every event).
 */
uint64_t wake_share(uint64_t ring_bytes, long online, long possible);

#endif
