/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Symbol table against a naive reference (a linear list of names), through
 * growth of the slot array and the arena.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/symtab.h"

Test(symtab, interns_names_to_dense_indexes_in_insertion_order)
{
	lvc_symtab_t *t = lvc_symtab_new(2);
	int ins;

	cr_assert_eq(lvc_symtab_intern(t, "BTC", 3, &ins), 0);
	cr_assert_eq(ins, 1);
	cr_assert_eq(lvc_symtab_intern(t, "ETH", 3, &ins), 1);
	cr_assert_eq(lvc_symtab_intern(t, "BTC", 3, &ins), 0);
	cr_assert_eq(ins, 0);
	cr_assert_eq(lvc_symtab_find(t, "ETH", 3), 1);
	cr_assert_eq(lvc_symtab_find(t, "ET", 2), -1);
	cr_assert_str_eq(lvc_symtab_name(t, 1), "ETH");
	cr_assert_eq(lvc_symtab_count(t), 2);
	lvc_symtab_destroy(t);
}

Test(symtab, agrees_with_a_linear_list_through_growth)
{
	enum { N = 100000 };
	lvc_symtab_t *t = lvc_symtab_new(1);
	char **names = calloc(N, sizeof(*names));
	const char *first;
	unsigned x = 12345;

	for (int i = 0; i < N; i++) {
		char buf[64];
		int n = snprintf(buf, sizeof(buf), "acct-%u-%d", x, i);

		x = x * 1103515245u + 12345u;
		names[i] = strdup(buf);
		cr_assert_eq(lvc_symtab_intern(t, buf, (size_t)n, NULL), i);
	}
	first = lvc_symtab_name(t, 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(lvc_symtab_find(t, names[i], strlen(names[i])), i);
		cr_assert_str_eq(lvc_symtab_name(t, i), names[i]);
	}
	/* Name pointers stay valid through growth. */
	cr_assert_eq(first, lvc_symtab_name(t, 0));
	cr_assert_eq(lvc_symtab_find(t, "absent", 6), -1);
	for (int i = 0; i < N; i++) {
		free(names[i]);
	}
	free(names);
	lvc_symtab_destroy(t);
}

Test(symtab, names_may_hold_any_bytes_and_differ_only_in_length)
{
	lvc_symtab_t *t = lvc_symtab_new(4);

	cr_assert_eq(lvc_symtab_intern(t, "ab", 2, NULL), 0);
	cr_assert_eq(lvc_symtab_intern(t, "abc", 3, NULL), 1);
	cr_assert_eq(lvc_symtab_intern(t, "", 0, NULL), 2);
	cr_assert_eq(lvc_symtab_find(t, "abc", 2), 0);
	lvc_symtab_destroy(t);
}

Test(symtab, names_sharing_the_in_slot_prefix_stay_apart)
{
	/* 15 bytes fit in a slot's head, 16 and more are compared in full. */
	const char *names[] = { "ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOQ",
		                "ABCDEFGHIJKLMN", "ABCDEFGHIJKLMNOPQRSTUVWXYZ" };
	lvc_symtab_t *t = lvc_symtab_new(2);

	for (int i = 0; i < 5; i++) {
		cr_assert_eq(lvc_symtab_intern(t, names[i], strlen(names[i]), NULL), i);
	}
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(lvc_symtab_find(t, names[i], strlen(names[i])), i, "%s", names[i]);
	}
	cr_assert_eq(lvc_symtab_find(t, "ABCDEFGHIJKLMNOR", 16), -1);
	lvc_symtab_destroy(t);
}
