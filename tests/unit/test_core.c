/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_core.c: the request core (src/core) on a real store.
 *
 * Each test opens a store in a fresh temporary directory, provisions
 * devices, firmware (with a real image file) and jobs directly through
 * store.h, drives core_check, core_progress, core_download and core_tick
 * with an injected clock, and looks at what was stored: rows, devices,
 * firmware, and the events in the outbox (types and order).  Every refused
 * request is checked to have stored nothing: the outbox depth and the
 * records are compared before and after.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/capability.h"
#include "codec/wire.h"
#include "core/core.h"
#include "core/core_int.h"
#include "core/transfer.h"
#include "core/watch.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "store/store.h"
#include "util/validate.h"
#include "t.h"

#define SEC	((int64_t)1000)
#define MIN	(60 * SEC)
#define T0	((int64_t)1800000000000)
#define IMG_SIZE 5000

static struct store *st;
static struct core *core;
static struct config cfg;
static int64_t now_ms;
static char dir[256];
static uint8_t image[IMG_SIZE];

static int64_t
fake_clock(void *arg)
{
	return *(int64_t *)arg;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A template for mkdtemp under $TMPDIR (or /tmp). */
static void
tmpdir_make(void)
{
	const char *t = getenv("TMPDIR");

	if (t == NULL || *t == '\0' || strlen(t) > sizeof(dir) - 32)
		t = "/tmp";
	snprintf(dir, sizeof(dir), "%s/otagw-test-core-XXXXXX", t);
}

static void
fixture_up(void)
{
	size_t	 i;

	tmpdir_make();
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	if (store_open(dir, 0, &st) != 0) {
		fprintf(stderr, "store_open %s failed\n", dir);
		exit(1);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.coap.enabled = 1;
	cfg.coap.port = 5683;
	cfg.coaps.enabled = 1;
	cfg.coaps.port = 5684;
	snprintf(cfg.coaps_public, sizeof(cfg.coaps_public),
	    "coaps://gw.test:5684");
	cfg.https.enabled = 1;
	snprintf(cfg.https.host, sizeof(cfg.https.host), "10.0.0.1");
	cfg.https.port = 8443;
	cfg.check_interval = 3600;
	cfg.busy_interval = 10;
	cfg.max_body = 1024;
	cfg.download_url_ttl = 86400;
	cfg.history_max_per_device = 100;
	now_ms = T0;
	if ((core = core_new(st, &cfg)) == NULL) {
		fprintf(stderr, "core_new failed\n");
		exit(1);
	}
	core_set_clock(core, fake_clock, &now_ms);
	for (i = 0; i < IMG_SIZE; i++)
		image[i] = (uint8_t)(i * 7 + i / 256);
}

static void
fixture_down(void)
{
	core_free(core);
	store_close(st);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	core = NULL;
	st = NULL;
}

/*
 * Provisioning straight into the store.
 */

static void
dev_put(const char *id, const char *product, const char *version,
    const char *psk, const char *secret)
{
	struct store_txn *txn;
	struct device_rec d;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.product, sizeof(d.product), "%s", product);
	if (version != NULL) {
		d.nversions = 1;
		snprintf(d.versions[0].module, OTA_ID_MAX + 1, "default");
		snprintf(d.versions[0].version, OTA_ID_MAX + 1, "%s", version);
	}
	if (psk != NULL) {
		d.psk_len = strlen(psk);
		memcpy(d.psk, psk, d.psk_len);
	}
	if (secret != NULL) {
		d.has_secret = 1;
		memset(d.secret_salt, 0x42, sizeof(d.secret_salt));
		crypto_secret_hash(d.secret_salt, secret, strlen(secret),
		    d.secret_hash);
	}
	d.created = now_ms - 10 * MIN;
	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_device_put(txn, &d), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
}

static void
fw_put(const char *id, const char *module, const char *version, int sign)
{
	struct store_image_writer *w;
	struct store_txn *txn;
	struct firmware_rec fw;
	struct digest *dg;

	memset(&fw, 0, sizeof(fw));
	snprintf(fw.id, sizeof(fw.id), "%s", id);
	snprintf(fw.product, sizeof(fw.product), "lamp");
	snprintf(fw.module, sizeof(fw.module), "%s", module);
	snprintf(fw.version, sizeof(fw.version), "%s", version);
	snprintf(fw.name, sizeof(fw.name), "lamp-%s", version);
	fw.sign_method = sign;
	fw.size = IMG_SIZE;
	fw.created = now_ms - 5 * MIN;
	dg = digest_new();
	digest_update(dg, image, IMG_SIZE);
	digest_final(dg, fw.md5, fw.sha256);
	digest_free(dg);

	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(store_image_write(w, image, 1000), 0);
	T_EQ_INT(store_image_write(w, image + 1000, IMG_SIZE - 1000), 0);
	T_EQ_INT(store_image_commit(w, id), 0);
	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_firmware_put(txn, &fw), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
}

/* A running job on fw with the target `version', created `age' ago. */
static void
job_init(struct job_rec *job, const char *id, const char *fw,
    const char *module, const char *version, int64_t age)
{
	jobs_job_defaults(job);
	snprintf(job->id, sizeof(job->id), "%s", id);
	snprintf(job->firmware, sizeof(job->firmware), "%s", fw);
	snprintf(job->product, sizeof(job->product), "lamp");
	snprintf(job->module, sizeof(job->module), "%s", module);
	snprintf(job->version, sizeof(job->version), "%s", version);
	job->nsrc = 1;
	snprintf(job->src_versions[0], OTA_ID_MAX + 1, "1.0.0");
	job->scope = JOB_SCOPE_DEVICES;
	job->state = JOB_RUNNING;
	job->timeout_min = 30;
	job->created = now_ms - age;
	job->started = job->created;
}

static void
job_store(const struct job_rec *job, const char *const *devs)
{
	struct store_txn *txn;
	struct jobdev_rec jd;
	char id[OTA_ID_MAX + 1];

	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_job_put(txn, job), 0);
	/* as ops does: a job id is allocated for each job */
	T_EQ_INT(store_next_id(txn, "j", id), 0);
	for (; devs != NULL && *devs != NULL; devs++) {
		jobs_jd_init(job, &jd, *devs, job->created);
		T_EQ_INT(store_jobdev_put(txn, &jd), 0);
	}
	T_EQ_INT(store_txn_commit(txn), 0);
}

static struct jobdev_rec
row_get(const char *job, const char *dev)
{
	struct store_txn *txn;
	struct jobdev_rec jd;

	memset(&jd, 0, sizeof(jd));
	jd.state = -1;
	if (store_txn_begin(st, 1, &txn) != 0)
		return jd;
	if (store_jobdev_get(txn, job, dev, &jd) != 0)
		jd.state = -1;
	store_txn_abort(txn);
	return jd;
}

static const char *
row_state(const char *job, const char *dev)
{
	struct jobdev_rec jd = row_get(job, dev);

	return jd.state < 0 ? "(none)" : jobs_jd_state_name(jd.state);
}

static struct job_rec
job_get(const char *id)
{
	struct store_txn *txn;
	struct job_rec job;

	memset(&job, 0, sizeof(job));
	job.state = -1;
	if (store_txn_begin(st, 1, &txn) == 0) {
		if (store_job_get(txn, id, &job) != 0)
			job.state = -1;
		store_txn_abort(txn);
	}
	return job;
}

static struct device_rec
dev_get(const char *id)
{
	struct store_txn *txn;
	struct device_rec d;

	memset(&d, 0, sizeof(d));
	if (store_txn_begin(st, 1, &txn) == 0) {
		store_device_get(txn, id, &d);
		store_txn_abort(txn);
	}
	return d;
}

static const char *
dev_version(const char *id, const char *module)
{
	static char out[OTA_ID_MAX + 1];
	struct device_rec d = dev_get(id);
	unsigned i;

	snprintf(out, sizeof(out), "(none)");
	for (i = 0; i < d.nversions; i++)
		if (strcmp(d.versions[i].module, module) == 0)
			snprintf(out, sizeof(out), "%s", d.versions[i].version);
	return out;
}

/* Sets a row's state as an operator action would (confirm, retry...). */
static void
row_apply(const char *job, const char *dev,
    int (*op)(struct jobdev_rec *, int64_t, struct jobs_change *))
{
	struct store_txn *txn;
	struct jobdev_rec jd;
	struct jobs_change ch;

	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_jobdev_get(txn, job, dev, &jd), 0);
	T_EQ_INT(op(&jd, now_ms, &ch), 0);
	T_EQ_INT(store_jobdev_put(txn, &jd), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
}

/*
 * Upgrade histories.
 */

static int
hist_cb(const struct history_rec *h, void *arg)
{
	char	*out = arg;
	size_t	 n = strlen(out);

	snprintf(out + n, 1024 - n, "%s%llu:%s:%s:%s:%s>%s:%u", n ? " " : "",
	    (unsigned long long)h->seq, h->job, jobs_jd_state_name(h->state),
	    h->reason[0] ? h->reason : "-",
	    h->from_version[0] ? h->from_version : "?", h->to_version,
	    h->retries);
	T_CHECK(h->device[0] != '\0');
	T_CHECK(h->finished > 0);
	return 0;
}

/*
 * A device's history, newest first: "seq:job:STATE:reason:from>to:retries
 * ...".
 */
static const char *
hist_s(const char *dev)
{
	static char out[1024];
	struct store_txn *txn;

	out[0] = '\0';
	if (store_txn_begin(st, 1, &txn) != 0)
		return "(begin)";
	if (store_history_iter(txn, dev, 0, hist_cb, out) != 0)
		snprintf(out, sizeof(out), "(iter failed)");
	store_txn_abort(txn);
	return out;
}

/* The newest entry of a device's history. */
static int
hist_first_cb(const struct history_rec *h, void *arg)
{
	*(struct history_rec *)arg = *h;
	return 1;
}

static struct history_rec
hist_last(const char *dev)
{
	struct store_txn *txn;
	struct history_rec h;

	memset(&h, 0, sizeof(h));
	if (store_txn_begin(st, 1, &txn) == 0) {
		store_history_iter(txn, dev, 0, hist_first_cb, &h);
		store_txn_abort(txn);
	}
	return h;
}

/*
 * The outbox.
 */

static uint64_t
ev_mark(void)
{
	struct store_txn *txn;
	struct outbox_stats os;

	memset(&os, 0, sizeof(os));
	if (store_txn_begin(st, 1, &txn) == 0) {
		store_outbox_stats(txn, &os);
		store_txn_abort(txn);
	}
	return os.last_seq + 1;
}

static size_t
ev_depth(void)
{
	struct store_txn *txn;
	struct outbox_stats os;

	memset(&os, 0, sizeof(os));
	if (store_txn_begin(st, 1, &txn) == 0) {
		store_outbox_stats(txn, &os);
		store_txn_abort(txn);
	}
	return os.depth;
}

struct ev_list {
	char	 text[2048];
	char	 last[1024];
	const char *device;
	int	 bad;
};

/* A member's value as text: "state" -> NOTIFIED, "step" -> 40. */
static void
json_member(const char *data, size_t len, const char *name, char *out,
    size_t n)
{
	char	 key[32], buf[1024];
	const char *p;
	size_t	 k = 0;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%.*s", (int)len, data);
	snprintf(key, sizeof(key), "\"%s\":", name);
	if ((p = strstr(buf, key)) == NULL)
		return;
	p += strlen(key);
	if (*p == '"')
		p++;
	while (*p != '\0' && *p != '"' && *p != ',' && *p != '}' && k + 1 < n)
		out[k++] = *p++;
	out[k] = '\0';
}

static int
ev_list_cb(const struct outbox_entry *e, void *arg)
{
	static const char *const types[] = { "inform", "state", "progress",
	    "transfer" };
	struct ev_list *l = arg;
	char	 item[128], state[32], step[24], dev[OTA_ID_MAX + 1];
	size_t	 n;

	json_member(e->data, e->len, "state", state, sizeof(state));
	json_member(e->data, e->len, e->type == EV_TRANSFER ? "bytes" :
	    "step", step, sizeof(step));
	json_member(e->data, e->len, "device", dev, sizeof(dev));
	if (e->type < 0 || e->type > 3 || e->len == 0 || e->data[0] != '{')
		l->bad = 1;
	if (l->device != NULL && strcmp(dev, l->device) != 0)
		l->bad = 1;
	snprintf(item, sizeof(item), "%s%s%s%s%s", types[e->type],
	    state[0] ? ":" : "", state, step[0] ? ":" : "", step);
	n = strlen(l->text);
	snprintf(l->text + n, sizeof(l->text) - n, "%s%s", n ? " " : "",
	    item);
	snprintf(l->last, sizeof(l->last), "%.*s", (int)e->len, e->data);
	return 0;
}

/* "inform state:NOTIFIED progress:UPGRADING:40 ..." since mark. */
static const char *
ev_since(uint64_t mark, const char *device, char *last)
{
	static struct ev_list l;
	struct store_txn *txn;

	memset(&l, 0, sizeof(l));
	l.device = device;
	if (store_txn_begin(st, 1, &txn) == 0) {
		store_outbox_iter(txn, mark, ev_list_cb, &l);
		store_txn_abort(txn);
	}
	T_EQ_INT(l.bad, 0);
	if (last != NULL)
		memcpy(last, l.last, sizeof(l.last));
	return l.text;
}

/*
 * Requests.
 */

static int
do_check(const char *dev, const char *peer, int proto, const char *body,
    struct core_resp *resp)
{
	struct core_req req;

	memset(&req, 0, sizeof(req));
	req.proto = proto;
	req.peer = peer;
	req.device = dev;
	req.body = (const uint8_t *)body;
	req.body_len = body != NULL ? strlen(body) : 0;
	core_check(core, &req, resp);
	return resp->status;
}

/* A check over coaps by the device itself; returns the status only. */
static int
check_s(const char *dev, const char *body)
{
	struct core_resp resp;
	int	 s;

	s = do_check(dev, dev, CORE_PROTO_COAPS, body, &resp);
	core_resp_cleanup(&resp);
	return s;
}

static int
do_progress(const char *dev, const char *peer, const char *body)
{
	struct core_resp resp;
	struct core_req req;

	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_COAPS;
	req.peer = peer;
	req.device = dev;
	req.body = (const uint8_t *)body;
	req.body_len = body != NULL ? strlen(body) : 0;
	core_progress(core, &req, &resp);
	if (resp.status != CORE_NO_CONTENT && resp.status != CORE_OK)
		T_CHECK(resp.body == NULL || resp.body[0] == '{');
	core_resp_cleanup(&resp);
	return resp.status;
}

static int
progress_s(const char *dev, const char *job, int step, const char *extra)
{
	char	 body[512];

	snprintf(body, sizeof(body), "{\"job\":\"%s\",\"step\":%d%s%s}", job,
	    step, extra != NULL ? "," : "", extra != NULL ? extra : "");
	return do_progress(dev, dev, body);
}

static int
download(const char *peer, const char *fwid)
{
	struct core_req req;
	struct firmware_rec fw;
	const struct store_image *img = NULL;
	uint8_t	 sha[32];
	int	 s;

	memset(&req, 0, sizeof(req));
	req.proto = peer != NULL ? CORE_PROTO_COAPS : CORE_PROTO_COAP;
	req.peer = peer;
	s = core_download(core, &req, fwid, &img, &fw);
	if (s == CORE_OK) {
		T_CHECK(img != NULL);
		if (img != NULL) {
			T_EQ_INT(img->size, IMG_SIZE);
			crypto_sha256(img->data, img->size, sha);
			T_CHECK(memcmp(sha, fw.sha256, 32) == 0);
			T_EQ_STR(fw.id, fwid);
		}
		store_image_unref(img);
	} else
		T_CHECK(img == NULL);
	return s;
}

/*
 * Tests.
 */

static const char *const D12[] = { "d1", "d2", NULL };

static void
provision_basic(void)
{
	struct job_rec job;

	dev_put("d1", "lamp", "1.0.0", "key-of-d1", "secret-1");
	dev_put("d2", "lamp", "1.0.0", "key-of-d2", NULL);
	dev_put("d3", "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	fw_put("fw-2", "default", "3.0.0", SIGN_MD5);
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job_store(&job, D12);
}

static void
test_check_notice(void)
{
	struct core_resp resp;
	struct jobdev_rec jd;
	char	 want[1024], hex[65];
	uint64_t mark;
	struct digest *dg;
	uint8_t	 md5[16], sha[32];

	fixture_up();
	provision_basic();
	dg = digest_new();
	digest_update(dg, image, IMG_SIZE);
	digest_final(dg, md5, sha);
	digest_free(dg);
	hex_encode(sha, 32, hex);
	snprintf(want, sizeof(want), "{\"job\":\"j-1\",\"firmware\":\"fw-1\","
	    "\"module\":\"default\",\"version\":\"2.0.0\",\"size\":%d,"
	    "\"sign\":\"%s\",\"signMethod\":\"SHA256\",\"path\":\"/fw/fw-1\","
	    "\"url\":\"coaps://gw.test:5684/fw/fw-1\",\"confirm\":false,"
	    "\"timeout\":1800,\"seq\":0,\"device\":\"d1\"}", IMG_SIZE, hex);

	/* the first check hands out the notice */
	mark = ev_mark();
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"versions\":{\"default\":\"1.0.0\"}}", &resp), CORE_OK);
	T_EQ_STR(resp.body, want);
	T_EQ_INT(resp.body_len, strlen(want));
	T_EQ_INT(resp.retry_after, 10);
	core_resp_cleanup(&resp);
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");
	jd = row_get("j-1", "d1");
	T_EQ_INT(jd.notified, T0);
	T_EQ_STR(jd.last_version, "1.0.0");
	T_EQ_INT(dev_get("d1").last_seen, T0);
	T_EQ_STR(ev_since(mark, "d1", NULL), "inform state:NOTIFIED");

	/* idempotent: the same notice, nothing written */
	mark = ev_mark();
	now_ms += 5 * SEC;
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"versions\":{\"default\":\"1.0.0\"}}", &resp), CORE_OK);
	T_EQ_STR(resp.body, want);
	core_resp_cleanup(&resp);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS, NULL, &resp),
	    CORE_OK);
	T_EQ_STR(resp.body, want);
	core_resp_cleanup(&resp);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	T_EQ_INT(dev_get("d1").last_seen, T0);
	{
		struct jobdev_rec again = row_get("j-1", "d1");

		T_CHECK(memcmp(&again, &jd, sizeof(jd)) == 0);
	}

	/* a minute later the check refreshes last_seen and informs again */
	now_ms = T0 + 61 * SEC;
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"version\":\"1.0.0\"}", &resp), CORE_OK);
	T_EQ_STR(resp.body, want);
	core_resp_cleanup(&resp);
	T_EQ_STR(ev_since(mark, "d1", NULL), "inform");
	T_EQ_INT(dev_get("d1").last_seen, T0 + 61 * SEC);

	/* the url follows the protocol the device came in with */
	T_EQ_INT(do_check("d1", NULL, CORE_PROTO_COAP, NULL, &resp), CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"url\":\"coap://localhost:5683/fw/fw-1\""));
	core_resp_cleanup(&resp);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_HTTPS, NULL, &resp),
	    CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"url\":\"https://10.0.0.1:8443/fw/fw-1?"
	    "device=d1&expires=1800086461&sig=") != NULL);
	core_resp_cleanup(&resp);
	snprintf(cfg.https_public, sizeof(cfg.https_public),
	    "https://ota.example.com/");
	core_set_config(core, &cfg);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_HTTPS, NULL, &resp),
	    CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"url\":\"https://ota.example.com/fw/fw-1?"
	    "device=d1&") != NULL);
	core_resp_cleanup(&resp);

	/* a device with nothing pending */
	mark = ev_mark();
	T_EQ_INT(do_check("d3", "d3", CORE_PROTO_COAPS,
	    "{\"version\":\"1.0.0\"}", &resp), CORE_NO_CONTENT);
	T_CHECK(resp.body == NULL);
	T_EQ_INT(resp.retry_after, 3600);
	core_resp_cleanup(&resp);
	T_EQ_STR(ev_since(mark, "d3", NULL), "inform");
	fixture_down();
}

static void
test_versions(void)
{
	struct device_rec d;
	uint64_t mark;
	char	 last[1024];

	fixture_up();
	dev_put("d1", "lamp", "1.0.0", NULL, NULL);
	/* a new module and a changed version are merged and reported */
	mark = ev_mark();
	T_EQ_INT(check_s("d1", "{\"versions\":{\"default\":\"1.0.1\","
	    "\"wifi\":\"7\"}}"), CORE_NO_CONTENT);
	d = dev_get("d1");
	T_EQ_INT(d.nversions, 2);
	T_EQ_STR(dev_version("d1", "default"), "1.0.1");
	T_EQ_STR(dev_version("d1", "wifi"), "7");
	T_EQ_INT(d.versions_at, T0);
	T_EQ_STR(ev_since(mark, "d1", last), "inform");
	T_CHECK(strstr(last, "\"versions\":{\"default\":\"1.0.1\","
	    "\"wifi\":\"7\"}") != NULL);
	T_CHECK(strstr(last, "\"type\":\"inform\"") != NULL);

	/* the same report again soon after: nothing written */
	now_ms += 10 * SEC;
	mark = ev_mark();
	T_EQ_INT(check_s("d1", "{\"version\":\"7\",\"module\":\"wifi\"}"),
	    CORE_NO_CONTENT);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	T_EQ_INT(dev_get("d1").versions_at, T0);
	/* a change is written at once */
	T_EQ_INT(check_s("d1", "{\"version\":\"8\",\"module\":\"wifi\"}"),
	    CORE_NO_CONTENT);
	T_EQ_STR(ev_since(mark, "d1", NULL), "inform");
	T_EQ_STR(dev_version("d1", "wifi"), "8");
	/* a check without versions writes no inform */
	now_ms += 2 * MIN;
	mark = ev_mark();
	T_EQ_INT(check_s("d1", ""), CORE_NO_CONTENT);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	T_EQ_INT(dev_get("d1").last_seen, now_ms);
	fixture_down();
}

/*
 * Bad requests store nothing.  Long because most of it is the table of
 * bad requests; the oversized bodies after it need a buffer of their own.
 */
static void
test_bad_input(void)
{
	static const struct {
		const char *name;
		int	 progress;
		const char *dev, *peer, *body;
		int	 status;
	} cases[] = {
		{ "malformed", 0, "d1", "d1", "{\"version\":",
		  CORE_BAD_REQUEST },
		{ "not an object", 0, "d1", "d1", "[1]", CORE_BAD_REQUEST },
		{ "bad version", 0, "d1", "d1", "{\"version\":\"1 0\"}",
		  CORE_BAD_REQUEST },
		{ "bad utf-8", 0, "d1", "d1", "{\"x\":\"\xff\"}",
		  CORE_BAD_REQUEST },
		{ "deep", 0, "d1", "d1", "[[[[[[[[[[[[]]]]]]]]]]]]",
		  CORE_BAD_REQUEST },
		{ "bad device id", 0, "d/1", NULL, "", CORE_BAD_REQUEST },
		{ "empty device id", 0, "", NULL, "", CORE_BAD_REQUEST },
		{ "peer mismatch", 0, "d1", "d2", "{\"version\":\"9\"}",
		  CORE_FORBIDDEN },
		{ "unknown device", 0, "d9", "d9", "{\"version\":\"9\"}",
		  CORE_NOT_FOUND },
		{ "unknown device no peer", 0, "d9", NULL, "", CORE_NOT_FOUND },
		{ "p malformed", 1, "d1", "d1", "{\"job\":\"j-1\",\"step\":",
		  CORE_BAD_REQUEST },
		{ "p empty", 1, "d1", "d1", "", CORE_BAD_REQUEST },
		{ "p step range", 1, "d1", "d1",
		  "{\"job\":\"j-1\",\"step\":101}", CORE_BAD_REQUEST },
		{ "p step type", 1, "d1", "d1",
		  "{\"job\":\"j-1\",\"step\":\"5\"}", CORE_BAD_REQUEST },
		{ "p long desc", 1, "d1", "d1", "{\"job\":\"j-1\",\"step\":5,"
		  "\"desc\":\"x"
		  "012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789"
		  "0123456789012345678901234567\"}",
		  CORE_BAD_REQUEST },
		{ "p desc 128", 1, "d1", "d1", "{\"job\":\"j-1\",\"step\":5,"
		  "\"desc\":\"\u00e9"
		  "012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789"
		  "012345678901234567890123456\",\"module\":\"x\"}",
		  CORE_BAD_REQUEST },
		{ "p peer mismatch", 1, "d1", "d2",
		  "{\"job\":\"j-1\",\"step\":5}", CORE_FORBIDDEN },
		{ "p unknown device", 1, "d9", "d9",
		  "{\"job\":\"j-1\",\"step\":5}", CORE_NOT_FOUND },
		{ "p not in job", 1, "d3", "d3", "{\"job\":\"j-1\",\"step\":5}",
		  CORE_NOT_FOUND },
		{ "p unknown job", 1, "d1", "d1",
		  "{\"job\":\"j-9\",\"step\":5}", CORE_NOT_FOUND },
		{ "p before notice", 1, "d2", "d2",
		  "{\"job\":\"j-1\",\"step\":5}", CORE_BAD_REQUEST },
		{ "p other module", 1, "d1", "d1",
		  "{\"job\":\"j-1\",\"step\":5,\"module\":\"wifi\"}",
		  CORE_BAD_REQUEST },
	};
	struct core_resp resp;
	struct core_req req;
	struct jobdev_rec r1, r2;
	struct device_rec d1, d2;
	char	*big;
	size_t	 i, depth;

	fixture_up();
	provision_basic();
	T_EQ_INT(check_s("d1", NULL), CORE_OK);	/* d1 NOTIFIED */
	now_ms += 5 * SEC;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int	 fail0 = t_fail;

		depth = ev_depth();
		r1 = row_get("j-1", "d1");
		r2 = row_get("j-1", "d2");
		d1 = dev_get("d1");
		d2 = dev_get("d2");
		memset(&req, 0, sizeof(req));
		req.proto = CORE_PROTO_COAPS;
		req.peer = cases[i].peer;
		req.device = cases[i].dev;
		req.body = (const uint8_t *)cases[i].body;
		req.body_len = strlen(cases[i].body);
		if (cases[i].progress)
			core_progress(core, &req, &resp);
		else
			core_check(core, &req, &resp);
		T_EQ_INT(resp.status, cases[i].status);
		T_CHECK(resp.body != NULL &&
		    strncmp(resp.body, "{\"error\":\"", 10) == 0 &&
		    strstr(resp.body, "\"message\":\"") != NULL);
		if (cases[i].status == CORE_BAD_REQUEST)
			T_CHECK(resp.body != NULL &&
			    strstr(resp.body, "bad_request") != NULL);
		core_resp_cleanup(&resp);
		T_EQ_INT(ev_depth(), depth);
		{
			struct jobdev_rec a1 = row_get("j-1", "d1");
			struct jobdev_rec a2 = row_get("j-1", "d2");
			struct device_rec b1 = dev_get("d1");
			struct device_rec b2 = dev_get("d2");

			T_CHECK(memcmp(&a1, &r1, sizeof(a1)) == 0);
			T_CHECK(memcmp(&a2, &r2, sizeof(a2)) == 0);
			T_CHECK(memcmp(&b1, &d1, sizeof(b1)) == 0);
			T_CHECK(memcmp(&b2, &d2, sizeof(b2)) == 0);
		}
		if (t_fail != fail0)
			fprintf(stderr, "  ^ in bad input \"%s\"\n",
			    cases[i].name);
	}

	/* oversized bodies: 413 before anything is parsed */
	depth = ev_depth();
	big = malloc(4096);
	memset(big, ' ', 4096);
	memcpy(big, "{\"version\":\"1.0.0\"}", 19);
	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_COAPS;
	req.peer = "d1";
	req.device = "d1";
	req.body = (const uint8_t *)big;
	req.body_len = 1025;
	core_check(core, &req, &resp);
	T_EQ_INT(resp.status, CORE_TOO_LARGE);
	core_resp_cleanup(&resp);
	core_progress(core, &req, &resp);
	T_EQ_INT(resp.status, CORE_TOO_LARGE);
	core_resp_cleanup(&resp);
	T_EQ_INT(ev_depth(), depth);
	/* the limit itself is fine */
	req.body_len = 1024;
	core_check(core, &req, &resp);
	T_EQ_INT(resp.status, CORE_OK);
	core_resp_cleanup(&resp);
	free(big);
	fixture_down();
}

static void
test_download_auth(void)
{
	struct job_rec job;

	fixture_up();
	provision_basic();
	dev_put("d4", "lamp", "1.0.0", "k", NULL);

	T_EQ_INT(download("d1", "fw-1"), CORE_FORBIDDEN); /* not offered */
	T_EQ_INT(check_s("d1", NULL), CORE_OK);
	T_EQ_INT(download("d1", "fw-1"), CORE_OK);
	T_EQ_INT(download("d1", "fw-1"), CORE_OK);	/* again, resumed */
	T_EQ_INT(download("d1", "fw-2"), CORE_FORBIDDEN);	/* other fw */
	T_EQ_INT(download("d2", "fw-1"), CORE_FORBIDDEN);	/* QUEUED */
	T_EQ_INT(download("d4", "fw-1"), CORE_FORBIDDEN);	/* no row */
	T_EQ_INT(download("d9", "fw-1"), CORE_FORBIDDEN);	/* unknown */
	T_EQ_INT(download("d1", "fw-9"), CORE_NOT_FOUND);
	T_EQ_INT(download("d1", "../fw-1"), CORE_BAD_REQUEST);
	T_EQ_INT(download("d1", ""), CORE_BAD_REQUEST);
	T_EQ_INT(download("d1/x", "fw-1"), CORE_FORBIDDEN);
	/* upgrading still may download; a finished row may not */
	T_EQ_INT(progress_s("d1", "j-1", 10, NULL), CORE_NO_CONTENT);
	T_EQ_INT(download("d1", "fw-1"), CORE_OK);
	T_EQ_INT(progress_s("d1", "j-1", -2, NULL), CORE_NO_CONTENT);
	T_EQ_INT(download("d1", "fw-1"), CORE_FORBIDDEN);

	/* plain CoAP: any running job with an open row offering it */
	T_EQ_INT(download(NULL, "fw-1"), CORE_OK);
	T_EQ_INT(download(NULL, "fw-2"), CORE_FORBIDDEN);
	T_EQ_INT(download(NULL, "fw-9"), CORE_NOT_FOUND);
	job = job_get("j-1");
	job.state = JOB_PAUSED;
	job_store(&job, NULL);
	T_EQ_INT(download(NULL, "fw-1"), CORE_FORBIDDEN);
	fixture_down();
}

/* A check over HTTPS that reached origin; the notice's url into url. */
static int
check_url(const char *dev, const char *origin, char *url, size_t size)
{
	struct core_req req;
	struct core_resp resp;
	const char *u, *e;

	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_HTTPS;
	req.peer = dev;
	req.device = dev;
	req.origin = origin;
	core_check(core, &req, &resp);
	url[0] = '\0';
	if (resp.body != NULL &&
	    (u = strstr(resp.body, "\"url\":\"")) != NULL &&
	    (e = strchr(u + 7, '"')) != NULL && (size_t)(e - u - 7) < size) {
		memcpy(url, u + 7, (size_t)(e - u - 7));
		url[e - u - 7] = '\0';
	}
	core_resp_cleanup(&resp);
	return resp.status;
}

/* A download by a notice's url, as device dev with sig and expires. */
static int
download_cap(const char *dev, const char *fwid, int64_t expires,
    const char *sig)
{
	struct core_req req;
	struct firmware_rec fw;
	const struct store_image *img = NULL;
	int	 s;

	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_HTTPS;
	req.peer = dev;
	req.cap_sig = sig;
	req.cap_expires = expires;
	s = core_download(core, &req, fwid, &img, &fw);
	store_image_unref(img);
	return s;
}

static void
url_keys_change(int rotate, int keep_prev)
{
	struct store_txn *txn;
	struct url_keys k;

	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_url_keys_get(txn, &k), 0);
	if (rotate) {
		memcpy(k.prev, k.cur, 32);
		T_EQ_INT(crypto_random(k.cur, 32), 0);
	}
	k.has_prev = keep_prev;
	T_EQ_INT(store_url_keys_put(txn, &k), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
}

/*
 * The url of a notice: where the device came in, unless a public URL is
 * set; over HTTPS it carries a credential that core_download checks:
 * good as given, not when altered, expired, signed by a dropped key or
 * when the row is no longer open.
 */
static void
test_download_url(void)
{
	char	 url[512], sig[CAP_SIG_LEN + 1], bad[CAP_SIG_LEN + 1];
	const char *p;
	int64_t	 exp = T0 / 1000 + 86400;

	fixture_up();
	provision_basic();
	T_EQ_INT(check_url("d1", "https://gw.lan:9443", url, sizeof(url)),
	    CORE_OK);
	T_EQ_STR_PREFIX(url, "https://gw.lan:9443/fw/fw-1?device=d1&"
	    "expires=1800086400&sig=");
	p = strstr(url, "&sig=");
	T_CHECK(p != NULL && strlen(p + 5) == CAP_SIG_LEN);
	snprintf(sig, sizeof(sig), "%s", p != NULL ? p + 5 : "");

	T_EQ_INT(download_cap("d1", "fw-1", exp, sig), CORE_OK);
	snprintf(bad, sizeof(bad), "%s", sig);
	bad[3] = bad[3] == 'A' ? 'B' : 'A';
	T_EQ_INT(download_cap("d1", "fw-1", exp, bad), CORE_FORBIDDEN);
	T_EQ_INT(download_cap("d2", "fw-1", exp, sig), CORE_FORBIDDEN);
	T_EQ_INT(download_cap("d1", "fw-2", exp, sig), CORE_FORBIDDEN);
	T_EQ_INT(download_cap("d1", "fw-9", exp, sig), CORE_FORBIDDEN);
	T_EQ_INT(download_cap("d1", "fw-1", exp + 1, sig), CORE_FORBIDDEN);
	T_EQ_INT(download_cap("d1", "fw-1", exp, ""), CORE_FORBIDDEN);

	/* rotated: the previous key still counts, until it is dropped */
	url_keys_change(1, 1);
	T_EQ_INT(download_cap("d1", "fw-1", exp, sig), CORE_OK);
	url_keys_change(0, 0);
	T_EQ_INT(download_cap("d1", "fw-1", exp, sig), CORE_FORBIDDEN);
	T_EQ_INT(check_url("d1", "https://gw.lan:9443", url, sizeof(url)),
	    CORE_OK);
	p = strstr(url, "&sig=");
	snprintf(sig, sizeof(sig), "%s", p != NULL ? p + 5 : "");
	T_EQ_INT(download_cap("d1", "fw-1", exp, sig), CORE_OK);

	/* expired: good up to its second, not after */
	now_ms = (exp + 1) * 1000;
	T_EQ_INT(download_cap("d1", "fw-1", exp, sig), CORE_FORBIDDEN);
	now_ms = exp * 1000;
	T_EQ_INT(download_cap("d1", "fw-1", exp, sig), CORE_OK);
	/* the row is over: the url is no good either */
	T_EQ_INT(progress_s("d1", "j-1", -2, NULL), CORE_NO_CONTENT);
	T_EQ_INT(download_cap("d1", "fw-1", exp, sig), CORE_FORBIDDEN);

	/* a public URL wins over the address reached; CoAP has no query */
	now_ms = T0;
	snprintf(cfg.https_public, sizeof(cfg.https_public),
	    "https://ota.example.com");
	core_set_config(core, &cfg);
	T_EQ_INT(check_url("d2", "https://gw.lan:9443", url, sizeof(url)),
	    CORE_OK);
	T_EQ_STR_PREFIX(url, "https://ota.example.com/fw/fw-1?device=d2&");
	cfg.https_public[0] = '\0';
	core_set_config(core, &cfg);
	fixture_down();
}

/* The query of a notice's url, as the HTTPS front end reads it. */
static void
test_cap_query(void)
{
	char	 dev[OTA_ID_MAX + 1], sig[CAP_SIG_LEN + 1], q[256];
	const char *s43 = "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE";
	int64_t	 exp = 0;

	snprintf(q, sizeof(q), "device=d-1&expires=1800000000&sig=%s", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), 1);
	T_EQ_STR(dev, "d-1");
	T_EQ_INT(exp, 1800000000);
	T_EQ_STR(sig, s43);
	snprintf(q, sizeof(q), "sig=%s&x=1&expires=1&device=d", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), 1);
	T_EQ_INT(cap_parse_query("", dev, sizeof(dev), &exp, sig), 0);
	T_EQ_INT(cap_parse_query("device=d1", dev, sizeof(dev), &exp, sig),
	    0);
	/* malformed: short or long sig, a repeat, a bad expiry or device */
	T_EQ_INT(cap_parse_query("device=d&expires=1&sig=abc", dev,
	    sizeof(dev), &exp, sig), -1);
	snprintf(q, sizeof(q), "device=d&expires=1&sig=%sA", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), -1);
	snprintf(q, sizeof(q), "device=d&device=e&expires=1&sig=%s", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), -1);
	snprintf(q, sizeof(q), "device=d&expires=-1&sig=%s", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), -1);
	snprintf(q, sizeof(q), "device=d&expires=1234567890123&sig=%s", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), -1);
	snprintf(q, sizeof(q), "device=d%%2f&expires=1&sig=%s", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), -1);
	snprintf(q, sizeof(q), "expires=1&sig=%s", s43);
	T_EQ_INT(cap_parse_query(q, dev, sizeof(dev), &exp, sig), -1);
}

static uint64_t
xfer_stored(const char *dev, const char *fwid)
{
	struct store_txn *txn;
	struct xfer_rec x;
	int	 rc;

	T_EQ_INT(store_txn_begin(st, 1, &txn), 0);
	rc = store_xfer_get(txn, dev, fwid, &x);
	store_txn_abort(txn);
	return rc == 0 ? x.delivered : (uint64_t)-1;
}

/*
 * The bytes delivered to a device: contiguous from 0, kept in memory at
 * once, stored with a transfer event every tenth of the image, after a
 * minute, and at the end; the same record whatever the protocol.
 */
static void
test_transfer(void)
{
	uint64_t mark;

	fixture_up();
	provision_basic();
	T_EQ_INT(check_s("d1", NULL), CORE_OK);
	mark = ev_mark();
	core_transferred(core, "d1", "fw-1", 0, 100, IMG_SIZE);
	T_EQ_INT(xfer_stored("d1", "fw-1"), (uint64_t)-1);	/* 2 % */
	core_transferred(core, "d1", "fw-1", 100, 500, IMG_SIZE);
	T_EQ_INT(xfer_stored("d1", "fw-1"), 600);		/* 12 % */
	T_EQ_STR(ev_since(mark, "d1", NULL), "transfer:600");
	/* past a gap: nothing until the gap is filled */
	core_transferred(core, "d1", "fw-1", 2000, 1000, IMG_SIZE);
	core_transferred(core, "d1", "fw-1", 600, 1400, IMG_SIZE);
	T_EQ_INT(xfer_stored("d1", "fw-1"), 2000);
	/* a little more: the record after a pause, the event a minute on */
	core_transferred(core, "d1", "fw-1", 1000, 1100, IMG_SIZE);
	T_EQ_INT(xfer_stored("d1", "fw-1"), 2000);
	mark = ev_mark();
	now_ms += 3 * SEC;
	core_tick(core, now_ms);
	T_EQ_INT(xfer_stored("d1", "fw-1"), 2100);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	now_ms += 61 * SEC;
	core_tick(core, now_ms);
	T_EQ_STR(ev_since(mark, NULL, NULL), "transfer:2100");
	/* the end; a copy from the start again changes nothing */
	core_transferred(core, "d1", "fw-1", 2100, IMG_SIZE - 2100, IMG_SIZE);
	T_EQ_INT(xfer_stored("d1", "fw-1"), IMG_SIZE);
	mark = ev_mark();
	core_transferred(core, "d1", "fw-1", 0, 1000, IMG_SIZE);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	/* another device, another firmware: records of their own */
	core_transferred(core, "d2", "fw-1", 0, 4000, IMG_SIZE);
	T_EQ_INT(xfer_stored("d2", "fw-1"), 4000);
	T_EQ_INT(xfer_stored("d1", "fw-2"), (uint64_t)-1);
	/* a restart resumes from the store */
	core_free(core);
	core = core_new(st, &cfg);
	core_set_clock(core, fake_clock, &now_ms);
	core_transferred(core, "d2", "fw-1", 3000, 500, IMG_SIZE);
	T_EQ_INT(xfer_stored("d2", "fw-1"), 4000);
	core_transferred(core, "d2", "fw-1", 4000, 1000, IMG_SIZE);
	T_EQ_INT(xfer_stored("d2", "fw-1"), IMG_SIZE);
	fixture_down();
}

/*
 * A full table (one download begun by each of XFER_MAX devices): a new
 * transfer while every entry is busy is served uncounted, without
 * waiting on the table's own lock (it once did, for ever); once the
 * others have paused with nothing unwritten, they make room.
 */
static void
test_transfer_full(void)
{
	struct xfer_table *t;
	char	 dev[32];
	size_t	 i;

	fixture_up();
	dev_put("late", "lamp", "1.0.0", NULL, NULL);
	T_CHECK((t = xfer_new(st)) != NULL);
	if (t == NULL)
		return;
	for (i = 0; i < XFER_MAX; i++) {
		snprintf(dev, sizeof(dev), "full-%zu", i);
		/* past a gap: an entry with nothing to write */
		xfer_sent(t, dev, "fw-1", 100, 1, IMG_SIZE, now_ms);
	}
	T_EQ_INT(xfer_count(t), XFER_MAX);
	xfer_sent(t, "late", "fw-1", 0, 100, IMG_SIZE, now_ms);
	T_EQ_INT(xfer_count(t), XFER_MAX);
	now_ms += 3 * SEC;
	xfer_sent(t, "late", "fw-1", 0, 600, IMG_SIZE, now_ms);
	T_EQ_INT(xfer_count(t), 1);
	T_EQ_INT(xfer_stored("late", "fw-1"), 600);
	xfer_free(t);
	fixture_down();
}

/*
 * A device removed while its transfer is in memory: the figure is not
 * written back (with an event) for a device that is gone, where a device
 * provisioned again under its id would find it.
 */
static void
test_transfer_removed(void)
{
	struct store_txn *txn;
	uint64_t mark;

	fixture_up();
	provision_basic();
	core_transferred(core, "d3", "fw-1", 0, 100, IMG_SIZE);
	T_EQ_INT(xfer_stored("d3", "fw-1"), (uint64_t)-1);
	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_device_del(txn, "d3"), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
	mark = ev_mark();
	now_ms += 61 * SEC;
	core_tick(core, now_ms);
	T_EQ_INT(xfer_stored("d3", "fw-1"), (uint64_t)-1);
	T_EQ_STR(ev_since(mark, "d3", NULL), "");
	fixture_down();
}

static void
test_progress_success(void)
{
	struct jobdev_rec jd;
	uint64_t mark;
	char	 last[1024];

	fixture_up();
	provision_basic();
	T_EQ_INT(check_s("d1", "{\"version\":\"1.0.0\"}"), CORE_OK);
	now_ms += SEC;

	mark = ev_mark();
	T_EQ_INT(progress_s("d1", "j-1", 0, "\"desc\":\"start\""),
	    CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "UPGRADING");
	jd = row_get("j-1", "d1");
	T_EQ_INT(jd.started, now_ms);
	T_EQ_STR(jd.desc, "start");
	T_EQ_STR(ev_since(mark, "d1", last), "progress:UPGRADING:0 "
	    "state:UPGRADING");
	T_CHECK(strstr(last, "\"job\":\"j-1\",\"firmware\":\"fw-1\","
	    "\"module\":\"default\",\"state\":\"UPGRADING\"") != NULL);

	/* no notice while upgrading, and the busy interval */
	{
		struct core_resp resp;

		T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS, NULL, &resp),
		    CORE_NO_CONTENT);
		T_EQ_INT(resp.retry_after, 10);
		core_resp_cleanup(&resp);
	}
	mark = ev_mark();
	now_ms += SEC;
	T_EQ_INT(progress_s("d1", "j-1", 50, "\"desc\":\"downloading\""),
	    CORE_NO_CONTENT);
	T_EQ_STR(ev_since(mark, "d1", last), "progress:UPGRADING:50");
	T_CHECK(strstr(last, "\"desc\":\"downloading\"") != NULL);
	/* step 100 with the old version: waits for the new one */
	mark = ev_mark();
	T_EQ_INT(progress_s("d1", "j-1", 100, "\"version\":\"1.0.0\""),
	    CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "UPGRADING");
	T_EQ_INT(row_get("j-1", "d1").step100, 1);
	T_EQ_STR(ev_since(mark, "d1", NULL), "progress:UPGRADING:100");
	/* the device reboots and checks in with the target version */
	mark = ev_mark();
	now_ms += 30 * SEC;
	T_EQ_INT(check_s("d1", "{\"version\":\"2.0.0\"}"), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "SUCCEEDED");
	T_EQ_STR(dev_version("d1", "default"), "2.0.0");
	T_EQ_STR(ev_since(mark, "d1", NULL), "inform state:SUCCEEDED");
	/* the history has the attempt, from the version at its notice */
	T_EQ_STR(hist_s("d1"), "1:j-1:SUCCEEDED:-:1.0.0>2.0.0:0");
	{
		struct history_rec h = hist_last("d1");

		T_EQ_STR(h.device, "d1");
		T_EQ_STR(h.firmware, "fw-1");
		T_EQ_STR(h.module, "default");
		T_EQ_INT(h.notified, T0);
		T_EQ_INT(h.started, T0 + SEC);
		T_EQ_INT(h.finished, now_ms);
	}
	/* a repeated final report changes nothing */
	mark = ev_mark();
	T_EQ_INT(progress_s("d1", "j-1", 100, "\"version\":\"2.0.0\""),
	    CORE_NO_CONTENT);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	T_EQ_STR(hist_s("d1"), "1:j-1:SUCCEEDED:-:1.0.0>2.0.0:0");

	/* d2: step 100 and the version in one report */
	T_EQ_INT(check_s("d2", NULL), CORE_OK);
	mark = ev_mark();
	T_EQ_INT(progress_s("d2", "j-1", 100, "\"version\":\"2.0.0\""),
	    CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d2"), "SUCCEEDED");
	T_EQ_STR(dev_version("d2", "default"), "2.0.0");
	T_EQ_STR(ev_since(mark, "d2", NULL), "inform progress:SUCCEEDED:100 "
	    "state:UPGRADING state:SUCCEEDED");
	T_EQ_STR(hist_s("d2"), "1:j-1:SUCCEEDED:-:1.0.0>2.0.0:0");
	T_EQ_STR(hist_s("d3"), "");

	/* every row final: the tick completes the job */
	core_tick(core, now_ms);
	T_EQ_STR(jobs_state_name(job_get("j-1").state), "COMPLETED");
	T_EQ_INT(job_get("j-1").finished, now_ms);
	fixture_down();
}

static void
test_failures_and_retries(void)
{
	struct job_rec job;
	struct jobdev_rec jd;
	uint64_t mark;
	char	 last[1024];
	int64_t	 t;

	fixture_up();
	provision_basic();
	job = job_get("j-1");
	job.retry_count = 1;
	job.retry_interval_min = 5;
	job_store(&job, NULL);

	/* d1 fails by its own report, waits, and is offered again */
	T_EQ_INT(check_s("d1", NULL), CORE_OK);
	T_EQ_INT(progress_s("d1", "j-1", 20, NULL), CORE_NO_CONTENT);
	mark = ev_mark();
	t = now_ms;
	T_EQ_INT(progress_s("d1", "j-1", -3,
	    "\"desc\":\"md5 mismatch\""), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "RETRY_WAIT");
	jd = row_get("j-1", "d1");
	T_EQ_STR(jd.reason, "device:-3");
	T_EQ_STR(jd.desc, "md5 mismatch");
	T_EQ_INT(jd.next_at, t + 5 * MIN);
	T_EQ_STR(ev_since(mark, "d1", last), "progress:RETRY_WAIT:-3 "
	    "state:FAILED state:RETRY_WAIT");
	T_CHECK(strstr(last, "\"reason\":\"device:-3\"") != NULL);
	/* the failed attempt is in the history before any retry */
	T_EQ_STR(hist_s("d1"), "1:j-1:FAILED:device:-3:1.0.0>2.0.0:0");
	T_EQ_STR(hist_last("d1").desc, "md5 mismatch");
	T_EQ_INT(check_s("d1", NULL), CORE_NO_CONTENT);	/* still waiting */
	T_EQ_INT(download("d1", "fw-1"), CORE_FORBIDDEN);

	mark = ev_mark();
	now_ms = t + 5 * MIN - 1;
	core_tick(core, now_ms);
	T_EQ_STR(row_state("j-1", "d1"), "RETRY_WAIT");
	now_ms = t + 5 * MIN;
	core_tick(core, now_ms);
	T_EQ_STR(row_state("j-1", "d1"), "QUEUED");
	T_EQ_INT(row_get("j-1", "d1").retries, 1);
	T_EQ_STR(ev_since(mark, "d1", NULL), "state:QUEUED");
	T_EQ_INT(check_s("d1", NULL), CORE_OK);
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");

	/* the second failure is final: retries used up */
	mark = ev_mark();
	T_EQ_INT(progress_s("d1", "j-1", -1, NULL), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "FAILED");
	T_EQ_STR(ev_since(mark, "d1", NULL), "progress:FAILED:-1 "
	    "state:FAILED");
	/* the retry overwrote the row; the history kept both attempts */
	T_EQ_STR(hist_s("d1"), "2:j-1:FAILED:device:-1:1.0.0>2.0.0:1 "
	    "1:j-1:FAILED:device:-3:1.0.0>2.0.0:0");

	/* d2: a wrong version while upgrading (retried later) */
	T_EQ_INT(check_s("d2", NULL), CORE_OK);
	T_EQ_INT(progress_s("d2", "j-1", 60, NULL), CORE_NO_CONTENT);
	mark = ev_mark();
	T_EQ_INT(check_s("d2", "{\"version\":\"0.9.0\"}"), CORE_NO_CONTENT);
	jd = row_get("j-1", "d2");
	T_EQ_STR(jobs_jd_state_name(jd.state), "RETRY_WAIT");
	T_EQ_STR(jd.reason, "wrong-version");
	T_EQ_STR(ev_since(mark, "d2", NULL), "inform state:FAILED "
	    "state:RETRY_WAIT");
	T_EQ_STR(dev_version("d2", "default"), "0.9.0");
	T_EQ_STR(hist_s("d2"), "1:j-1:FAILED:wrong-version:1.0.0>2.0.0:0");
	/* the wait ends at a check too, which hands the notice out again */
	now_ms += 6 * MIN;
	mark = ev_mark();
	T_EQ_INT(check_s("d2", NULL), CORE_OK);
	T_EQ_STR(ev_since(mark, "d2", NULL), "state:QUEUED state:NOTIFIED");
	/* the new attempt's source is the version it was notified on */
	T_EQ_STR(row_get("j-1", "d2").from_version, "0.9.0");
	fixture_down();
}

/*
 * A report tied to one attempt (a hawkBit feedback names its action)
 * that is written after that attempt ended and the next began changes
 * nothing: the write checks the attempt again.  Before, a success
 * reported for a failed attempt, read just before it failed, completed
 * the retry the device had not even started.
 */
static void
test_progress_attempt(void)
{
	struct progress_body p;
	struct core_resp resp;
	struct core_req req;
	struct job_rec job;
	int64_t	 first;

	fixture_up();
	provision_basic();
	job = job_get("j-1");
	job.retry_count = 1;
	job.retry_interval_min = 0;
	job_store(&job, NULL);
	T_EQ_INT(check_s("d1", NULL), CORE_OK);
	first = row_get("j-1", "d1").notified;
	T_EQ_INT(progress_s("d1", "j-1", -1, NULL), CORE_NO_CONTENT);
	now_ms += 1000;
	core_tick(core, now_ms);
	T_EQ_INT(check_s("d1", NULL), CORE_OK);
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");
	T_CHECK(row_get("j-1", "d1").notified != first);

	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_HTTPS;
	req.peer = "d1";
	req.device = "d1";
	memset(&p, 0, sizeof(p));
	snprintf(p.job, sizeof(p.job), "j-1");
	p.step = 100;
	p.has_version = 1;
	snprintf(p.version, sizeof(p.version), "2.0.0");
	p.attempt = first;
	core_progress_decoded(core, &req, &p, &resp);
	T_EQ_INT(resp.status, CORE_NOT_FOUND);
	core_resp_cleanup(&resp);
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");
	T_EQ_STR(dev_version("d1", "default"), "1.0.0");
	/* the attempt under way takes it */
	p.attempt = row_get("j-1", "d1").notified;
	core_progress_decoded(core, &req, &p, &resp);
	T_EQ_INT(resp.status, CORE_NO_CONTENT);
	core_resp_cleanup(&resp);
	T_EQ_STR(row_state("j-1", "d1"), "SUCCEEDED");
	fixture_down();
}

/*
 * A CREATING job (its rows being written by ops in chunks): no device
 * sees it, the tick leaves it alone while its creator writes, and
 * terminates it once the creator stopped for JOBS_CREATING_STALE_MS; its
 * rows then fail "terminated" at the next tick.
 */
static void
test_creating(void)
{
	const char *devs[] = { "d9", NULL };
	struct job_rec job;

	fixture_up();
	fw_put("fw-9", "default", "2.0.0", SIGN_SHA256);
	dev_put("d9", "lamp", "1.0.0", "key-d9", NULL);
	job_init(&job, "j-1", "fw-9", "default", "2.0.0", 0);
	job.state = JOB_CREATING;
	job.rate_window = now_ms;	/* the creator's heartbeat */
	job_store(&job, devs);
	core_tick(core, now_ms);
	T_EQ_INT(check_s("d9", NULL), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d9"), "QUEUED");
	now_ms += JOBS_CREATING_STALE_MS - 1;
	core_tick(core, now_ms);
	T_EQ_INT(job_get("j-1").state, JOB_CREATING);
	T_EQ_INT(check_s("d9", NULL), CORE_NO_CONTENT);
	now_ms += 1;
	core_tick(core, now_ms);
	T_EQ_INT(job_get("j-1").state, JOB_TERMINATED);
	T_EQ_INT(job_get("j-1").finished, now_ms);
	T_EQ_INT(check_s("d9", NULL), CORE_NO_CONTENT);
	now_ms += 1000;
	core_tick(core, now_ms);
	T_EQ_STR(row_state("j-1", "d9"), "FAILED");
	T_EQ_STR(row_get("j-1", "d9").reason, "terminated");

	/* a creation that ends in time: the job runs, the notice goes out */
	dev_put("d8", "lamp", "1.0.0", "key-d8", NULL);
	job_init(&job, "j-2", "fw-9", "default", "2.0.0", 0);
	job.state = JOB_CREATING;
	job.rate_window = now_ms;
	devs[0] = "d8";
	job_store(&job, devs);
	T_EQ_INT(check_s("d8", NULL), CORE_NO_CONTENT);
	job.state = JOB_RUNNING;
	job.rate_window = 0;
	job_store(&job, NULL);
	T_EQ_INT(check_s("d8", NULL), CORE_OK);
	T_EQ_STR(row_state("j-2", "d8"), "NOTIFIED");
	fixture_down();
}

static void
test_timeout(void)
{
	uint64_t mark;
	int64_t	 t;

	fixture_up();
	provision_basic();
	{
		struct job_rec job = job_get("j-1");

		job.retry_count = 3;	/* never used for timeouts */
		job_store(&job, NULL);
	}
	core_tick(core, now_ms);	/* learns the job */
	T_EQ_INT(check_s("d1", NULL), CORE_OK);
	T_EQ_INT(check_s("d2", NULL), CORE_OK);
	t = now_ms;
	T_EQ_INT(progress_s("d1", "j-1", 5, NULL), CORE_NO_CONTENT);
	/* NOTIFIED rows never time out: the clock starts at progress */
	mark = ev_mark();
	now_ms = t + 30 * MIN - 1;
	core_tick(core, now_ms);
	T_EQ_STR(row_state("j-1", "d1"), "UPGRADING");
	now_ms = t + 30 * MIN;
	core_tick(core, now_ms);
	T_EQ_STR(row_state("j-1", "d1"), "FAILED");
	T_EQ_STR(row_get("j-1", "d1").reason, "timeout");
	T_EQ_STR(row_state("j-1", "d2"), "NOTIFIED");
	T_EQ_STR(ev_since(mark, "d1", NULL), "state:FAILED");
	T_EQ_STR(hist_s("d1"), "1:j-1:FAILED:timeout:1.0.0>2.0.0:0");
	T_EQ_STR(hist_s("d2"), "");
	/* late reports of the timed-out attempt are accepted and ignored */
	mark = ev_mark();
	T_EQ_INT(progress_s("d1", "j-1", 100, "\"version\":\"2.0.0\""),
	    CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "FAILED");
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	/* nothing more due: ticks write nothing */
	mark = ev_mark();
	now_ms += MIN;
	core_tick(core, now_ms);
	core_tick(core, now_ms + SEC);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	fixture_down();
}

/*
 * The bound of a history follows the configuration (also when SIGHUP
 * changes it), and rows that end with their job's window are recorded,
 * a row never notified with the version its device runs.
 */
static void
test_history_bound(void)
{
	struct job_rec job;
	int	 i;

	fixture_up();
	provision_basic();
	job = job_get("j-1");
	job.retry_count = 5;
	job.retry_interval_min = 0;
	job.end = now_ms + 10 * MIN;
	job_store(&job, NULL);
	cfg.history_max_per_device = 2;
	core_set_config(core, &cfg);
	core_tick(core, now_ms);
	for (i = 0; i < 3; i++) {
		now_ms += SEC;
		T_EQ_INT(check_s("d1", NULL), CORE_OK);
		T_EQ_INT(progress_s("d1", "j-1", -(i + 1), NULL),
		    CORE_NO_CONTENT);
		T_EQ_STR(row_state("j-1", "d1"), "RETRY_WAIT");
	}
	T_EQ_STR(hist_s("d1"), "3:j-1:FAILED:device:-3:1.0.0>2.0.0:2 "
	    "2:j-1:FAILED:device:-2:1.0.0>2.0.0:1");
	/* the window ends: the waiting rows fail as terminated */
	now_ms = job.end;
	core_tick(core, now_ms);
	core_tick(core, now_ms + SEC);
	T_EQ_STR(row_state("j-1", "d1"), "FAILED");
	T_EQ_STR(row_state("j-1", "d2"), "FAILED");
	T_EQ_STR(hist_s("d1"), "4:j-1:FAILED:terminated:1.0.0>2.0.0:3 "
	    "3:j-1:FAILED:device:-3:1.0.0>2.0.0:2");
	T_EQ_STR(hist_s("d2"), "1:j-1:FAILED:terminated:1.0.0>2.0.0:0");
	T_EQ_INT(hist_last("d2").notified, 0);
	fixture_down();
}

static void
test_window_and_rate(void)
{
	static const char *const devs[] = {
		"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
		"r10", "r11", NULL,
	};
	struct job_rec job;
	struct jobdev_rec jd;
	uint64_t mark;
	int	 i, ok = 0, limited = 0;

	fixture_up();
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	for (i = 0; devs[i] != NULL; i++)
		dev_put(devs[i], "lamp", "1.0.0", NULL, NULL);
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job.state = JOB_SCHEDULED;
	job.started = 0;
	job.start = T0 + 10 * MIN;
	job.end = T0 + 60 * MIN;
	job.rate_per_minute = 10;
	job.timeout_min = 120;
	job_store(&job, devs);

	/* before the window */
	T_EQ_INT(check_s("r0", NULL), CORE_NO_CONTENT);
	T_EQ_STR(row_get("j-1", "r0").reason, "scheduled");
	core_tick(core, now_ms);
	T_EQ_STR(jobs_state_name(job_get("j-1").state), "SCHEDULED");
	now_ms = T0 + 10 * MIN;
	core_tick(core, now_ms);
	T_EQ_STR(jobs_state_name(job_get("j-1").state), "RUNNING");
	T_EQ_INT(job_get("j-1").started, now_ms);

	/* ten notices a minute */
	for (i = 0; devs[i] != NULL; i++) {
		now_ms += 100;
		if (check_s(devs[i], NULL) == CORE_OK)
			ok++;
		else
			limited++;
	}
	T_EQ_INT(ok, 10);
	T_EQ_INT(limited, 2);
	T_EQ_STR(row_get("j-1", "r11").reason, "rate-limited");
	T_EQ_INT(job_get("j-1").rate_used, 10);
	/* repeated notices do not count */
	T_EQ_INT(check_s("r0", NULL), CORE_OK);
	T_EQ_INT(check_s("r11", NULL), CORE_NO_CONTENT);
	now_ms = T0 + 11 * MIN + 100;
	T_EQ_INT(check_s("r11", NULL), CORE_OK);
	T_EQ_INT(check_s("r10", NULL), CORE_OK);

	/* r0 is upgrading when the window ends; r1 never reported */
	T_EQ_INT(progress_s("r0", "j-1", 5, NULL), CORE_NO_CONTENT);
	now_ms = T0 + 60 * MIN;
	mark = ev_mark();
	core_tick(core, now_ms);
	T_EQ_STR(jobs_state_name(job_get("j-1").state), "TERMINATED");
	T_EQ_INT(job_get("j-1").finished, now_ms);
	core_tick(core, now_ms + SEC);
	for (i = 0; devs[i] != NULL; i++) {
		jd = row_get("j-1", devs[i]);
		T_EQ_STR(jobs_jd_state_name(jd.state), "FAILED");
		T_EQ_STR(jd.reason, "terminated");
	}
	T_EQ_STR(ev_since(mark, NULL, NULL), "state:FAILED state:FAILED "
	    "state:FAILED state:FAILED state:FAILED state:FAILED "
	    "state:FAILED state:FAILED state:FAILED state:FAILED "
	    "state:FAILED state:FAILED");
	mark = ev_mark();
	core_tick(core, now_ms + 2 * SEC);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	T_EQ_INT(check_s("r5", NULL), CORE_NO_CONTENT);
	fixture_down();
}

static void
test_confirm_and_order(void)
{
	static const char *const d1[] = { "d1", NULL };
	struct core_resp resp;
	struct job_rec job;

	fixture_up();
	dev_put("d1", "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	fw_put("fw-w", "wifi", "5", SIGN_MD5);
	/* the younger job */
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job.confirm = 1;
	job_store(&job, d1);
	/* the older job, for another module */
	job_init(&job, "j-2", "fw-w", "wifi", "5", 2 * MIN);
	job.nsrc = 0;
	job.confirm = 1;
	job_store(&job, d1);

	T_EQ_STR(row_state("j-1", "d1"), "WAIT_CONFIRM");
	T_EQ_INT(check_s("d1", NULL), CORE_NO_CONTENT);
	row_apply("j-1", "d1", jobs_jd_confirm);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS, NULL, &resp), CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"job\":\"j-1\"") != NULL &&
	    strstr(resp.body, "\"confirm\":true") != NULL);
	core_resp_cleanup(&resp);
	/* a notice handed out stays first; one notice at a time */
	row_apply("j-2", "d1", jobs_jd_confirm);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS, NULL, &resp), CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"job\":\"j-1\"") != NULL);
	core_resp_cleanup(&resp);
	T_EQ_STR(row_state("j-2", "d1"), "QUEUED");
	row_apply("j-1", "d1", jobs_jd_cancel);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS, NULL, &resp), CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"job\":\"j-2\"") != NULL &&
	    strstr(resp.body, "\"signMethod\":\"MD5\"") != NULL &&
	    strstr(resp.body, "\"module\":\"wifi\"") != NULL);
	core_resp_cleanup(&resp);
	/* a report for one module does not touch the other job */
	T_EQ_INT(progress_s("d1", "j-2", 10, NULL), CORE_NO_CONTENT);
	T_EQ_INT(check_s("d1", "{\"versions\":{\"default\":\"0.1\","
	    "\"wifi\":\"4\"}}"), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-2", "d1"), "UPGRADING");
	T_EQ_INT(progress_s("d1", "j-2", 100, "\"version\":\"5\","
	    "\"module\":\"wifi\""), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-2", "d1"), "SUCCEEDED");
	T_EQ_STR(dev_version("d1", "wifi"), "5");
	T_EQ_STR(dev_version("d1", "default"), "0.1");
	fixture_down();
}

static void
test_verify_and_abort(void)
{
	static const char *const v[] = { "v1", "v2", NULL };
	static const char *const b[] = {
		"b1", "b2", "b3", "b4", "b5", "b6", NULL,
	};
	struct job_rec job;
	struct store_txn *txn;
	struct firmware_rec fw;
	int	 i;

	fixture_up();
	for (i = 0; v[i] != NULL; i++)
		dev_put(v[i], "lamp", "1.0.0", NULL, NULL);
	for (i = 0; b[i] != NULL; i++)
		dev_put(b[i], "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job.kind = JOB_KIND_VERIFY;
	job_store(&job, v);
	core_tick(core, now_ms);
	for (i = 0; v[i] != NULL; i++) {
		T_EQ_INT(check_s(v[i], NULL), CORE_OK);
		T_EQ_INT(progress_s(v[i], "j-1", 100, "\"version\":\"2.0.0\""),
		    CORE_NO_CONTENT);
	}
	/* at once, in the last report's own transaction: no tick */
	T_EQ_STR(jobs_state_name(job_get("j-1").state), "COMPLETED");
	T_EQ_INT(store_txn_begin(st, 1, &txn), 0);
	T_EQ_INT(store_firmware_get(txn, "fw-1", &fw), 0);
	store_txn_abort(txn);
	T_EQ_STR(jobs_fw_state_name(fw.state), "VERIFIED");

	/* a batch that pauses when half of four finished devices failed */
	job_init(&job, "j-2", "fw-1", "default", "2.0.0", 0);
	job.abort_percent = 40;
	job.abort_min_devices = 4;
	job_store(&job, b);
	core_tick(core, now_ms);
	for (i = 0; i < 4; i++) {
		T_EQ_INT(check_s(b[i], NULL), CORE_OK);
		if (i < 2)
			T_EQ_INT(progress_s(b[i], "j-2", -2, NULL),
			    CORE_NO_CONTENT);
		else
			T_EQ_INT(progress_s(b[i], "j-2", 100,
			    "\"version\":\"2.0.0\""), CORE_NO_CONTENT);
	}
	T_EQ_STR(jobs_state_name(job_get("j-2").state), "PAUSED");
	T_EQ_INT(check_s("b5", NULL), CORE_NO_CONTENT);
	T_EQ_STR(row_get("j-2", "b5").reason, "paused");

	/* a version report in a check finishes the last row: the same */
	dev_put("v3", "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-3", "default", "3.0.0", SIGN_SHA256);
	job_init(&job, "j-3", "fw-3", "default", "3.0.0", MIN);
	job.kind = JOB_KIND_VERIFY;
	job_store(&job, (const char *const []){ "v3", NULL });
	core_tick(core, now_ms);
	T_EQ_INT(check_s("v3", NULL), CORE_OK);
	T_EQ_INT(progress_s("v3", "j-3", 100, NULL), CORE_NO_CONTENT);
	T_EQ_INT(check_s("v3", "{\"version\":\"3.0.0\"}"),
	    CORE_NO_CONTENT);
	T_EQ_STR(jobs_state_name(job_get("j-3").state), "COMPLETED");
	T_EQ_INT(store_txn_begin(st, 1, &txn), 0);
	T_EQ_INT(store_firmware_get(txn, "fw-3", &fw), 0);
	store_txn_abort(txn);
	T_EQ_STR(jobs_fw_state_name(fw.state), "VERIFIED");
	fixture_down();
}

static void
test_credentials(void)
{
	uint8_t	 key[64];
	size_t	 len = 0;

	fixture_up();
	provision_basic();
	T_EQ_INT(core_device_psk(core, "d1", key, &len, sizeof(key)), 0);
	T_EQ_INT(len, 9);
	T_CHECK(memcmp(key, "key-of-d1", 9) == 0);
	T_EQ_INT(core_device_psk(core, "d1", key, &len, 8), -1);
	T_EQ_INT(core_device_psk(core, "d3", key, &len, sizeof(key)), -1);
	T_EQ_INT(core_device_psk(core, "d9", key, &len, sizeof(key)), -1);
	T_EQ_INT(core_device_psk(core, "d 1", key, &len, sizeof(key)), -1);
	T_EQ_INT(core_device_psk(core, NULL, key, &len, sizeof(key)), -1);
	T_EQ_INT(core_device_auth(core, "d1", "secret-1"), 0);
	T_EQ_INT(core_device_auth(core, "d1", "secret-2"), -1);
	T_EQ_INT(core_device_auth(core, "d1", ""), -1);
	T_EQ_INT(core_device_auth(core, "d1", "secret-1x"), -1);
	T_EQ_INT(core_device_auth(core, "d2", "secret-1"), -1);	/* none */
	T_EQ_INT(core_device_auth(core, "d9", "secret-1"), -1);
	T_EQ_INT(core_device_auth(core, NULL, "secret-1"), -1);
	T_EQ_INT(core_device_auth(core, "d1", NULL), -1);
	fixture_down();
}

/*
 * A full map: checks that must write are refused with CORE_UNAVAILABLE
 * and store nothing, while checks that change nothing still work.
 */
static void
test_store_full(void)
{
	struct store_txn *txn;
	struct device_rec d, before;
	struct core_resp resp;
	char	 id[32], body[128];
	int	 i, rc = 0, status = CORE_NO_CONTENT, n;
	size_t	 depth = 0;

	tmpdir_make();
	if (mkdtemp(dir) == NULL)
		return;
	if (store_open(dir, 1 << 20, &st) != 0) {
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
		T_CHECK(0);
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.check_interval = 60;
	cfg.busy_interval = 5;
	cfg.max_body = 1024;
	core = core_new(st, &cfg);
	now_ms = T0;
	core_set_clock(core, fake_clock, &now_ms);
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "dev-%d", i);
		dev_put(id, "lamp", "1", NULL, NULL);
	}
	/* version reports fill the outbox until the map is full */
	for (n = 0; n < 1000000 && status != CORE_UNAVAILABLE; n++) {
		snprintf(id, sizeof(id), "dev-%d", n % 8);
		snprintf(body, sizeof(body), "{\"versions\":{\"default\":"
		    "\"%d\",\"module-with-a-long-name\":\"%d\"}}", n, n);
		depth = ev_depth();
		before = dev_get(id);
		status = do_check(id, NULL, CORE_PROTO_COAP, body, &resp);
		if (status == CORE_UNAVAILABLE)
			T_CHECK(resp.body != NULL &&
			    strstr(resp.body, "unavailable") != NULL);
		else
			T_EQ_INT(status, CORE_NO_CONTENT);
		core_resp_cleanup(&resp);
	}
	T_EQ_INT(status, CORE_UNAVAILABLE);
	/* the refused check left everything as it was */
	T_EQ_INT(ev_depth(), depth);
	d = dev_get(id);
	T_CHECK(memcmp(&d, &before, sizeof(d)) == 0);
	/* a check with nothing to write is still answered */
	snprintf(body, sizeof(body), "{\"version\":\"%s\"}",
	    dev_version(id, "default"));
	T_EQ_INT(do_check(id, NULL, CORE_PROTO_COAP, body, &resp),
	    CORE_NO_CONTENT);
	core_resp_cleanup(&resp);
	/* and so is a PSK lookup */
	T_EQ_INT(store_txn_begin(st, 1, &txn), 0);
	rc = store_device_get(txn, id, &d);
	store_txn_abort(txn);
	T_EQ_INT(rc, 0);
	fixture_down();
}

/* A dynamic job takes in devices that later report a matching version. */
static void
test_dynamic(void)
{
	struct job_rec job;
	uint64_t mark;

	fixture_up();
	dev_put("d1", "lamp", "0.9", NULL, NULL);
	dev_put("d2", "lamp", "0.9", NULL, NULL);
	dev_put("d3", "other", "0.9", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job.dynamic = 1;
	job_store(&job, NULL);
	core_tick(core, now_ms);

	/* not a source version: nothing */
	T_EQ_INT(check_s("d1", "{\"version\":\"0.9\"}"), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "(none)");
	/* the source version: joins and gets the notice at once */
	mark = ev_mark();
	T_EQ_INT(check_s("d1", "{\"version\":\"1.0.0\"}"), CORE_OK);
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");
	T_EQ_STR(ev_since(mark, "d1", NULL), "inform state:QUEUED "
	    "state:NOTIFIED");
	/* another product never joins */
	T_EQ_INT(check_s("d3", "{\"version\":\"1.0.0\"}"), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d3"), "(none)");
	/* finished devices do not join again */
	T_EQ_INT(progress_s("d1", "j-1", -1, NULL), CORE_NO_CONTENT);
	now_ms += 2 * MIN;
	T_EQ_INT(check_s("d1", "{\"version\":\"1.0.0\"}"), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d1"), "FAILED");
	/* dynamic jobs do not complete when their rows are final */
	core_tick(core, now_ms);
	T_EQ_STR(jobs_state_name(job_get("j-1").state), "RUNNING");

	/*
	 * A dynamic job created after the last tick sees a report sent in
	 * the same millisecond: no tick between them.
	 */
	dev_put("d4", "lamp", "0.9", NULL, NULL);
	fw_put("fw-9", "radio", "5.0", SIGN_SHA256);
	job_init(&job, "j-9", "fw-9", "radio", "5.0", MIN);
	job.dynamic = 1;
	job.created = now_ms;
	job_store(&job, NULL);
	T_EQ_INT(check_s("d4", "{\"versions\":{\"radio\":\"1.0.0\"}}"),
	    CORE_OK);
	T_EQ_STR(row_state("j-9", "d4"), "NOTIFIED");

	/* only new reports: the version must change */
	job = job_get("j-1");
	job.only_new_reports = 1;
	job_store(&job, NULL);
	core_tick(core, now_ms);
	dev_put("d2", "lamp", "1.0.0", NULL, NULL);
	T_EQ_INT(check_s("d2", "{\"version\":\"1.0.0\"}"), CORE_NO_CONTENT);
	T_EQ_STR(row_state("j-1", "d2"), "(none)");
	T_EQ_INT(check_s("d2", "{\"version\":\"0.9\"}"), CORE_NO_CONTENT);
	T_EQ_INT(check_s("d2", "{\"version\":\"1.0.0\"}"), CORE_OK);
	T_EQ_STR(row_state("j-1", "d2"), "NOTIFIED");
	fixture_down();
}

/*
 * Pull by version: with "requestVersion" only a row whose job targets
 * that version may give the notice; the others are left as they are.
 */
static void
test_request_version(void)
{
	struct core_resp resp;
	struct job_rec job;
	struct jobdev_rec before;
	uint64_t mark;
	size_t	 depth;
	static const char *const D1[] = { "d1", NULL };

	fixture_up();
	dev_put("d1", "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	fw_put("fw-2", "wifi", "7.0", SIGN_SHA256);
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", 2 * MIN);
	job_store(&job, D1);
	job_init(&job, "j-2", "fw-2", "wifi", "7.0", MIN);
	job_store(&job, D1);

	/* a version nothing targets: no notice, and no row touched */
	mark = ev_mark();
	before = row_get("j-1", "d1");
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"requestVersion\":\"9.9\"}", &resp), CORE_NO_CONTENT);
	T_CHECK(resp.body == NULL);
	core_resp_cleanup(&resp);
	T_EQ_STR(row_state("j-1", "d1"), "QUEUED");
	T_EQ_STR(row_state("j-2", "d1"), "QUEUED");
	{
		struct jobdev_rec after = row_get("j-1", "d1");

		T_CHECK(memcmp(&after, &before, sizeof(before)) == 0);
	}
	T_EQ_STR(ev_since(mark, NULL, NULL), "");

	/* the newer job's version: its notice, although j-1 is older */
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"versions\":{\"default\":\"1.0.0\"},"
	    "\"requestVersion\":\"7.0\"}", &resp), CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"job\":\"j-2\"") != NULL);
	core_resp_cleanup(&resp);
	T_EQ_STR(row_state("j-2", "d1"), "NOTIFIED");
	T_EQ_STR(row_state("j-1", "d1"), "QUEUED");

	/* a notice handed out is not repeated to a pull of another one */
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"requestVersion\":\"2.0.0\"}", &resp), CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"job\":\"j-1\"") != NULL);
	core_resp_cleanup(&resp);
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");
	/* without requestVersion: the oldest job's notice, as ever */
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS, NULL, &resp),
	    CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"job\":\"j-1\"") != NULL);
	core_resp_cleanup(&resp);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_HTTPS,
	    "{\"requestVersion\":\"7.0\"}", &resp), CORE_OK);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "\"job\":\"j-2\"") != NULL);
	core_resp_cleanup(&resp);

	/* a bad one is 4.00 and changes nothing */
	mark = ev_mark();
	depth = ev_depth();
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"requestVersion\":\"2.0 beta\"}", &resp), CORE_BAD_REQUEST);
	T_CHECK(resp.body != NULL &&
	    strstr(resp.body, "requestVersion") != NULL);
	core_resp_cleanup(&resp);
	T_EQ_INT(do_check("d1", "d1", CORE_PROTO_COAPS,
	    "{\"version\":\"1.0.1\",\"requestVersion\":7}", &resp),
	    CORE_BAD_REQUEST);
	core_resp_cleanup(&resp);
	T_EQ_STR(dev_version("d1", "default"), "1.0.0");
	T_EQ_INT(ev_depth(), depth);
	T_EQ_STR(ev_since(mark, NULL, NULL), "");
	fixture_down();
}

/*
 * Watches: what a front end holding a long poll or an observation sees.
 */

struct watcher {
	struct core_watch *w;
	int	 notices, expired;	/* callbacks */
	int	 pushed;		/* of which a check gave a notice */
	int	 check;			/* run core_watch_check when called */
	int	 status;		/* its answer */
	char	 job[OTA_ID_MAX + 1];	/* the notice's job */
	struct core_watch *kill;	/* ended from the callback */
	int	 del_self;
};

static void
watcher_cb(void *arg, struct core_watch *w, int event)
{
	struct watcher *x = arg;
	struct core_resp resp;
	const char *p;

	T_CHECK(w == x->w);
	if (event == CORE_WATCH_NOTICE)
		x->notices++;
	else if (event == CORE_WATCH_EXPIRED)
		x->expired++;
	else
		T_CHECK(!"unknown watch event");
	x->job[0] = '\0';
	if (x->check) {
		core_watch_check(core, w, &resp);
		x->status = resp.status;
		if (resp.status == CORE_OK)
			x->pushed++;
		if (resp.body != NULL && resp.status == CORE_OK &&
		    (p = strstr(resp.body, "\"job\":\"")) != NULL)
			snprintf(x->job, sizeof(x->job), "%.*s",
			    (int)strcspn(p + 7, "\""), p + 7);
		core_resp_cleanup(&resp);
	}
	if (x->kill != NULL) {
		core_watch_del(core, x->kill);
		x->kill = NULL;
	}
	if (x->del_self) {
		core_watch_del(core, w);
		x->w = NULL;
	}
}

static struct core_watch *
watch_add(struct watcher *x, const char *dev, const char *body,
    int64_t wait_ms, int *status)
{
	struct core_req req;
	int	 rc;

	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_COAPS;
	req.peer = dev;
	req.device = dev;
	req.body = (const uint8_t *)body;
	req.body_len = body != NULL ? strlen(body) : 0;
	x->w = core_watch_add(core, &req, wait_ms, watcher_cb, x, &rc);
	if (status != NULL)
		*status = rc;
	return x->w;
}

static uint64_t
watch_evals(void)
{
	struct core_watch_stats ws;

	core_watch_stats(core, &ws);
	return ws.evaluations;
}

/* A long poll's life: nothing, then a job, then the push; or expiry. */
static void
test_watch_push(void)
{
	static const char *const D1[] = { "d1", NULL };
	struct watcher a, b;
	struct core_resp resp;
	struct core_watch_stats ws;
	struct job_rec job;
	uint64_t evals, mark;

	fixture_up();
	cfg.push_max_watchers = 100;
	dev_put("d1", "lamp", "1.0.0", NULL, NULL);
	dev_put("d2", "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.check = b.check = 1;
	T_CHECK(watch_add(&a, "d1", "{\"version\":\"1.0.0\"}", 30 * SEC,
	    NULL) != NULL);
	T_CHECK(watch_add(&b, "d2", NULL, 2 * SEC, NULL) != NULL);
	/* the first answer: nothing pending */
	core_watch_check(core, a.w, &resp);
	T_EQ_INT(resp.status, CORE_NO_CONTENT);
	core_resp_cleanup(&resp);
	core_watch_poll(core, now_ms);
	T_EQ_INT(a.notices + a.expired + b.notices + b.expired, 0);

	/* nothing written: nothing run again, however often it polls */
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	evals = watch_evals();
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(watch_evals(), evals);
	T_EQ_INT(b.expired, 1);		/* d2's wait is over */
	T_EQ_INT(b.status, CORE_NO_CONTENT);
	core_watch_del(core, b.w);

	/* a job for d1: pushed at the next poll, through a real check */
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job_store(&job, D1);
	mark = ev_mark();
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(a.notices, 1);
	T_EQ_INT(a.status, CORE_OK);
	T_EQ_STR(a.job, "j-1");
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");
	/* the long poll's report of versions goes up again, as any check's */
	T_EQ_STR(ev_since(mark, "d1", NULL), "inform state:NOTIFIED");
	/* once: the check's own write makes it look again, and it knows */
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_CHECK(watch_evals() > evals);
	T_EQ_INT(a.notices, 1);
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 1);
	T_EQ_INT(ws.pushed[CORE_PROTO_COAPS], 1);
	T_EQ_INT(ws.expired, 1);

	/* paused: no notice; resumed: the same job's notice again */
	job.state = JOB_PAUSED;
	job_store(&job, NULL);
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(a.notices, 1);
	job.state = JOB_RUNNING;
	job_store(&job, NULL);
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(a.notices, 2);
	T_EQ_STR(a.job, "j-1");
	core_watch_del(core, a.w);
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 0);
	fixture_down();
}

/* At most one run a second, rows waiting on time, requestVersion. */
static void
test_watch_rules(void)
{
	static const char *const D3[] = { "d3", NULL };
	struct watcher a, b, c;
	struct job_rec job;
	uint64_t evals;

	fixture_up();
	cfg.push_max_watchers = 100;
	dev_put("d1", "lamp", "1.0.0", NULL, NULL);
	dev_put("d2", "lamp", "1.0.0", NULL, NULL);
	dev_put("d3", "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	fw_put("fw-3", "default", "3.0.0", SIGN_SHA256);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.check = b.check = c.check = 1;
	T_CHECK(watch_add(&a, "d1", NULL, 0, NULL) != NULL);
	T_CHECK(watch_add(&b, "d2", NULL, 0, NULL) != NULL);
	T_CHECK(watch_add(&c, "d3", "{\"requestVersion\":\"3.0.0\"}", 0,
	    NULL) != NULL);
	core_watch_poll(core, now_ms);

	/*
	 * One notice a minute: both are called (one read pass saw the slot
	 * free), the first check takes the slot, the other is rate-limited
	 * and pushed a minute later.
	 */
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job.rate_per_minute = 1;
	job_store(&job, D12);
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(a.pushed + b.pushed, 1);
	/* its check wrote: a poll half a second later runs nothing */
	evals = watch_evals();
	core_watch_poll(core, now_ms + 500);
	T_EQ_INT(watch_evals(), evals);
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_CHECK(watch_evals() > evals);
	T_EQ_INT(a.pushed + b.pushed, 1);
	/* no write for a minute: the rate slot alone brings the other */
	now_ms += 30 * SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(a.pushed + b.pushed, 1);
	now_ms += 30 * SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(a.pushed, 1);
	T_EQ_INT(b.pushed, 1);
	T_EQ_STR(row_state("j-1", "d1"), "NOTIFIED");
	T_EQ_STR(row_state("j-1", "d2"), "NOTIFIED");

	/* pull by version: another version's job stays QUEUED, unpushed */
	job_init(&job, "j-2", "fw-1", "default", "2.0.0", MIN);
	job_store(&job, D3);
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(c.notices, 0);
	T_EQ_STR(row_state("j-2", "d3"), "QUEUED");
	job_init(&job, "j-3", "fw-3", "wifi", "3.0.0", MIN);
	job_store(&job, D3);
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(c.notices, 1);
	T_EQ_INT(c.pushed, 1);
	T_EQ_STR(c.job, "j-3");
	T_EQ_STR(row_state("j-2", "d3"), "QUEUED");
	T_EQ_STR(row_state("j-3", "d3"), "NOTIFIED");
	core_watch_del(core, a.w);
	core_watch_del(core, b.w);
	/* the core frees what is left */
	fixture_down();
}

/* What is refused, the limit, and watches ended from callbacks. */
static void
test_watch_limits(void)
{
	static const char *const D123[] = { "d1", "d2", "d3", NULL };
	struct watcher x[4];
	struct core_watch_stats ws;
	struct core_req req;
	struct job_rec job;
	int	 status, i;

	fixture_up();
	cfg.push_max_watchers = 3;
	dev_put("d1", "lamp", "1.0.0", NULL, NULL);
	dev_put("d2", "lamp", "1.0.0", NULL, NULL);
	dev_put("d3", "lamp", "1.0.0", NULL, NULL);
	fw_put("fw-1", "default", "2.0.0", SIGN_SHA256);
	memset(x, 0, sizeof(x));

	/* what core_check would refuse is not watched */
	T_CHECK(watch_add(&x[0], "bad/id", NULL, 0, &status) == NULL);
	T_EQ_INT(status, CORE_BAD_REQUEST);
	T_CHECK(watch_add(&x[0], "d1", "{\"version\":", 0, &status) == NULL);
	T_EQ_INT(status, CORE_BAD_REQUEST);
	T_CHECK(watch_add(&x[0], "d1", "{\"requestVersion\":\"a b\"}", 0,
	    &status) == NULL);
	T_EQ_INT(status, CORE_BAD_REQUEST);
	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_COAPS;
	req.peer = "d2";
	req.device = "d1";
	T_CHECK(core_watch_add(core, &req, 0, watcher_cb, &x[0], &status) ==
	    NULL);
	T_EQ_INT(status, CORE_FORBIDDEN);

	/* three at most */
	for (i = 0; i < 3; i++)
		T_CHECK(watch_add(&x[i], D123[i], NULL, 0, &status) != NULL);
	T_CHECK(watch_add(&x[3], "d4", NULL, 0, &status) == NULL);
	T_EQ_INT(status, CORE_UNAVAILABLE);
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 3);
	T_EQ_INT(ws.max, 3);
	T_EQ_INT(ws.refused, 1);

	/*
	 * All three get a notice in one poll; the first called ends itself
	 * and the next one in line: that one is not called.
	 */
	core_watch_poll(core, now_ms);
	job_init(&job, "j-1", "fw-1", "default", "2.0.0", MIN);
	job_store(&job, D123);
	/* the list is newest first: x[2] is called first */
	x[2].del_self = 1;
	x[2].kill = x[1].w;
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(x[2].notices, 1);
	T_EQ_INT(x[1].notices, 0);
	T_EQ_INT(x[0].notices, 1);
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 1);
	/* room again */
	T_CHECK(watch_add(&x[3], "d2", NULL, 0, &status) != NULL);
	/* d2 is removed: its watcher is called, and its check says 4.04 */
	x[3].check = 1;
	{
		struct store_txn *txn;

		T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
		T_EQ_INT(store_device_del(txn, "d2"), 0);
		T_EQ_INT(store_txn_commit(txn), 0);
	}
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(x[3].notices, 1);
	T_EQ_INT(x[3].status, CORE_NOT_FOUND);
	/* push_max_watchers 0: push is off */
	cfg.push_max_watchers = 0;
	T_CHECK(watch_add(&x[1], "d3", NULL, 0, &status) == NULL);
	T_EQ_INT(status, CORE_UNAVAILABLE);
	core_watch_del(core, x[0].w);
	core_watch_del(core, x[3].w);
	core_watch_del(core, NULL);
	fixture_down();
}

/*
 * One watch per device: a newer one replaces the older, which stops
 * counting against push_max_watchers at once and is called back as
 * expired by the next poll; so one device with many connections or
 * streams leaves room for the others.  A watch without a peer (plain
 * CoAP, anyone's) never replaces one with a peer.
 */
static void
test_watch_per_device(void)
{
	struct watcher x[12], plain[2], other[2];
	struct core_watch_stats ws;
	struct core_req req;
	int	 status, i;

	fixture_up();
	cfg.push_max_watchers = 3;
	dev_put("d1", "lamp", "1.0.0", NULL, NULL);
	dev_put("d2", "lamp", "1.0.0", NULL, NULL);
	memset(x, 0, sizeof(x));
	memset(plain, 0, sizeof(plain));
	memset(other, 0, sizeof(other));
	for (i = 0; i < 12; i++) {
		x[i].check = 1;
		x[i].del_self = 1;
		T_CHECK(watch_add(&x[i], "d1", NULL, 0, &status) != NULL);
	}
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 1);
	T_EQ_INT(ws.replaced, 11);
	T_EQ_INT(ws.refused, 0);
	/* another device still finds room */
	T_CHECK(watch_add(&other[0], "d2", NULL, 0, &status) != NULL);
	/* plain CoAP's d1 is not the authenticated d1's */
	memset(&req, 0, sizeof(req));
	req.proto = CORE_PROTO_COAP;
	req.device = "d1";
	for (i = 0; i < 2; i++) {
		plain[i].w = core_watch_add(core, &req, 0, watcher_cb,
		    &plain[i], &status);
		T_CHECK(plain[i].w != NULL);
	}
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 3);
	T_EQ_INT(ws.replaced, 12);
	/* a replaced watch its owner ends first is not called */
	core_watch_del(core, x[3].w);
	x[3].w = NULL;
	/* the poll answers the replaced ones (as a check), once */
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	for (i = 0; i < 11; i++)
		T_EQ_INT(x[i].expired, i == 3 ? 0 : 1);
	T_EQ_INT(x[0].status, CORE_NO_CONTENT);
	T_EQ_INT(x[11].expired + x[11].notices, 0);
	T_EQ_INT(plain[0].expired, 1);
	T_EQ_INT(plain[1].expired + other[0].expired, 0);
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 3);
	T_EQ_INT(ws.expired, 0);
	now_ms += SEC;
	core_watch_poll(core, now_ms);
	T_EQ_INT(x[0].expired, 1);
	/* the newest of d1 is held and watched as ever */
	T_CHECK(watch_add(&other[1], "d3", NULL, 0, &status) == NULL);
	T_EQ_INT(status, CORE_UNAVAILABLE);
	core_watch_del(core, x[11].w);
	core_watch_del(core, plain[1].w);
	core_watch_del(core, other[0].w);
	core_watch_stats(core, &ws);
	T_EQ_INT(ws.watchers, 0);
	fixture_down();
}

int
main(void)
{
	T_RUN(test_check_notice);
	T_RUN(test_versions);
	T_RUN(test_bad_input);
	T_RUN(test_download_auth);
	T_RUN(test_download_url);
	T_RUN(test_cap_query);
	T_RUN(test_transfer);
	T_RUN(test_transfer_full);
	T_RUN(test_transfer_removed);
	T_RUN(test_progress_success);
	T_RUN(test_failures_and_retries);
	T_RUN(test_progress_attempt);
	T_RUN(test_timeout);
	T_RUN(test_creating);
	T_RUN(test_history_bound);
	T_RUN(test_window_and_rate);
	T_RUN(test_confirm_and_order);
	T_RUN(test_verify_and_abort);
	T_RUN(test_credentials);
	T_RUN(test_store_full);
	T_RUN(test_dynamic);
	T_RUN(test_request_version);
	T_RUN(test_watch_push);
	T_RUN(test_watch_rules);
	T_RUN(test_watch_limits);
	T_RUN(test_watch_per_device);
	return t_done();
}
