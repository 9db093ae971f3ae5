// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of user/wakeup.c: the bytes each CPU writes before it wakes
 * the reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wakeup.h"

#define MIB (1ull << 20)

/* every CPU online: a sixteenth of the ring among them, as before */
static void all_online_share_a_sixteenth(void **st)
{
	(void)st;
	assert_int_equal(wake_share(4 * MIB, 2, 2), 128 << 10);
	assert_int_equal(wake_share(4 * MIB, 1, 1), 256 << 10);
	assert_int_equal(wake_share(64 * MIB, 16, 16), 256 << 10);
}

/* 2 online of 64 possible (hotplug slots): the online ones' sixteenth,
 * capped at half the ring over the possible ones (32 KiB); dividing by the
 * possible CPUs gave 4 KiB, a wakeup every dozen events */
static void hotplug_slots_do_not_shrink_it_to_nothing(void **st)
{
	(void)st;
	assert_int_equal(wake_share(4 * MIB, 2, 64), 32 << 10);
	/* all 64 brought online later: 64 x 32 KiB is half the ring */
	assert_true(64 * wake_share(4 * MIB, 2, 64) <= 2 * MIB);
	/* few slots: the online share wins */
	assert_int_equal(wake_share(4 * MIB, 2, 4), 128 << 10);
}

/* sysconf's -1, a possible count below the online one, a tiny ring */
static void odd_counts_give_a_positive_share(void **st)
{
	(void)st;
	assert_int_equal(wake_share(4 * MIB, -1, 2), 256 << 10);
	assert_int_equal(wake_share(4 * MIB, 8, 2), 32 << 10);
	assert_int_equal(wake_share(8, 4, 4), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(all_online_share_a_sixteenth),
		cmocka_unit_test(hotplug_slots_do_not_shrink_it_to_nothing),
		cmocka_unit_test(odd_counts_give_a_positive_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
