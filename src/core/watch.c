/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * watch.c: devices waiting, awake, for a notice (see watch.h).
 *
 * The watches are a doubly linked list: nothing looks one up by device,
 * and the poll walks them all anyway.  Each keeps a copy of its request
 * (device, peer, protocol, origin, the decoded check body when there was
 * one), the job of the last notice its watcher was given ("told"), and
 * when a rule that depends on time alone may next change its answer.
 *
 * core_watch_poll decides in two passes.  The first, under one read
 * transaction, runs core_check_peek for each watch that may have news
 * (all of them when the store's last transaction changed, else only those
 * whose time has come) and marks the ones to call: a check would hand
 * out the notice of a job the watcher was not told of, or the watch
 * expired.  A watch whose device has no notice to hand out forgets what
 * it was told, so that the same job's notice is pushed again after a
 * retry or after its job was paused and resumed.  The second pass calls
 * back.  Callbacks may end watches (their own or others) and add new
 * ones: while the poll runs, an ended watch is only marked, and freed
 * after it.
 *
 * A device holds one watch (one with a peer, one without: a plain CoAP
 * request, which anyone may send in any device's name, never replaces an
 * authenticated device's watch): live watches are also in a small hash
 * by device, and a new one takes the place of the old, which is called
 * back as expired by the next poll (the long poll is answered as a plain
 * check, the observation ends).  So one device with many connections or
 * streams cannot take every one of push_max_watchers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "config.h"
#include "core/core.h"
#include "core/core_int.h"
#include "core/watch.h"
#include "crypto/crypto.h"
#include "log.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/validate.h"

#define WATCH_POLL_MS		1000	/* at most one poll a second */
#define WATCH_ORIGIN_MAX	320	/* "https://" and a Host */
#define WATCH_DEFAULT_BODY	16384
#define WATCH_BUCKETS		1024	/* of the hash by device */

struct core_watch {
	struct core_watch *prev, *next;
	struct core_watch *hnext;		/* by device, while live */
	uint32_t hash;
	int	 proto;				/* enum core_proto */
	char	 device[OTA_ID_MAX + 1];
	char	 peer[OTA_ID_MAX + 1];		/* "": none */
	char	 origin[WATCH_ORIGIN_MAX];	/* "": none */
	struct check_body *body;		/* NULL: an empty body */
	core_watch_cb cb;
	void	*arg;
	int64_t	 expires;			/* 0: never */
	int64_t	 recheck_at;			/* 0: on a change only */
	char	 told[OTA_ID_MAX + 1];		/* job of the notice given */
	int	 fire;				/* enum core_watch_event */
	int	 pushing;			/* called back for a notice */
	int	 dead;				/* ended during a poll */
	int	 replaced;			/* 1: to call back, 2: called */
};

struct watch_table {
	struct core_watch *head;
	size_t	 n;				/* live watches */
	size_t	 stale;				/* replaced, not yet ended */
	struct core_watch *byid[WATCH_BUCKETS];
	uint32_t seed;
	int	 polling;
	int	 dead;				/* some are marked dead */
	uint64_t seen_txn;			/* store's, at the last poll */
	int64_t	 polled;			/* when the rules last ran */
	struct core_watch_stats st;
};

static const struct check_body watch_empty_body;

struct watch_table *
watch_table_new(void)
{
	struct watch_table *t = calloc(1, sizeof(struct watch_table));

	if (t != NULL && crypto_random(&t->seed, sizeof(t->seed)) == -1)
		t->seed = 2166136261u;
	return t;
}

/* FNV-1a, from a random seed, over whether it has a peer and the device. */
static uint32_t
watch_hash(const struct watch_table *t, int peer, const char *device)
{
	uint32_t h = t->seed ^ (uint32_t)peer;

	for (; *device != '\0'; device++) {
		h ^= (uint8_t)*device;
		h *= 16777619u;
	}
	return h;
}

/* The live watch of device (with a peer or without), or NULL. */
static struct core_watch *
watch_find(struct watch_table *t, int peer, const char *device,
    uint32_t hash)
{
	struct core_watch *w;

	for (w = t->byid[hash % WATCH_BUCKETS]; w != NULL; w = w->hnext)
		if (w->hash == hash && (w->peer[0] != '\0') == peer &&
		    strcmp(w->device, device) == 0)
			return w;
	return NULL;
}

static void
watch_unhash(struct watch_table *t, struct core_watch *w)
{
	struct core_watch **pp = &t->byid[w->hash % WATCH_BUCKETS];

	while (*pp != NULL && *pp != w)
		pp = &(*pp)->hnext;
	if (*pp == w)
		*pp = w->hnext;
	w->hnext = NULL;
}

static void
watch_free(struct core_watch *w)
{
	if (w == NULL)
		return;
	if (w->body != NULL)
		crypto_wipe(w->body, sizeof(*w->body));
	free(w->body);
	free(w);
}

static void
watch_unlink(struct watch_table *t, struct core_watch *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		t->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

void
watch_table_free(struct watch_table *t)
{
	struct core_watch *w;

	if (t == NULL)
		return;
	while ((w = t->head) != NULL) {
		watch_unlink(t, w);
		watch_free(w);
	}
	free(t);
}

/* The request a watch stands for, pointing into it. */
static void
watch_req(const struct core_watch *w, struct core_req *req)
{
	memset(req, 0, sizeof(*req));
	req->proto = w->proto;
	req->device = w->device;
	req->peer = w->peer[0] != '\0' ? w->peer : NULL;
	req->origin = w->origin[0] != '\0' ? w->origin : NULL;
}

static const struct check_body *
watch_body(const struct core_watch *w)
{
	return w->body != NULL ? w->body : &watch_empty_body;
}

/*
 * What core_check would refuse, refused the same way (its status); 0
 * when the request may be watched.
 */
static int
watch_validate(struct core *c, const struct core_req *req,
    struct check_body *body)
{
	const struct config *cfg = core_config(c);
	size_t	 max = cfg->max_body > 0 ? cfg->max_body : WATCH_DEFAULT_BODY;

	if (req->device == NULL || !valid_device_id(req->device))
		return CORE_BAD_REQUEST;
	if (req->body_len > max)
		return CORE_TOO_LARGE;
	if ((req->body_len > 0 && req->body == NULL) ||
	    codec_check_decode(req->body, req->body_len, body, NULL, 0) != 0)
		return CORE_BAD_REQUEST;
	if (req->peer != NULL && strcmp(req->peer, req->device) != 0)
		return CORE_FORBIDDEN;
	if (req->proto < CORE_PROTO_COAP || req->proto > CORE_PROTO_HTTPS)
		return CORE_BAD_REQUEST;
	return 0;
}

struct core_watch *
core_watch_add(struct core *c, const struct core_req *req, int64_t wait_ms,
    core_watch_cb cb, void *arg, int *status)
{
	struct watch_table *t = core_watch_table(c);
	struct check_body body;
	struct core_watch *w;
	uint32_t hash;

	if ((*status = watch_validate(c, req, &body)) != 0)
		return NULL;
	hash = watch_hash(t, req->peer != NULL, req->device);
	if (core_config(c)->push_max_watchers > 0 &&
	    (w = watch_find(t, req->peer != NULL, req->device, hash)) !=
	    NULL) {
		/* the device's older watch makes way: called back as expired */
		watch_unhash(t, w);
		w->replaced = 1;
		t->n--;
		t->stale++;
		t->st.replaced++;
	}
	if (t->n >= core_config(c)->push_max_watchers) {
		t->st.refused++;
		*status = CORE_UNAVAILABLE;
		return NULL;
	}
	*status = CORE_INTERNAL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("core_watch_add");
		return NULL;
	}
	if ((body.nversions > 0 || body.request_version[0] != '\0' ||
	    body.nonce[0] != '\0') &&
	    (w->body = malloc(sizeof(*w->body))) == NULL) {
		log_warn("core_watch_add");
		free(w);
		return NULL;
	}
	if (w->body != NULL)
		*w->body = body;
	w->proto = req->proto;
	snprintf(w->device, sizeof(w->device), "%s", req->device);
	if (req->peer != NULL)
		snprintf(w->peer, sizeof(w->peer), "%s", req->peer);
	if (req->origin != NULL && strlen(req->origin) < sizeof(w->origin))
		snprintf(w->origin, sizeof(w->origin), "%s", req->origin);
	w->cb = cb;
	w->arg = arg;
	w->expires = wait_ms > 0 ? core_clock(c) + wait_ms : 0;
	w->hash = hash;
	w->hnext = t->byid[hash % WATCH_BUCKETS];
	t->byid[hash % WATCH_BUCKETS] = w;
	w->next = t->head;
	if (t->head != NULL)
		t->head->prev = w;
	t->head = w;
	t->n++;
	*status = CORE_OK;
	return w;
}

void
core_watch_del(struct core *c, struct core_watch *w)
{
	struct watch_table *t = core_watch_table(c);

	if (w == NULL || w->dead)
		return;
	if (w->replaced)
		t->stale--;
	else {
		watch_unhash(t, w);
		t->n--;
	}
	if (t->polling) {
		w->dead = 1;
		t->dead = 1;
		return;
	}
	watch_unlink(t, w);
	watch_free(w);
}

void
core_watch_check(struct core *c, struct core_watch *w, struct core_resp *resp)
{
	struct watch_table *t = core_watch_table(c);
	struct core_req req;
	char	 job[OTA_ID_MAX + 1];

	watch_req(w, &req);
	core_check_decoded(c, &req, watch_body(w), resp, job, sizeof(job));
	if (job[0] == '\0')
		return;
	snprintf(w->told, sizeof(w->told), "%s", job);
	if (w->pushing && w->proto >= 0 && w->proto < 3)
		t->st.pushed[w->proto]++;
	w->pushing = 0;
}

/*
 * The first pass: marks the watches to call back.  changed: the store
 * was written since the last poll.  -1 when the store could not be read
 * (the next poll tries again).
 */
static int
watch_decide(struct core *c, struct watch_table *t, int changed, int64_t now)
{
	struct store_txn *txn = NULL;
	struct core_watch *w;
	struct core_req req;
	char	 job[OTA_ID_MAX + 1];
	unsigned wake;
	int	 rc, ran = 0;

	for (w = t->head; w != NULL; w = w->next) {
		if (w->dead || w->replaced == 2)
			continue;
		if (w->replaced || (w->expires != 0 && now >= w->expires)) {
			w->fire = CORE_WATCH_EXPIRED;
			continue;
		}
		if (!changed && (w->recheck_at == 0 || now < w->recheck_at))
			continue;
		if (txn == NULL &&
		    (rc = store_txn_begin(core_store(c), 1, &txn)) != 0) {
			log_warnx("push: %s", store_strerror(rc));
			return -1;
		}
		ran = 1;
		t->st.evaluations++;
		watch_req(w, &req);
		rc = core_check_peek(c, txn, &req, watch_body(w), now, job,
		    sizeof(job), &wake);
		w->recheck_at = 0;
		if (rc == STORE_ENOTFOUND) {
			/* removed meanwhile: its check says so (4.04) */
			w->fire = CORE_WATCH_NOTICE;
			continue;
		}
		if (rc != 0) {
			log_warnx("push: %s: %s", w->device,
			    store_strerror(rc));
			continue;
		}
		if (job[0] == '\0') {
			w->told[0] = '\0';
			if (wake > 0)
				w->recheck_at = now + (int64_t)wake * 1000;
			continue;
		}
		if (strcmp(job, w->told) != 0)
			w->fire = CORE_WATCH_NOTICE;
	}
	store_txn_abort(txn);
	if (ran) {
		t->st.polls++;
		t->polled = now;
	}
	return 0;
}

void
core_watch_poll(struct core *c, int64_t now)
{
	struct watch_table *t = core_watch_table(c);
	struct core_watch *w, *next;
	uint64_t txn;
	int	 ev, changed;

	if (t->polling)
		return;		/* from a callback: not again */
	txn = store_last_txn(core_store(c));
	changed = txn != t->seen_txn || txn == 0;
	if (t->n == 0 && t->stale == 0) {
		t->seen_txn = txn;
		return;
	}
	/* at most once a second (unless the clock went back) */
	if (changed && t->polled != 0 && now >= t->polled &&
	    now - t->polled < WATCH_POLL_MS)
		changed = 0;
	t->polling = 1;
	if (watch_decide(c, t, changed, now) == 0 && changed)
		t->seen_txn = txn;
	for (w = t->head; w != NULL; w = w->next) {
		if (w->dead || w->fire == 0)
			continue;
		ev = w->fire;
		w->fire = 0;
		if (w->replaced) {
			/* ended, whatever it was about to be told */
			w->replaced = 2;	/* once */
			ev = CORE_WATCH_EXPIRED;
		} else if (ev == CORE_WATCH_EXPIRED) {
			w->expires = 0;
			t->st.expired++;
		} else
			w->pushing = 1;
		w->cb(w->arg, w, ev);
		if (!w->dead)
			w->pushing = 0;
	}
	t->polling = 0;
	if (!t->dead)
		return;
	t->dead = 0;
	for (w = t->head; w != NULL; w = next) {
		next = w->next;
		if (w->dead) {
			watch_unlink(t, w);
			watch_free(w);
		}
	}
}

void
core_watch_stats(struct core *c, struct core_watch_stats *st)
{
	struct watch_table *t = core_watch_table(c);

	*st = t->st;
	st->watchers = t->n;
	st->max = core_config(c)->push_max_watchers;
}

static void
watch_metrics_cb(void *arg, struct metrics_out *out)
{
	static const char *const protos[3] = { "proto=\"coap\"",
	    "proto=\"coaps\"", "proto=\"https\"" };
	struct core_watch_stats st;
	int	 i;

	core_watch_stats(arg, &st);
	metrics_gauge(out, "otagw_push_watchers",
	    "Devices waiting for a notice: CoAP observations and HTTPS long "
	    "polls.", "", (double)st.watchers);
	metrics_gauge(out, "otagw_push_watchers_max",
	    "push_max_watchers: the most watchers held at once.", "",
	    (double)st.max);
	metrics_counter(out, "otagw_push_refused_total",
	    "Observations and long polls not held: push_max_watchers "
	    "reached.", "", (double)st.refused);
	metrics_counter(out, "otagw_push_polls_total",
	    "Polls that ran the check rules for watched devices (the store "
	    "changed, or a time-driven rule was due).", "",
	    (double)st.polls);
	metrics_counter(out, "otagw_push_evaluations_total",
	    "Read-only check runs for watched devices.", "",
	    (double)st.evaluations);
	for (i = 0; i < 3; i++)
		metrics_counter(out, "otagw_push_notices_total",
		    "Notices pushed to waiting devices as soon as they "
		    "existed.", protos[i], (double)st.pushed[i]);
	metrics_counter(out, "otagw_push_expired_total",
	    "Long polls whose wait ended with no notice pushed.", "",
	    (double)st.expired);
	metrics_counter(out, "otagw_push_replaced_total",
	    "Observations and long polls ended by a newer one of the same "
	    "device.", "", (double)st.replaced);
}

int
core_watch_metrics(struct core *c, struct metrics *m)
{
	return metrics_register(m, watch_metrics_cb, c);
}
