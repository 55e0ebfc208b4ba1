/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg.c: CoAP messages in and out, through libcoap's codec (see msg.h).
 *
 * libcoap 4.3.1 is used here as a codec only.  Its server loop is not:
 * its block-wise receive path crashes on a legal sequence of four Block1
 * requests (fixed only in 4.3.5), it counts half-open DTLS handshakes for
 * all peers together, and it walks every session on every pass, so the
 * transport, DTLS and block-wise transfer live in otagw's own files
 * (coapfront.c, session.c, udp.c, src/tls/dtls.c; docs/architecture.md).
 * What libcoap still does is what it is good at and what every message
 * passes through: coap_pdu_parse() checks a datagram (header, token,
 * option deltas and lengths, the lengths of the options it knows, the
 * payload marker) and coap_opt_encode() writes option headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>

#include "coap/msg.h"
#include "log.h"

/* Largest datagram parsed (the largest UDP payload). */
#define COAPMSG_MAX	65535
/* libcoap log lines let through per second (the rest are counted). */
#define COAPMSG_LOG_BURST	20

struct coapmsg_parser {
	coap_pdu_t	*pdu;
};

/* libcoap's log ------------------------------------------------------------ */

/*
 * A peer can make libcoap's parser warn at will (a malformed option is
 * one warning), so the lines are limited to a burst per second.
 */
static _Thread_local time_t	 coapmsg_log_second;
static _Thread_local unsigned	 coapmsg_log_count;
static _Thread_local unsigned	 coapmsg_log_dropped;

static void
coapmsg_log_cb(coap_log_t level, const char *message)
{
	time_t now = time(NULL);
	size_t len;

	if (message == NULL)
		return;
	len = strlen(message);
	while (len > 0 && (message[len - 1] == '\n' ||
	    message[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;
	if (level >= LOG_DEBUG) {
		log_debug("libcoap: %.*s", (int)len, message);
		return;
	}
	if (now != coapmsg_log_second) {
		if (coapmsg_log_dropped > 0)
			log_info("coap: %u libcoap log lines suppressed",
			    coapmsg_log_dropped);
		coapmsg_log_second = now;
		coapmsg_log_count = 0;
		coapmsg_log_dropped = 0;
	}
	if (coapmsg_log_count >= COAPMSG_LOG_BURST) {
		coapmsg_log_dropped++;
		return;
	}
	coapmsg_log_count++;
	/* What libcoap's parser says is about a peer's datagram: info. */
	log_info("libcoap: %.*s", (int)len, message);
}

void
coapmsg_log_setup(void)
{
	coap_startup();
	coap_set_log_handler(coapmsg_log_cb);
	coap_set_log_level(log_get_level() >= LOG_LEVEL_DEBUG ? LOG_DEBUG :
	    LOG_WARNING);
}

/* Parsing ------------------------------------------------------------------ */

struct coapmsg_parser *
coapmsg_parser_new(void)
{
	struct coapmsg_parser *p;

	coap_startup();
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->pdu = coap_pdu_init(0, 0, 0, COAPMSG_MAX);
	if (p->pdu == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
coapmsg_parser_free(struct coapmsg_parser *p)
{
	if (p == NULL)
		return;
	coap_delete_pdu(p->pdu);
	free(p);
}

int
coapmsg_header(const uint8_t *d, size_t len, struct coapmsg *m)
{
	memset(m, 0, offsetof(struct coapmsg, opts));
	m->payload = NULL;
	m->payload_len = 0;
	if (len < 4 || d[0] >> 6 != 1)
		return -1;
	m->type = (d[0] >> 4) & 3;
	m->tkl = d[0] & 0x0f;
	m->code = d[1];
	m->mid = (uint16_t)(d[2] << 8 | d[3]);
	if (m->tkl > 8 || len < 4u + m->tkl) {
		m->tkl = 0;
		return -1;
	}
	memcpy(m->token, d + 4, m->tkl);
	return 0;
}

int
coapmsg_parse(struct coapmsg_parser *p, const uint8_t *d, size_t len,
    struct coapmsg *m)
{
	coap_opt_iterator_t it;
	coap_opt_t *opt;
	const uint8_t *data;
	size_t dlen;

	if (coapmsg_header(d, len, m) == -1)
		return -1;
	if (len > COAPMSG_MAX || !coap_pdu_parse(COAP_PROTO_UDP, d, len,
	    p->pdu))
		return -1;
	if (coap_option_iterator_init(p->pdu, &it, COAP_OPT_ALL) != NULL) {
		while ((opt = coap_option_next(&it)) != NULL) {
			if (m->nopts == COAPMSG_OPTS_MAX) {
				m->too_many = 1;
				break;
			}
			if (coap_opt_length(opt) > UINT16_MAX)
				return -1;
			m->opts[m->nopts].num = it.number;
			m->opts[m->nopts].len = (uint16_t)coap_opt_length(opt);
			m->opts[m->nopts].val = coap_opt_value(opt);
			m->nopts++;
		}
	}
	if (coap_get_data(p->pdu, &dlen, &data) && dlen > 0) {
		m->payload = data;
		m->payload_len = dlen;
	}
	return 0;
}

const struct coapmsg_opt *
coapmsg_opt(const struct coapmsg *m, uint16_t num)
{
	size_t i;

	for (i = 0; i < m->nopts; i++)
		if (m->opts[i].num == num)
			return &m->opts[i];
	return NULL;
}

int
coapmsg_opt_uint(const struct coapmsg_opt *o, uint32_t *v)
{
	uint32_t x = 0;
	uint16_t i;

	if (o->len > 4)
		return -1;
	for (i = 0; i < o->len; i++)
		x = x << 8 | o->val[i];
	*v = x;
	return 0;
}

int
coapmsg_block(const struct coapmsg *m, uint16_t num, struct coapmsg_block *b)
{
	const struct coapmsg_opt *o = coapmsg_opt(m, num);
	uint32_t v;

	memset(b, 0, sizeof(*b));
	if (o == NULL)
		return 0;
	if (o->len > 3 || coapmsg_opt_uint(o, &v) == -1 || (v & 7) == 7)
		return -1;
	b->szx = v & 7;
	b->m = (v >> 3) & 1;
	b->num = v >> 4;
	return 1;
}

/* Building ----------------------------------------------------------------- */

void
coapbuf_init(struct coapbuf *b, uint8_t *buf, size_t cap, uint8_t type,
    uint8_t code, uint16_t mid, const uint8_t *token, size_t tkl)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->last = 0;
	b->overflow = 0;
	if (tkl > 8 || cap < 4 + tkl) {
		b->overflow = 1;
		return;
	}
	buf[0] = (uint8_t)(1 << 6 | (type & 3) << 4 | tkl);
	buf[1] = code;
	buf[2] = (uint8_t)(mid >> 8);
	buf[3] = (uint8_t)mid;
	if (tkl > 0)
		memcpy(buf + 4, token, tkl);
	b->len = 4 + tkl;
}

void
coapbuf_code(struct coapbuf *b, uint8_t code)
{
	if (b->len >= 4)
		b->buf[1] = code;
}

uint8_t
coapbuf_get_code(const struct coapbuf *b)
{
	return b->len >= 4 ? b->buf[1] : 0;
}

void
coapbuf_reset(struct coapbuf *b)
{
	if (b->len < 4)
		return;
	b->len = 4 + (b->buf[0] & 0x0f);
	b->last = 0;
	b->overflow = 0;
}

void
coapbuf_opt(struct coapbuf *b, uint16_t num, const void *val, size_t len)
{
	size_t n;

	if (b->overflow || b->len < 4 || num < b->last) {
		b->overflow = 1;
		return;
	}
	n = coap_opt_encode(b->buf + b->len, b->cap - b->len,
	    (uint16_t)(num - b->last), val, len);
	if (n == 0) {
		b->overflow = 1;
		return;
	}
	b->len += n;
	b->last = num;
}

void
coapbuf_opt_uint(struct coapbuf *b, uint16_t num, uint32_t v)
{
	uint8_t buf[4];
	size_t n = 0;
	int i;

	/* Minimal length: no leading zero bytes, 0 is empty. */
	for (i = 3; i >= 0; i--)
		if (v >> (8 * i) != 0 || n > 0)
			buf[n++] = (uint8_t)(v >> (8 * i));
	coapbuf_opt(b, num, buf, n);
}

void
coapbuf_opt_block(struct coapbuf *b, uint16_t num,
    const struct coapmsg_block *blk)
{
	coapbuf_opt_uint(b, num, blk->num << 4 | (uint32_t)(blk->m ? 8 : 0) |
	    (blk->szx & 7));
}

void
coapbuf_payload(struct coapbuf *b, const void *data, size_t len)
{
	if (len == 0 || b->overflow)
		return;
	if (b->cap - b->len < len + 1) {
		b->overflow = 1;
		return;
	}
	b->buf[b->len++] = 0xff;
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->last = UINT16_MAX;	/* no option after the payload */
}
