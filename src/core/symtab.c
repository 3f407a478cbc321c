/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Open-addressing symbol table. Slots hold the 32-bit hash and the index, so
 * a probe compares names only when hashes match; the slot array is a power
 * of two kept at most half full, so expected probes stay near one. Names live
 * in arena chunks (never moved, so pointers handed out stay valid). The
 * index -> name array grows geometrically. Expected load: up to a few
 * million names (accounts); ~25 bytes per name plus the name itself.
 */
#include <stdlib.h>
#include <string.h>

#include "core/symtab.h"

#define CHUNK_SIZE 65536

#define HEAD_LEN 16 /* a name's first 15 bytes and its length, kept in the slot */

typedef struct slot_s {
	uint32_t hash;
	int32_t idx; /* -1: empty */
	/* Names of up to 15 bytes (most instruments) are compared here, so a
	 * lookup touches one cache line instead of three (slot, name record,
	 * name bytes). */
	unsigned char head[HEAD_LEN];
} slot_t;

static void make_head(const char *name, size_t len, unsigned char head[HEAD_LEN])
{
	size_t n = len < HEAD_LEN - 1 ? len : HEAD_LEN - 1;

	memset(head, 0, HEAD_LEN);
	memcpy(head, name, n);
	head[HEAD_LEN - 1] = (unsigned char)(len < 255 ? len : 255);
}

typedef struct chunk_s {
	struct chunk_s *next;
	size_t used;
	size_t size;
	char data[];
} chunk_t;

typedef struct name_s {
	const char *ptr;
	uint32_t len;
	uint32_t hash;
} name_t;

struct lvc_symtab_s {
	slot_t *slots;
	size_t mask; /* slots - 1 */
	name_t *names;
	size_t count;
	size_t cap;
	chunk_t *chunks;
	size_t bytes;
};

/* Word-at-a-time multiply-xor hash with a final avalanche: names are short
 * (instruments, accounts), so a byte-serial hash such as FNV-1a would cost
 * more than the probe. The value is never persisted. */
static uint32_t hash_name(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)len;
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	w = 0;
	for (size_t i = 0; i < len; i++) {
		w |= (uint64_t)(unsigned char)s[i] << (8 * i);
	}
	h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return (uint32_t)h;
}

lvc_symtab_t *lvc_symtab_new(size_t hint)
{
	lvc_symtab_t *tab = calloc(1, sizeof(*tab));
	size_t n = 16;

	if (tab == NULL) {
		return NULL;
	}
	while (n < hint * 2) {
		n <<= 1;
	}
	tab->slots = malloc(n * sizeof(*tab->slots));
	tab->cap = hint > 8 ? hint : 8;
	tab->names = malloc(tab->cap * sizeof(*tab->names));
	if (tab->slots == NULL || tab->names == NULL) {
		lvc_symtab_destroy(tab);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		tab->slots[i].idx = -1;
	}
	tab->mask = n - 1;
	tab->bytes = sizeof(*tab) + n * sizeof(*tab->slots) + tab->cap * sizeof(*tab->names);
	return tab;
}

void lvc_symtab_destroy(lvc_symtab_t *tab)
{
	chunk_t *c, *next;

	if (tab == NULL) {
		return;
	}
	for (c = tab->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(tab->slots);
	free(tab->names);
	free(tab);
}

static int32_t probe(const lvc_symtab_t *tab, const char *name, size_t len, uint32_t h,
                     size_t *slot_out)
{
	size_t i = h & tab->mask;
	unsigned char head[HEAD_LEN];

	make_head(name, len, head);

	for (;;) {
		const slot_t *s = &tab->slots[i];

		if (s->idx < 0) {
			*slot_out = i;
			return -1;
		}
		if (s->hash == h && memcmp(s->head, head, HEAD_LEN) == 0) {
			const name_t *n;

			if (len < HEAD_LEN) {
				*slot_out = i;
				return s->idx;
			}
			n = &tab->names[s->idx];
			if (n->len == len && memcmp(n->ptr, name, len) == 0) {
				*slot_out = i;
				return s->idx;
			}
		}
		i = (i + 1) & tab->mask;
	}
}

int32_t lvc_symtab_find(const lvc_symtab_t *tab, const char *name, size_t len)
{
	size_t slot;

	return probe(tab, name, len, hash_name(name, len), &slot);
}

static int grow_slots(lvc_symtab_t *tab)
{
	size_t n = (tab->mask + 1) * 2;
	slot_t *slots = malloc(n * sizeof(*slots));

	if (slots == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		slots[i].idx = -1;
	}
	for (size_t k = 0; k < tab->count; k++) {
		size_t i = tab->names[k].hash & (n - 1);

		while (slots[i].idx >= 0) {
			i = (i + 1) & (n - 1);
		}
		slots[i].hash = tab->names[k].hash;
		slots[i].idx = (int32_t)k;
		make_head(tab->names[k].ptr, tab->names[k].len, slots[i].head);
	}
	tab->bytes += (n - (tab->mask + 1)) * sizeof(*slots);
	free(tab->slots);
	tab->slots = slots;
	tab->mask = n - 1;
	return 0;
}

static const char *arena_copy(lvc_symtab_t *tab, const char *name, size_t len)
{
	chunk_t *c = tab->chunks;
	char *p;

	if (c == NULL || c->size - c->used < len + 1) {
		size_t size = len + 1 > CHUNK_SIZE ? len + 1 : CHUNK_SIZE;

		c = malloc(sizeof(*c) + size);
		if (c == NULL) {
			return NULL;
		}
		c->next = tab->chunks;
		c->used = 0;
		c->size = size;
		tab->chunks = c;
		tab->bytes += sizeof(*c) + size;
	}
	p = c->data + c->used;
	memcpy(p, name, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

int32_t lvc_symtab_intern(lvc_symtab_t *tab, const char *name, size_t len, int *inserted)
{
	uint32_t h = hash_name(name, len);
	size_t slot;
	int32_t idx = probe(tab, name, len, h, &slot);
	const char *copy;

	if (inserted != NULL) {
		*inserted = 0;
	}
	if (idx >= 0) {
		return idx;
	}
	if (len > UINT32_MAX || tab->count >= INT32_MAX) {
		return -1;
	}
	if ((tab->count + 1) * 2 > tab->mask + 1) {
		if (grow_slots(tab) != 0) {
			return -1;
		}
		(void)probe(tab, name, len, h, &slot);
	}
	if (tab->count == tab->cap) {
		size_t cap = tab->cap * 2;
		name_t *names = realloc(tab->names, cap * sizeof(*names));

		if (names == NULL) {
			return -1;
		}
		tab->bytes += (cap - tab->cap) * sizeof(*names);
		tab->names = names;
		tab->cap = cap;
	}
	if ((copy = arena_copy(tab, name, len)) == NULL) {
		return -1;
	}
	idx = (int32_t)tab->count++;
	tab->names[idx].ptr = copy;
	tab->names[idx].len = (uint32_t)len;
	tab->names[idx].hash = h;
	tab->slots[slot].hash = h;
	tab->slots[slot].idx = idx;
	make_head(name, len, tab->slots[slot].head);
	if (inserted != NULL) {
		*inserted = 1;
	}
	return idx;
}

const char *lvc_symtab_name(const lvc_symtab_t *tab, int32_t idx)
{
	return tab->names[idx].ptr;
}

size_t lvc_symtab_count(const lvc_symtab_t *tab)
{
	return tab->count;
}

size_t lvc_symtab_bytes(const lvc_symtab_t *tab)
{
	return tab->bytes;
}
