/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * corefix.h: a real request core on a real store, for the front ends'
 * unit tests (test_http's device handler, test_coaphandler), header only.
 *
 * corefix_up opens a store in a fresh temporary directory and a core on
 * it with an injected clock (f->now, in ms); corefix_device,
 * corefix_firmware and corefix_job provision straight through store.h,
 * as tests/unit/test_core.c does, so that the front end under test meets
 * the same records the daemon would.  Every device is product "lamp",
 * module "default", version 1.0.0; every job runs, offers its firmware to
 * the devices named, and moves version 1.0.0 to 2.0.0.
 */
#ifndef OTAGW_T_COREFIX_H
#define OTAGW_T_COREFIX_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "store/store.h"
#include "tmpdir.h"
#include "t.h"

#define COREFIX_T0	((int64_t)1800000000000)
#define COREFIX_IMG_MAX	(64 * 1024)

struct corefix {
	char		 dir[256];
	struct store	*st;
	struct core	*core;
	struct config	 cfg;
	int64_t		 now;
	uint8_t		 image[COREFIX_IMG_MAX];	/* images' bytes */
};

static inline int64_t
corefix_clock(void *arg)
{
	return *(const int64_t *)arg;
}

static inline void
corefix_up(struct corefix *f, const char *name)
{
	size_t	 i;

	memset(f, 0, sizeof(*f));
	t_tmpdir_make(f->dir, sizeof(f->dir), name);
	if (store_open(f->dir, 0, &f->st) != 0) {
		fprintf(stderr, "store_open %s failed\n", f->dir);
		exit(1);
	}
	config_defaults(&f->cfg);
	f->cfg.wakeup_jitter = 0;	/* exact wake-up hints to compare */
	f->cfg.coap.enabled = 1;
	f->cfg.coap.port = 5683;
	f->cfg.coaps.enabled = 1;
	f->cfg.coaps.port = 5684;
	snprintf(f->cfg.coaps_public, sizeof(f->cfg.coaps_public),
	    "coaps://gw.test:5684");
	f->cfg.https.enabled = 1;
	snprintf(f->cfg.https.host, sizeof(f->cfg.https.host), "127.0.0.1");
	f->cfg.https.port = 8443;
	f->cfg.max_body = 4096;
	f->now = COREFIX_T0;
	if ((f->core = core_new(f->st, &f->cfg)) == NULL) {
		fprintf(stderr, "core_new failed\n");
		exit(1);
	}
	core_set_clock(f->core, corefix_clock, &f->now);
	for (i = 0; i < sizeof(f->image); i++)
		f->image[i] = (uint8_t)(i * 7 + i / 251);
}

static inline void
corefix_down(struct corefix *f)
{
	core_free(f->core);
	store_close(f->st);
	t_tmpdir_remove(f->dir);
	f->core = NULL;
	f->st = NULL;
}

/* psk, secret: NULL for none. */
static inline void
corefix_device(struct corefix *f, const char *id, const char *psk,
    const char *secret)
{
	struct store_txn *txn;
	struct device_rec d;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.product, sizeof(d.product), "lamp");
	d.nversions = 1;
	snprintf(d.versions[0].module, OTA_ID_MAX + 1, "default");
	snprintf(d.versions[0].version, OTA_ID_MAX + 1, "1.0.0");
	if (psk != NULL) {
		d.psk_len = strlen(psk);
		memcpy(d.psk, psk, d.psk_len);
	}
	if (secret != NULL) {
		d.has_secret = 1;
		memset(d.secret_salt, 0x5a, sizeof(d.secret_salt));
		crypto_secret_hash(d.secret_salt, secret, strlen(secret),
		    d.secret_hash);
	}
	d.created = f->now - 60000;
	T_EQ_INT(store_txn_begin(f->st, 0, &txn), 0);
	T_EQ_INT(store_device_put(txn, &d), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
}

/* A firmware of size bytes (the first size of f->image). */
static inline void
corefix_firmware(struct corefix *f, const char *id, const char *version,
    size_t size, struct firmware_rec *out)
{
	struct store_image_writer *w;
	struct store_txn *txn;
	struct firmware_rec fw;
	struct digest *dg;

	memset(&fw, 0, sizeof(fw));
	snprintf(fw.id, sizeof(fw.id), "%s", id);
	snprintf(fw.product, sizeof(fw.product), "lamp");
	snprintf(fw.module, sizeof(fw.module), "default");
	snprintf(fw.version, sizeof(fw.version), "%s", version);
	snprintf(fw.name, sizeof(fw.name), "lamp-%s", version);
	fw.sign_method = SIGN_SHA256;
	fw.size = size;
	fw.created = f->now - 30000;
	dg = digest_new();
	digest_update(dg, f->image, size);
	digest_final(dg, fw.md5, fw.sha256);
	digest_free(dg);
	T_EQ_INT(store_image_create(f->st, &w), 0);
	T_EQ_INT(store_image_write(w, f->image, size), 0);
	T_EQ_INT(store_image_commit(w, id), 0);
	T_EQ_INT(store_txn_begin(f->st, 0, &txn), 0);
	T_EQ_INT(store_firmware_put(txn, &fw), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
	if (out != NULL)
		*out = fw;
}

/* A running job on firmware fwid for the devices in devs (NULL-ended). */
static inline void
corefix_job(struct corefix *f, const char *id, const char *fwid,
    const char *const *devs)
{
	struct store_txn *txn;
	struct jobdev_rec jd;
	struct job_rec job;

	jobs_job_defaults(&job);
	snprintf(job.id, sizeof(job.id), "%s", id);
	snprintf(job.firmware, sizeof(job.firmware), "%s", fwid);
	snprintf(job.product, sizeof(job.product), "lamp");
	snprintf(job.module, sizeof(job.module), "default");
	snprintf(job.version, sizeof(job.version), "2.0.0");
	job.nsrc = 1;
	snprintf(job.src_versions[0], OTA_ID_MAX + 1, "1.0.0");
	job.scope = JOB_SCOPE_DEVICES;
	job.state = JOB_RUNNING;
	job.timeout_min = 30;
	job.created = f->now - 60000;
	job.started = job.created;
	T_EQ_INT(store_txn_begin(f->st, 0, &txn), 0);
	T_EQ_INT(store_job_put(txn, &job), 0);
	for (; devs != NULL && *devs != NULL; devs++) {
		jobs_jd_init(&job, &jd, *devs, job.created);
		T_EQ_INT(store_jobdev_put(txn, &jd), 0);
	}
	T_EQ_INT(store_txn_commit(txn), 0);
}

/* Sets job id's state (JOB_PAUSED...), as an operator would. */
static inline void
corefix_job_state(struct corefix *f, const char *id, int state)
{
	struct store_txn *txn;
	struct job_rec job;

	T_EQ_INT(store_txn_begin(f->st, 0, &txn), 0);
	T_EQ_INT(store_job_get(txn, id, &job), 0);
	job.state = state;
	T_EQ_INT(store_job_put(txn, &job), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
}

#endif
