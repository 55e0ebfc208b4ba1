/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * observe.c: observations of /ota/{device}/notice (see observe.h).
 *
 * An observation is on two lists: its session's (a short singly linked
 * list, found by device) and the table's (every observation, for the
 * retransmission timer and for the drain).  It holds one core watch,
 * whose callback runs the check for real and sends the notification.
 *
 * A notification in flight is kept as the bytes sent, its message id,
 * the tries so far and the time of the next one.  A newer notification
 * for the same observation replaces it and starts its own count (the
 * older one would be stale anyway).  The last notification's message id
 * is kept after its ACK too, so that a reset sent to it later still ends
 * the observation (RFC 7641 3.6).
 *
 * Observe values come from one counter for the whole table, started at
 * random: a device that registers again on a new session, or on the same
 * one with its old token, never sees a value go back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/handler.h"
#include "coap/msg.h"
#include "coap/observe.h"
#include "coap/session.h"
#include "core/core.h"
#include "core/watch.h"
#include "crypto/crypto.h"
#include "log.h"
#include "model.h"

/* A notification: token, Observe, Max-Age, Content-Format, a block. */
#define COAPOBS_MSG_MAX		1280

struct coapobs {
	struct coapobs_table *t;
	struct coapobs	*snext;		/* the session's observations */
	struct coapobs	*prev, *next;	/* the table's */
	struct coapsess	*s;
	struct core_watch *w;
	char		 device[OTA_ID_MAX + 1];
	uint8_t		 token[8];
	uint8_t		 tkl;
	/* the notification in flight, if msg != NULL */
	uint8_t		*msg;
	size_t		 msglen;
	uint16_t	 mid;
	unsigned	 tries;		/* retransmissions so far */
	int64_t		 timeout;	/* the wait before the next one */
	int64_t		 next_at;
	int		 has_last;	/* a notification was sent: */
	uint16_t	 last_mid;	/* its message id */
};

void
coapobs_init(struct coapobs_table *t, struct core *core,
    const struct coapobs_ops *ops, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->core = core;
	t->ops = ops;
	t->arg = arg;
	t->ack_timeout_ms = COAPOBS_ACK_TIMEOUT_MS;
	if (crypto_random(&t->rng, sizeof(t->rng)) == -1 || t->rng == 0)
		t->rng = 0x2545f4914f6cdd1dULL;
	t->seq = (uint32_t)(t->rng >> 40) & 0xffffff;
}

static uint32_t
obs_next_seq(struct coapobs_table *t)
{
	t->seq = (t->seq + 1) & 0xffffff;
	return t->seq;
}

/* A first ACK timeout: ACK_TIMEOUT to ACK_TIMEOUT * 1.5 (RFC 7252 4.2). */
static int64_t
obs_first_timeout(struct coapobs_table *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->ack_timeout_ms + (int64_t)(t->rng %
	    (uint64_t)(t->ack_timeout_ms / 2 + 1));
}

static void
obs_drop_msg(struct coapobs *o)
{
	if (o->msg == NULL)
		return;
	free(o->msg);
	o->msg = NULL;
	o->msglen = 0;
	o->t->inflight--;
}

static struct coapobs *
obs_find(struct coapsess *s, const char *device)
{
	struct coapobs *o;

	for (o = s->obs; o != NULL; o = o->snext)
		if (strcmp(o->device, device) == 0)
			return o;
	return NULL;
}

/* Ends an observation: its watch, its lists, its memory. */
static void
obs_end(struct coapobs *o, int why)
{
	struct coapobs_table *t = o->t;
	struct coapobs **pp;

	core_watch_del(t->core, o->w);
	for (pp = &o->s->obs; *pp != NULL; pp = &(*pp)->snext)
		if (*pp == o) {
			*pp = o->snext;
			break;
		}
	if (o->prev != NULL)
		o->prev->next = o->next;
	else
		t->all = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
	obs_drop_msg(o);
	if (why >= 0 && why < COAPOBS_END_N)
		t->st.ended[why]++;
	t->st.observations--;
	free(o);
}

/* Sends what is in flight, and schedules the next try. */
static void
obs_transmit(struct coapobs *o, int64_t now)
{
	struct coapobs_table *t = o->t;

	t->ops->send(t->arg, o->s, o->msg, o->msglen);
	o->next_at = now + o->timeout;
	if (t->ops->arm != NULL)
		t->ops->arm(t->arg);
}

/* A confirmable notification with resp's notice. */
static void
obs_notify(struct coapobs *o, const struct core_resp *resp, int64_t now)
{
	struct coapobs_table *t = o->t;
	uint8_t	 buf[COAPOBS_MSG_MAX];
	struct coapbuf b;
	uint16_t mid = t->ops->next_mid(t->arg, o->s);

	coapbuf_init(&b, buf, sizeof(buf), COAPMSG_CON, COAPMSG_CODE(2, 5),
	    mid, o->token, o->tkl);
	coaphandler_notice_answer(&b, resp->body, resp->body_len,
	    resp->retry_after, NULL, NULL, obs_next_seq(t));
	if (b.overflow) {
		log_warnx("coap: notice for %s: too large a notification",
		    o->device);
		return;
	}
	obs_drop_msg(o);
	if ((o->msg = malloc(b.len)) == NULL) {
		log_warn("coap: notification");
		return;
	}
	memcpy(o->msg, b.buf, b.len);
	o->msglen = b.len;
	o->mid = mid;
	o->has_last = 1;
	o->last_mid = mid;
	o->tries = 0;
	o->timeout = obs_first_timeout(t);
	t->inflight++;
	t->st.notifications++;
	log_debug("coap: notice for %s pushed (Observe %u, message id %u)",
	    o->device, t->seq, mid);
	obs_transmit(o, now);
}

/*
 * The device's check failed (it was removed, say): a non-confirmable
 * error notification, which ends the observation for the client too.
 */
static void
obs_error(struct coapobs *o, const struct core_resp *resp)
{
	struct coapobs_table *t = o->t;
	uint8_t	 buf[COAPOBS_MSG_MAX];
	struct coapbuf b;
	uint8_t	 code;

	switch (resp->status) {
	case CORE_NOT_FOUND:
		code = COAPMSG_CODE(4, 4);
		break;
	case CORE_FORBIDDEN:
		code = COAPMSG_CODE(4, 3);
		break;
	case CORE_UNAVAILABLE:
		code = COAPMSG_CODE(5, 3);
		break;
	default:
		code = COAPMSG_CODE(5, 0);
		break;
	}
	coapbuf_init(&b, buf, sizeof(buf), COAPMSG_NON, code,
	    t->ops->next_mid(t->arg, o->s), o->token, o->tkl);
	if (resp->body != NULL && resp->body_len <= 256) {
		coapbuf_opt_uint(&b, COAPOPT_CONTENT_FORMAT, COAPFMT_JSON);
		coapbuf_payload(&b, resp->body, resp->body_len);
	}
	if (!b.overflow)
		t->ops->send(t->arg, o->s, b.buf, b.len);
}

/* Core says a check would now hand out a notice: run it, send it. */
static void
obs_watch_cb(void *arg, struct core_watch *w, int event)
{
	struct coapobs *o = arg;
	struct coapobs_table *t = o->t;
	struct core_resp resp;

	if (event == CORE_WATCH_EXPIRED) {
		/* the device observes on another session now */
		log_debug("coap: observation of %s ends: replaced", o->device);
		obs_end(o, COAPOBS_END_REPLACED);
		return;
	}
	if (event != CORE_WATCH_NOTICE)
		return;
	core_watch_check(t->core, w, &resp);
	if (resp.status == CORE_OK && resp.body != NULL)
		obs_notify(o, &resp, t->ops->clock(t->arg));
	else if (resp.status < 0) {
		log_debug("coap: observation of %s ends: check failed",
		    o->device);
		obs_error(o, &resp);
		obs_end(o, COAPOBS_END_ERROR);
	}
	core_resp_cleanup(&resp);
}

int
coapobs_register(struct coapobs_table *t, struct coapsess *s,
    const struct core_req *req, const uint8_t *token, size_t tkl,
    int64_t now, struct core_resp *resp, uint32_t *observe)
{
	struct coapobs *o;
	int	 status;

	(void)now;
	memset(resp, 0, sizeof(*resp));
	if (req->device == NULL || tkl > sizeof(o->token))
		goto plain;
	if ((o = obs_find(s, req->device)) == NULL) {
		/* a session the table does not hold cannot observe */
		if (s->serial == 0 || coapobs_count(s) >= COAPOBS_PER_SESSION)
			goto refused;
		if ((o = calloc(1, sizeof(*o))) == NULL)
			goto refused;
		o->w = core_watch_add(t->core, req, 0, obs_watch_cb, o,
		    &status);
		if (o->w == NULL) {
			free(o);
			if (status == CORE_UNAVAILABLE ||
			    status == CORE_INTERNAL)
				goto refused;
			goto plain;	/* core_check says what is wrong */
		}
		o->t = t;
		o->s = s;
		snprintf(o->device, sizeof(o->device), "%s", req->device);
		o->snext = s->obs;
		s->obs = o;
		o->next = t->all;
		if (t->all != NULL)
			t->all->prev = o;
		t->all = o;
		t->st.observations++;
	} else
		obs_drop_msg(o);	/* of the registration it replaces */
	memcpy(o->token, token, tkl);
	o->tkl = (uint8_t)tkl;
	core_watch_check(t->core, o->w, resp);
	if (resp->status < 0) {
		obs_end(o, -1);
		return -1;
	}
	*observe = obs_next_seq(t);
	t->st.registrations++;
	return 0;
refused:
	t->st.refused++;
plain:
	core_check(t->core, req, resp);
	return -1;
}

int
coapobs_deregister(struct coapobs_table *t, struct coapsess *s,
    const char *device)
{
	struct coapobs *o;

	(void)t;
	if ((o = obs_find(s, device)) == NULL)
		return 0;
	obs_end(o, COAPOBS_END_DEREGISTER);
	return 1;
}

int
coapobs_reply(struct coapobs_table *t, struct coapsess *s, uint16_t mid,
    int rst, int64_t now)
{
	struct coapobs *o;

	(void)now;
	for (o = s->obs; o != NULL; o = o->snext) {
		if (o->msg != NULL && o->mid == mid) {
			if (rst)
				break;
			obs_drop_msg(o);
			t->st.acked++;
			return 1;
		}
		if (rst && o->has_last && o->last_mid == mid)
			break;
	}
	if (o == NULL)
		return 0;
	log_debug("coap: observation of %s ends: reset", o->device);
	obs_end(o, COAPOBS_END_RESET);
	return 1;
}

void
coapobs_timer(struct coapobs_table *t, int64_t now)
{
	struct coapobs *o, *next;

	for (o = t->all; o != NULL && t->inflight > 0; o = next) {
		next = o->next;
		if (o->msg == NULL || now < o->next_at)
			continue;
		if (o->tries >= COAPOBS_MAX_RETRANSMIT) {
			log_debug("coap: observation of %s ends: no answer",
			    o->device);
			obs_end(o, COAPOBS_END_TIMEOUT);
			continue;
		}
		o->tries++;
		o->timeout *= 2;
		t->st.retransmissions++;
		obs_transmit(o, now);
	}
}

int64_t
coapobs_next_due(const struct coapobs_table *t)
{
	const struct coapobs *o;
	int64_t	 due = 0;

	if (t->inflight == 0)
		return 0;
	for (o = t->all; o != NULL; o = o->next)
		if (o->msg != NULL && (due == 0 || o->next_at < due))
			due = o->next_at;
	return due;
}

void
coapobs_session_gone(struct coapobs_table *t, struct coapsess *s)
{
	(void)t;
	while (s->obs != NULL)
		obs_end(s->obs, COAPOBS_END_SESSION);
}

void
coapobs_drain(struct coapobs_table *t, unsigned max_age)
{
	uint8_t	 buf[64];
	struct coapbuf b;
	struct coapobs *o;

	while ((o = t->all) != NULL) {
		coapbuf_init(&b, buf, sizeof(buf), COAPMSG_NON,
		    COAPMSG_CODE(5, 3), t->ops->next_mid(t->arg, o->s),
		    o->token, o->tkl);
		coapbuf_opt_uint(&b, COAPOPT_MAX_AGE, max_age);
		coapbuf_payload(&b, "stopping", 8);
		if (!b.overflow)
			t->ops->send(t->arg, o->s, b.buf, b.len);
		obs_end(o, COAPOBS_END_SESSION);
	}
}

void
coapobs_cleanup(struct coapobs_table *t)
{
	while (t->all != NULL)
		obs_end(t->all, -1);
}

size_t
coapobs_count(const struct coapsess *s)
{
	const struct coapobs *o;
	size_t	 n = 0;

	for (o = s->obs; o != NULL; o = o->snext)
		n++;
	return n;
}
