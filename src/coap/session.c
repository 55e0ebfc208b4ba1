/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session.c: the table of CoAP sessions (see session.h).
 *
 * Buckets are found with SipHash-2-4 under a key drawn at start-up, over
 * the endpoint index, the address family, port and address; the bucket
 * array doubles when the table outgrows it.  Half-open sessions are also
 * counted in a second, small hash of per-address and per-network counters
 * (an entry exists only while its count is above zero), so admission is a
 * constant-time question whatever the number of sessions.  The same hash
 * holds an entry per source (and kind) of open sessions, with those
 * sessions in a list of their own, and an entry per PSK identity of an
 * open DTLS session.
 *
 * Nothing here walks all sessions: expiry takes from the heads of the
 * three lists, which are in time order.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "coap/session.h"
#include "crypto/crypto.h"

#define COAPSESS_MIN_BUCKETS	256
#define COAPSESS_COUNT_BUCKETS	1024
/*
 * A counter's key: its kind, the address family's length (4, 16; 0 for
 * an identity), then address bytes or a PSK identity.
 */
#define COAPSESS_KEY		(2 + OTA_ID_MAX)

/* Kinds of counters. */
enum {
	COUNT_HALF_ADDR = 1,	/* half-open, per /32 or /128 */
	COUNT_HALF_NET,		/* half-open, per /24 or /64 */
	COUNT_OPEN_PLAIN,	/* open plain CoAP, per /32 or /64 */
	COUNT_OPEN_DTLS,	/* open DTLS, per /32 or /64 */
	COUNT_IDENTITY,		/* open DTLS, per PSK identity */
};

struct coapsess_list {
	struct coapsess	*head;		/* oldest */
	struct coapsess	*tail;
	size_t		 n;
};

/*
 * A counter: half-open sessions of an address (/32, /128) or a network
 * (/24, /64); or a group of open sessions, those of a source (/32, /64)
 * and kind or those of a PSK identity, least recently used from head.
 */
struct coapsess_count {
	struct coapsess_count *next;
	uint8_t		 key[COAPSESS_KEY];
	unsigned	 n;
	struct coapsess	*head, *tail;
};

/* Serial numbers of sessions, unique in the process (all tables). */
static uint64_t coapsess_serial;

struct coapsess_table {
	struct coapsess	**b;
	size_t		 nb;		/* power of two */
	struct coapsess_list open;	/* DTLS */
	struct coapsess_list plain;
	struct coapsess_list hs;
	struct coapsess_count *counts[COAPSESS_COUNT_BUCKETS];
	struct coapsess_limits lim;
	uint64_t	 k0, k1;
	void		(*release)(void *, struct coapsess *);
	void		*arg;
};

/* SipHash-2-4 ------------------------------------------------------------- */

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
coapsess_siphash(uint64_t k0, uint64_t k1, const uint8_t *in, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, end = len - len % 8;
	int j;

	for (i = 0; i < end; i += 8) {
		m = 0;
		for (j = 7; j >= 0; j--)
			m = m << 8 | in[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (j = (int)(len % 8) - 1; j >= 0; j--)
		b |= (uint64_t)in[end + (size_t)j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Addresses ---------------------------------------------------------------- */

/*
 * The source address as bytes: 4 for IPv4 (also IPv4-mapped IPv6), 16 for
 * IPv6; 0 for anything else.
 */
static size_t
coapsess_addr(const union udp_sa *sa, uint8_t *out, uint16_t *port)
{
	if (sa->sa.sa_family == AF_INET) {
		memcpy(out, &sa->in.sin_addr, 4);
		*port = sa->in.sin_port;
		return 4;
	}
	if (sa->sa.sa_family == AF_INET6) {
		*port = sa->in6.sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&sa->in6.sin6_addr)) {
			memcpy(out,
			    (const uint8_t *)&sa->in6.sin6_addr + 12, 4);
			return 4;
		}
		memcpy(out, &sa->in6.sin6_addr, 16);
		return 16;
	}
	return 0;
}

static uint64_t
coapsess_hash(const struct coapsess_table *t, unsigned ep,
    const union udp_sa *sa)
{
	uint8_t key[24];
	uint16_t port = 0;
	size_t n;

	memcpy(key, &ep, sizeof(ep) < 4 ? sizeof(ep) : 4);
	n = coapsess_addr(sa, key + 6, &port);
	memcpy(key + 4, &port, 2);
	return coapsess_siphash(t->k0, t->k1, key, 6 + n);
}

static int
coapsess_same(const struct coapsess *s, unsigned ep, const union udp_sa *sa)
{
	uint8_t a[16], b[16];
	uint16_t pa = 0, pb = 0;
	size_t na, nb;

	if (s->ep != ep)
		return 0;
	na = coapsess_addr(&s->peer, a, &pa);
	nb = coapsess_addr(sa, b, &pb);
	return na == nb && pa == pb && memcmp(a, b, na) == 0;
}

/* Lists -------------------------------------------------------------------- */

static void
coapsess_list_add(struct coapsess_list *l, struct coapsess *s)
{
	s->next = NULL;
	s->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	l->n++;
}

static void
coapsess_list_del(struct coapsess_list *l, struct coapsess *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	s->prev = s->next = NULL;
	l->n--;
}

static struct coapsess_list *
coapsess_list_of(struct coapsess_table *t, const struct coapsess *s)
{
	if (s->state == COAPSESS_HANDSHAKE)
		return &t->hs;
	return s->dtls_ep ? &t->open : &t->plain;
}

/* Half-open counters ------------------------------------------------------- */

/* Key of an address, network or source of sa, by kind; 0: none. */
static size_t
coapsess_count_key(const union udp_sa *sa, int kind, uint8_t *key)
{
	uint8_t a[16];
	uint16_t port;
	size_t n = coapsess_addr(sa, a, &port);

	if (n == 0)
		return 0;
	/* the kind and the family apart: no kind's key is another's */
	memset(key, 0, COAPSESS_KEY);
	key[0] = (uint8_t)kind;
	key[1] = (uint8_t)n;
	if (kind == COUNT_HALF_NET)
		n = n == 4 ? 3 : 8;	/* /24, /64 */
	else if (kind != COUNT_HALF_ADDR && n == 16)
		n = 8;			/* a source: its /64 */
	memcpy(key + 2, a, n);
	return COAPSESS_KEY;
}

static struct coapsess_count **
coapsess_count_slot(struct coapsess_table *t, const uint8_t *key)
{
	uint64_t h = coapsess_siphash(t->k0, t->k1, key, COAPSESS_KEY);
	struct coapsess_count **pp;

	pp = &t->counts[h % COAPSESS_COUNT_BUCKETS];
	while (*pp != NULL && memcmp((*pp)->key, key, COAPSESS_KEY) != 0)
		pp = &(*pp)->next;
	return pp;
}

static unsigned
coapsess_count_get(struct coapsess_table *t, const union udp_sa *sa, int kind)
{
	uint8_t key[COAPSESS_KEY];
	struct coapsess_count **pp;

	if (coapsess_count_key(sa, kind, key) == 0)
		return 0;
	pp = coapsess_count_slot(t, key);
	return *pp != NULL ? (*pp)->n : 0;
}

static void
coapsess_count_add(struct coapsess_table *t, const union udp_sa *sa, int kind,
    int delta)
{
	uint8_t key[COAPSESS_KEY];
	struct coapsess_count **pp, *c;

	if (coapsess_count_key(sa, kind, key) == 0)
		return;
	pp = coapsess_count_slot(t, key);
	if ((c = *pp) == NULL) {
		if (delta < 0 || (c = calloc(1, sizeof(*c))) == NULL)
			return;	/* uncounted: admission errs on the open side */
		memcpy(c->key, key, COAPSESS_KEY);
		*pp = c;
	}
	if (delta < 0 && c->n > 0)
		c->n--;
	else if (delta > 0)
		c->n++;
	if (c->n == 0) {
		*pp = c->next;
		free(c);
	}
}

static void
coapsess_halfopen(struct coapsess_table *t, const struct coapsess *s,
    int delta)
{
	coapsess_count_add(t, &s->peer, COUNT_HALF_ADDR, delta);
	coapsess_count_add(t, &s->peer, COUNT_HALF_NET, delta);
}

/* Open sessions per source and per identity -------------------------------- */

/*
 * Groups of open sessions: those of one source and kind (COUNT_OPEN_PLAIN,
 * COUNT_OPEN_DTLS), or of one PSK identity (COUNT_IDENTITY).
 */
enum { GROUP_SOURCE = 0, GROUP_IDENTITY };

static struct coapsess_member *
coapsess_member(struct coapsess *s, int group)
{
	return group == GROUP_SOURCE ? &s->src : &s->idn;
}

/* Finds (or, when make, creates) the counter of key; NULL when none. */
static struct coapsess_count *
coapsess_count_find(struct coapsess_table *t, const uint8_t *key, int make)
{
	struct coapsess_count **pp = coapsess_count_slot(t, key), *c;

	if ((c = *pp) != NULL || !make)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	memcpy(c->key, key, COAPSESS_KEY);
	*pp = c;
	return c;
}

/* The counter of s's group, created when make; NULL when none. */
static struct coapsess_count *
coapsess_group_of(struct coapsess_table *t, const struct coapsess *s,
    int group, int make)
{
	uint8_t key[COAPSESS_KEY];
	size_t n = strlen(s->identity);

	if (group == GROUP_SOURCE) {
		if (coapsess_count_key(&s->peer, s->dtls_ep ?
		    COUNT_OPEN_DTLS : COUNT_OPEN_PLAIN, key) == 0)
			return NULL;
	} else {
		if (!s->dtls_ep || n == 0 || n > OTA_ID_MAX)
			return NULL;
		memset(key, 0, sizeof(key));
		key[0] = COUNT_IDENTITY;
		memcpy(key + 2, s->identity, n);
	}
	return coapsess_count_find(t, key, make);
}

/*
 * Makes room for one more open session in s's group (s is not in it
 * yet): frees the group's least recently used session while it holds
 * max (0: any).
 */
static void
coapsess_group_room(struct coapsess_table *t, const struct coapsess *s,
    int group, unsigned max)
{
	struct coapsess_count *c;

	if (max == 0)
		return;
	while ((c = coapsess_group_of(t, s, group, 0)) != NULL &&
	    c->n >= max && c->head != NULL)
		coapsess_free(t, c->head);
}

/* Counts the open session s in its group, at the end of the group's list. */
static void
coapsess_group_add(struct coapsess_table *t, struct coapsess *s, int group)
{
	struct coapsess_count *c = coapsess_group_of(t, s, group, 1);
	struct coapsess_member *m = coapsess_member(s, group);

	if (c == NULL)
		return;		/* uncounted */
	m->c = c;
	m->next = NULL;
	m->prev = c->tail;
	if (c->tail != NULL)
		coapsess_member(c->tail, group)->next = s;
	else
		c->head = s;
	c->tail = s;
	c->n++;
}

/* Takes s out of its group's list (the counter stays, as it is). */
static void
coapsess_group_unlink(struct coapsess *s, int group)
{
	struct coapsess_member *m = coapsess_member(s, group);
	struct coapsess_count *c = m->c;

	if (m->prev != NULL)
		coapsess_member(m->prev, group)->next = m->next;
	else
		c->head = m->next;
	if (m->next != NULL)
		coapsess_member(m->next, group)->prev = m->prev;
	else
		c->tail = m->prev;
	m->prev = m->next = NULL;
}

static void
coapsess_group_del(struct coapsess_table *t, struct coapsess *s, int group)
{
	struct coapsess_member *m = coapsess_member(s, group);
	struct coapsess_count *c = m->c, **pp;

	if (c == NULL)
		return;
	coapsess_group_unlink(s, group);
	m->c = NULL;
	if (--c->n > 0)
		return;
	pp = coapsess_count_slot(t, c->key);
	if (*pp == c)
		*pp = c->next;
	free(c);
}

/* s was heard from: to the end of its group's list. */
static void
coapsess_group_touch(struct coapsess *s, int group)
{
	struct coapsess_member *m = coapsess_member(s, group);
	struct coapsess_count *c = m->c;

	if (c == NULL || c->tail == s)
		return;
	coapsess_group_unlink(s, group);
	m->prev = c->tail;
	coapsess_member(c->tail, group)->next = s;
	c->tail = s;
}

/* The table ---------------------------------------------------------------- */

struct coapsess_table *
coapsess_table_new(const struct coapsess_limits *lim,
    void (*release)(void *, struct coapsess *), void *arg)
{
	struct coapsess_table *t;
	uint64_t k[2];

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->nb = COAPSESS_MIN_BUCKETS;
	if ((t->b = calloc(t->nb, sizeof(*t->b))) == NULL) {
		free(t);
		return NULL;
	}
	if (crypto_random(k, sizeof(k)) == -1) {
		free(t->b);
		free(t);
		return NULL;
	}
	t->k0 = k[0];
	t->k1 = k[1];
	t->lim = *lim;
	t->release = release;
	t->arg = arg;
	return t;
}

void
coapsess_set_limits(struct coapsess_table *t, const struct coapsess_limits *l)
{
	t->lim = *l;
}

static void
coapsess_unhash(struct coapsess_table *t, struct coapsess *s)
{
	struct coapsess **pp = &t->b[s->hash & (t->nb - 1)];

	while (*pp != NULL && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp == s)
		*pp = s->hnext;
	s->hnext = NULL;
}

void
coapsess_body_drop(struct coapsess *s)
{
	if (s->body == NULL)
		return;
	free(s->body->buf);
	free(s->body);
	s->body = NULL;
}

void
coapsess_last_drop(struct coapsess *s)
{
	free(s->last_resp);
	s->last_resp = NULL;
	s->last_len = 0;
}

void
coapsess_free(struct coapsess_table *t, struct coapsess *s)
{
	if (s == NULL)
		return;
	if (t->release != NULL)
		t->release(t->arg, s);
	if (s->state == COAPSESS_HANDSHAKE)
		coapsess_halfopen(t, s, -1);
	coapsess_group_del(t, s, GROUP_SOURCE);
	coapsess_group_del(t, s, GROUP_IDENTITY);
	coapsess_list_del(coapsess_list_of(t, s), s);
	coapsess_unhash(t, s);
	coapsess_body_drop(s);
	coapsess_last_drop(s);
	free(s);
}

void
coapsess_table_free(struct coapsess_table *t)
{
	struct coapsess_count *c, *n;
	size_t i;

	if (t == NULL)
		return;
	while (t->hs.head != NULL)
		coapsess_free(t, t->hs.head);
	while (t->open.head != NULL)
		coapsess_free(t, t->open.head);
	while (t->plain.head != NULL)
		coapsess_free(t, t->plain.head);
	for (i = 0; i < COAPSESS_COUNT_BUCKETS; i++)
		for (c = t->counts[i]; c != NULL; c = n) {
			n = c->next;
			free(c);
		}
	free(t->b);
	free(t);
}

struct coapsess *
coapsess_find(struct coapsess_table *t, unsigned ep, const union udp_sa *sa,
    socklen_t len)
{
	uint64_t h = coapsess_hash(t, ep, sa);
	struct coapsess *s;

	(void)len;
	for (s = t->b[h & (t->nb - 1)]; s != NULL; s = s->hnext)
		if (s->hash == h && coapsess_same(s, ep, sa))
			return s;
	return NULL;
}

int
coapsess_admit(struct coapsess_table *t, const union udp_sa *sa)
{
	if (t->hs.n >= t->lim.max_handshakes)
		return COAPSESS_REFUSE_TOTAL;
	if (t->lim.per_source > 0 &&
	    coapsess_count_get(t, sa, COUNT_HALF_ADDR) >= t->lim.per_source)
		return COAPSESS_REFUSE_SOURCE;
	if (t->lim.per_net > 0 &&
	    coapsess_count_get(t, sa, COUNT_HALF_NET) >= t->lim.per_net)
		return COAPSESS_REFUSE_NET;
	return COAPSESS_ADMIT;
}

/* Doubles the bucket array when sessions outnumber buckets twice. */
static void
coapsess_grow(struct coapsess_table *t)
{
	struct coapsess **nb, *s, *next;
	size_t i, n = t->nb * 2;

	if (t->open.n + t->plain.n + t->hs.n < t->nb * 2)
		return;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;	/* longer chains, still correct */
	for (i = 0; i < t->nb; i++)
		for (s = t->b[i]; s != NULL; s = next) {
			next = s->hnext;
			s->hnext = nb[s->hash & (n - 1)];
			nb[s->hash & (n - 1)] = s;
		}
	free(t->b);
	t->b = nb;
	t->nb = n;
}

struct coapsess *
coapsess_new(struct coapsess_table *t, unsigned ep, int dtls_ep,
    const union udp_sa *sa, socklen_t len, int state, int64_t now)
{
	struct coapsess *s;
	size_t b;

	if (len > sizeof(s->peer))
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(&s->peer, sa, len);
	s->dtls_ep = dtls_ep;
	if (dtls_ep) {
		while (t->open.n + t->hs.n >= t->lim.max_sessions) {
			if (t->open.head == NULL) {
				free(s);
				return NULL;
			}
			coapsess_free(t, t->open.head);
		}
	} else {
		coapsess_group_room(t, s, GROUP_SOURCE,
		    t->lim.open_per_source);
		while (t->plain.n >= t->lim.max_plain && t->plain.head != NULL)
			coapsess_free(t, t->plain.head);
	}
	s->ep = ep;
	s->dtls_ep = dtls_ep;
	memcpy(&s->peer, sa, len);
	s->peerlen = len;
	s->state = state;
	s->created = s->last = now;
	s->serial = __atomic_add_fetch(&coapsess_serial, 1, __ATOMIC_RELAXED);
	s->hash = coapsess_hash(t, ep, sa);
	b = s->hash & (t->nb - 1);
	s->hnext = t->b[b];
	t->b[b] = s;
	coapsess_list_add(coapsess_list_of(t, s), s);
	if (state == COAPSESS_HANDSHAKE)
		coapsess_halfopen(t, s, 1);
	else
		coapsess_group_add(t, s, GROUP_SOURCE);
	coapsess_grow(t);
	return s;
}

void
coapsess_touch(struct coapsess_table *t, struct coapsess *s, int64_t now)
{
	struct coapsess_list *l = coapsess_list_of(t, s);

	s->last = now;
	if (s->state != COAPSESS_OPEN)
		return;
	if (l->tail != s) {
		coapsess_list_del(l, s);
		coapsess_list_add(l, s);
	}
	coapsess_group_touch(s, GROUP_SOURCE);
	coapsess_group_touch(s, GROUP_IDENTITY);
}

void
coapsess_opened(struct coapsess_table *t, struct coapsess *s, int64_t now)
{
	if (s->state != COAPSESS_HANDSHAKE)
		return;
	/* a device's older sessions go first, then its source's */
	coapsess_group_room(t, s, GROUP_IDENTITY, t->lim.per_identity);
	coapsess_group_room(t, s, GROUP_SOURCE, t->lim.open_per_source);
	coapsess_halfopen(t, s, -1);
	coapsess_list_del(&t->hs, s);
	s->state = COAPSESS_OPEN;
	s->last = now;
	coapsess_list_add(coapsess_list_of(t, s), s);
	coapsess_group_add(t, s, GROUP_SOURCE);
	coapsess_group_add(t, s, GROUP_IDENTITY);
}

size_t
coapsess_expire(struct coapsess_table *t, int64_t now)
{
	size_t timed_out = 0;

	while (t->hs.head != NULL &&
	    now - t->hs.head->created >= t->lim.handshake_ms) {
		coapsess_free(t, t->hs.head);
		timed_out++;
	}
	while (t->open.head != NULL &&
	    now - t->open.head->last >= t->lim.idle_ms)
		coapsess_free(t, t->open.head);
	while (t->plain.head != NULL &&
	    now - t->plain.head->last >= t->lim.idle_ms)
		coapsess_free(t, t->plain.head);
	return timed_out;
}

void
coapsess_each_handshake(struct coapsess_table *t,
    void (*fn)(void *, struct coapsess *), void *arg)
{
	struct coapsess *s, *next;

	for (s = t->hs.head; s != NULL; s = next) {
		next = s->next;
		fn(arg, s);
	}
}

void
coapsess_counts(const struct coapsess_table *t, struct coapsess_counts *c)
{
	c->open = t->open.n + t->plain.n;
	c->plain = t->plain.n;
	c->handshakes = t->hs.n;
}
