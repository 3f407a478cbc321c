/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Symbol table: interns names (instruments, accounts) to dense indexes
 * 0, 1, 2, ... with open addressing and linear probing. Names are copied
 * into an arena of chunks, so a returned name pointer stays valid for the
 * table's life. Lookups never allocate; inserts allocate only when the slot
 * array doubles or a chunk fills, so the cost per tick is a hash and a probe
 * or two.
 *
 * Thread rules: one thread at a time.
 */
#ifndef LVC_CORE_SYMTAB_H
#define LVC_CORE_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct lvc_symtab_s lvc_symtab_t;

/* Creates a table sized for about `hint` names (it grows). Caller owns it;
 * NULL on allocation failure. */
lvc_symtab_t *lvc_symtab_new(size_t hint);

/* Frees tab; accepts NULL. */
void lvc_symtab_destroy(lvc_symtab_t *tab);

/* Index of name[0..len), or -1 when absent. */
int32_t lvc_symtab_find(const lvc_symtab_t *tab, const char *name, size_t len);

/* Index of name[0..len), inserting it when absent (*inserted = 1 then, else
 * 0; inserted may be NULL). -1 on allocation failure. */
int32_t lvc_symtab_intern(lvc_symtab_t *tab, const char *name, size_t len, int *inserted);

/* The NUL-terminated name of index idx (0 <= idx < count). */
const char *lvc_symtab_name(const lvc_symtab_t *tab, int32_t idx);

/* Number of names. */
size_t lvc_symtab_count(const lvc_symtab_t *tab);

/* Bytes the table holds allocated (for memory reports). */
size_t lvc_symtab_bytes(const lvc_symtab_t *tab);

#endif
