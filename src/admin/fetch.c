/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fetch.c: firmware by URL (POST /api/v1/firmware?url=&sha256=).  Each
 * fetch runs fetch_firmware (src/ops/fetch.h: HTTP/2, resumed with
 * Range, checked against the SHA-256) on a worker thread with its own
 * struct ops (the store is safe across threads: MDB_NOTLS, one transaction
 * per thread).  The HTTP server answers every request from its callbacks,
 * so the POST answers 202 with a Location to poll, and
 * GET /api/v1/firmware/fetches/{id} answers 202 while the fetch runs, then
 * 201 with the firmware or the fetch's error.
 *
 * The loop and the threads share only what is under a->lock: whether a
 * fetch is done, its progress and its outcome.  A thread that ends wakes
 * the loop through a->wake_fd (an eventfd), where it is joined; ended
 * fetches are kept ADMIN_FETCH_KEEP_MS for their poller, then forgotten.
 * A fetch ends by itself within firmware_fetch_timeout; at shutdown
 * admin_free raises a->stopping, which fetch_firmware watches, so the
 * threads it joins end within a fraction of a second.
 *
 * The query of a URL may hold credentials (a pre-signed URL's signature):
 * the log shows the URL only through fetch_url_redact.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_priv.h"
#include "log.h"
#include "ops/fetch.h"
#include "util/validate.h"

#define ADMIN_FETCH_RUNNING_MAX	4
#define ADMIN_FETCH_KEEP_MAX	32
#define ADMIN_FETCH_KEEP_MS	(15 * 60 * 1000)

/* One fetch by URL, shared between the loop and its worker thread. */
struct admin_fetch {
	struct admin_fetch *next;
	struct admin	*admin;
	char		 id[32];
	pthread_t	 thread;
	int		 started;	/* thread created */
	int		 joined;
	/* the thread's own copies */
	struct ops	 ops;
	char		 product[OTA_ID_MAX + 1];
	char		 version[OTA_ID_MAX + 1];
	char		 module[OTA_ID_MAX + 1];
	char		 name[OTA_UTF8_SIZE(OTA_NAME_MAX)];
	char		 description[OTA_UTF8_SIZE(OTA_DESC_MAX)];
	char		 sign[16];
	uint32_t	 seq;
	uint8_t		 sig[OTA_SIG_MAX];
	size_t		 sig_len;
	int		 has_name, has_description;
	char		 url[ADMIN_URL_MAX + 1];
	char		 shown[ADMIN_URL_MAX + 1];	/* url for the log */
	unsigned	 deadline_s;
	uint8_t		 sha256[32];
	char		 ca[CONFIG_PATH];
	/* written by the thread under admin->lock */
	int		 done;
	int		 status;	/* enum ops_status */
	struct ops_err	 err;
	struct firmware_rec fw;
	uint64_t	 got;
	uint64_t	 total;
	int64_t		 finished_ms;
};

static void
fetch_progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct admin_fetch *f = arg;

	pthread_mutex_lock(&f->admin->lock);
	f->got = done;
	f->total = total;
	pthread_mutex_unlock(&f->admin->lock);
}

static void *
fetch_thread(void *arg)
{
	struct admin_fetch *f = arg;
	struct ops_fw_params p;
	struct fetch_opts fo;
	struct firmware_rec fw;
	struct ops_err err;
	uint64_t one = 1;
	int	 rc;

	memset(&p, 0, sizeof(p));
	p.product = f->product;
	p.version = f->version;
	p.module = f->module[0] != '\0' ? f->module : NULL;
	p.name = f->has_name ? f->name : NULL;
	p.description = f->has_description ? f->description : NULL;
	p.sign_method = f->sign[0] != '\0' ? f->sign : NULL;
	p.seq = f->seq;
	p.author_sig = f->sig_len > 0 ? f->sig : NULL;
	p.author_sig_len = f->sig_len;
	memset(&fo, 0, sizeof(fo));
	fo.ca_file = f->ca;
	fo.deadline_s = f->deadline_s;
	fo.cancel = &f->admin->stopping;
	fo.progress = fetch_progress_cb;
	fo.arg = f;
	memset(&err, 0, sizeof(err));
	memset(&fw, 0, sizeof(fw));
	rc = fetch_firmware(&f->ops, &p, f->url, f->sha256, &fo, &fw, &err);
	if (rc == OPS_OK)
		log_info("admin: fetch %s: firmware %s from %s", f->id, fw.id,
		    f->shown);
	else
		log_warnx("admin: fetch %s from %s failed: %s", f->id,
		    f->shown, err.msg);
	pthread_mutex_lock(&f->admin->lock);
	f->status = rc;
	f->err = err;
	f->fw = fw;
	f->done = 1;
	f->finished_ms = time_now_ms();
	pthread_mutex_unlock(&f->admin->lock);
	/* wake the loop to join this thread */
	if (write(f->admin->wake_fd, &one, sizeof(one)) == -1)
		log_debug("admin: eventfd write: %s", strerror(errno));
	return NULL;
}

/* Joins finished threads and forgets fetches nobody asked about. */
void
admin_fetch_reap(struct admin *a, int all)
{
	struct admin_fetch **pp, *f;
	int64_t	 now = time_now_ms();
	int	 done;

	for (pp = &a->fetches; (f = *pp) != NULL;) {
		pthread_mutex_lock(&a->lock);
		done = f->done;
		pthread_mutex_unlock(&a->lock);
		if (f->started && !f->joined && (done || all)) {
			pthread_join(f->thread, NULL);
			f->joined = 1;
		}
		if (f->joined && (all || now - f->finished_ms >
		    ADMIN_FETCH_KEEP_MS)) {
			*pp = f->next;
			free(f);
			continue;
		}
		pp = &f->next;
	}
}

void
admin_fetch_wake_cb(int fd, uint32_t events, void *arg)
{
	struct admin *a = arg;
	uint64_t v;

	(void)events;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	admin_fetch_reap(a, 0);
	admin_work_reap(a, 0);
}

void
admin_fetch_counts(struct admin *a, unsigned *running, unsigned *kept)
{
	struct admin_fetch *f;

	*running = *kept = 0;
	pthread_mutex_lock(&a->lock);
	for (f = a->fetches; f != NULL; f = f->next) {
		if (!f->done)
			(*running)++;
		(*kept)++;
	}
	pthread_mutex_unlock(&a->lock);
}

static int
fetch_running_answer(struct http_resp *resp, const struct admin_fetch *f,
    uint64_t got, uint64_t total)
{
	char	 loc[96], body[256];

	snprintf(loc, sizeof(loc), ADMIN_PREFIX "firmware/fetches/%s", f->id);
	http_resp_header(resp, "Location", loc);
	http_resp_header(resp, "Retry-After", "1");
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"state\":"
	    "\"running\",\"done\":%" PRIu64 ",\"total\":%" PRIu64 ","
	    "\"location\":\"%s\"}", f->id, got, total, loc);
	return admin_json(resp, 202, strdup(body));
}

int
admin_fetch_start(struct admin *a, const struct admin_fw_query *fq,
    struct http_resp *resp)
{
	struct admin_fetch *f;
	size_t	 n;
	unsigned running, kept;

	if (!fq->has[7] || !fq->has[6] || fq->url[0] == '\0')
		return admin_bad(resp, "a fetch needs url= and sha256=");
	if (fetch_url_check(fq->url) != 0)
		return admin_bad(resp, "url= must be an https://host[:port]"
		    "/path URL, without a user name or password");
	admin_fetch_reap(a, 0);
	admin_fetch_counts(a, &running, &kept);
	if (running >= ADMIN_FETCH_RUNNING_MAX)
		return admin_error(resp, 409, "conflict", "%u firmware fetches "
		    "are running already; try again when one ends", running);
	if (kept >= ADMIN_FETCH_KEEP_MAX)
		return admin_error(resp, 409, "conflict", "too many finished "
		    "fetches kept; try again in a few minutes");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	f->admin = a;
	if (hex_decode(fq->sha256, f->sha256, sizeof(f->sha256), &n) != 0 ||
	    n != sizeof(f->sha256)) {
		free(f);
		return admin_bad(resp, "sha256= must be 64 hex digits");
	}
	ops_init(&f->ops, a->st, a->cfg);	/* the thread's own */
	snprintf(f->product, sizeof(f->product), "%s", fq->product);
	snprintf(f->version, sizeof(f->version), "%s", fq->version);
	snprintf(f->module, sizeof(f->module), "%s", fq->module);
	snprintf(f->name, sizeof(f->name), "%s", fq->name);
	snprintf(f->description, sizeof(f->description), "%s",
	    fq->description);
	snprintf(f->sign, sizeof(f->sign), "%s", fq->sign);
	f->seq = fq->seq;
	memcpy(f->sig, fq->sig, fq->sig_len);
	f->sig_len = fq->sig_len;
	f->has_name = fq->has[3];
	f->has_description = fq->has[4];
	snprintf(f->url, sizeof(f->url), "%s", fq->url);
	fetch_url_redact(f->url, f->shown, sizeof(f->shown));
	f->deadline_s = a->cfg->firmware_fetch_timeout;
	snprintf(f->ca, sizeof(f->ca), "%s", a->cfg->upstream_ca);
	snprintf(f->id, sizeof(f->id), "fetch-%u", ++a->fetch_seq);
	pthread_mutex_lock(&a->lock);
	f->next = a->fetches;
	a->fetches = f;
	pthread_mutex_unlock(&a->lock);
	if (pthread_create(&f->thread, NULL, fetch_thread, f) != 0) {
		pthread_mutex_lock(&a->lock);
		a->fetches = f->next;
		pthread_mutex_unlock(&a->lock);
		free(f);
		return admin_error(resp, 500, "internal", "cannot start the "
		    "fetch");
	}
	f->started = 1;
	log_info("admin: fetch %s started: %s", f->id, f->shown);
	return fetch_running_answer(resp, f, 0, 0);
}

int
admin_fetch_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct admin_fetch *f;
	struct firmware_rec fw;
	struct ops_err err;
	uint64_t got, total;
	int	 done, status;

	admin_fetch_reap(a, 0);
	for (f = a->fetches; f != NULL; f = f->next)
		if (strcmp(f->id, ar->id) == 0)
			break;
	if (f == NULL)
		return admin_error(resp, 404, "not_found", "no fetch %s (kept "
		    "for %d minutes after it ends)", ar->id,
		    ADMIN_FETCH_KEEP_MS / 60000);
	pthread_mutex_lock(&a->lock);
	done = f->done;
	got = f->got;
	total = f->total;
	status = f->status;
	err = f->err;
	fw = f->fw;
	pthread_mutex_unlock(&a->lock);
	if (!done)
		return fetch_running_answer(resp, f, got, total);
	if (status != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_fw_send(resp, 201, &fw, NULL);
}

