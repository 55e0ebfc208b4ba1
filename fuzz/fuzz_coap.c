/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_coap.c: CoAP requests through otagw's handlers.
 *
 * The input is a few datagrams: each is a 2-byte big-endian length and
 * that many bytes (what is left over is one last datagram).  Each one is
 * parsed by libcoap's own parser (coapmsg_parse, as the daemon does) and,
 * when it parses as a request, handed to coaphandler_request on one
 * session, as if one peer sent them in that order: so Block1 bodies are
 * reassembled across the datagrams of an input, downloads after the
 * first are served from core's grant, and a check can complete an
 * upgrade.  The first byte
 * picks the session's kind: plain CoAP, or coaps with the identity d1.
 *
 * The core and store are real: a store in a temporary directory (in
 * memory when /dev/shm is there), opened on the first input, with device
 * d1 (and d2), a 3000-byte firmware and a job for both, so that checks
 * return notices, progress moves rows and downloads are allowed.  The
 * store changes as inputs arrive (a device reports the target version and
 * succeeds), which changes which branch a later input takes but nothing
 * the target checks.
 *
 * Observations (GET /ota/{device}/notice with Observe) are held on the
 * session with a table whose message layer only checks what it would
 * send; empty ACKs and resets go to it, and after each datagram the core
 * watches are polled and the retransmission timer runs.
 *
 * Beyond "no crash" every answer must be a well-formed CoAP message that
 * the same parser reads back, with the request's token, a response code,
 * and an answer type the message layer chose; and the handler's count of
 * buffered body bytes must return to zero, and every observation end,
 * once the session is released.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/handler.h"
#include "coap/msg.h"
#include "coap/observe.h"
#include "coap/session.h"
#include "config.h"
#include "core/core.h"
#include "core/watch.h"
#include "fuzz.h"
#include "ops/ops.h"
#include "store/store.h"

#define FUZZ_COAP_DGRAMS	16
#define FUZZ_COAP_OUT		1280

static char dir[256];
static struct store *st;
static struct core *core;
static struct config cfg;
static struct coapmsg_parser *parser;
static pid_t owner;
static uint64_t serial;

static void
cleanup(void)
{
	if (getpid() != owner)
		return;
	coapmsg_parser_free(parser);
	core_free(core);
	store_close(st);
	fuzz_rmtree(dir);
}

static void
must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_coap: set-up failed: %s\n", what);
		abort();
	}
}

static void
setup(void)
{
	static const char *const v1[] = { "1.0.0" };
	struct ops_device_params dp;
	struct ops_fw_params fp;
	struct firmware_rec fw;
	struct job_rec job;
	struct ops_job_item item;
	struct ops_job_result res;
	struct ops_err err;
	struct ops ops;
	char path[300], *img;
	FILE *f;
	int created, i;

	fuzz_quiet();
	owner = getpid();
	must(fuzz_mkdtemp(dir, sizeof(dir), "coap") == 0, "mkdtemp");
	must(store_open(dir, 64 * 1024 * 1024, &st) == 0, "store_open");
	config_defaults(&cfg);
	ops_init(&ops, st, &cfg);
	memset(&dp, 0, sizeof(dp));
	dp.product = "p";
	dp.psk_hex = "6b6579";
	dp.nversions = 1;
	dp.versions = v1;
	dp.id = "d1";
	must(ops_device_put(&ops, &dp, NULL, &created, &err) == OPS_OK, "d1");
	dp.id = "d2";
	must(ops_device_put(&ops, &dp, NULL, &created, &err) == OPS_OK, "d2");
	snprintf(path, sizeof(path), "%s/img", dir);
	must((img = malloc(3000)) != NULL, "malloc");
	for (i = 0; i < 3000; i++)
		img[i] = (char)(i * 7);
	must((f = fopen(path, "w")) != NULL &&
	    fwrite(img, 1, 3000, f) == 3000 && fclose(f) == 0, "image");
	free(img);
	memset(&fp, 0, sizeof(fp));
	fp.product = "p";
	fp.version = "2.0.0";
	must(ops_firmware_add_file(&ops, &fp, path, &fw, &err) == OPS_OK,
	    "firmware");
	memset(&job, 0, sizeof(job));
	snprintf(job.firmware, sizeof(job.firmware), "%s", fw.id);
	job.kind = JOB_KIND_BATCH;
	job.force = 1;
	job.scope = JOB_SCOPE_ALL;
	job.timeout_min = 1440;
	job.abort_percent = -1;
	must(ops_job_create(&ops, &job, NULL, 0, &item, &res, &err) == OPS_OK,
	    "job");
	must((core = core_new(st, &cfg)) != NULL, "core");
	must((parser = coapmsg_parser_new()) != NULL, "parser");
	atexit(cleanup);
}

/* The answer must parse back as a response to req. */
static void
check_answer(const struct coapmsg *req, const struct coapbuf *r)
{
	struct coapmsg back;
	struct coapmsg copy = *req;
	uint8_t buf[FUZZ_COAP_OUT];

	FUZZ_ASSERT(!r->overflow);
	FUZZ_ASSERT(r->len >= 4 && r->len <= sizeof(buf));
	/* The parser's buffer holds req's options: parse a copy of r. */
	memcpy(buf, r->buf, r->len);
	FUZZ_ASSERT(coapmsg_parse(parser, buf, r->len, &back) == 0);
	FUZZ_ASSERT(back.code >> 5 >= 2 && back.code >> 5 <= 5);
	FUZZ_ASSERT(back.tkl == copy.tkl &&
	    memcmp(back.token, copy.token, copy.tkl) == 0);
	FUZZ_ASSERT(back.type == (copy.type == COAPMSG_CON ? COAPMSG_ACK :
	    COAPMSG_NON));
}

/* Observations send nothing here; what they would send is checked. */
static int64_t obs_now;
static uint16_t obs_mid;

static void
obs_send(void *arg, struct coapsess *s, const uint8_t *d, size_t len)
{
	struct coapmsg back;
	uint8_t	 buf[FUZZ_COAP_OUT];

	(void)arg;
	(void)s;
	FUZZ_ASSERT(len <= sizeof(buf));
	memcpy(buf, d, len);
	FUZZ_ASSERT(coapmsg_parse(parser, buf, len, &back) == 0);
	FUZZ_ASSERT(back.code >> 5 >= 2 && back.code >> 5 <= 5);
}

static uint16_t
obs_next_mid(void *arg, struct coapsess *s)
{
	(void)arg;
	(void)s;
	return obs_mid++;
}

static int64_t
obs_clock(void *arg)
{
	(void)arg;
	return obs_now;
}

static const struct coapobs_ops obs_ops = {
	.send = obs_send,
	.next_mid = obs_next_mid,
	.clock = obs_clock,
};

FUZZ_TARGET(coap)
{
	struct coapobs_table obs;
	struct coaphandler h;
	struct coapsess s;
	struct coapmsg m;
	struct coapbuf r;
	uint8_t out[FUZZ_COAP_OUT], *dg;
	size_t off, len, n;
	int64_t now = 1000000;

	if (st == NULL)
		setup();
	if (size == 0)
		return 0;
	coaphandler_init(&h, core, cfg.max_body);
	coapobs_init(&obs, core, &obs_ops, NULL);
	obs.ack_timeout_ms = 20;
	h.obs = &obs;
	memset(&s, 0, sizeof(s));
	s.state = COAPSESS_OPEN;
	/* A session of its own: no grant carries over. */
	s.serial = ++serial;
	if (data[0] & 1) {
		s.dtls_ep = 1;
		snprintf(s.identity, sizeof(s.identity), "d1");
	}
	off = 1;
	for (n = 0; n < FUZZ_COAP_DGRAMS && off < size; n++) {
		len = size - off;
		if (len >= 2 && n + 1 < FUZZ_COAP_DGRAMS) {
			size_t want = (size_t)data[off] << 8 | data[off + 1];

			off += 2;
			len = want < size - off ? want : size - off;
		}
		/* A copy of its own, so ASan sees reads past its end. */
		if ((dg = malloc(len + 1)) == NULL)
			abort();
		memcpy(dg, data + off, len);
		off += len;
		obs_now = now;
		if (coapmsg_parse(parser, dg, len, &m) == 0 &&
		    m.code != COAPMSG_EMPTY && m.code >> 5 == 0) {
			coapbuf_init(&r, out, sizeof(out), m.type ==
			    COAPMSG_CON ? COAPMSG_ACK : COAPMSG_NON,
			    COAPMSG_CODE(5, 0), m.mid, m.token, m.tkl);
			coaphandler_request(&h, &s, &m, 0, now, &r);
			check_answer(&m, &r);
		} else if (coapmsg_parse(parser, dg, len, &m) == 0 &&
		    m.code == COAPMSG_EMPTY && (m.type == COAPMSG_ACK ||
		    m.type == COAPMSG_RST))
			(void)coapobs_reply(&obs, &s, m.mid,
			    m.type == COAPMSG_RST, now);
		free(dg);
		now += 10;
		/*
		 * Observers hear of what changed (a poll a datagram: core's
		 * clock is in ms, these a second apart at least), and
		 * notifications are sent again.
		 */
		core_watch_poll(core, now * 1000);
		coapobs_timer(&obs, now);
	}
	coaphandler_release(&h, &s);
	coapsess_last_drop(&s);
	FUZZ_ASSERT(h.body_bytes == 0);
	FUZZ_ASSERT(s.body == NULL);
	FUZZ_ASSERT(s.obs == NULL && obs.st.observations == 0);
	coapobs_cleanup(&obs);
	return 0;
}
