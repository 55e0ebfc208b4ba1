/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_store.c: unit tests for src/store (store.c, pack.c, image.c).
 *
 * The encoding is tested alone first: every record type round-trips with
 * every field set (strings and arrays at their limits) and with nothing
 * set; every truncated prefix of a valid encoding, trailing bytes, a table
 * of hostile inputs and seeded random garbage and bit flips must be refused
 * or decode to a sane record, from exact-size heap buffers so that
 * valgrind or ASan sees any read past the end.
 *
 * Then the store itself, each test in a fresh temporary directory: CRUD of
 * each record type, iteration order and `after', exact prefix scans, the
 * index of open rows following state changes, firmware uniqueness, ids and
 * outbox sequence numbers across reopen, abort, a tiny map filling up
 * (STORE_EFULL, earlier data intact, store still usable), images (commit,
 * discard, no temporary file left, one shared map, remove while mapped,
 * stale temporary files swept), and two processes on one directory: a
 * forked writer while the parent reads consistent snapshots, and a map
 * grown by another process (MDB_MAP_RESIZED).
 *
 * Ids the store hands out sort by number (fw-2 before fw-10) in every
 * database that holds them, with `after' and prefix scans consistent; a
 * store written in the old byte order (made here by writing the databases
 * back with raw LMDB, as the old code did) is sorted again once when it
 * is opened, and not while another process has it open.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "log.h"
#include "model.h"
#include "store/pack.h"
#include "store/store.h"
#include "t.h"

/*
 * Helpers.
 */

static char *
tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&p, "%s/otagw-store-XXXXXX", base) == -1)
		abort();
	if (mkdtemp(p) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
tmpdir_free(char *p)
{
	if (p == NULL)
		return;
	nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(p);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Fills a string field with size - 1 copies of c (a string at its limit). */
static void
fill(char *dst, size_t size, char c)
{
	memset(dst, c, size - 1);
	dst[size - 1] = '\0';
}

static void
put_str(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s);
}

static void
device_full(struct device_rec *d)
{
	unsigned i;

	memset(d, 0, sizeof(*d));
	fill(d->id, sizeof(d->id), 'd');
	fill(d->product, sizeof(d->product), 'p');
	d->has_secret = 1;
	for (i = 0; i < sizeof(d->secret_salt); i++)
		d->secret_salt[i] = (uint8_t)(0xa0 + i);
	for (i = 0; i < sizeof(d->secret_hash); i++)
		d->secret_hash[i] = (uint8_t)(0x10 + i);
	d->psk_len = OTA_PSK_MAX;
	for (i = 0; i < OTA_PSK_MAX; i++)
		d->psk[i] = (uint8_t)(255 - i);
	d->nversions = OTA_MODULES_MAX;
	for (i = 0; i < OTA_MODULES_MAX; i++) {
		fill(d->versions[i].module, sizeof(d->versions[i].module),
		    (char)('a' + i));
		fill(d->versions[i].version, sizeof(d->versions[i].version),
		    (char)('0' + i));
	}
	d->created = INT64_MIN;
	d->updated = INT64_MAX;
	d->last_seen = -1;
	d->versions_at = 1795428000123;
	d->nseqs = OTA_MODULES_MAX;
	for (i = 0; i < OTA_MODULES_MAX; i++) {
		fill(d->seqs[i].module, sizeof(d->seqs[i].module),
		    (char)('A' + i));
		d->seqs[i].seq = UINT32_MAX - i;
	}
}

static void
device_small(struct device_rec *d, const char *id)
{
	memset(d, 0, sizeof(*d));
	put_str(d->id, sizeof(d->id), id);
	put_str(d->product, sizeof(d->product), "prod");
	d->nversions = 1;
	put_str(d->versions[0].module, sizeof(d->versions[0].module),
	    "default");
	put_str(d->versions[0].version, sizeof(d->versions[0].version),
	    "1.0.0");
	d->created = 1795428000000;
}

static void
firmware_full(struct firmware_rec *f)
{
	unsigned i;

	memset(f, 0, sizeof(*f));
	fill(f->id, sizeof(f->id), 'f');
	fill(f->product, sizeof(f->product), 'p');
	fill(f->module, sizeof(f->module), 'm');
	fill(f->version, sizeof(f->version), 'v');
	fill(f->name, sizeof(f->name), 'n');
	fill(f->description, sizeof(f->description), 'x');
	f->sign_method = SIGN_MD5;
	f->state = FW_VERIFY_FAILED;
	for (i = 0; i < sizeof(f->md5); i++)
		f->md5[i] = (uint8_t)(i * 7);
	for (i = 0; i < sizeof(f->sha256); i++)
		f->sha256[i] = (uint8_t)(i * 13);
	f->size = UINT64_MAX;
	f->created = 1795428000123;
	f->seq = UINT32_MAX;
	f->author_sig_len = OTA_SIG_MAX;
	for (i = 0; i < OTA_SIG_MAX; i++)
		f->author_sig[i] = (uint8_t)(0x30 + i);
}

static void
firmware_small(struct firmware_rec *f, const char *id, const char *product,
    const char *module, const char *version)
{
	memset(f, 0, sizeof(*f));
	put_str(f->id, sizeof(f->id), id);
	put_str(f->product, sizeof(f->product), product);
	put_str(f->module, sizeof(f->module), module);
	put_str(f->version, sizeof(f->version), version);
	/* a CJK name: bytes of UTF-8 survive untouched */
	put_str(f->name, sizeof(f->name), "\xe5\x9b\xba\xe4\xbb\xb6-1");
	f->size = 123456;
	f->created = 1;
}

static void
job_full(struct job_rec *j)
{
	unsigned i;

	memset(j, 0, sizeof(*j));
	fill(j->id, sizeof(j->id), 'j');
	fill(j->firmware, sizeof(j->firmware), 'f');
	fill(j->product, sizeof(j->product), 'p');
	fill(j->module, sizeof(j->module), 'm');
	fill(j->version, sizeof(j->version), 'v');
	j->kind = JOB_KIND_VERIFY;
	j->state = JOB_TERMINATED;
	j->scope = JOB_SCOPE_GRAY;
	j->gray_percent = 100;
	j->dynamic = 1;
	j->only_new_reports = 1;
	j->confirm = 1;
	j->force = 1;
	j->override = 1;
	j->nsrc = OTA_SRCVER_MAX;
	for (i = 0; i < OTA_SRCVER_MAX; i++)
		fill(j->src_versions[i], sizeof(j->src_versions[i]),
		    (char)('A' + i));
	j->start = 1795428000000;
	j->end = 1795428000000 + 86400000;
	j->rate_per_minute = 1000;
	j->retry_count = 5;
	j->retry_interval_min = 4320;
	j->timeout_min = UINT32_MAX;
	j->abort_percent = -1;
	j->abort_min_devices = 7;
	j->created = 1;
	j->started = 2;
	j->finished = 3;
	j->rate_window = -4;
	j->rate_used = 999;
	j->allow_downgrade = 1;
	j->seq = UINT32_MAX;
}

static void
job_small(struct job_rec *j, const char *id)
{
	memset(j, 0, sizeof(*j));
	put_str(j->id, sizeof(j->id), id);
	put_str(j->firmware, sizeof(j->firmware), "fw-1");
	put_str(j->product, sizeof(j->product), "prod");
	put_str(j->module, sizeof(j->module), "default");
	put_str(j->version, sizeof(j->version), "2.0.0");
	j->state = JOB_RUNNING;
	j->timeout_min = 1440;
	j->abort_percent = -1;
}

static void
jobdev_full(struct jobdev_rec *jd)
{
	memset(jd, 0, sizeof(*jd));
	fill(jd->job, sizeof(jd->job), 'j');
	fill(jd->device, sizeof(jd->device), 'd');
	jd->state = JD_CANCELED;
	fill(jd->reason, sizeof(jd->reason), 'r');
	fill(jd->desc, sizeof(jd->desc), 'z');
	jd->step = -4;
	jd->step100 = 1;
	jd->retries = UINT32_MAX;
	fill(jd->last_version, sizeof(jd->last_version), '9');
	fill(jd->from_version, sizeof(jd->from_version), '8');
	jd->created = 10;
	jd->notified = 20;
	jd->started = 30;
	jd->updated = 40;
	jd->next_at = INT64_MAX;
}

static void
jobdev_small(struct jobdev_rec *jd, const char *job, const char *device,
    int state)
{
	memset(jd, 0, sizeof(*jd));
	put_str(jd->job, sizeof(jd->job), job);
	put_str(jd->device, sizeof(jd->device), device);
	jd->state = state;
	jd->step = 40;
	put_str(jd->desc, sizeof(jd->desc), "downloading");
	jd->created = 5;
}

/* A history entry as unpack_history gives it: no device, no seq. */
static void
history_full(struct history_rec *h)
{
	memset(h, 0, sizeof(*h));
	fill(h->job, sizeof(h->job), 'j');
	fill(h->firmware, sizeof(h->firmware), 'f');
	fill(h->module, sizeof(h->module), 'm');
	fill(h->from_version, sizeof(h->from_version), '1');
	fill(h->to_version, sizeof(h->to_version), '2');
	h->state = JD_CANCELED;
	fill(h->reason, sizeof(h->reason), 'r');
	fill(h->desc, sizeof(h->desc), 'z');
	h->retries = UINT32_MAX;
	h->notified = INT64_MIN;
	h->started = -1;
	h->finished = INT64_MAX;
}

static void
history_small(struct history_rec *h, const char *job, int state)
{
	memset(h, 0, sizeof(*h));
	put_str(h->job, sizeof(h->job), job);
	put_str(h->firmware, sizeof(h->firmware), "fw-1");
	put_str(h->module, sizeof(h->module), "default");
	put_str(h->to_version, sizeof(h->to_version), "2.0.0");
	h->state = state;
	h->finished = 1795428000000;
}

/*
 * Encoding.
 */

/* Generic wrappers so that one table covers every record type. */
static size_t
p_dev(const void *r, uint8_t *b, size_t c)
{
	return pack_device(r, b, c);
}

static int
u_dev(const void *b, size_t n, void *r)
{
	return unpack_device(b, n, r);
}

static size_t
p_fw(const void *r, uint8_t *b, size_t c)
{
	return pack_firmware(r, b, c);
}

static int
u_fw(const void *b, size_t n, void *r)
{
	return unpack_firmware(b, n, r);
}

static size_t
p_job(const void *r, uint8_t *b, size_t c)
{
	return pack_job(r, b, c);
}

static int
u_job(const void *b, size_t n, void *r)
{
	return unpack_job(b, n, r);
}

static size_t
p_jd(const void *r, uint8_t *b, size_t c)
{
	return pack_jobdev(r, b, c);
}

static int
u_jd(const void *b, size_t n, void *r)
{
	return unpack_jobdev(b, n, r);
}

static size_t
p_hist(const void *r, uint8_t *b, size_t c)
{
	return pack_history(r, b, c);
}

static int
u_hist(const void *b, size_t n, void *r)
{
	return unpack_history(b, n, r);
}

/* Every string NUL-terminated inside its field, every count in range. */
static int
sane_dev(const void *p)
{
	const struct device_rec *d = p;
	unsigned i;

	if (strnlen(d->id, sizeof(d->id)) == sizeof(d->id) ||
	    strnlen(d->product, sizeof(d->product)) == sizeof(d->product) ||
	    d->psk_len > OTA_PSK_MAX || d->nversions > OTA_MODULES_MAX)
		return 0;
	for (i = 0; i < d->nversions; i++)
		if (strnlen(d->versions[i].module, OTA_ID_MAX + 1) >
		    OTA_ID_MAX ||
		    strnlen(d->versions[i].version, OTA_ID_MAX + 1) >
		    OTA_ID_MAX)
			return 0;
	return 1;
}

static int
sane_fw(const void *p)
{
	const struct firmware_rec *f = p;

	return strnlen(f->id, sizeof(f->id)) < sizeof(f->id) &&
	    strnlen(f->name, sizeof(f->name)) < sizeof(f->name) &&
	    strnlen(f->description, sizeof(f->description)) <
	    sizeof(f->description) &&
	    f->sign_method >= 0 && f->sign_method <= SIGN_MD5 &&
	    f->state >= 0 && f->state <= FW_VERIFY_FAILED;
}

static int
sane_job(const void *p)
{
	const struct job_rec *j = p;
	unsigned i;

	if (j->nsrc > OTA_SRCVER_MAX || j->kind > JOB_KIND_VERIFY ||
	    j->state > JOB_CREATING || j->scope > JOB_SCOPE_GRAY ||
	    strnlen(j->id, sizeof(j->id)) == sizeof(j->id))
		return 0;
	for (i = 0; i < j->nsrc; i++)
		if (strnlen(j->src_versions[i], OTA_ID_MAX + 1) > OTA_ID_MAX)
			return 0;
	return 1;
}

static int
sane_jd(const void *p)
{
	const struct jobdev_rec *jd = p;

	return jd->state >= 0 && jd->state < JD_NSTATES &&
	    strnlen(jd->reason, sizeof(jd->reason)) < sizeof(jd->reason) &&
	    strnlen(jd->desc, sizeof(jd->desc)) < sizeof(jd->desc) &&
	    strnlen(jd->from_version, sizeof(jd->from_version)) <
	    sizeof(jd->from_version);
}

static int
sane_hist(const void *p)
{
	const struct history_rec *h = p;

	return h->state >= 0 && h->state < JD_NSTATES &&
	    h->device[0] == '\0' && h->seq == 0 &&
	    strnlen(h->job, sizeof(h->job)) < sizeof(h->job) &&
	    strnlen(h->reason, sizeof(h->reason)) < sizeof(h->reason) &&
	    strnlen(h->desc, sizeof(h->desc)) < sizeof(h->desc);
}

struct codec {
	const char *name;
	size_t size;
	size_t (*pack)(const void *, uint8_t *, size_t);
	int (*unpack)(const void *, size_t, void *);
	int (*sane)(const void *);
};

static const struct codec codecs[] = {
    {"device", sizeof(struct device_rec), p_dev, u_dev, sane_dev},
    {"firmware", sizeof(struct firmware_rec), p_fw, u_fw, sane_fw},
    {"job", sizeof(struct job_rec), p_job, u_job, sane_job},
    {"jobdev", sizeof(struct jobdev_rec), p_jd, u_jd, sane_jd},
    {"history", sizeof(struct history_rec), p_hist, u_hist, sane_hist},
};

/* Sample records, full and small, in the order of codecs[]. */
struct samples {
	struct device_rec dev[2];
	struct firmware_rec fw[2];
	struct job_rec job[2];
	struct jobdev_rec jd[2];
	struct history_rec hist[2];
};

static void
samples_init(struct samples *s)
{
	device_full(&s->dev[0]);
	device_small(&s->dev[1], "d1");
	firmware_full(&s->fw[0]);
	firmware_small(&s->fw[1], "fw-1", "prod", "default", "1.0.0");
	job_full(&s->job[0]);
	job_small(&s->job[1], "j-1");
	jobdev_full(&s->jd[0]);
	jobdev_small(&s->jd[1], "j-1", "d1", JD_QUEUED);
	history_full(&s->hist[0]);
	history_small(&s->hist[1], "j-1", JD_SUCCEEDED);
}

static const void *
sample(const struct samples *s, int codec, int which)
{
	switch (codec) {
	case 0:
		return &s->dev[which];
	case 1:
		return &s->fw[which];
	case 2:
		return &s->job[which];
	case 3:
		return &s->jd[which];
	default:
		return &s->hist[which];
	}
}

/* Decodes len bytes from an exact-size heap copy. */
static int
decode_exact(const struct codec *c, const uint8_t *buf, size_t len, void *out)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rc;

	if (copy == NULL)
		abort();
	memcpy(copy, buf, len);
	rc = c->unpack(len > 0 ? copy : copy + 1, len, out);
	free(copy);
	return rc;
}

static void
test_pack_roundtrip(void)
{
	struct samples s;
	uint8_t buf[PACK_MAX];
	void *out;
	size_t i, n;
	int w;

	samples_init(&s);
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		const struct codec *c = &codecs[i];

		out = malloc(c->size);
		for (w = 0; w < 2; w++) {
			const void *rec = sample(&s, (int)i, w);

			n = c->pack(rec, buf, sizeof(buf));
			T_CHECK(n > 2);
			T_EQ_INT(buf[0], PACK_SCHEMA);
			/* compact: well under the struct size */
			T_CHECK(n < c->size);
			memset(out, 0x5a, c->size);
			T_EQ_INT(decode_exact(c, buf, n, out), 0);
			T_CHECK(memcmp(out, rec, c->size) == 0);
			if (memcmp(out, rec, c->size) != 0)
				fprintf(stderr, "  %s sample %d differs\n",
				    c->name, w);
			/* a buffer one byte short is refused, not overrun */
			T_EQ_INT(c->pack(rec, buf, n - 1), 0);
		}
		free(out);
	}
	/* small records are small */
	n = pack_device(&s.dev[1], buf, sizeof(buf));
	T_CHECK(n < 48);
}

static void
test_pack_truncated(void)
{
	struct samples s;
	uint8_t buf[PACK_MAX + 1];
	size_t i, n, k;
	int w, bad;
	void *out;

	samples_init(&s);
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		const struct codec *c = &codecs[i];

		out = malloc(sizeof(struct samples)); /* fits any record */
		for (w = 0; w < 2; w++) {
			n = c->pack(sample(&s, (int)i, w), buf, PACK_MAX);
			bad = 0;
			for (k = 0; k < n; k++)
				if (decode_exact(c, buf, k, out) !=
				    STORE_EINVAL)
					bad++;
			T_EQ_INT(bad, 0);
			/* one trailing byte */
			buf[n] = 0;
			T_EQ_INT(decode_exact(c, buf, n + 1, out),
			    STORE_EINVAL);
			/* another record kind */
			for (k = 0; k < sizeof(codecs) / sizeof(codecs[0]);
			    k++) {
				if (k == i)
					continue;
				T_EQ_INT(decode_exact(&codecs[k], buf, n, out),
				    STORE_EINVAL);
			}
			/* another schema */
			buf[0] = PACK_SCHEMA + 1;
			T_EQ_INT(decode_exact(c, buf, n, out), STORE_EINVAL);
		}
		free(out);
	}
	T_EQ_INT(unpack_device(NULL, 0, &s.dev[0]), STORE_EINVAL);
}

/* Hand-made hostile encodings of a device. */
static void
test_pack_hostile(void)
{
	static const struct {
		const char *what;
		size_t len;
		uint8_t b[40];
	} cases[] = {
	    {"empty", 0, {0}},
	    {"schema only", 1, {PACK_SCHEMA}},
	    {"huge id length",
	    12,
	    {PACK_SCHEMA, 'D', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0x01}},
	    {"varint too long",
	    13,
	    {PACK_SCHEMA, 'D', 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x01}},
	    {"id over its field", 3, {PACK_SCHEMA, 'D', 65}},
	    {"id past the end", 5, {PACK_SCHEMA, 'D', 5, 'a', 'b'}},
	    {"NUL inside id",
	    11,
	    {PACK_SCHEMA, 'D', 2, 'a', 0, 1, 'p', 0, 0, 0, 0}},
	    {"bad flags",
	    11,
	    {PACK_SCHEMA, 'D', 1, 'a', 1, 'p', 2, 0, 0, 0, 0}},
	    {"psk too long",
	    11,
	    {PACK_SCHEMA, 'D', 1, 'a', 1, 'p', 0, 65, 0, 0, 0}},
	    {"too many versions",
	    11,
	    {PACK_SCHEMA, 'D', 1, 'a', 1, 'p', 0, 0, 9, 0, 0}},
	    {"secret cut",
	    12,
	    {PACK_SCHEMA, 'D', 1, 'a', 1, 'p', 1, 1, 2, 3, 4, 5}},
	};
	static const uint8_t ok[] = {PACK_SCHEMA, 'D', 1, 'a', 1, 'p', 0,
	    0,           0,   0, 0,   0, 0};
	struct device_rec d;
	struct firmware_rec f;
	struct jobdev_rec jd;
	uint8_t buf[PACK_MAX];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = decode_exact(&codecs[0], cases[i].b, cases[i].len, &d);

		T_EQ_INT(rc, STORE_EINVAL);
		if (rc != STORE_EINVAL)
			fprintf(stderr, "  hostile case: %s\n", cases[i].what);
	}
	/* the smallest valid device, to show the table is not vacuous */
	T_EQ_INT(decode_exact(&codecs[0], ok, sizeof(ok), &d), 0);
	T_EQ_STR(d.id, "a");
	T_EQ_STR(d.product, "p");

	/* enums out of range: refused both ways */
	firmware_small(&f, "fw-1", "p", "m", "1");
	n = pack_firmware(&f, buf, sizeof(buf));
	f.state = 3;
	T_EQ_INT(pack_firmware(&f, buf, sizeof(buf)), 0);
	f.state = 0;
	f.sign_method = -1;
	T_EQ_INT(pack_firmware(&f, buf, sizeof(buf)), 0);
	n = pack_firmware(&(struct firmware_rec){.id = "x"}, buf, sizeof(buf));
	T_CHECK(n > 0);
	/* from the end: created, size, sha256, md5, state, sign method */
	buf[n - 52] = 9;
	T_EQ_INT(unpack_firmware(buf, n, &f), STORE_EINVAL);
	jobdev_small(&jd, "j", "d", JD_NSTATES);
	T_EQ_INT(pack_jobdev(&jd, buf, sizeof(buf)), 0);
	/* a string without its NUL is not encoded */
	device_small(&d, "d");
	memset(d.product, 'p', sizeof(d.product));
	T_EQ_INT(pack_device(&d, buf, sizeof(buf)), 0);
	device_small(&d, "d");
	d.nversions = OTA_MODULES_MAX + 1;
	T_EQ_INT(pack_device(&d, buf, sizeof(buf)), 0);
}

/*
 * A row without a source version is encoded as rows were before there
 * was one (flags 0 or 1), so that those rows still read; a flag that says
 * one follows must not come with an empty one.
 */
static void
test_pack_row_source(void)
{
	struct jobdev_rec jd;
	uint8_t buf[PACK_MAX];
	size_t n;

	jobdev_small(&jd, "j", "d", JD_QUEUED);
	n = pack_jobdev(&jd, buf, sizeof(buf));
	/* from the end: next_at, updated, started, notified, created */
	T_EQ_INT(buf[n - 6], 0);		/* last_version "" */
	T_EQ_INT(buf[n - 8], 0);		/* flags */
	buf[n - 8] = 1;
	T_EQ_INT(unpack_jobdev(buf, n, &jd), 0);
	T_EQ_INT(jd.step100, 1);
	T_EQ_STR(jd.from_version, "");
	buf[n - 8] = 4;
	T_EQ_INT(unpack_jobdev(buf, n, &jd), STORE_EINVAL);
	jobdev_small(&jd, "j", "d", JD_NOTIFIED);
	put_str(jd.from_version, sizeof(jd.from_version), "1.0");
	n = pack_jobdev(&jd, buf, sizeof(buf));
	T_EQ_INT(unpack_jobdev(buf, n, &jd), 0);
	T_EQ_STR(jd.from_version, "1.0");
	/* the string "1.0" (length 3) before the five times: empty it */
	T_EQ_INT(buf[n - 9], 3);
	memmove(buf + n - 9 + 1, buf + n - 9 + 4, 5);
	buf[n - 9] = 0;
	T_EQ_INT(unpack_jobdev(buf, n - 3, &jd), STORE_EINVAL);
}

/*
 * Records written before seqs and author signatures existed (bytes made
 * by the encoder of then) still read, with seq 0, no signature, no
 * accepted seqs and no downgrade; and a flag that promises a field that
 * is not there, or a zero one, is refused.
 */
static const uint8_t old_fw[] = {
	0x01, 0x46, 0x04, 0x66, 0x77, 0x2d, 0x31, 0x01, 0x70, 0x07, 0x64, 0x65,
	0x66, 0x61, 0x75, 0x6c, 0x74, 0x03, 0x31, 0x2e, 0x30, 0x04, 0x76, 0x31,
	0x5f, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xab, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x80, 0x84, 0xc9, 0xfd, 0xc0, 0x68,
};
static const uint8_t old_job[] = {
	0x01, 0x4a, 0x03, 0x6a, 0x2d, 0x31, 0x04, 0x66, 0x77, 0x2d, 0x31, 0x01,
	0x70, 0x07, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74, 0x03, 0x31, 0x2e,
	0x30, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xa0, 0x0b, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t old_dev[] = {
	0x01, 0x44, 0x03, 0x64, 0x2d, 0x31, 0x01, 0x70, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07,
	0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74, 0x03, 0x31, 0x2e, 0x30, 0x00,
	0x00, 0x00, 0x00,
};

static void
test_pack_before_seq(void)
{
	struct firmware_rec f;
	struct job_rec j;
	struct device_rec d;
	uint8_t	 buf[PACK_MAX];
	size_t	 n;

	T_EQ_INT(unpack_firmware(old_fw, sizeof(old_fw), &f), 0);
	T_EQ_STR(f.id, "fw-1");
	T_EQ_INT(f.seq, 0);
	T_EQ_INT(f.author_sig_len, 0);
	T_EQ_INT(f.sign_method, SIGN_SHA256);
	T_EQ_INT(f.size, 5);
	/* written again unchanged, it is the same bytes */
	n = pack_firmware(&f, buf, sizeof(buf));
	T_CHECK(n == sizeof(old_fw) && memcmp(buf, old_fw, n) == 0);
	f.seq = 7;
	n = pack_firmware(&f, buf, sizeof(buf));
	T_CHECK(n == sizeof(old_fw) + 1);
	memset(&f, 0, sizeof(f));
	T_EQ_INT(unpack_firmware(buf, n, &f), 0);
	T_EQ_INT(f.seq, 7);
	/* the seq flag without its number: the old bytes, flag set */
	memcpy(buf, old_fw, sizeof(old_fw));
	buf[sizeof(old_fw) - 57] |= 0x10;	/* sign method */
	T_EQ_INT(unpack_firmware(buf, sizeof(old_fw), &f), STORE_EINVAL);
	buf[sizeof(old_fw)] = 0;	/* seq 0 */
	T_EQ_INT(unpack_firmware(buf, sizeof(old_fw) + 1, &f), STORE_EINVAL);
	buf[sizeof(old_fw) - 57] = 0x40;	/* unknown flag */
	T_EQ_INT(unpack_firmware(buf, sizeof(old_fw), &f), STORE_EINVAL);

	T_EQ_INT(unpack_job(old_job, sizeof(old_job), &j), 0);
	T_EQ_STR(j.id, "j-1");
	T_EQ_INT(j.seq, 0);
	T_EQ_INT(j.allow_downgrade, 0);
	T_EQ_INT(j.override, 1);
	n = pack_job(&j, buf, sizeof(buf));
	T_CHECK(n == sizeof(old_job) && memcmp(buf, old_job, n) == 0);

	T_EQ_INT(unpack_device(old_dev, sizeof(old_dev), &d), 0);
	T_EQ_STR(d.id, "d-1");
	T_EQ_INT(d.has_secret, 1);
	T_EQ_INT(d.nseqs, 0);
	n = pack_device(&d, buf, sizeof(buf));
	T_CHECK(n == sizeof(old_dev) && memcmp(buf, old_dev, n) == 0);
	/* the seqs flag with no seqs after versions_at */
	buf[8] |= 0x02;
	T_EQ_INT(unpack_device(buf, n, &d), STORE_EINVAL);
	buf[n] = 0;	/* a count of 0 */
	T_EQ_INT(unpack_device(buf, n + 1, &d), STORE_EINVAL);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static void
test_pack_garbage(void)
{
	struct samples s;
	uint8_t buf[PACK_MAX], valid[PACK_MAX];
	size_t i, n, len, k;
	int iter, accepted = 0, insane = 0, rc;
	void *out;

	samples_init(&s);
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		const struct codec *c = &codecs[i];

		out = malloc(c->size);
		/* random bytes, half of them behind a valid header */
		for (iter = 0; iter < 4000; iter++) {
			len = rng() % 700;
			for (k = 0; k < len; k++)
				buf[k] = (uint8_t)rng();
			if (iter % 2 == 0 && len >= 2) {
				n = c->pack(sample(&s, (int)i, 1), valid,
				    sizeof(valid));
				buf[0] = valid[0];
				buf[1] = valid[1];
			}
			rc = decode_exact(c, buf, len, out);
			if (rc == 0) {
				accepted++;
				if (!c->sane(out))
					insane++;
			} else if (rc != STORE_EINVAL)
				insane++;
		}
		/* bit flips and byte changes in valid encodings */
		for (iter = 0; iter < 4000; iter++) {
			n = c->pack(sample(&s, (int)i, iter % 2), buf,
			    sizeof(buf));
			k = rng() % n;
			if (iter % 3 == 0)
				buf[k] = (uint8_t)rng();
			else
				buf[k] ^= (uint8_t)(1u << (rng() % 8));
			rc = decode_exact(c, buf, n, out);
			if ((rc == 0 && !c->sane(out)) ||
			    (rc != 0 && rc != STORE_EINVAL))
				insane++;
		}
		free(out);
	}
	T_EQ_INT(insane, 0);
	/* random bytes almost never form a valid record */
	T_CHECK(accepted < 10);
}

static void
test_pack_keys(void)
{
	uint8_t k[PACK_KEY_MAX], b[8];
	char long_id[OTA_ID_MAX + 2];

	T_EQ_INT(pack_key2(k, "a", "b"), 3);
	T_CHECK(memcmp(k, "a\0b", 3) == 0);
	T_EQ_INT(pack_key2(k, "ab", NULL), 3);
	T_CHECK(memcmp(k, "ab\0", 3) == 0);
	T_EQ_INT(pack_key3(k, "p", "m", "v"), 5);
	T_CHECK(memcmp(k, "p\0m\0v", 5) == 0);
	T_EQ_INT(pack_key2(k, "", "b"), 0);
	T_EQ_INT(pack_key2(k, "a", ""), 0);
	T_EQ_INT(pack_key3(k, "p", NULL, "v"), 0);
	T_EQ_INT(pack_key_len(NULL), 0);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	T_EQ_INT(pack_key_len(long_id), 0);
	long_id[OTA_ID_MAX] = '\0';
	T_EQ_INT(pack_key_len(long_id), OTA_ID_MAX);
	pack_be64(b, 0x0102030405060708ULL);
	T_EQ_INT(b[0], 1);
	T_EQ_INT(b[7], 8);
	T_CHECK(unpack_be64(b) == 0x0102030405060708ULL);
}

/*
 * The store.
 */

static struct store *
reopen(struct store *st, const char *dir, size_t map)
{
	struct store *nst = NULL;

	store_close(st);
	if (store_open(dir, map, &nst) != 0) {
		fprintf(stderr, "store_open %s failed\n", dir);
		abort();
	}
	return nst;
}

static void
test_open_errors(void)
{
	struct store *st = (struct store *)1;
	char *dir = tmpdir_new(), *file;
	int fd;

	T_EQ_INT(store_open("", 0, &st), STORE_EINVAL);
	T_CHECK(st == NULL);
	/* a regular file where the directory should be */
	if (asprintf(&file, "%s/file", dir) == -1)
		abort();
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	close(fd);
	T_CHECK(store_open(file, 0, &st) != 0);
	T_CHECK(st == NULL);
	free(file);
	T_CHECK(strcmp(store_strerror(STORE_EFULL), "") != 0);
	T_CHECK(store_strerror(12345) != NULL);
	store_close(NULL);
	store_txn_abort(NULL);
	T_EQ_INT(store_txn_commit(NULL), STORE_EINVAL);
	tmpdir_free(dir);
}

static void
test_devices(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct device_rec d, got;
	size_t n;

	T_EQ_STR(store_dir(st), dir);
	device_full(&d);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&got, 0x77, sizeof(got));
	T_EQ_INT(store_device_get(t, d.id, &got), 0);
	T_CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	T_EQ_INT(store_device_get(t, "nobody", &got), STORE_ENOTFOUND);
	T_EQ_INT(store_device_get(t, "", &got), STORE_EINVAL);
	T_EQ_INT(store_device_count(t, &n), 0);
	T_EQ_INT(n, 1);
	/* a read-only transaction refuses writes */
	T_EQ_INT(store_device_put(t, &d), STORE_EINVAL);
	T_EQ_INT(store_device_del(t, d.id), STORE_EINVAL);
	store_txn_abort(t);

	/* survives reopen; update; delete */
	st = reopen(st, dir, 0);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_device_get(t, d.id, &got), 0);
	T_CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	d.has_secret = 0;
	memset(d.secret_salt, 0, sizeof(d.secret_salt));
	memset(d.secret_hash, 0, sizeof(d.secret_hash));
	d.nversions = 2;
	memset(d.versions + 2, 0,
	    sizeof(d.versions) - 2 * sizeof(d.versions[0]));
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_device_get(t, d.id, &got), 0);
	T_CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	T_EQ_INT(store_device_del(t, d.id), 0);
	T_EQ_INT(store_device_del(t, d.id), STORE_ENOTFOUND);
	T_EQ_INT(store_device_get(t, d.id, &got), STORE_ENOTFOUND);
	/* not-found does not spoil the transaction */
	device_small(&d, "d2");
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_count(t, &n), 0);
	T_EQ_INT(n, 1);
	T_EQ_INT(store_device_get(t, "d2", &got), 0);
	T_CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

struct collect {
	char ids[64][2 * OTA_ID_MAX + 2];
	int states[64];
	int n;
	int stop_at; /* stop after this many, 0: never */
};

static int
collect_dev_cb(const struct device_rec *d, void *arg)
{
	struct collect *c = arg;

	if (c->n < 64)
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", d->id);
	c->n++;
	return c->stop_at > 0 && c->n >= c->stop_at;
}

static int
collect_jd_cb(const struct jobdev_rec *jd, void *arg)
{
	struct collect *c = arg;

	if (c->n < 64) {
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s/%s", jd->job,
		    jd->device);
		c->states[c->n] = jd->state;
	}
	c->n++;
	return c->stop_at > 0 && c->n >= c->stop_at;
}

static int
collect_fw_cb(const struct firmware_rec *f, void *arg)
{
	struct collect *c = arg;

	if (c->n < 64)
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", f->id);
	c->n++;
	return 0;
}

static int
collect_job_cb(const struct job_rec *j, void *arg)
{
	struct collect *c = arg;

	if (c->n < 64)
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", j->id);
	c->n++;
	return c->stop_at > 0 && c->n >= c->stop_at;
}

/* "a,b,c" from a collection */
static const char *
joined(const struct collect *c)
{
	static char buf[4096];
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < c->n && i < 64; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
		    i > 0 ? "," : "", c->ids[i]);
	return buf;
}

static void
test_device_iter(void)
{
	static const char *ids[] = {"b", "a", "ab", "a.1", "a:x", "c@d"};
	static const struct {
		const char *after;
		int stop_at;
		const char *want;
		int rc;
	} cases[] = {
	    {NULL, 0, "a,a.1,a:x,ab,b,c@d", 0},
	    {"", 0, "a,a.1,a:x,ab,b,c@d", 0},
	    {"a", 0, "a.1,a:x,ab,b,c@d", 0},
	    {"aa", 0, "ab,b,c@d", 0}, /* not a stored id */
	    {"b", 0, "c@d", 0},
	    {"c@d", 0, "", 0},
	    {"zz", 0, "", 0},
	    {NULL, 2, "a,a.1", STORE_ESTOP},
	    {"ab", 1, "b", STORE_ESTOP},
	};
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct device_rec d;
	struct collect c;
	size_t i;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		device_small(&d, ids[i]);
		T_EQ_INT(store_device_put(t, &d), 0);
	}
	T_EQ_INT(store_txn_commit(t), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_EQ_INT(store_txn_begin(st, 1, &t), 0);
		memset(&c, 0, sizeof(c));
		c.stop_at = cases[i].stop_at;
		T_EQ_INT(
		    store_device_iter(t, cases[i].after, collect_dev_cb, &c),
		    cases[i].rc);
		T_EQ_STR(joined(&c), cases[i].want);
		store_txn_abort(t);
	}
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_iter(t, NULL, NULL, NULL), STORE_EINVAL);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

static void
test_firmware(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct firmware_rec f, got;
	struct collect c;
	char id[OTA_ID_MAX + 1];

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	firmware_full(&f);
	T_EQ_INT(store_firmware_put(t, &f), 0);
	T_EQ_INT(store_firmware_get(t, f.id, &got), 0);
	T_CHECK(memcmp(&got, &f, sizeof(f)) == 0);
	T_EQ_INT(store_firmware_find(t, f.product, f.module, f.version, id), 0);
	T_EQ_STR(id, f.id);

	firmware_small(&f, "fw-1", "p", "default", "1.0");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	/* same triple, other id: refused, and the txn goes on */
	firmware_small(&f, "fw-2", "p", "default", "1.0");
	T_EQ_INT(store_firmware_put(t, &f), STORE_EEXIST);
	T_EQ_INT(store_firmware_get(t, "fw-2", &got), STORE_ENOTFOUND);
	/* "p"/"default"/"1.0" must not match "p"/"default"/"1.0.1" */
	firmware_small(&f, "fw-2", "p", "default", "1.0.1");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	firmware_small(&f, "fw-3", "p", "defaul", "t");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	T_EQ_INT(store_firmware_find(t, "p", "default", "1.0", id), 0);
	T_EQ_STR(id, "fw-1");
	T_EQ_INT(store_firmware_find(t, "p", "default", "1", id),
	    STORE_ENOTFOUND);
	T_EQ_INT(store_firmware_find(t, "p", "", "1.0", id), STORE_EINVAL);
	/* re-putting the same id with its own triple is an update */
	firmware_small(&f, "fw-1", "p", "default", "1.0");
	f.state = FW_VERIFIED;
	put_str(f.description, sizeof(f.description), "new text");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	T_EQ_INT(store_firmware_get(t, "fw-1", &got), 0);
	T_CHECK(memcmp(&got, &f, sizeof(f)) == 0);
	T_EQ_INT(store_txn_commit(t), 0);

	/* changing the version of fw-1 frees "1.0" */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	put_str(f.version, sizeof(f.version), "1.1");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	T_EQ_INT(store_firmware_find(t, "p", "default", "1.0", id),
	    STORE_ENOTFOUND);
	T_EQ_INT(store_firmware_find(t, "p", "default", "1.1", id), 0);
	T_EQ_STR(id, "fw-1");
	firmware_small(&f, "fw-4", "p", "default", "1.0");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	/* delete frees its triple */
	T_EQ_INT(store_firmware_del(t, "fw-4"), 0);
	T_EQ_INT(store_firmware_del(t, "fw-4"), STORE_ENOTFOUND);
	T_EQ_INT(store_firmware_find(t, "p", "default", "1.0", id),
	    STORE_ENOTFOUND);
	firmware_small(&f, "fw-5", "p", "default", "1.0");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	st = reopen(st, dir, 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_firmware_iter(t, collect_fw_cb, &c), 0);
	T_EQ_INT(c.n, 5);
	firmware_full(&f); /* "ff..." sorts before "fw-" */
	T_EQ_STR(c.ids[0], f.id);
	T_EQ_STR(joined(&c) + strlen(f.id), ",fw-1,fw-2,fw-3,fw-5");
	T_EQ_INT(store_firmware_find(t, "p", "default", "1.0", id), 0);
	T_EQ_STR(id, "fw-5");
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

static void
test_jobs(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct job_rec j, got;
	struct collect c;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	job_full(&j);
	T_EQ_INT(store_job_put(t, &j), 0);
	job_small(&j, "j-2");
	T_EQ_INT(store_job_put(t, &j), 0);
	job_small(&j, "j-1");
	T_EQ_INT(store_job_put(t, &j), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_job_get(t, "j-1", &got), 0);
	T_CHECK(memcmp(&got, &j, sizeof(j)) == 0);
	job_full(&j);
	T_EQ_INT(store_job_get(t, j.id, &got), 0);
	T_CHECK(memcmp(&got, &j, sizeof(j)) == 0);
	T_EQ_INT(store_job_get(t, "j-3", &got), STORE_ENOTFOUND);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_job_iter(t, collect_job_cb, &c), 0);
	T_EQ_INT(c.n, 3);
	T_EQ_STR(c.ids[0], "j-1");
	T_EQ_STR(c.ids[1], "j-2");
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

/* Open rows of a device as "job/device" joined by commas. */
static const char *
open_rows(struct store *st, const char *device)
{
	static struct collect c;
	struct store_txn *t;

	memset(&c, 0, sizeof(c));
	if (store_txn_begin(st, 1, &t) != 0)
		return "(begin failed)";
	if (store_device_open_jobs(t, device, collect_jd_cb, &c) != 0)
		snprintf(c.ids[0], sizeof(c.ids[0]), "(failed)");
	store_txn_abort(t);
	return joined(&c);
}

static void
test_jobdev(void)
{
	/* one row's life: the open index follows every state change */
	static const struct {
		int state;
		int open;
	} life[] = {
	    {JD_WAIT_CONFIRM, 1}, {JD_QUEUED, 1},    {JD_NOTIFIED, 1},
	    {JD_UPGRADING, 1},    {JD_FAILED, 0},    {JD_RETRY_WAIT, 1},
	    {JD_QUEUED, 1},       {JD_SUCCEEDED, 0}, {JD_QUEUED, 1},
	    {JD_CANCELED, 0},     {JD_CANCELED, 0},
	};
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct jobdev_rec jd, got;
	struct collect c;
	size_t i;

	/* full record round trip */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	jobdev_full(&jd);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	T_EQ_INT(store_jobdev_get(t, jd.job, jd.device, &got), 0);
	T_CHECK(memcmp(&got, &jd, sizeof(jd)) == 0);
	T_EQ_INT(store_txn_commit(t), 0);

	for (i = 0; i < sizeof(life) / sizeof(life[0]); i++) {
		T_EQ_INT(store_txn_begin(st, 0, &t), 0);
		jobdev_small(&jd, "j-1", "dev", life[i].state);
		jd.retries = (unsigned)i;
		T_EQ_INT(store_jobdev_put(t, &jd), 0);
		T_EQ_INT(store_txn_commit(t), 0);
		T_EQ_STR(open_rows(st, "dev"), life[i].open ? "j-1/dev" : "");
	}

	/* prefixes are exact: device "a" vs "ab", job "j-1" vs "j-10" */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	jobdev_small(&jd, "j-1", "a", JD_QUEUED);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	jobdev_small(&jd, "j-10", "a", JD_NOTIFIED);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	jobdev_small(&jd, "j-1", "ab", JD_UPGRADING);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	jobdev_small(&jd, "j-2", "ab", JD_SUCCEEDED);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	jobdev_small(&jd, "j-10", "b", JD_WAIT_CONFIRM);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_STR(open_rows(st, "a"), "j-1/a,j-10/a");
	T_EQ_STR(open_rows(st, "ab"), "j-1/ab");
	T_EQ_STR(open_rows(st, "b"), "j-10/b");
	T_EQ_STR(open_rows(st, "nobody"), "");

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_jobdev_iter(t, "j-1", collect_jd_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-1/a,j-1/ab,j-1/dev");
	T_EQ_INT(c.states[2], JD_CANCELED);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_jobdev_iter(t, "j-10", collect_jd_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-10/a,j-10/b");
	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	T_EQ_INT(store_device_open_jobs(t, "a", collect_jd_cb, &c),
	    STORE_ESTOP);
	T_EQ_INT(c.n, 1);
	T_EQ_INT(store_jobdev_get(t, "j-2", "a", &got), STORE_ENOTFOUND);
	T_EQ_INT(store_jobdev_get(t, "j-2", "ab", &got), 0);
	T_EQ_INT(got.state, JD_SUCCEEDED);
	T_EQ_INT(store_jobdev_iter(t, "", collect_jd_cb, &c), STORE_EINVAL);
	store_txn_abort(t);

	/* a nested scan of the same database inside a callback */
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_device_open_jobs(t, "a", collect_jd_cb, &c), 0);
	T_EQ_INT(c.n, 2);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

/*
 * Upgrade histories.
 */

static int
hist_copy_cb(const struct history_rec *h, void *arg)
{
	*(struct history_rec *)arg = *h;
	return 0;
}

struct hcollect {
	char	 s[512];
	size_t	 n;
	size_t	 stop_at;
};

static int
hist_cb(const struct history_rec *h, void *arg)
{
	struct hcollect *c = arg;
	size_t	 len = strlen(c->s);

	snprintf(c->s + len, sizeof(c->s) - len, "%s%s:%llu:%s",
	    len > 0 ? "," : "", h->device, (unsigned long long)h->seq, h->job);
	c->n++;
	return c->stop_at != 0 && c->n == c->stop_at;
}

/* A device's entries, newest first, as "device:seq:job,...". */
static const char *
hist_list(struct store *st, const char *dev, uint64_t before)
{
	static struct hcollect c;
	struct store_txn *t;

	memset(&c, 0, sizeof(c));
	if (store_txn_begin(st, 1, &t) != 0)
		return "(begin failed)";
	if (store_history_iter(t, dev, before, hist_cb, &c) != 0)
		snprintf(c.s, sizeof(c.s), "(iter failed)");
	store_txn_abort(t);
	return c.s;
}

static size_t
hist_count(struct store *st, const char *dev)
{
	struct store_txn *t;
	size_t	 n = 999;

	if (store_txn_begin(st, 1, &t) != 0)
		return n;
	T_EQ_INT(store_history_count(t, dev, &n), 0);
	store_txn_abort(t);
	return n;
}

static void
hist_add(struct store *st, const char *dev, const char *job, uint64_t seq)
{
	struct store_txn *t;
	struct history_rec h;

	history_small(&h, job, JD_FAILED);
	put_str(h.device, sizeof(h.device), dev);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_history_append(t, &h), 0);
	T_EQ_INT(h.seq, seq);
	T_EQ_INT(store_txn_commit(t), 0);
}

static void
hist_max_set(struct store *st, unsigned max)
{
	struct store_txn *t;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_history_max_set(t, max), 0);
	T_EQ_INT(store_txn_commit(t), 0);
}

/*
 * One device's history through its life: numbering, pages, the bound
 * (also lowered), an aborted entry, removal with the device, a reopen.
 * Long because each step builds on the entries the steps before left.
 */
static void
test_history(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct history_rec h, got;
	struct device_rec d;
	struct hcollect c;
	unsigned max;

	/* the default bound until one is recorded; bad bounds refused */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_history_max_get(t, &max), 0);
	T_EQ_INT(max, STORE_HISTORY_MAX_DEFAULT);
	T_EQ_INT(store_history_max_set(t, 0), STORE_EINVAL);
	T_EQ_INT(store_history_max_set(t, STORE_HISTORY_MAX_LIMIT + 1),
	    STORE_EINVAL);
	T_EQ_INT(store_history_max_set(t, 3), 0);
	T_EQ_INT(store_history_max_get(t, &max), 0);
	T_EQ_INT(max, 3);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_STR(hist_list(st, "a", 0), "");
	T_EQ_INT(hist_count(st, "a"), 0);

	/* each device numbers its own entries; "a" and "ab" stay apart */
	hist_add(st, "a", "j-1", 1);
	hist_add(st, "ab", "j-1", 1);
	hist_add(st, "a", "j-2", 2);
	hist_add(st, "b", "j-1", 1);
	hist_add(st, "a", "j-3", 3);
	T_EQ_STR(hist_list(st, "a", 0), "a:3:j-3,a:2:j-2,a:1:j-1");
	T_EQ_STR(hist_list(st, "ab", 0), "ab:1:j-1");
	T_EQ_STR(hist_list(st, "b", 0), "b:1:j-1");
	T_EQ_STR(hist_list(st, "nobody", 0), "");
	T_EQ_INT(hist_count(st, "a"), 3);
	/* pages: the entries below a seq */
	T_EQ_STR(hist_list(st, "a", 3), "a:2:j-2,a:1:j-1");
	T_EQ_STR(hist_list(st, "a", 2), "a:1:j-1");
	T_EQ_STR(hist_list(st, "a", 1), "");
	T_EQ_STR(hist_list(st, "a", 99), "a:3:j-3,a:2:j-2,a:1:j-1");
	T_EQ_STR(hist_list(st, "b", 99), "b:1:j-1");

	/* a callback stops the listing */
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	T_EQ_INT(store_history_iter(t, "a", 0, hist_cb, &c), STORE_ESTOP);
	T_EQ_STR(c.s, "a:3:j-3,a:2:j-2");
	T_EQ_INT(store_history_iter(t, "", 0, hist_cb, &c), STORE_EINVAL);
	T_EQ_INT(store_history_iter(t, "a", 0, NULL, &c), STORE_EINVAL);
	/* a read-only transaction refuses an entry */
	history_small(&h, "j-9", JD_FAILED);
	put_str(h.device, sizeof(h.device), "a");
	T_EQ_INT(store_history_append(t, &h), STORE_EINVAL);
	store_txn_abort(t);

	/* every field comes back */
	history_full(&h);
	put_str(h.device, sizeof(h.device), "c");
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_history_append(t, &h), 0);
	T_EQ_INT(h.seq, 1);
	/* bad entries: no device, a state out of range */
	got = h;
	got.device[0] = '\0';
	T_EQ_INT(store_history_append(t, &got), STORE_EINVAL);
	got = h;
	got.state = JD_NSTATES;
	T_EQ_INT(store_history_append(t, &got), STORE_EINVAL);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&got, 0, sizeof(got));
	T_EQ_INT(store_history_iter(t, "c", 0, hist_copy_cb, &got), 0);
	store_txn_abort(t);
	T_CHECK(memcmp(&got, &h, sizeof(h)) == 0);

	/* the bound: a fourth entry pushes out the oldest */
	hist_add(st, "a", "j-4", 4);
	T_EQ_STR(hist_list(st, "a", 0), "a:4:j-4,a:3:j-3,a:2:j-2");
	T_EQ_INT(hist_count(st, "a"), 3);
	T_EQ_STR(hist_list(st, "ab", 0), "ab:1:j-1");
	T_EQ_STR(hist_list(st, "b", 0), "b:1:j-1");
	/* a lower bound trims at the device's next entry */
	hist_max_set(st, 1);
	T_EQ_INT(hist_count(st, "a"), 3);
	hist_add(st, "a", "j-5", 5);
	T_EQ_STR(hist_list(st, "a", 0), "a:5:j-5");
	T_EQ_INT(hist_count(st, "a"), 1);
	hist_max_set(st, 3);

	/* an aborted entry leaves nothing, and its seq is used again */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	history_small(&h, "j-6", JD_SUCCEEDED);
	put_str(h.device, sizeof(h.device), "a");
	T_EQ_INT(store_history_append(t, &h), 0);
	T_EQ_INT(h.seq, 6);
	store_txn_abort(t);
	T_EQ_STR(hist_list(st, "a", 0), "a:5:j-5");
	hist_add(st, "a", "j-6", 6);

	/* removing a device removes its history, and only its */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	device_small(&d, "a");
	T_EQ_INT(store_device_put(t, &d), 0);
	device_small(&d, "ab");
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_device_del(t, "a"), 0);
	T_EQ_INT(store_device_del(t, "b"), STORE_ENOTFOUND);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_STR(hist_list(st, "a", 0), "");
	T_EQ_INT(hist_count(st, "a"), 0);
	T_EQ_STR(hist_list(st, "ab", 0), "ab:1:j-1");
	T_EQ_STR(hist_list(st, "b", 0), "b:1:j-1");

	/* across a reopen: the bound and the numbering go on */
	st = reopen(st, dir, 0);
	hist_add(st, "ab", "j-7", 2);
	hist_add(st, "a", "j-8", 1);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_history_max_get(t, &max), 0);
	T_EQ_INT(max, 3);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

/*
 * Ids by number.
 */

static void
put_order_fixture(struct store *st)
{
	/* made out of order on purpose */
	static const int n[] = { 10, 2, 1, 12, 9, 11, 3 };
	struct store_txn *t;
	struct firmware_rec f;
	struct job_rec j;
	struct jobdev_rec jd;
	struct device_rec d;
	char	 id[OTA_ID_MAX + 1], ver[16];
	size_t	 i;

	if (store_txn_begin(st, 0, &t) != 0)
		abort();
	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		snprintf(id, sizeof(id), "fw-%d", n[i]);
		snprintf(ver, sizeof(ver), "1.%d", n[i]);
		firmware_small(&f, id, "p", "default", ver);
		T_EQ_INT(store_firmware_put(t, &f), 0);
		snprintf(id, sizeof(id), "j-%d", n[i]);
		job_small(&j, id);
		T_EQ_INT(store_job_put(t, &j), 0);
		/* device "a" in every job, open; "d10" and "d2" in j-2 */
		jobdev_small(&jd, id, "a", JD_QUEUED);
		T_EQ_INT(store_jobdev_put(t, &jd), 0);
	}
	jobdev_small(&jd, "j-2", "d10", JD_NOTIFIED);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	jobdev_small(&jd, "j-2", "d2", JD_SUCCEEDED);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	device_small(&d, "d2");
	T_EQ_INT(store_device_put(t, &d), 0);
	device_small(&d, "d10");
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_txn_commit(t), 0);
}

/* What put_order_fixture made, read back in the store's order. */
static void
check_order_fixture(struct store *st)
{
	struct store_txn *t;
	struct collect c;
	struct firmware_rec f;
	struct jobdev_rec jd;

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_firmware_iter(t, collect_fw_cb, &c), 0);
	T_EQ_STR(joined(&c), "fw-1,fw-2,fw-3,fw-9,fw-10,fw-11,fw-12");
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_firmware_iter_after(t, "fw-9", collect_fw_cb, &c), 0);
	T_EQ_STR(joined(&c), "fw-10,fw-11,fw-12");
	memset(&c, 0, sizeof(c));
	/* after an id that is not stored: where it would be */
	T_EQ_INT(store_firmware_iter_after(t, "fw-4", collect_fw_cb, &c), 0);
	T_EQ_STR(joined(&c), "fw-9,fw-10,fw-11,fw-12");
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_job_iter(t, collect_job_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-1,j-2,j-3,j-9,j-10,j-11,j-12");
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_job_iter_after(t, "j-2", collect_job_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-3,j-9,j-10,j-11,j-12");
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_job_iter_after(t, "j-12", collect_job_cb, &c), 0);
	T_EQ_STR(joined(&c), "");
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	T_EQ_INT(store_job_iter_after(t, "", collect_job_cb, &c),
	    STORE_ESTOP);
	T_EQ_STR(joined(&c), "j-1,j-2");
	T_EQ_INT(store_job_iter_after(t, "", NULL, NULL), STORE_EINVAL);
	/* a device's open rows, oldest job first */
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_device_open_jobs(t, "a", collect_jd_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-1/a,j-2/a,j-3/a,j-9/a,j-10/a,j-11/a,j-12/a");
	/* one job's rows, devices in byte order; j-1 is not j-10 or j-12 */
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_jobdev_iter(t, "j-2", collect_jd_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-2/a,j-2/d10,j-2/d2");
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_jobdev_iter(t, "j-1", collect_jd_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-1/a");
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_device_iter(t, NULL, collect_dev_cb, &c), 0);
	T_EQ_STR(joined(&c), "d10,d2");
	/* lookups find every key */
	T_EQ_INT(store_firmware_get(t, "fw-10", &f), 0);
	T_EQ_STR(f.version, "1.10");
	T_EQ_INT(store_jobdev_get(t, "j-2", "d10", &jd), 0);
	T_EQ_INT(jd.state, JD_NOTIFIED);
	T_EQ_INT(store_jobdev_get(t, "j-12", "a", &jd), 0);
	T_EQ_INT(store_jobdev_get(t, "j-12", "d2", &jd), STORE_ENOTFOUND);
	store_txn_abort(t);
}

static void
test_id_order(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct job_rec j;

	put_order_fixture(st);
	check_order_fixture(st);
	/* the order is the store's, not this process's: reopened */
	st = reopen(st, dir, 0);
	check_order_fixture(st);
	/* removing and adding keeps it */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_firmware_del(t, "fw-10"), 0);
	job_small(&j, "j-100");
	T_EQ_INT(store_job_put(t, &j), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	{
		struct collect c;

		memset(&c, 0, sizeof(c));
		T_EQ_INT(store_firmware_iter(t, collect_fw_cb, &c), 0);
		T_EQ_STR(joined(&c), "fw-1,fw-2,fw-3,fw-9,fw-11,fw-12");
		memset(&c, 0, sizeof(c));
		T_EQ_INT(store_job_iter_after(t, "j-11", collect_job_cb, &c),
		    0);
		T_EQ_STR(joined(&c), "j-12,j-100");
	}
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

/* The store's schema record, read with plain LMDB. */
static int
raw_schema(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi	 meta;
	MDB_val	 k, v;
	int	 schema = -1;

	if (mdb_env_create(&env) != 0)
		abort();
	mdb_env_set_maxdbs(env, 16);
	if (mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		k.mv_data = "schema";
		k.mv_size = 6;
		if (mdb_dbi_open(txn, "meta", 0, &meta) == 0 &&
		    mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 4)
			schema = ((uint8_t *)v.mv_data)[3];
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return schema;
}

/*
 * Turns a store back into what the code before schema 2 wrote: every
 * database in LMDB's byte order, schema 1.  Returns the firmware ids as
 * that order has them.
 */
static const char *
downgrade(const char *dir)
{
	static const char *const names[] = { "firmware", "jobs", "jobdev",
	    "devopen" };
	static char order[1024];
	struct kv {
		MDB_val	 k, v;
	} *all = NULL;
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_cursor *c;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	uint8_t	 one[4] = { 0, 0, 0, 1 };
	size_t	 n, i, o = 0;
	unsigned d;

	if (mdb_env_create(&env) != 0)
		abort();
	mdb_env_set_maxdbs(env, 16);
	if (mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0)
		abort();
	for (d = 0; d < sizeof(names) / sizeof(names[0]); d++) {
		if (mdb_dbi_open(txn, names[d], 0, &dbi) != 0 ||
		    mdb_cursor_open(txn, dbi, &c) != 0)
			abort();
		/* walking the pages needs no comparator */
		n = 0;
		while (mdb_cursor_get(c, &k, &v, n == 0 ? MDB_FIRST :
		    MDB_NEXT) == 0) {
			if ((all = realloc(all, (n + 1) * sizeof(*all))) ==
			    NULL)
				abort();
			all[n].k.mv_size = k.mv_size;
			all[n].v.mv_size = v.mv_size;
			if ((all[n].k.mv_data = malloc(k.mv_size)) == NULL ||
			    (all[n].v.mv_data = malloc(v.mv_size + 1)) == NULL)
				abort();
			memcpy(all[n].k.mv_data, k.mv_data, k.mv_size);
			memcpy(all[n].v.mv_data, v.mv_data, v.mv_size);
			n++;
		}
		mdb_cursor_close(c);
		if (mdb_drop(txn, dbi, 0) != 0)
			abort();
		for (i = 0; i < n; i++) {
			if (mdb_put(txn, dbi, &all[i].k, &all[i].v, 0) != 0)
				abort();
			free(all[i].k.mv_data);
			free(all[i].v.mv_data);
		}
		if (d == 0) {
			if (mdb_cursor_open(txn, dbi, &c) != 0)
				abort();
			while (mdb_cursor_get(c, &k, &v, o == 0 ?
			    MDB_FIRST : MDB_NEXT) == 0)
				o += (size_t)snprintf(order + o,
				    sizeof(order) - o, "%s%.*s", o ? "," : "",
				    (int)k.mv_size, (char *)k.mv_data);
			mdb_cursor_close(c);
		}
	}
	free(all);
	k.mv_data = "schema";
	k.mv_size = 6;
	v.mv_data = one;
	v.mv_size = sizeof(one);
	if (mdb_dbi_open(txn, "meta", 0, &dbi) != 0 ||
	    mdb_put(txn, dbi, &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0)
		abort();
	mdb_env_close(env);
	return order;
}

/* A child that keeps the store open (as an old daemon would) until told. */
static pid_t
hold_open(const char *dir, int *release)
{
	MDB_env	*env;
	MDB_txn	*txn;
	int	 up[2], down[2];
	char	 b = 0;
	pid_t	 pid;

	if (pipe(up) == -1 || pipe(down) == -1)
		abort();
	fflush(NULL);
	if ((pid = fork()) == -1)
		abort();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		if (mdb_env_create(&env) != 0 ||
		    mdb_env_set_maxdbs(env, 16) != 0 ||
		    mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0 ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
			_exit(1);
		mdb_txn_reset(txn);	/* a kept, idle reader slot */
		if (write(up[1], &b, 1) != 1 || read(down[0], &b, 1) < 0)
			_exit(1);
		mdb_txn_abort(txn);
		mdb_env_close(env);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &b, 1) != 1)
		abort();
	close(up[0]);
	*release = down[1];
	return pid;
}

static void
test_migrate_order(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct collect c;
	int	 release, status;
	pid_t	 pid;

	put_order_fixture(st);
	store_close(st);
	T_EQ_INT(raw_schema(dir), 2);
	/* the old order: ids as strings */
	T_EQ_STR(downgrade(dir), "fw-1,fw-10,fw-11,fw-12,fw-2,fw-3,fw-9");
	T_EQ_INT(raw_schema(dir), 1);

	/* not while another process has the store open: nothing changes */
	pid = hold_open(dir, &release);
	st = NULL;
	T_EQ_INT(store_open(dir, 0, &st), STORE_EBUSY);
	T_CHECK(st == NULL);
	T_EQ_INT(raw_schema(dir), 1);
	close(release);
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* alone: sorted again, schema 2, everything where it belongs */
	st = reopen(NULL, dir, 0);
	T_EQ_INT(raw_schema(dir), 2);
	check_order_fixture(st);
	/* the store goes on working: a new job lands after j-12 */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	{
		struct job_rec j;

		job_small(&j, "j-13");
		T_EQ_INT(store_job_put(t, &j), 0);
	}
	T_EQ_INT(store_txn_commit(t), 0);
	/* and again: the migration is done once */
	st = reopen(st, dir, 0);
	T_EQ_INT(raw_schema(dir), 2);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(store_job_iter_after(t, "j-11", collect_job_cb, &c), 0);
	T_EQ_STR(joined(&c), "j-12,j-13");
	store_txn_abort(t);
	store_close(st);

	/* a later schema is refused, also with nothing to sort */
	downgrade(dir);
	{
		MDB_env	*env;
		MDB_txn	*txn;
		MDB_dbi	 meta;
		MDB_val	 k, v;
		uint8_t	 nine[4] = { 0, 0, 0, 9 };

		k.mv_data = "schema";
		k.mv_size = 6;
		v.mv_data = nine;
		v.mv_size = 4;
		if (mdb_env_create(&env) != 0 ||
		    mdb_env_set_maxdbs(env, 16) != 0 ||
		    mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0 ||
		    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
		    mdb_dbi_open(txn, "meta", 0, &meta) != 0 ||
		    mdb_put(txn, meta, &k, &v, 0) != 0 ||
		    mdb_txn_commit(txn) != 0)
			abort();
		mdb_env_close(env);
	}
	st = NULL;
	T_EQ_INT(store_open(dir, 0, &st), STORE_EINVAL);
	T_CHECK(st == NULL);
	T_EQ_INT(raw_schema(dir), 9);
	tmpdir_free(dir);
}

static void
test_next_id(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	char id[OTA_ID_MAX + 1], pfx[OTA_ID_MAX + 1];

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_next_id(t, "fw", id), 0);
	T_EQ_STR(id, "fw-1");
	T_EQ_INT(store_next_id(t, "fw", id), 0);
	T_EQ_STR(id, "fw-2");
	T_EQ_INT(store_next_id(t, "j", id), 0);
	T_EQ_STR(id, "j-1");
	T_EQ_INT(store_next_id(t, "f", id), 0); /* not a prefix of "fw" */
	T_EQ_STR(id, "f-1");
	T_EQ_INT(store_next_id(t, "", id), STORE_EINVAL);
	memset(pfx, 'x', OTA_ID_MAX);
	pfx[OTA_ID_MAX] = '\0';
	T_EQ_INT(store_next_id(t, pfx, id), STORE_EINVAL);
	T_EQ_INT(store_txn_commit(t), 0);

	/* an aborted allocation is not remembered; counters persist */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_next_id(t, "fw", id), 0);
	T_EQ_STR(id, "fw-3");
	store_txn_abort(t);
	st = reopen(st, dir, 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_next_id(t, "fw", id), STORE_EINVAL);
	store_txn_abort(t);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_next_id(t, "fw", id), 0);
	T_EQ_STR(id, "fw-3");
	T_EQ_INT(store_next_id(t, "j", id), 0);
	T_EQ_STR(id, "j-2");
	T_EQ_INT(store_txn_commit(t), 0);
	store_close(st);
	tmpdir_free(dir);
}

struct obx {
	uint64_t seqs[64];
	char data[64][32];
	int types[64];
	int64_t ts[64];
	int n;
	int stop_at;
};

static int
obx_cb(const struct outbox_entry *e, void *arg)
{
	struct obx *o = arg;

	if (o->n < 64) {
		o->seqs[o->n] = e->seq;
		o->types[o->n] = e->type;
		o->ts[o->n] = e->ts;
		snprintf(o->data[o->n], sizeof(o->data[0]), "%.*s", (int)e->len,
		    e->data);
	}
	o->n++;
	return o->stop_at > 0 && o->n >= o->stop_at;
}

static void
test_outbox(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct outbox_stats os;
	struct obx o;
	uint64_t seq;
	int i;

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.depth, 0);
	T_EQ_INT(os.oldest_seq, 0);
	T_EQ_INT(os.last_seq, 0);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 1, "x", 1, &seq),
	    STORE_EINVAL);
	store_txn_abort(t);

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	for (i = 1; i <= 5; i++) {
		char ev[16];
		int n = snprintf(ev, sizeof(ev), "{\"n\":%d}", i);

		T_EQ_INT(store_outbox_append(t, i % 3, -1000 * i, ev, (size_t)n,
		    &seq),
		    0);
		T_EQ_INT(seq, i);
	}
	T_EQ_INT(store_outbox_append(t, EV_INFORM, 0, NULL, 0, NULL), 0);
	T_EQ_INT(store_outbox_append(t, 4, 0, "x", 1, &seq), STORE_EINVAL);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 0, NULL, 1, &seq),
	    STORE_EINVAL);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 0, obx_cb, &o), 0);
	T_EQ_INT(o.n, 6);
	T_EQ_INT(o.seqs[0], 1);
	T_EQ_STR(o.data[0], "{\"n\":1}");
	T_EQ_INT(o.types[1], 2);
	T_EQ_INT(o.ts[1], -2000);
	T_EQ_INT(o.seqs[5], 6);
	T_EQ_STR(o.data[5], "");
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 4, obx_cb, &o), 0);
	T_EQ_INT(o.n, 3);
	T_EQ_INT(o.seqs[0], 4);
	memset(&o, 0, sizeof(o));
	o.stop_at = 2;
	T_EQ_INT(store_outbox_iter(t, 0, obx_cb, &o), STORE_ESTOP);
	T_EQ_INT(o.n, 2);
	store_txn_abort(t);

	/* delete the oldest three and the newest: numbers are not reused */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_outbox_del(t, 1), 0);
	T_EQ_INT(store_outbox_del(t, 2), 0);
	T_EQ_INT(store_outbox_del(t, 3), 0);
	T_EQ_INT(store_outbox_del(t, 6), 0);
	T_EQ_INT(store_outbox_del(t, 6), STORE_ENOTFOUND);
	T_EQ_INT(store_outbox_del(t, 0), STORE_EINVAL);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.depth, 2);
	T_EQ_INT(os.oldest_seq, 4);
	T_EQ_INT(os.oldest_ts, -4000);
	T_EQ_INT(os.last_seq, 6);
	T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 7, "7", 1, &seq), 0);
	T_EQ_INT(seq, 7);
	T_EQ_INT(store_txn_commit(t), 0);

	/* an aborted append; then empty the outbox and reopen */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 8, "8", 1, &seq), 0);
	T_EQ_INT(seq, 8);
	store_txn_abort(t);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_outbox_del(t, 4), 0);
	T_EQ_INT(store_outbox_del(t, 5), 0);
	T_EQ_INT(store_outbox_del(t, 7), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	st = reopen(st, dir, 0);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.depth, 0);
	T_EQ_INT(os.oldest_seq, 0);
	T_EQ_INT(os.last_seq, 7);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 9, "9", 1, &seq), 0);
	T_EQ_INT(seq, 8);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 0, obx_cb, &o), 0);
	T_EQ_INT(o.n, 1);
	T_EQ_INT(o.seqs[0], 8);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

static int
obx_del_cb(const struct outbox_entry *e, void *arg)
{
	struct store_txn *t = arg;

	return store_outbox_del(t, e->seq) != 0;
}

/* The relay's pattern: walk the outbox and delete in the same txn. */
static void
test_outbox_drain(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct outbox_stats os;
	struct obx o;
	int i;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	for (i = 0; i < 1000; i++)
		T_EQ_INT(store_outbox_append(t, EV_PROGRESS, i, "{\"x\":1}", 7,
		    NULL),
		    0);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_outbox_iter(t, 501, obx_del_cb, t), 0);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.depth, 500);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 490, obx_cb, &o), 0);
	T_EQ_INT(o.n, 11);
	T_EQ_INT(o.seqs[10], 500);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.oldest_seq, 1);
	T_EQ_INT(os.last_seq, 1000);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

/* The outbox limit and the relay's batch calls (issue 5). */
/*
 * Transfers: get, put, one record per device and firmware, a device's
 * records go with it; at the outbox limit a transfer event is dropped
 * like a progress event, never a state event.
 */
static void
test_xfer(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct xfer_rec x, y;
	struct obx o;
	uint64_t seq;

	memset(&x, 0, sizeof(x));
	snprintf(x.device, sizeof(x.device), "d:1@site");
	snprintf(x.firmware, sizeof(x.firmware), "fw-7");
	x.delivered = 1234;
	x.size = 99999;
	x.updated = 1800000000123;
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_xfer_get(t, "d:1@site", "fw-7", &y), STORE_ENOTFOUND);
	T_EQ_INT(store_xfer_put(t, &x), 0);
	snprintf(x.firmware, sizeof(x.firmware), "fw-8");
	T_EQ_INT(store_xfer_put(t, &x), 0);
	snprintf(x.device, sizeof(x.device), "d:10");
	T_EQ_INT(store_xfer_put(t, &x), 0);
	x.firmware[0] = '\0';
	T_EQ_INT(store_xfer_put(t, &x), STORE_EINVAL);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_xfer_get(t, "d:1@site", "fw-7", &y), 0);
	T_EQ_STR(y.device, "d:1@site");
	T_EQ_STR(y.firmware, "fw-7");
	T_EQ_INT(y.delivered, 1234);
	T_EQ_INT(y.size, 99999);
	T_EQ_INT(y.updated, 1800000000123);
	T_EQ_INT(store_xfer_del_device(t, "d:1@site"), 0);
	T_EQ_INT(store_xfer_get(t, "d:1@site", "fw-7", &y), STORE_ENOTFOUND);
	T_EQ_INT(store_xfer_get(t, "d:1@site", "fw-8", &y), STORE_ENOTFOUND);
	T_EQ_INT(store_xfer_get(t, "d:10", "fw-8", &y), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	store_set_outbox_limit(st, 2);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_outbox_append(t, EV_TRANSFER, 1, "t1", 2, &seq), 0);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 2, "s2", 2, &seq), 0);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 3, "s3", 2, &seq), 0);
	T_EQ_INT(store_outbox_append(t, EV_TRANSFER, 4, "t4", 2, &seq), 0);
	T_EQ_INT(seq, 0);	/* full of state events: dropped itself */
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 0, obx_cb, &o), 0);
	T_EQ_INT(o.n, 2);
	T_EQ_INT(o.seqs[0], 2);
	T_EQ_INT(o.seqs[1], 3);
	T_EQ_INT(store_txn_commit(t), 0);
	store_close(st);
	tmpdir_free(dir);
}

/* Long: one run of appends, drops, parks and a trim, checked as it goes. */
static void
test_outbox_limit(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct outbox_stats os;
	struct obx o;
	uint64_t seq;
	size_t n;
	int i;

	store_set_outbox_limit(st, 4);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	/* 1 state, 2 progress, 3 inform, 4 progress: full */
	T_EQ_INT(store_outbox_append(t, EV_STATE, 1, "s1", 2, &seq), 0);
	T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 2, "p2", 2, &seq), 0);
	T_EQ_INT(store_outbox_append(t, EV_INFORM, 3, "i3", 2, &seq), 0);
	T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 4, "p4", 2, &seq), 0);
	/* a state event drops progress 2, a progress event drops 4 */
	T_EQ_INT(store_outbox_append(t, EV_STATE, 5, "s5", 2, &seq), 0);
	T_EQ_INT(seq, 5);
	T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 6, "p6", 2, &seq), 0);
	T_EQ_INT(seq, 6);
	/* 1 3 5 6 left; the next progress drops 6 */
	T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 7, "p7", 2, &seq), 0);
	T_EQ_INT(seq, 7);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 0, obx_cb, &o), 0);
	T_EQ_INT(o.n, 4);
	T_EQ_INT(o.seqs[0], 1);
	T_EQ_INT(o.seqs[1], 3);
	T_EQ_INT(o.seqs[2], 5);
	T_EQ_INT(o.seqs[3], 7);
	/* no progress left: a state event makes the oldest event go */
	T_EQ_INT(store_outbox_del_range(t, 7, 7, &n), 0);
	T_EQ_INT(n, 1);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 8, "s8", 2, &seq), 0);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 9, "s9", 2, &seq), 0);
	T_EQ_INT(seq, 9);
	/* a progress event with none older to drop is dropped itself */
	T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 10, "p", 1, &seq), 0);
	T_EQ_INT(seq, 0);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.depth, 4);
	T_EQ_INT(os.oldest_seq, 3);
	T_EQ_INT(os.dropped, 5);
	T_EQ_INT(os.dropped_kept, 1);
	T_EQ_INT(os.last_seq, 9);
	T_EQ_INT(store_txn_commit(t), 0);

	/* drops are counted across reopen; no limit: nothing dropped */
	st = reopen(st, dir, 0);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	for (i = 0; i < 10; i++)
		T_EQ_INT(store_outbox_append(t, EV_PROGRESS, 11, "p", 1, &seq),
		    0);
	T_EQ_INT(seq, 19);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.depth, 14);
	T_EQ_INT(os.dropped, 5);

	/* park 8..12 (gaps are fine), delete 13..15 */
	T_EQ_INT(store_outbox_park(t, 8, 12, &n), 0);
	T_EQ_INT(n, 5);
	T_EQ_INT(store_outbox_del_range(t, 13, 15, &n), 0);
	T_EQ_INT(n, 3);
	T_EQ_INT(store_outbox_del_range(t, 13, 15, &n), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(store_outbox_del_range(t, 0, 15, &n), STORE_EINVAL);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.depth, 6);
	T_EQ_INT(os.oldest_seq, 3);
	T_EQ_INT(os.parked_batches, 1);
	T_EQ_INT(os.parked_events, 5);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_parked_iter(t, obx_cb, &o), 0);
	T_EQ_INT(o.n, 5);
	T_EQ_INT(o.seqs[0], 8);
	T_EQ_STR(o.data[0], "s8");
	T_EQ_INT(o.seqs[4], 12);
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 0, obx_cb, &o), 0);
	T_EQ_INT(o.n, 6);
	T_EQ_INT(o.seqs[1], 5);
	T_EQ_INT(o.seqs[2], 16);
	store_txn_abort(t);

	/* the saved limit trims at once (progress first), and reopens */
	T_EQ_INT(store_outbox_limit_save(st, 3, &n), 0);
	T_EQ_INT(n, 3);
	st = reopen(st, dir, 0);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 20, "s20", 3, &seq), 0);
	T_EQ_INT(seq, 20);
	memset(&o, 0, sizeof(o));
	T_EQ_INT(store_outbox_iter(t, 0, obx_cb, &o), 0);
	T_EQ_INT(o.n, 3);
	T_EQ_INT(o.seqs[0], 3);
	T_EQ_INT(o.seqs[1], 5);
	T_EQ_INT(o.seqs[2], 20);
	T_EQ_INT(store_outbox_stats(t, &os), 0);
	T_EQ_INT(os.dropped, 9);
	T_EQ_INT(store_txn_commit(t), 0);
	store_close(st);
	tmpdir_free(dir);
}

static void
test_abort(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t, *r;
	struct device_rec d, got;
	struct jobdev_rec jd;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	device_small(&d, "gone");
	T_EQ_INT(store_device_put(t, &d), 0);
	jobdev_small(&jd, "j-1", "gone", JD_QUEUED);
	T_EQ_INT(store_jobdev_put(t, &jd), 0);
	/* a reader beside the writer sees the old snapshot */
	T_EQ_INT(store_txn_begin(st, 1, &r), 0);
	T_EQ_INT(store_device_get(r, "gone", &got), STORE_ENOTFOUND);
	store_txn_abort(r);
	store_txn_abort(t);

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_get(t, "gone", &got), STORE_ENOTFOUND);
	T_EQ_INT(store_jobdev_get(t, "j-1", "gone", &jd), STORE_ENOTFOUND);
	/* two read transactions at once in one thread */
	T_EQ_INT(store_txn_begin(st, 1, &r), 0);
	T_EQ_INT(store_device_get(r, "gone", &got), STORE_ENOTFOUND);
	T_EQ_INT(store_txn_commit(r), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	store_close(st);
	T_EQ_STR(open_rows(st = reopen(NULL, dir, 0), "gone"), "");
	store_close(st);
	tmpdir_free(dir);
}

static void
test_full(void)
{
	const size_t map = 512 * 1024;
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, map);
	struct store_txn *t;
	struct device_rec d, got;
	char id[OTA_ID_MAX + 1];
	int committed = 0, batch, i, rc = 0, full = 0;
	size_t n;

	/* commit batches of 20 until the map is full */
	for (batch = 0; batch < 1000 && !full; batch++) {
		T_EQ_INT(store_txn_begin(st, 0, &t), 0);
		for (i = 0; i < 20; i++) {
			device_full(&d);
			snprintf(d.id, sizeof(d.id), "dev-%06d",
			    batch * 20 + i);
			if ((rc = store_device_put(t, &d)) != 0)
				break;
		}
		if (rc != 0) {
			T_EQ_INT(rc, STORE_EFULL);
			/* the failed txn stays failed */
			device_small(&d, "after-full");
			T_EQ_INT(store_device_put(t, &d), STORE_EFULL);
			T_EQ_INT(store_device_get(t, "dev-000000", &got),
			    STORE_EFULL);
			T_EQ_INT(store_txn_commit(t), STORE_EFULL);
			full = 1;
			break;
		}
		rc = store_txn_commit(t);
		if (rc == STORE_EFULL) {
			full = 1;
			break;
		}
		T_EQ_INT(rc, 0);
		committed += 20;
	}
	T_CHECK(full);
	T_CHECK(committed > 0);

	/* earlier data intact */
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_count(t, &n), 0);
	T_EQ_INT(n, committed);
	snprintf(id, sizeof(id), "dev-%06d", committed - 1);
	T_EQ_INT(store_device_get(t, id, &got), 0);
	snprintf(id, sizeof(id), "dev-%06d", committed);
	T_EQ_INT(store_device_get(t, id, &got), STORE_ENOTFOUND);
	store_txn_abort(t);

	/* still usable: make room, then write */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "dev-%06d", i);
		T_EQ_INT(store_device_del(t, id), 0);
	}
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	device_small(&d, "after-full");
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_outbox_append(t, EV_STATE, 1, "{}", 2, NULL), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	/* and after reopening */
	st = reopen(st, dir, map);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_count(t, &n), 0);
	T_EQ_INT(n, committed - 40 + 1);
	T_EQ_INT(store_device_get(t, "after-full", &got), 0);
	T_CHECK(memcmp(&got, &d, sizeof(d)) == 0);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

/*
 * The map grows by itself up to store_set_map_max, and health says when
 * it is full: the same batches as test_full, once with room to grow
 * (they all fit, the map doubles), once without (a write fails, full).
 */
static void
test_map_growth(void)
{
	const size_t map = 512 * 1024;
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, map);
	struct store_health h;
	struct store_txn *t;
	struct device_rec d;
	int batch, i, rc = 0;

	store_set_map_max(st, 8 * map);
	store_health(st, &h);
	T_EQ_INT(h.map_size, map);
	T_EQ_INT(h.map_max, 8 * map);
	T_EQ_INT(h.full, 0);
	for (batch = 0; batch < 40 && rc == 0; batch++) {
		T_EQ_INT(store_txn_begin(st, 0, &t), 0);
		for (i = 0; i < 20 && rc == 0; i++) {
			device_full(&d);
			snprintf(d.id, sizeof(d.id), "dev-%06d",
			    batch * 20 + i);
			rc = store_device_put(t, &d);
		}
		if (rc == 0)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
	}
	T_EQ_INT(rc, 0);	/* 800 devices: more than 512 KiB holds */
	store_health(st, &h);
	T_CHECK(h.map_size > map && h.map_size <= 8 * map);
	T_CHECK(h.used > map / 2 && h.used <= h.map_size);
	T_EQ_INT(h.full, 0);
	/* another process adopts the grown map by itself */
	store_close(st);
	st = reopen(NULL, dir, map);
	store_health(st, &h);
	T_CHECK(h.map_size > map);

	/* no room to grow: a write fails, and health says full */
	store_set_map_max(st, h.map_size);
	for (batch = 40; batch < 400 && rc == 0; batch++) {
		T_EQ_INT(store_txn_begin(st, 0, &t), 0);
		for (i = 0; i < 20 && rc == 0; i++) {
			device_full(&d);
			snprintf(d.id, sizeof(d.id), "dev-%06d",
			    batch * 20 + i);
			rc = store_device_put(t, &d);
		}
		if (rc == 0)
			rc = store_txn_commit(t);
		else
			T_EQ_INT(store_txn_commit(t), STORE_EFULL);
	}
	T_EQ_INT(rc, STORE_EFULL);
	store_health(st, &h);
	T_EQ_INT(h.full, 1);
	/* room again (the limit raised): it grows, and writes work */
	store_set_map_max(st, 4 * h.map_size);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	device_small(&d, "after-growth");
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	store_health(st, &h);
	T_EQ_INT(h.full, 0);
	store_close(st);
	tmpdir_free(dir);
}

/*
 * Images.
 */

static int
tmp_files(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/images", dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".tmp-", 5) == 0)
			n++;
	closedir(d);
	return n;
}

/*
 * Temporary files nobody writes are swept at open, however young
 * (a kill -9 during an upload); one a writer still holds (its flock,
 * otactl uploading beside the daemon) is kept, and so is one created
 * a moment ago (its writer may not hold the lock yet).
 */
static void
images_swept(const char *dir)
{
	struct store *st;
	const struct store_image *a;
	struct timespec old[2];
	char path[4096];
	int fd, held;

	snprintf(path, sizeof(path), "%s/images/.tmp-old", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	T_CHECK(fd != -1);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 10;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	T_EQ_INT(futimens(fd, old), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/images/.tmp-held", dir);
	held = open(path, O_WRONLY | O_CREAT, 0600);
	T_CHECK(held != -1);
	T_EQ_INT(futimens(held, old), 0);
	T_EQ_INT(flock(held, LOCK_EX), 0);
	snprintf(path, sizeof(path), "%s/images/.tmp-new", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	T_EQ_INT(tmp_files(dir), 3);
	st = reopen(NULL, dir, 0);
	T_EQ_INT(tmp_files(dir), 2);
	T_EQ_INT(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/images/.tmp-held", dir);
	T_EQ_INT(access(path, F_OK), 0);
	close(held);
	T_EQ_INT(store_image_open(st, "fw-2", &a), 0);
	T_CHECK(a->size == 5);
	store_image_unref(a);
	store_close(st);
}

/* A file of images/, made with its mtime `age' seconds ago. */
static void
image_file(const char *dir, const char *name, time_t age)
{
	struct timespec t[2];
	char	 path[4096];
	int	 fd;

	snprintf(path, sizeof(path), "%s/images/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	T_CHECK(fd != -1);
	if (fd == -1)
		return;
	T_EQ_INT(write(fd, "x", 1), 1);
	t[0].tv_sec = t[1].tv_sec = time(NULL) - age;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	T_EQ_INT(futimens(fd, t), 0);
	close(fd);
}

static int
image_there(const char *dir, const char *name)
{
	char	 path[4096];

	snprintf(path, sizeof(path), "%s/images/%s", dir, name);
	return access(path, F_OK) == 0;
}

/*
 * An image file with no firmware or patch record (a crash between its
 * rename and its record's commit, or between a record's removal and its
 * file's) is removed at open once it is IMAGES_ORPHAN_AGE old; one with
 * a record, or a young one (an upload in another process finishing), is
 * kept.
 */
static void
test_image_orphans(void)
{
	char	*dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct firmware_rec f;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	firmware_small(&f, "fw-3", "p", "default", "3.0");
	T_EQ_INT(store_firmware_put(t, &f), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	store_close(st);
	image_file(dir, "fw-3", 2 * IMAGES_ORPHAN_AGE);
	image_file(dir, "fw-77", 2 * IMAGES_ORPHAN_AGE);
	image_file(dir, "dp-5", 2 * IMAGES_ORPHAN_AGE);
	image_file(dir, "fw-78", IMAGES_ORPHAN_AGE / 2);
	st = reopen(NULL, dir, 0);
	T_CHECK(image_there(dir, "fw-3"));
	T_CHECK(!image_there(dir, "fw-77"));
	T_CHECK(!image_there(dir, "dp-5"));
	T_CHECK(image_there(dir, "fw-78"));
	store_close(st);
	tmpdir_free(dir);
}

static void
test_images(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_image_writer *w;
	const struct store_image *a, *b, *c;
	uint8_t *img;
	size_t i, size = 300000;

	img = malloc(size);
	for (i = 0; i < size; i++)
		img[i] = (uint8_t)rng();

	/* write in uneven pieces, commit */
	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(tmp_files(dir), 1);
	for (i = 0; i < size; i += 7777)
		T_EQ_INT(store_image_write(w, img + i,
		    size - i < 7777 ? size - i : 7777),
		    0);
	T_EQ_INT(store_image_commit(w, "fw-1"), 0);
	T_EQ_INT(tmp_files(dir), 0);

	/* one shared map */
	T_EQ_INT(store_image_open(st, "fw-1", &a), 0);
	T_EQ_INT(store_image_open(st, "fw-1", &b), 0);
	T_CHECK(a == b);
	T_EQ_INT(a->size, size);
	T_CHECK(memcmp(a->data, img, size) == 0);
	store_image_ref(a);
	store_image_unref(a);
	store_image_unref(b);
	/* still referenced once: still readable */
	T_EQ_INT(a->data[size - 1], img[size - 1]);
	T_EQ_INT(store_image_open(st, "nope", &c), STORE_ENOTFOUND);
	T_CHECK(c == NULL);
	T_EQ_INT(store_image_open(st, "../x", &c), STORE_EINVAL);

	/* removal: new opens fail, the existing map stays valid */
	T_EQ_INT(store_image_remove(st, "fw-1"), 0);
	T_EQ_INT(store_image_remove(st, "fw-1"), STORE_ENOTFOUND);
	T_EQ_INT(store_image_open(st, "fw-1", &c), STORE_ENOTFOUND);
	T_CHECK(memcmp(a->data, img, size) == 0);
	store_image_unref(a);
	store_image_unref(NULL);

	/* discard leaves nothing */
	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(store_image_write(w, img, 1000), 0);
	store_image_discard(w);
	store_image_discard(NULL);
	T_EQ_INT(tmp_files(dir), 0);
	/* a bad id: the writer is freed and its file removed */
	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(store_image_commit(w, ".hidden"), STORE_EINVAL);
	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(store_image_commit(w, "a/b"), STORE_EINVAL);
	T_EQ_INT(tmp_files(dir), 0);

	/* an empty image */
	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(store_image_write(w, NULL, 0), 0);
	T_EQ_INT(store_image_commit(w, "fw-empty"), 0);
	T_EQ_INT(store_image_open(st, "fw-empty", &c), 0);
	T_EQ_INT(c->size, 0);
	T_CHECK(c->data != NULL);
	store_image_unref(c);

	/* replacing an image: later opens see the new content */
	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(store_image_write(w, "old", 3), 0);
	T_EQ_INT(store_image_commit(w, "fw-2"), 0);
	T_EQ_INT(store_image_open(st, "fw-2", &a), 0);
	T_EQ_INT(store_image_create(st, &w), 0);
	T_EQ_INT(store_image_write(w, "newer", 5), 0);
	T_EQ_INT(store_image_commit(w, "fw-2"), 0);
	T_EQ_INT(store_image_open(st, "fw-2", &b), 0);
	T_CHECK(a != b);
	T_CHECK(a->size == 3 && memcmp(a->data, "old", 3) == 0);
	T_CHECK(b->size == 5 && memcmp(b->data, "newer", 5) == 0);
	store_image_unref(b);
	/* a map still held at close is freed by its last unref */
	store_close(st);
	T_CHECK(memcmp(a->data, "old", 3) == 0);
	store_image_unref(a);

	images_swept(dir);
	free(img);
	tmpdir_free(dir);
}

/*
 * A full disk, simulated with a file size limit (EFBIG, like ENOSPC) in a
 * child process: a commit and an image write fail with STORE_EFULL, the
 * store keeps its data and takes writes again once there is room.
 */
static int
child_disk_full(const char *dir)
{
	struct store *st;
	struct store_txn *t;
	struct store_image_writer *w;
	struct device_rec d;
	struct rlimit rl, small;
	struct stat sb;
	char path[4096];
	static uint8_t chunk[100 * 1024];
	size_t n;
	int i, rc;

	signal(SIGXFSZ, SIG_IGN);
	if (store_open(dir, 64 * 1024 * 1024, &st) != 0)
		return 1;
	if (store_txn_begin(st, 0, &t) != 0)
		return 2;
	for (i = 0; i < 10; i++) {
		device_small(&d, "");
		snprintf(d.id, sizeof(d.id), "keep-%d", i);
		if (store_device_put(t, &d) != 0)
			return 3;
	}
	if (store_txn_commit(t) != 0)
		return 4;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb) == -1 || getrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 5;
	small = rl;
	small.rlim_cur = (rlim_t)sb.st_size + 16 * 1024;
	if (setrlimit(RLIMIT_FSIZE, &small) == -1)
		return 6;

	if (store_txn_begin(st, 0, &t) != 0)
		return 7;
	for (i = 0, rc = 0; i < 2000 && rc == 0; i++) {
		device_full(&d);
		snprintf(d.id, sizeof(d.id), "lost-%04d", i);
		rc = store_device_put(t, &d);
	}
	if (rc != 0)
		return 8;
	if ((rc = store_txn_commit(t)) != STORE_EFULL)
		return rc == 0 ? 9 : 10;
	if (store_image_create(st, &w) != 0)
		return 11;
	rc = store_image_write(w, chunk, sizeof(chunk));
	store_image_discard(w);
	if (rc != STORE_EFULL)
		return 12;

	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 13;
	if (store_txn_begin(st, 1, &t) != 0 || store_device_count(t, &n) != 0 ||
	    n != 10 || store_device_get(t, "lost-0000", &d) != STORE_ENOTFOUND)
		return 14;
	store_txn_abort(t);
	if (store_txn_begin(st, 0, &t) != 0)
		return 15;
	device_small(&d, "after");
	if (store_device_put(t, &d) != 0 || store_txn_commit(t) != 0)
		return 16;
	store_close(st);
	if (store_open(dir, 0, &st) != 0 || store_txn_begin(st, 1, &t) != 0 ||
	    store_device_count(t, &n) != 0 || n != 11)
		return 17;
	store_txn_abort(t);
	store_close(st);
	return 0;
}

static void
test_disk_full(void)
{
	char *dir = tmpdir_new();
	int status;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == -1)
		abort();
	if (pid == 0)
		_exit(child_disk_full(dir));
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_CHECK(WIFEXITED(status));
	T_EQ_INT(WEXITSTATUS(status), 0);
	T_EQ_INT(tmp_files(dir), 0);
	tmpdir_free(dir);
}

/*
 * Two processes on one directory.
 */

#define CHILD_TXNS 150

/* Child: its own handle; each txn adds a device and an outbox event. */
static int
child_writer(const char *dir)
{
	struct store *st;
	struct store_txn *t;
	struct device_rec d;
	char ev[32];
	int i, n;

	if (store_open(dir, 0, &st) != 0)
		return 1;
	for (i = 0; i < CHILD_TXNS; i++) {
		if (store_txn_begin(st, 0, &t) != 0)
			return 2;
		device_small(&d, "");
		snprintf(d.id, sizeof(d.id), "child-%04d", i);
		n = snprintf(ev, sizeof(ev), "{\"i\":%d}", i);
		if (store_device_put(t, &d) != 0 ||
		    store_outbox_append(t, EV_INFORM, i, ev, (size_t)n, NULL) !=
		    0 ||
		    store_txn_commit(t) != 0)
			return 3;
	}
	store_close(st);
	return 0;
}

struct snap {
	size_t devices;
	struct outbox_stats os;
};

static int
snapshot(struct store *st, struct snap *s)
{
	struct store_txn *t;
	int rc;

	if ((rc = store_txn_begin(st, 1, &t)) != 0)
		return rc;
	if ((rc = store_device_count(t, &s->devices)) == 0)
		rc = store_outbox_stats(t, &s->os);
	store_txn_abort(t);
	return rc;
}

/* The last committed write transaction: what a watcher compares. */
static void
test_last_txn(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct device_rec d;
	uint64_t a, b;

	a = store_last_txn(st);
	T_CHECK(a > 0);		/* opening wrote the schema */
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_get(t, "nobody", &d), STORE_ENOTFOUND);
	store_txn_abort(t);
	T_EQ_INT(store_last_txn(st), a);	/* reads change nothing */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	device_small(&d, "x");
	T_EQ_INT(store_device_put(t, &d), 0);
	store_txn_abort(t);
	T_EQ_INT(store_last_txn(st), a);	/* nor an aborted write */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_device_put(t, &d), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	b = store_last_txn(st);
	T_EQ_INT(b, a + 1);
	T_EQ_INT(store_last_txn(NULL), 0);
	store_close(st);
	tmpdir_free(dir);
}

static void
test_two_processes(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct device_rec d;
	struct snap s;
	int64_t deadline;
	size_t last = 0;
	int status, bad = 0, reads = 0, parent_writes = 0;
	uint64_t seq, prev_seq = 0, txn0;
	pid_t pid;

	txn0 = store_last_txn(st);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		perror("fork");
		abort();
	}
	if (pid == 0)
		_exit(child_writer(dir));

	/* read consistent snapshots, and write too, until the child ends */
	deadline = now_ns() + 60LL * 1000000000;
	for (;;) {
		if (snapshot(st, &s) != 0) {
			bad++;
			break;
		}
		reads++;
		/*
		 * Every txn, the child's or ours, adds one device and one
		 * event: a snapshot never sees one without the other.
		 */
		if (s.os.depth != s.devices || s.os.last_seq != s.devices ||
		    s.devices < last)
			bad++;
		last = s.devices;
		if (s.devices == CHILD_TXNS + (size_t)parent_writes ||
		    now_ns() > deadline)
			break;
		if (reads % 8 == 0 && parent_writes < 20) {
			/* a second writer on the same directory */
			device_small(&d, "");
			snprintf(d.id, sizeof(d.id), "parent-%02d",
			    parent_writes);
			if (store_txn_begin(st, 0, &t) != 0) {
				bad++;
				break;
			}
			if (store_device_put(t, &d) != 0 ||
			    store_outbox_append(t, EV_INFORM, 0, "p", 1,
			    &seq) != 0 ||
			    seq <= prev_seq) {
				store_txn_abort(t);
				bad++;
				break;
			}
			prev_seq = seq;
			if (store_txn_commit(t) != 0) {
				bad++;
				break;
			}
			parent_writes++;
		}
		usleep(500);
	}
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_EQ_INT(bad, 0);
	T_CHECK(reads > 1);
	T_EQ_INT(snapshot(st, &s), 0);
	T_EQ_INT(s.devices, CHILD_TXNS + parent_writes);
	T_EQ_INT(s.os.depth, CHILD_TXNS + parent_writes);
	T_EQ_INT(s.os.last_seq, CHILD_TXNS + parent_writes);
	/* the other process's commits count too */
	T_CHECK(store_last_txn(st) >= txn0 + CHILD_TXNS + parent_writes);
	fprintf(stderr,
	    "  two processes: %d snapshots read, %d parent "
	    "writes beside %d child writes\n",
	    reads, parent_writes, CHILD_TXNS);
	store_close(st);
	tmpdir_free(dir);
}

/* Another process opens a larger map and fills it past ours. */
static void
test_map_resized(void)
{
	const size_t small = 1024 * 1024, big = 16 * 1024 * 1024;
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, small);
	struct store_txn *t;
	struct device_rec got;
	struct snap s;
	int status, i;
	pid_t pid;

	/* keep a read txn reset for reuse, as the daemon would */
	T_EQ_INT(snapshot(st, &s), 0);
	fflush(NULL);
	if ((pid = fork()) == -1)
		abort();
	if (pid == 0) {
		struct store *cst;
		struct store_txn *ct;
		struct device_rec d;

		if (store_open(dir, big, &cst) != 0)
			_exit(1);
		/* 3000 full devices: about 6 MB, far past 1 MiB */
		for (i = 0; i < 3000; i++) {
			if (i % 500 == 0 && store_txn_begin(cst, 0, &ct) != 0)
				_exit(2);
			device_full(&d);
			snprintf(d.id, sizeof(d.id), "big-%05d", i);
			if (store_device_put(ct, &d) != 0)
				_exit(3);
			if (i % 500 == 499 && store_txn_commit(ct) != 0)
				_exit(4);
		}
		store_close(cst);
		_exit(0);
	}
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the data is past our map: the store adopts the bigger one */
	T_EQ_INT(snapshot(st, &s), 0);
	T_EQ_INT(s.devices, 3000);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_get(t, "big-02999", &got), 0);
	store_txn_abort(t);
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_device_del(t, "big-00000"), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	store_close(st);
	tmpdir_free(dir);
}

/*
 * A process killed inside a read transaction leaves its reader slot, which
 * pins the pages of its snapshot.  Rewriting records then uses fresh pages
 * until the map is full; the store clears the dead slot and goes on.
 */
static void
test_dead_reader(void)
{
	const size_t map = 1024 * 1024;
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, map);
	struct store_txn *t;
	struct device_rec d;
	int fds[2], status, round, i, fails = 0, other = 0, rc;
	char c;
	pid_t pid;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	for (i = 0; i < 40; i++) {
		device_full(&d);
		snprintf(d.id, sizeof(d.id), "dev-%02d", i);
		T_EQ_INT(store_device_put(t, &d), 0);
	}
	T_EQ_INT(store_txn_commit(t), 0);
	if (pipe(fds) == -1)
		abort();
	fflush(NULL);
	if ((pid = fork()) == -1)
		abort();
	if (pid == 0) {
		struct store *cst;
		struct store_txn *ct;

		close(fds[0]);
		if (store_open(dir, map, &cst) != 0 ||
		    store_txn_begin(cst, 1, &ct) != 0 ||
		    store_device_get(ct, "dev-00", &d) != 0)
			_exit(1);
		if (write(fds[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(fds[1]);
	T_EQ_INT(read(fds[0], &c, 1), 1);
	close(fds[0]);
	kill(pid, SIGKILL);
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_CHECK(WIFSIGNALED(status));

	for (round = 0; round < 100; round++) {
		T_EQ_INT(store_txn_begin(st, 0, &t), 0);
		for (i = 0, rc = 0; i < 40 && rc == 0; i++) {
			device_full(&d);
			snprintf(d.id, sizeof(d.id), "dev-%02d", i);
			d.updated = round;
			rc = store_device_put(t, &d);
		}
		if (rc == 0)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
		if (rc == STORE_EFULL)
			fails++;
		else if (rc != 0)
			other++;
	}
	/* at most the one transaction that found the map full */
	T_CHECK(fails <= 1);
	T_EQ_INT(other, 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_device_get(t, "dev-39", &d), 0);
	T_EQ_INT(d.updated, 99);
	store_txn_abort(t);
	store_close(st);
	tmpdir_free(dir);
}

/* Not a pass/fail check: the cost of the hot read path. */
static void
test_speed(void)
{
	char *dir = tmpdir_new();
	struct store *st = reopen(NULL, dir, 0);
	struct store_txn *t;
	struct device_rec d;
	struct jobdev_rec jd;
	struct collect c;
	int64_t t0, t1;
	int i, n = 2000, rounds = 20000, ok = 0;

	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	for (i = 0; i < n; i++) {
		device_small(&d, "");
		snprintf(d.id, sizeof(d.id), "dev-%05d", i);
		store_device_put(t, &d);
		if (i % 10 == 0) {
			jobdev_small(&jd, "j-1", d.id, JD_QUEUED);
			store_jobdev_put(t, &jd);
		}
	}
	T_EQ_INT(store_txn_commit(t), 0);
	t0 = now_ns();
	for (i = 0; i < rounds; i++) {
		char id[OTA_ID_MAX + 1];

		snprintf(id, sizeof(id), "dev-%05d", (i * 7919) % n);
		if (store_txn_begin(st, 1, &t) != 0)
			break;
		memset(&c, 0, sizeof(c));
		if (store_device_get(t, id, &d) == 0 &&
		    store_device_open_jobs(t, id, collect_jd_cb, &c) == 0)
			ok++;
		store_txn_abort(t);
	}
	t1 = now_ns();
	T_EQ_INT(ok, rounds);
	fprintf(stderr,
	    "  read txn + device_get + open_jobs: %.2f us "
	    "each\n",
	    (double)(t1 - t0) / rounds / 1000.0);
	store_close(st);
	tmpdir_free(dir);
}

int
main(void)
{
	log_init("test_store", 1, LOG_LEVEL_WARN);
	T_RUN(test_pack_roundtrip);
	T_RUN(test_pack_truncated);
	T_RUN(test_pack_hostile);
	T_RUN(test_pack_row_source);
	T_RUN(test_pack_before_seq);
	T_RUN(test_pack_garbage);
	T_RUN(test_pack_keys);
	T_RUN(test_open_errors);
	T_RUN(test_devices);
	T_RUN(test_device_iter);
	T_RUN(test_firmware);
	T_RUN(test_jobs);
	T_RUN(test_jobdev);
	T_RUN(test_history);
	T_RUN(test_id_order);
	T_RUN(test_migrate_order);
	T_RUN(test_next_id);
	T_RUN(test_outbox);
	T_RUN(test_outbox_drain);
	T_RUN(test_outbox_limit);
	T_RUN(test_xfer);
	T_RUN(test_abort);
	T_RUN(test_full);
	T_RUN(test_map_growth);
	T_RUN(test_images);
	T_RUN(test_image_orphans);
	T_RUN(test_disk_full);
	T_RUN(test_last_txn);
	T_RUN(test_two_processes);
	T_RUN(test_map_resized);
	T_RUN(test_dead_reader);
	T_RUN(test_speed);
	return t_done();
}
