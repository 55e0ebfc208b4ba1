/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * grant.c: the table of standing download grants (see grant.h).
 *
 * A fixed array of buckets, chained, and a first-in first-out list of
 * every grant: grants expire in the order they were made (each lasts
 * GRANT_MS), so expiry and eviction both take from the head.  At most
 * GRANT_MAX grants stand at once; a new one beyond that pushes out the
 * oldest.  Keys are made by the daemon's own front ends (connection
 * numbers it hands out, ids that passed validation), so a plain FNV-1a
 * hash is enough.  Putting the same key again renews it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/grant.h"
#include "crypto/crypto.h"
#include "store/image.h"

#define GRANT_BUCKETS	1024
#define GRANT_MAX	8192

struct grant {
	struct grant	*hnext;		/* bucket chain */
	struct grant	*next;		/* age order */
	struct grant	*prev;
	uint32_t	 hash;
	struct grant_key key;
	int64_t		 until;
	const struct store_image *img;
	struct firmware_rec fw;
};

struct grant_table {
	struct grant	*b[GRANT_BUCKETS];
	struct grant	*head;		/* oldest */
	struct grant	*tail;
	size_t		 n;
};

static uint32_t
grant_hash(const struct grant_key *k)
{
	uint32_t h = 2166136261u;
	const uint8_t *p;
	size_t i;

	for (i = 0, p = (const uint8_t *)&k->conn; i < sizeof(k->conn); i++)
		h = (h ^ p[i]) * 16777619u;
	for (p = (const uint8_t *)k->fwid; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static int
grant_same(const struct grant_key *a, const struct grant_key *b)
{
	return a->conn == b->conn && a->has_secret == b->has_secret &&
	    strcmp(a->fwid, b->fwid) == 0 && strcmp(a->peer, b->peer) == 0 &&
	    (!a->has_secret || crypto_memcmp(a->secret_sha, b->secret_sha,
	    sizeof(a->secret_sha)) == 0);
}

struct grant_table *
grant_table_new(void)
{
	return calloc(1, sizeof(struct grant_table));
}

static void
grant_drop(struct grant_table *t, struct grant *g)
{
	struct grant **pp = &t->b[g->hash % GRANT_BUCKETS];

	while (*pp != g)
		pp = &(*pp)->hnext;
	*pp = g->hnext;
	if (g->prev != NULL)
		g->prev->next = g->next;
	else
		t->head = g->next;
	if (g->next != NULL)
		g->next->prev = g->prev;
	else
		t->tail = g->prev;
	t->n--;
	store_image_unref(g->img);
	crypto_wipe(g, sizeof(*g));
	free(g);
}

void
grant_table_free(struct grant_table *t)
{
	if (t == NULL)
		return;
	while (t->head != NULL)
		grant_drop(t, t->head);
	free(t);
}

static struct grant *
grant_lookup(struct grant_table *t, const struct grant_key *k, uint32_t h)
{
	struct grant *g;

	for (g = t->b[h % GRANT_BUCKETS]; g != NULL; g = g->hnext)
		if (g->hash == h && grant_same(&g->key, k))
			return g;
	return NULL;
}

int
grant_find(struct grant_table *t, const struct grant_key *k, int64_t now,
    const struct store_image **img, struct firmware_rec *fw)
{
	struct grant *g;

	if (k->conn == 0 || t->n == 0 ||
	    (g = grant_lookup(t, k, grant_hash(k))) == NULL || g->until <= now)
		return -1;
	store_image_ref(g->img);
	*img = g->img;
	*fw = g->fw;
	return 0;
}

void
grant_put(struct grant_table *t, const struct grant_key *k, int64_t now,
    const struct store_image *img, const struct firmware_rec *fw)
{
	uint32_t h = grant_hash(k);
	struct grant *g;

	if (k->conn == 0)
		return;
	if ((g = grant_lookup(t, k, h)) != NULL)
		grant_drop(t, g);	/* renewed: to the end of the line */
	grant_sweep(t, now);
	if (t->n >= GRANT_MAX)
		grant_drop(t, t->head);
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return;		/* no grant: the next request asks again */
	g->hash = h;
	g->key = *k;
	g->until = now + GRANT_MS;
	store_image_ref(img);
	g->img = img;
	g->fw = *fw;
	g->hnext = t->b[h % GRANT_BUCKETS];
	t->b[h % GRANT_BUCKETS] = g;
	g->prev = t->tail;
	if (t->tail != NULL)
		t->tail->next = g;
	else
		t->head = g;
	t->tail = g;
	t->n++;
}

void
grant_sweep(struct grant_table *t, int64_t now)
{
	while (t->head != NULL && t->head->until <= now)
		grant_drop(t, t->head);
}
