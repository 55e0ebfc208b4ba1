/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_admin_json.c: the admin API's JSON in both directions: request
 * bodies the daemon decodes (codec_device_put_decode, codec_job_body_decode,
 * codec_fw_edit_decode) and the answers otactl --url decodes (the
 * *_view_decode calls, codec_list_decode, codec_versions_decode,
 * codec_numbers_decode, codec_error_decode).
 *
 * The first byte picks the decoder (modulo the number of them), the rest
 * is the body.  Beyond "no crash", a body that decodes is encoded again
 * with the matching encoder and decoded a second time, and both records
 * must be equal byte for byte (the decoders zero their output first):
 * what the daemon prints, otactl must read back as it was, and what
 * otactl sends, the daemon must read as it was meant.  The exceptions
 * are the members an encoder leaves out on purpose (a job's grayPercent
 * outside the gray scope).  Accepted request bodies must also keep the
 * name rules the store relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "fuzz.h"
#include "jobs/jobs.h"
#include "util/validate.h"

enum {
	D_DEVICE_PUT,
	D_JOB_BODY,
	D_FW_EDIT,
	D_DEVICE_VIEW,
	D_FIRMWARE_VIEW,
	D_JOB_VIEW,
	D_JOBDEV_VIEW,
	D_LIST_DEVICE,
	D_LIST_FIRMWARE,
	D_LIST_JOB,
	D_LIST_JOBDEV,
	D_NUMBERS,
	D_ERROR,
	D_HISTORY_VIEW,
	D_LIST_HISTORY,
	D_VERSIONS,
	D_COUNT
};

/* The encoders fail only when memory runs out. */
static char *
enc_check(char *s)
{
	if (s == NULL)
		abort();
	return s;
}

static void
check_versions(const struct module_version *v, unsigned n)
{
	unsigned i, j;

	FUZZ_ASSERT(n <= OTA_MODULES_MAX);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(valid_module(v[i].module));
		FUZZ_ASSERT(valid_version(v[i].version));
		for (j = i + 1; j < n; j++)
			FUZZ_ASSERT(strcmp(v[i].module, v[j].module) != 0);
	}
}

static void
device_put(const uint8_t *data, size_t size)
{
	struct codec_device_put a, b;
	char	 err[160], *s;
	size_t	 len;

	if (codec_device_put_decode(data, size, &a, err, sizeof(err)) != 0)
		return;
	FUZZ_ASSERT(!a.has_product || valid_product(a.product));
	check_versions(a.versions, a.nversions);
	s = enc_check(codec_device_put_encode(&a, &len));
	FUZZ_ASSERT(codec_device_put_decode(s, len, &b, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
	free(s);
}

static void
job_body(const uint8_t *data, size_t size)
{
	struct job_rec a, b;
	codec_id *da = NULL, *db = NULL;
	const char **ids = NULL;
	char	 err[160], *s;
	size_t	 na, nb, i, len;

	jobs_job_defaults(&a);
	if (codec_job_body_decode(data, size, &a, &da, &na, err,
	    sizeof(err)) != 0) {
		FUZZ_ASSERT(da == NULL && na == 0);
		return;
	}
	FUZZ_ASSERT(valid_id(a.firmware));
	FUZZ_ASSERT(a.nsrc <= OTA_SRCVER_MAX);
	for (i = 0; i < a.nsrc; i++)
		FUZZ_ASSERT(valid_version(a.src_versions[i]));
	FUZZ_ASSERT(na <= CODEC_JOB_DEVICES_MAX);
	FUZZ_ASSERT((na == 0) == (da == NULL));
	for (i = 0; i < na; i++)
		FUZZ_ASSERT(valid_device_id(da[i]));
	(void)jobs_job_validate(&a, err, sizeof(err));

	if (na > 0 && (ids = calloc(na, sizeof(*ids))) == NULL)
		abort();
	for (i = 0; i < na; i++)
		ids[i] = da[i];
	s = enc_check(codec_job_body_encode(&a, ids, na, &len));
	jobs_job_defaults(&b);
	FUZZ_ASSERT(codec_job_body_decode(s, len, &b, &db, &nb, err,
	    sizeof(err)) == 0);
	/* grayPercent is sent only with the gray scope */
	if (a.scope != JOB_SCOPE_GRAY)
		a.gray_percent = b.gray_percent;
	FUZZ_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
	FUZZ_ASSERT(na == nb);
	if (na > 0)
		FUZZ_ASSERT(memcmp(da, db, na * sizeof(*da)) == 0);
	free(ids);
	free(s);
	free(da);
	free(db);
}

static void
fw_edit(const uint8_t *data, size_t size)
{
	struct codec_fw_edit a, b;
	char	 err[160], *s;
	size_t	 len;

	if (codec_fw_edit_decode(data, size, &a, err, sizeof(err)) != 0)
		return;
	FUZZ_ASSERT(a.has_name || a.has_description);
	FUZZ_ASSERT(!a.has_name || valid_fw_name(a.name));
	FUZZ_ASSERT(!a.has_description ||
	    valid_fw_description(a.description));
	s = enc_check(codec_fw_edit_encode(&a, &len));
	FUZZ_ASSERT(codec_fw_edit_decode(s, len, &b, err, sizeof(err)) == 0);
	FUZZ_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
	free(s);
}

/*
 * Round trips of one decoded view record through the daemon's encoder;
 * used for the single views and for every item of a list.
 */
static void
device_again(const struct device_rec *a)
{
	struct device_rec b;
	char	 err[160], *s;
	size_t	 len;

	check_versions(a->versions, a->nversions);
	s = enc_check(codec_device_encode_api(a, &len));
	FUZZ_ASSERT(codec_device_view_decode(s, len, &b, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(memcmp(a, &b, sizeof(b)) == 0);
	free(s);
}

static void
firmware_again(const struct firmware_rec *a, const struct jobs_counts *ca)
{
	struct firmware_rec b;
	struct jobs_counts cb;
	char	 err[160], *s;
	size_t	 len;

	s = enc_check(codec_firmware_encode(a, ca, &len));
	FUZZ_ASSERT(codec_firmware_view_decode(s, len, &b, &cb, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(memcmp(a, &b, sizeof(b)) == 0);
	FUZZ_ASSERT(memcmp(ca, &cb, sizeof(cb)) == 0);
	free(s);
}

static void
job_again(const struct job_rec *a, const struct jobs_counts *ca,
    const struct codec_job_sel *sa)
{
	struct job_rec a2, b;
	struct jobs_counts cb;
	struct codec_job_sel sb;
	char	 err[160], *s;
	size_t	 len;

	s = enc_check(codec_job_encode_api(a, ca, sa, &len));
	FUZZ_ASSERT(codec_job_view_decode(s, len, &b, &cb, &sb, err,
	    sizeof(err)) == 0);
	a2 = *a;
	/* grayPercent is shown only with the gray scope */
	if (a2.scope != JOB_SCOPE_GRAY)
		a2.gray_percent = b.gray_percent;
	FUZZ_ASSERT(memcmp(&a2, &b, sizeof(b)) == 0);
	FUZZ_ASSERT(memcmp(ca, &cb, sizeof(cb)) == 0);
	if (sa != NULL)
		FUZZ_ASSERT(memcmp(sa, &sb, sizeof(sb)) == 0);
	free(s);
}

static void
jobdev_again(const struct jobdev_rec *a)
{
	struct jobdev_rec b;
	char	 err[160], *s;
	size_t	 len;

	s = enc_check(codec_jobdev_encode(a, &len));
	FUZZ_ASSERT(codec_jobdev_view_decode(s, len, &b, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(memcmp(a, &b, sizeof(b)) == 0);
	free(s);
}

static void
history_again(const struct history_rec *a)
{
	struct history_rec b;
	char	 err[160], *s;
	size_t	 len;

	FUZZ_ASSERT(a->seq > 0);
	s = enc_check(codec_history_encode(a, &len));
	FUZZ_ASSERT(codec_history_view_decode(s, len, &b, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(memcmp(a, &b, sizeof(b)) == 0);
	free(s);
}

/* A version distribution: decoded, encoded, decoded again alike. */
static void
versions(const uint8_t *data, size_t size)
{
	struct codec_versions a, b;
	char	 err[160], *s;
	size_t	 len;

	if (codec_versions_decode(data, size, &a, err, sizeof(err)) != 0) {
		FUZZ_ASSERT(a.items == NULL && a.n == 0);
		return;
	}
	FUZZ_ASSERT(a.n == 0 || a.items != NULL);
	s = enc_check(codec_versions_encode(&a, &len));
	FUZZ_ASSERT(codec_versions_decode(s, len, &b, err, sizeof(err)) == 0);
	FUZZ_ASSERT(strcmp(a.product, b.product) == 0);
	FUZZ_ASSERT(strcmp(a.module, b.module) == 0);
	FUZZ_ASSERT(a.n == b.n && a.unreported == b.unreported &&
	    a.total == b.total);
	FUZZ_ASSERT(a.n == 0 || memcmp(a.items, b.items,
	    a.n * sizeof(*a.items)) == 0);
	free(a.items);
	free(b.items);
	free(s);
}

static void
single_view(int which, const uint8_t *data, size_t size)
{
	union {
		struct device_rec d;
		struct firmware_rec fw;
		struct job_rec job;
		struct jobdev_rec jd;
		struct history_rec h;
	} *rec;
	struct jobs_counts counts;
	struct codec_job_sel sel;
	char	 err[160];

	if ((rec = malloc(sizeof(*rec))) == NULL)
		abort();
	switch (which) {
	case D_DEVICE_VIEW:
		if (codec_device_view_decode(data, size, &rec->d, err,
		    sizeof(err)) == 0)
			device_again(&rec->d);
		break;
	case D_FIRMWARE_VIEW:
		if (codec_firmware_view_decode(data, size, &rec->fw, &counts,
		    err, sizeof(err)) == 0)
			firmware_again(&rec->fw, &counts);
		break;
	case D_JOB_VIEW:
		if (codec_job_view_decode(data, size, &rec->job, &counts, &sel,
		    err, sizeof(err)) == 0)
			job_again(&rec->job, &counts, &sel);
		break;
	case D_JOBDEV_VIEW:
		if (codec_jobdev_view_decode(data, size, &rec->jd, err,
		    sizeof(err)) == 0)
			jobdev_again(&rec->jd);
		break;
	case D_HISTORY_VIEW:
		if (codec_history_view_decode(data, size, &rec->h, err,
		    sizeof(err)) == 0)
			history_again(&rec->h);
		break;
	}
	free(rec);
}

struct list_ctx {
	int	 view;
	size_t	 items;
};

static int
list_cb(const void *rec, const struct jobs_counts *counts, void *arg)
{
	struct list_ctx *lc = arg;

	lc->items++;
	switch (lc->view) {
	case CODEC_VIEW_DEVICE:
		FUZZ_ASSERT(counts == NULL);
		device_again(rec);
		break;
	case CODEC_VIEW_FIRMWARE:
		FUZZ_ASSERT(counts != NULL);
		firmware_again(rec, counts);
		break;
	case CODEC_VIEW_JOB:
		FUZZ_ASSERT(counts != NULL);
		job_again(rec, counts, NULL);
		break;
	case CODEC_VIEW_JOBDEV:
		FUZZ_ASSERT(counts == NULL);
		jobdev_again(rec);
		break;
	case CODEC_VIEW_HISTORY:
		FUZZ_ASSERT(counts == NULL);
		history_again(rec);
		break;
	}
	/* a callback that stops the listing: the third item stops it */
	return lc->items == 3;
}

static void
list(int view, const uint8_t *data, size_t size)
{
	struct list_ctx lc;
	char	 next[OTA_ID_MAX + 1], err[160];
	int	 rc;

	lc.view = view;
	lc.items = 0;
	memset(next, 'x', sizeof(next));
	rc = codec_list_decode(data, size, view, list_cb, &lc, next, err,
	    sizeof(err));
	FUZZ_ASSERT(rc == -1 || rc == 0 || rc == 1);
	FUZZ_ASSERT(memchr(next, '\0', sizeof(next)) != NULL);
	FUZZ_ASSERT(rc != 1 || lc.items == 3);
}

static void
numbers(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "lines", "created", "updated",
	    "depth", "oldestSeq", "sent", "retries" };
	int64_t	 vals[7];
	int	 present[7];
	char	 err[160];
	size_t	 i;

	if (codec_numbers_decode(data, size, names, 7, vals, present, err,
	    sizeof(err)) != 0)
		return;
	for (i = 0; i < 7; i++) {
		FUZZ_ASSERT(present[i] == 0 || present[i] == 1);
		FUZZ_ASSERT(present[i] || vals[i] == 0);
		FUZZ_ASSERT(vals[i] >= -9000000000000000LL &&
		    vals[i] <= 9000000000000000LL);
	}
}

static void
error_body(const uint8_t *data, size_t size)
{
	char	 code[16], msg[40];

	/* small buffers: apiclient's are bigger, truncation must be safe */
	if (codec_error_decode(data, size, code, sizeof(code), msg,
	    sizeof(msg)) != 0)
		return;
	FUZZ_ASSERT(memchr(code, '\0', sizeof(code)) != NULL);
	FUZZ_ASSERT(memchr(msg, '\0', sizeof(msg)) != NULL);
}

FUZZ_TARGET(admin_json)
{
	int	 which;

	if (size == 0)
		return 0;
	fuzz_quiet();
	which = data[0] % D_COUNT;
	data++;
	size--;
	switch (which) {
	case D_DEVICE_PUT:
		device_put(data, size);
		break;
	case D_JOB_BODY:
		job_body(data, size);
		break;
	case D_FW_EDIT:
		fw_edit(data, size);
		break;
	case D_DEVICE_VIEW:
	case D_FIRMWARE_VIEW:
	case D_JOB_VIEW:
	case D_JOBDEV_VIEW:
	case D_HISTORY_VIEW:
		single_view(which, data, size);
		break;
	case D_LIST_HISTORY:
		list(CODEC_VIEW_HISTORY, data, size);
		break;
	case D_VERSIONS:
		versions(data, size);
		break;
	case D_LIST_DEVICE:
		list(CODEC_VIEW_DEVICE, data, size);
		break;
	case D_LIST_FIRMWARE:
		list(CODEC_VIEW_FIRMWARE, data, size);
		break;
	case D_LIST_JOB:
		list(CODEC_VIEW_JOB, data, size);
		break;
	case D_LIST_JOBDEV:
		list(CODEC_VIEW_JOBDEV, data, size);
		break;
	case D_NUMBERS:
		numbers(data, size);
		break;
	case D_ERROR:
		error_body(data, size);
		break;
	}
	return 0;
}
