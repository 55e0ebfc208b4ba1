/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * status.c: what the gateway says about itself over the admin API:
 * GET /api/v1/relay (the outbox and the relay, as otactl relay status
 * shows them), GET or HEAD /healthz (200 when all is well; 503 with the
 * reasons when the store cannot be read, is full or failed its last
 * write, when the relay holds parked batches, or when the outbox is above
 * 90 % of outbox_limit; no token needed, for probes) and GET /metrics
 * (the Prometheus text of every registered collector, src/metrics).
 * admin_metrics_cb is the admin API's own collector: store figures
 * gathered in one read transaction per scrape, and the listener's
 * counters.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "jobs/jobs.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "util/validate.h"

#define ADMIN_CTYPE_METRICS	"text/plain; version=0.0.4; charset=utf-8"

int
admin_relay_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct outbox_stats s;
	struct ops_err err;
	char	 body[512], agebuf[24];
	int64_t	 age = -1;
	int	 n;

	if (ops_relay_status(&a->ops, &s, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	if (s.depth > 0 && s.oldest_ts > 0) {
		age = (time_now_ms() - s.oldest_ts) / 1000;
		if (age < 0)
			age = 0;
	}
	if (age >= 0)
		snprintf(agebuf, sizeof(agebuf), "%" PRId64, age);
	else
		snprintf(agebuf, sizeof(agebuf), "null");
	n = snprintf(body, sizeof(body), "{\"depth\":%zu,\"oldestSeq\":%" PRIu64
	    ",\"oldestTs\":%" PRId64 ",\"oldestAgeSeconds\":%s,"
	    "\"lastSeq\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"parkedBatches\":"
	    "%" PRIu64 ",\"parkedEvents\":%zu,\"sent\":%" PRIu64 ",\"retries\":"
	    "%" PRIu64 "}", s.depth, s.oldest_seq, s.oldest_ts,
	    agebuf, s.last_seq, s.dropped, s.parked_batches, s.parked_events,
	    s.sent, s.retries);
	(void)n;
	return admin_json(resp, 200, strdup(body));
}

/* One reason /healthz is unhappy: a code and a sentence. */
static void
health_add(char *buf, size_t size, int *n, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
health_add(char *buf, size_t size, int *n, const char *code,
    const char *fmt, ...)
{
	char	 msg[160];
	size_t	 len = strlen(buf);
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(buf + len, size - len, "%s{\"reason\":\"%s\",\"message\":"
	    "\"%s\"}", *n > 0 ? "," : "", code, msg);
	(*n)++;
}

int
admin_healthz(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct store_health h;
	struct outbox_stats os;
	struct ops_err err;
	char	 reasons[1024] = "", *body;
	size_t	 limit = a->cfg->outbox_limit;
	int	 n = 0;

	if (ops_relay_status(&a->ops, &os, &err) != OPS_OK) {
		health_add(reasons, sizeof(reasons), &n, "store_unreadable",
		    "the store cannot be read");
		memset(&os, 0, sizeof(os));
	}
	store_health(a->st, &h);
	if (h.full)
		health_add(reasons, sizeof(reasons), &n, "store_full",
		    "the store is full (%zu of %zu MiB used, map_size_max %zu "
		    "MiB): device writes answer 5.03", h.used >> 20,
		    h.map_size >> 20, h.map_max >> 20);
	if (h.write_failed)
		health_add(reasons, sizeof(reasons), &n, "store_write_failed",
		    "the last write to the store failed");
	if (os.parked_batches > 0)
		health_add(reasons, sizeof(reasons), &n, "relay_parked",
		    "the upstream refused %" PRIu64 " batch%s (%zu events), "
		    "parked", os.parked_batches, os.parked_batches == 1 ? "" :
		    "es", os.parked_events);
	if (limit > 0 && os.depth > limit / 10 * 9)
		health_add(reasons, sizeof(reasons), &n, "outbox_nearly_full",
		    "the outbox holds %zu events, above 90 %% of outbox_limit "
		    "%zu", os.depth, limit);
	if (n == 0)
		return admin_json(resp, 200, strdup("{\"status\":\"ok\"}"));
	if (asprintf(&body, "{\"status\":\"unhealthy\",\"reasons\":[%s]}",
	    reasons) == -1)
		body = NULL;
	return admin_json(resp, 503, body);
}

int
admin_metrics_show(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	char	*text;
	size_t	 len;

	if ((text = metrics_render(a->metrics, &len)) == NULL)
		return admin_error(resp, 500, "internal", "metrics "
		    "unavailable");
	http_resp_status(resp, 200);
	if (http_resp_header(resp, "Content-Type", ADMIN_CTYPE_METRICS) ==
	    -1) {
		free(text);
		http_resp_status(resp, 500);
		return 500;
	}
	if (http_resp_body_take(resp, text, len) == -1) {	/* freed */
		http_resp_status(resp, 500);
		return 500;
	}
	return 200;
}

/* Store figures, gathered in one read transaction. */
struct scrape {
	struct store_txn *txn;
	size_t	 ndev;
	size_t	 fw[3];
	size_t	 jobs[JOB_CREATING + 1];
	size_t	 rows[JD_NSTATES];
	struct outbox_stats os;
	size_t	 nopen;
	char	 (*open)[OTA_ID_MAX + 1];
	size_t	 cap;
};

static int
scrape_fw_cb(const struct firmware_rec *fw, void *arg)
{
	struct scrape *s = arg;

	if (fw->state >= 0 && fw->state < 3)
		s->fw[fw->state]++;
	return 0;
}

static int
scrape_job_cb(const struct job_rec *j, void *arg)
{
	struct scrape *s = arg;
	char	 (*p)[OTA_ID_MAX + 1];

	if (j->state >= 0 && j->state <= JOB_CREATING)
		s->jobs[j->state]++;
	if (j->state == JOB_COMPLETED || j->state == JOB_TERMINATED)
		return 0;
	if (s->nopen == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		if ((p = realloc(s->open, s->cap * sizeof(*p))) == NULL)
			return 1;
		s->open = p;
	}
	snprintf(s->open[s->nopen++], OTA_ID_MAX + 1, "%s", j->id);
	return 0;
}

static int
scrape_row_cb(const struct jobdev_rec *jd, void *arg)
{
	struct scrape *s = arg;

	if (jd->state >= 0 && jd->state < JD_NSTATES)
		s->rows[jd->state]++;
	return 0;
}

/* The store's figures into s, in one read transaction: 1, or 0. */
static int
scrape_store(struct admin *a, struct scrape *s)
{
	size_t	 i;
	int	 ok;

	if (store_txn_begin(a->st, 1, &s->txn) != 0)
		return 0;
	ok = store_device_count(s->txn, &s->ndev) == 0 &&
	    store_firmware_iter(s->txn, scrape_fw_cb, s) == 0 &&
	    store_job_iter(s->txn, scrape_job_cb, s) == 0 &&
	    store_outbox_stats(s->txn, &s->os) == 0;
	/* rows of open jobs only: closed ones no longer move */
	for (i = 0; ok && i < s->nopen; i++)
		ok = store_jobdev_iter(s->txn, s->open[i], scrape_row_cb,
		    s) == 0;
	store_txn_abort(s->txn);
	return ok;
}

/* The store's map: its size, its limit, what is used, whether full. */
static void
metrics_store_map(struct admin *a, struct metrics_out *out)
{
	struct store_health h;

	store_health(a->st, &h);
	metrics_gauge(out, "otagw_store_map_bytes", "Bytes the store's map "
	    "may hold now (it grows up to map_size_max).", "",
	    (double)h.map_size);
	metrics_gauge(out, "otagw_store_map_max_bytes", "map_size_max.", "",
	    (double)h.map_max);
	metrics_gauge(out, "otagw_store_used_bytes", "Bytes of the store's "
	    "map in use.", "", (double)h.used);
	metrics_gauge(out, "otagw_store_full", "1 when the last write found "
	    "the store full.", "", h.full ? 1 : 0);
}

/* The store's figures, after otagw_store_up. */
static void
metrics_store(struct admin *a, struct metrics_out *out,
    const struct scrape *s)
{
	static const char *const fwst[3] = { "UNVERIFIED", "VERIFIED",
	    "VERIFY_FAILED" };
	char	 label[64];
	size_t	 i;
	double	 age = 0;

	metrics_gauge(out, "otagw_devices", "Provisioned devices.", "",
	    (double)s->ndev);
	for (i = 0; i < 3; i++) {
		snprintf(label, sizeof(label), "state=\"%s\"", fwst[i]);
		metrics_gauge(out, "otagw_firmware", "Firmware images by "
		    "state.", label, (double)s->fw[i]);
	}
	for (i = 0; i <= JOB_CREATING; i++) {
		snprintf(label, sizeof(label), "state=\"%s\"",
		    jobs_state_name((int)i));
		metrics_gauge(out, "otagw_jobs", "Upgrade jobs by state.",
		    label, (double)s->jobs[i]);
	}
	for (i = 0; i < JD_NSTATES; i++) {
		snprintf(label, sizeof(label), "state=\"%s\"",
		    jobs_jd_state_name((int)i));
		metrics_gauge(out, "otagw_open_job_devices", "Devices of open "
		    "(scheduled, running, paused) jobs by state.", label,
		    (double)s->rows[i]);
	}
	metrics_gauge(out, "otagw_outbox_last_seq", "Last sequence number "
	    "handed out to an upstream event.", "", (double)s->os.last_seq);
	metrics_store_map(a, out);
	if (a->relay != NULL)
		return;	/* the relay reports the rest itself when it runs */
	if (s->os.depth > 0 && s->os.oldest_ts > 0) {
		age = (double)(time_now_ms() - s->os.oldest_ts) / 1000.0;
		if (age < 0)
			age = 0;
	}
	metrics_gauge(out, "otagw_outbox_depth", "Events waiting in the "
	    "outbox.", "", (double)s->os.depth);
	metrics_gauge(out, "otagw_outbox_oldest_age_seconds", "Age of the "
	    "oldest event in the outbox.", "", age);
}

/* The listener's connections, as the HTTP server counts them. */
static void
metrics_server(struct admin *a, struct metrics_out *out)
{
	struct http_server_stats hs;

	memset(&hs, 0, sizeof(hs));
	http_server_stats(a->srv, &hs);
	metrics_gauge(out, "otagw_admin_connections", "Open admin API "
	    "connections.", "", (double)hs.connections);
	metrics_gauge(out, "otagw_admin_h2_connections", "Open admin API "
	    "connections speaking HTTP/2.", "", (double)hs.h2_connections);
	metrics_counter(out, "otagw_admin_accepted_total", "Admin API "
	    "connections accepted.", "", (double)hs.accepted);
	metrics_counter(out, "otagw_admin_requests_total", "Admin API "
	    "requests.", "", (double)hs.requests);
	metrics_counter(out, "otagw_admin_bytes_out_total", "Bytes sent by "
	    "the admin API.", "", (double)hs.bytes_out);
	metrics_counter(out, "otagw_admin_refused_total", "Admin API "
	    "connections closed at accept.", "reason=\"per_source\"",
	    (double)hs.refused_source);
	metrics_counter(out, "otagw_admin_refused_total", "Admin API "
	    "connections closed at accept.", "reason=\"max_connections\"",
	    (double)hs.refused_limit);
	metrics_counter(out, "otagw_admin_timeouts_total", "Admin API "
	    "connections closed for a slow handshake, request head or body.",
	    "phase=\"handshake\"", (double)hs.handshake_timeouts);
	metrics_counter(out, "otagw_admin_timeouts_total", "Admin API "
	    "connections closed for a slow handshake, request head or body.",
	    "phase=\"head\"", (double)hs.head_timeouts);
	metrics_counter(out, "otagw_admin_timeouts_total", "Admin API "
	    "connections closed for a slow handshake, request head or body.",
	    "phase=\"body\"", (double)hs.body_timeouts);
	metrics_counter(out, "otagw_admin_accept_pauses_total", "Times the "
	    "admin listener rested 100 ms: accept(2) was out of descriptors "
	    "or memory.", "", (double)hs.accept_pauses);
}

void
admin_metrics_cb(void *arg, struct metrics_out *out)
{
	static const char *const cls[CLASS_N] = {
		"code=\"2xx\"", "code=\"3xx\"", "code=\"4xx\"", "code=\"5xx\"",
	};
	struct admin *a = arg;
	struct scrape s;
	size_t	 i;
	unsigned running, kept;
	int	 ok;

	memset(&s, 0, sizeof(s));
	ok = scrape_store(a, &s);
	free(s.open);
	metrics_gauge(out, "otagw_store_up", "1 when the store could be read "
	    "for this scrape.", "", ok ? 1 : 0);
	if (ok)
		metrics_store(a, out, &s);
	for (i = 0; i < CLASS_N; i++)
		metrics_counter(out, "otagw_admin_responses_total", "Admin API "
		    "responses by status class.", cls[i],
		    (double)a->responses[i]);
	metrics_counter(out, "otagw_admin_auth_failures_total", "Admin API "
	    "requests refused with 401.", "", (double)a->auth_failures);
	metrics_counter(out, "otagw_admin_uploads_total", "Firmware images "
	    "uploaded through the admin API.", "", (double)a->uploads);
	admin_fetch_counts(a, &running, &kept);
	metrics_gauge(out, "otagw_admin_fetches_running", "Firmware fetches by "
	    "URL running now.", "", (double)running);
	if (a->srv != NULL)
		metrics_server(a, out);
}

