/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pack.c: the on-disk encoding of otagw's records (see pack.h).
 *
 * A record is: schema byte (PACK_SCHEMA), kind byte ('D' device, 'F'
 * firmware, 'J' job, 'R' job row, 'H' history entry, 'T' patch, 'P'
 * product), then its fields in a fixed order.
 * Integers are LEB128 varints, signed ones zigzag-encoded first, so a time
 * stamp takes 6 bytes and a small count one.  Strings are a varint length
 * and the bytes without NUL.  Variable arrays (PSK, module versions, source
 * versions) store their count and only the used entries; the secret's salt
 * and hash are present only when the device has a secret, and a row's
 * from_version only when it has one (flag JDF_FROM), so that rows written
 * before it existed read as rows without one.  Fields added later go at
 * the end, only when set and announced by a flag bit that older records
 * never have: a device's accepted seqs, a firmware's seq and author
 * signature, SHA-1 and file name (flags in its sign-method byte), a job's
 * seq, a row's cancel acknowledgement; records written
 * before them read with them 0 (docs/jobs.md).
 *
 * The writer and the reader are small cursors that latch the first error,
 * so field code stays linear; the record functions check the latch once.
 * The reader never trusts a length: it checks it against the bytes left and
 * against the destination field, rejects NULs inside strings, enum values
 * out of range and trailing bytes.
 */
#include <limits.h>
#include <string.h>

#include "store/pack.h"
#include "store/store.h"

#define KIND_DEVICE   'D'
#define KIND_FIRMWARE 'F'
#define KIND_JOB      'J'
#define KIND_JOBDEV   'R'
#define KIND_HISTORY  'H'
#define KIND_DELTA    'T'
#define KIND_PRODUCT  'P'

struct pw {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

struct pr {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;
};

/*
 * Writer.
 */

static void
w_byte(struct pw *w, unsigned v)
{
	if (w->err || w->len >= w->cap) {
		w->err = 1;
		return;
	}
	w->p[w->len++] = (uint8_t)v;
}

static void
w_bytes(struct pw *w, const void *b, size_t n)
{
	if (w->err || w->cap - w->len < n) {
		w->err = 1;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void
w_uvar(struct pw *w, uint64_t v)
{
	while (v >= 0x80) {
		w_byte(w, (unsigned)(v & 0x7f) | 0x80);
		v >>= 7;
	}
	w_byte(w, (unsigned)v);
}

static void
w_svar(struct pw *w, int64_t v)
{
	uint64_t u = (uint64_t)v;

	w_uvar(w, (u << 1) ^ (v < 0 ? UINT64_MAX : 0));
}

/* A NUL-terminated string held in a field of `size' bytes. */
static void
w_str(struct pw *w, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size) { /* not terminated inside its field */
		w->err = 1;
		return;
	}
	w_uvar(w, n);
	w_bytes(w, s, n);
}

static void
w_head(struct pw *w, uint8_t *buf, size_t cap, int kind)
{
	w->p = buf;
	w->cap = cap;
	w->len = 0;
	w->err = buf == NULL;
	w_byte(w, PACK_SCHEMA);
	w_byte(w, (unsigned)kind);
}

static size_t
w_done(struct pw *w)
{
	return w->err ? 0 : w->len;
}

/*
 * Reader.
 */

static unsigned
r_byte(struct pr *r)
{
	if (r->err || r->off >= r->len) {
		r->err = 1;
		return 0;
	}
	return r->p[r->off++];
}

static void
r_bytes(struct pr *r, void *dst, size_t n)
{
	if (r->err || r->len - r->off < n) {
		r->err = 1;
		return;
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
}

static uint64_t
r_uvar(struct pr *r)
{
	uint64_t v = 0;
	unsigned b, shift;

	for (shift = 0; shift < 64; shift += 7) {
		b = r_byte(r);
		if (r->err)
			return 0;
		/* the tenth byte may only hold the top bit */
		if (shift == 63 && b > 1) {
			r->err = 1;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return v;
	}
	r->err = 1;
	return 0;
}

static int64_t
r_svar(struct pr *r)
{
	uint64_t u = r_uvar(r);

	return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

static unsigned
r_uint(struct pr *r, unsigned max)
{
	uint64_t v = r_uvar(r);

	if (v > max) {
		r->err = 1;
		return 0;
	}
	return (unsigned)v;
}

static int
r_int(struct pr *r)
{
	int64_t v = r_svar(r);

	if (v < INT_MIN || v > INT_MAX) {
		r->err = 1;
		return 0;
	}
	return (int)v;
}

/* Into a field of `size' bytes: at most size - 1 bytes, no NUL inside. */
static void
r_str(struct pr *r, char *dst, size_t size)
{
	uint64_t n = r_uvar(r);

	if (r->err || n >= size || n > r->len - r->off ||
	    memchr(r->p + r->off, '\0', (size_t)n) != NULL) {
		r->err = 1;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, r->p + r->off, (size_t)n);
	dst[n] = '\0';
	r->off += (size_t)n;
}

static void
r_head(struct pr *r, const void *buf, size_t len, int kind)
{
	r->p = buf;
	r->len = len;
	r->off = 0;
	r->err = buf == NULL;
	if (r_byte(r) != PACK_SCHEMA || r_byte(r) != (unsigned)kind)
		r->err = 1;
}

static int
r_done(struct pr *r)
{
	if (r->err || r->off != r->len)
		return STORE_EINVAL;
	return 0;
}

/*
 * Devices.
 */

#define DF_SECRET 0x01 /* salt and hash follow */
#define DF_SEQS   0x02 /* accepted seqs follow versions_at */
#define DF_ALL    0x03

size_t
pack_device(const struct device_rec *d, uint8_t *buf, size_t cap)
{
	struct pw w;
	unsigned i;

	w_head(&w, buf, cap, KIND_DEVICE);
	if (d->psk_len > OTA_PSK_MAX || d->nversions > OTA_MODULES_MAX)
		return 0;
	w_str(&w, d->id, sizeof(d->id));
	w_str(&w, d->product, sizeof(d->product));
	if (d->nseqs > OTA_MODULES_MAX)
		return 0;
	w_byte(&w, (d->has_secret ? DF_SECRET : 0) |
	    (d->nseqs > 0 ? DF_SEQS : 0));
	if (d->has_secret) {
		w_bytes(&w, d->secret_salt, sizeof(d->secret_salt));
		w_bytes(&w, d->secret_hash, sizeof(d->secret_hash));
	}
	w_uvar(&w, d->psk_len);
	w_bytes(&w, d->psk, d->psk_len);
	w_uvar(&w, d->nversions);
	for (i = 0; i < d->nversions; i++) {
		w_str(&w, d->versions[i].module, sizeof(d->versions[i].module));
		w_str(&w, d->versions[i].version,
		    sizeof(d->versions[i].version));
	}
	w_svar(&w, d->created);
	w_svar(&w, d->updated);
	w_svar(&w, d->last_seen);
	w_svar(&w, d->versions_at);
	if (d->nseqs > 0) {	/* absent in devices that never had one */
		w_uvar(&w, d->nseqs);
		for (i = 0; i < d->nseqs; i++) {
			w_str(&w, d->seqs[i].module,
			    sizeof(d->seqs[i].module));
			w_uvar(&w, d->seqs[i].seq);
		}
	}
	return w_done(&w);
}

int
unpack_device(const void *buf, size_t len, struct device_rec *d)
{
	struct pr r;
	unsigned i, flags;

	memset(d, 0, sizeof(*d));
	r_head(&r, buf, len, KIND_DEVICE);
	r_str(&r, d->id, sizeof(d->id));
	r_str(&r, d->product, sizeof(d->product));
	flags = r_byte(&r);
	if ((flags & ~DF_ALL) != 0)
		r.err = 1;
	d->has_secret = (flags & DF_SECRET) != 0;
	if (d->has_secret) {
		r_bytes(&r, d->secret_salt, sizeof(d->secret_salt));
		r_bytes(&r, d->secret_hash, sizeof(d->secret_hash));
	}
	d->psk_len = r_uint(&r, OTA_PSK_MAX);
	r_bytes(&r, d->psk, d->psk_len);
	d->nversions = r_uint(&r, OTA_MODULES_MAX);
	for (i = 0; i < d->nversions && !r.err; i++) {
		r_str(&r, d->versions[i].module, sizeof(d->versions[i].module));
		r_str(&r, d->versions[i].version,
		    sizeof(d->versions[i].version));
	}
	d->created = r_svar(&r);
	d->updated = r_svar(&r);
	d->last_seen = r_svar(&r);
	d->versions_at = r_svar(&r);
	if (flags & DF_SEQS) {
		d->nseqs = r_uint(&r, OTA_MODULES_MAX);
		if (d->nseqs == 0)
			r.err = 1;	/* written only when there is one */
		for (i = 0; i < d->nseqs && !r.err; i++) {
			r_str(&r, d->seqs[i].module,
			    sizeof(d->seqs[i].module));
			d->seqs[i].seq = r_uint(&r, UINT32_MAX);
		}
	}
	return r_done(&r);
}

/*
 * Firmware.  The sign-method byte holds the method in its low bits and,
 * above them, flags for the fields added in issue 15, which follow
 * `created' only when set; firmware stored before has no flag.
 */

#define FWX_SEQ 0x10 /* seq follows */
#define FWX_SIG 0x20 /* the author signature follows */
#define FWX_SHA1 0x40 /* the SHA-1 follows (issue 16) */
#define FWX_FILE 0x80 /* the file name follows (issue 16) */
#define FWX_ALL 0xf0

size_t
pack_firmware(const struct firmware_rec *f, uint8_t *buf, size_t cap)
{
	struct pw w;
	unsigned flags;

	w_head(&w, buf, cap, KIND_FIRMWARE);
	if (f->sign_method < SIGN_SHA256 || f->sign_method > SIGN_MD5 ||
	    f->state < FW_UNVERIFIED || f->state > FW_VERIFY_FAILED)
		return 0;
	w_str(&w, f->id, sizeof(f->id));
	w_str(&w, f->product, sizeof(f->product));
	w_str(&w, f->module, sizeof(f->module));
	w_str(&w, f->version, sizeof(f->version));
	w_str(&w, f->name, sizeof(f->name));
	w_str(&w, f->description, sizeof(f->description));
	if (f->author_sig_len > OTA_SIG_MAX)
		return 0;
	flags = (f->seq != 0 ? FWX_SEQ : 0) |
	    (f->author_sig_len > 0 ? FWX_SIG : 0) |
	    (f->has_sha1 ? FWX_SHA1 : 0) |
	    (f->filename[0] != '\0' ? FWX_FILE : 0);
	w_byte(&w, (unsigned)f->sign_method | flags);
	w_byte(&w, (unsigned)f->state);
	w_bytes(&w, f->md5, sizeof(f->md5));
	w_bytes(&w, f->sha256, sizeof(f->sha256));
	w_uvar(&w, f->size);
	w_svar(&w, f->created);
	if (flags & FWX_SEQ)
		w_uvar(&w, f->seq);
	if (flags & FWX_SIG) {
		w_uvar(&w, f->author_sig_len);
		w_bytes(&w, f->author_sig, f->author_sig_len);
	}
	if (flags & FWX_SHA1)
		w_bytes(&w, f->sha1, sizeof(f->sha1));
	if (flags & FWX_FILE)
		w_str(&w, f->filename, sizeof(f->filename));
	return w_done(&w);
}

int
unpack_firmware(const void *buf, size_t len, struct firmware_rec *f)
{
	struct pr r;
	unsigned flags;

	memset(f, 0, sizeof(*f));
	r_head(&r, buf, len, KIND_FIRMWARE);
	r_str(&r, f->id, sizeof(f->id));
	r_str(&r, f->product, sizeof(f->product));
	r_str(&r, f->module, sizeof(f->module));
	r_str(&r, f->version, sizeof(f->version));
	r_str(&r, f->name, sizeof(f->name));
	r_str(&r, f->description, sizeof(f->description));
	flags = r_byte(&r);
	f->sign_method = (int)(flags & ~FWX_ALL);
	if (f->sign_method > SIGN_MD5)
		r.err = 1;
	f->state = (int)r_byte(&r);
	if (f->state > FW_VERIFY_FAILED)
		r.err = 1;
	r_bytes(&r, f->md5, sizeof(f->md5));
	r_bytes(&r, f->sha256, sizeof(f->sha256));
	f->size = r_uvar(&r);
	f->created = r_svar(&r);
	if (flags & FWX_SEQ) {
		f->seq = r_uint(&r, UINT32_MAX);
		if (f->seq == 0)
			r.err = 1;	/* the flag means one is there */
	}
	if (flags & FWX_SIG) {
		f->author_sig_len = r_uint(&r, OTA_SIG_MAX);
		if (f->author_sig_len == 0)
			r.err = 1;
		r_bytes(&r, f->author_sig, f->author_sig_len);
	}
	if (flags & FWX_SHA1) {
		f->has_sha1 = 1;
		r_bytes(&r, f->sha1, sizeof(f->sha1));
	}
	if (flags & FWX_FILE) {
		r_str(&r, f->filename, sizeof(f->filename));
		if (f->filename[0] == '\0')
			r.err = 1;
	}
	return r_done(&r);
}

/*
 * Jobs.
 */

#define JF_DYNAMIC  0x01
#define JF_ONLY_NEW 0x02
#define JF_CONFIRM  0x04
#define JF_FORCE    0x08
#define JF_OVERRIDE 0x10
#define JF_DOWNGRADE 0x20 /* allow_downgrade */
#define JF_SEQ      0x40 /* seq follows rate_used */
#define JF_ALL      0x7f

size_t
pack_job(const struct job_rec *j, uint8_t *buf, size_t cap)
{
	struct pw w;
	unsigned i, flags = 0;

	w_head(&w, buf, cap, KIND_JOB);
	if (j->kind < JOB_KIND_BATCH || j->kind > JOB_KIND_VERIFY ||
	    j->state < JOB_SCHEDULED || j->state > JOB_CREATING ||
	    j->scope < JOB_SCOPE_ALL || j->scope > JOB_SCOPE_GRAY ||
	    j->nsrc > OTA_SRCVER_MAX)
		return 0;
	if (j->dynamic)
		flags |= JF_DYNAMIC;
	if (j->only_new_reports)
		flags |= JF_ONLY_NEW;
	if (j->confirm)
		flags |= JF_CONFIRM;
	if (j->force)
		flags |= JF_FORCE;
	if (j->override)
		flags |= JF_OVERRIDE;
	if (j->allow_downgrade)
		flags |= JF_DOWNGRADE;
	if (j->seq != 0)
		flags |= JF_SEQ;
	w_str(&w, j->id, sizeof(j->id));
	w_str(&w, j->firmware, sizeof(j->firmware));
	w_str(&w, j->product, sizeof(j->product));
	w_str(&w, j->module, sizeof(j->module));
	w_str(&w, j->version, sizeof(j->version));
	w_byte(&w, (unsigned)j->kind);
	w_byte(&w, (unsigned)j->state);
	w_byte(&w, (unsigned)j->scope);
	w_byte(&w, flags);
	w_svar(&w, j->gray_percent);
	w_uvar(&w, j->nsrc);
	for (i = 0; i < j->nsrc; i++)
		w_str(&w, j->src_versions[i], sizeof(j->src_versions[i]));
	w_svar(&w, j->start);
	w_svar(&w, j->end);
	w_uvar(&w, j->rate_per_minute);
	w_uvar(&w, j->retry_count);
	w_uvar(&w, j->retry_interval_min);
	w_uvar(&w, j->timeout_min);
	w_svar(&w, j->abort_percent);
	w_uvar(&w, j->abort_min_devices);
	w_svar(&w, j->created);
	w_svar(&w, j->started);
	w_svar(&w, j->finished);
	w_svar(&w, j->rate_window);
	w_uvar(&w, j->rate_used);
	if (flags & JF_SEQ)	/* absent in jobs made before seqs */
		w_uvar(&w, j->seq);
	return w_done(&w);
}

int
unpack_job(const void *buf, size_t len, struct job_rec *j)
{
	struct pr r;
	unsigned i, flags;

	memset(j, 0, sizeof(*j));
	r_head(&r, buf, len, KIND_JOB);
	r_str(&r, j->id, sizeof(j->id));
	r_str(&r, j->firmware, sizeof(j->firmware));
	r_str(&r, j->product, sizeof(j->product));
	r_str(&r, j->module, sizeof(j->module));
	r_str(&r, j->version, sizeof(j->version));
	j->kind = (int)r_byte(&r);
	j->state = (int)r_byte(&r);
	j->scope = (int)r_byte(&r);
	flags = r_byte(&r);
	if (j->kind > JOB_KIND_VERIFY || j->state > JOB_CREATING ||
	    j->scope > JOB_SCOPE_GRAY || (flags & ~JF_ALL) != 0)
		r.err = 1;
	j->dynamic = (flags & JF_DYNAMIC) != 0;
	j->only_new_reports = (flags & JF_ONLY_NEW) != 0;
	j->confirm = (flags & JF_CONFIRM) != 0;
	j->force = (flags & JF_FORCE) != 0;
	j->override = (flags & JF_OVERRIDE) != 0;
	j->allow_downgrade = (flags & JF_DOWNGRADE) != 0;
	j->gray_percent = r_int(&r);
	j->nsrc = r_uint(&r, OTA_SRCVER_MAX);
	for (i = 0; i < j->nsrc && !r.err; i++)
		r_str(&r, j->src_versions[i], sizeof(j->src_versions[i]));
	j->start = r_svar(&r);
	j->end = r_svar(&r);
	j->rate_per_minute = r_uint(&r, UINT_MAX);
	j->retry_count = r_uint(&r, UINT_MAX);
	j->retry_interval_min = r_uint(&r, UINT_MAX);
	j->timeout_min = r_uint(&r, UINT_MAX);
	j->abort_percent = r_int(&r);
	j->abort_min_devices = r_uint(&r, UINT_MAX);
	j->created = r_svar(&r);
	j->started = r_svar(&r);
	j->finished = r_svar(&r);
	j->rate_window = r_svar(&r);
	j->rate_used = r_uint(&r, UINT_MAX);
	if (flags & JF_SEQ) {
		j->seq = r_uint(&r, UINT32_MAX);
		if (j->seq == 0)
			r.err = 1;
	}
	return r_done(&r);
}

/*
 * Job rows.
 */

#define JDF_STEP100 0x01
#define JDF_FROM    0x02 /* from_version follows last_version */
#define JDF_DELTA   0x04 /* delta and delta_saved follow next_at */
#define JDF_DFAIL1  0x08 /* delta_fail 1 */
#define JDF_DFAIL2  0x10 /* delta_fail 2 */
#define JDF_CACK    0x20 /* cancel_acked */
#define JDF_ALL     0x3f

size_t
pack_jobdev(const struct jobdev_rec *jd, uint8_t *buf, size_t cap)
{
	struct pw w;
	unsigned flags = 0;

	w_head(&w, buf, cap, KIND_JOBDEV);
	if (jd->state < JD_WAIT_CONFIRM || jd->state >= JD_NSTATES)
		return 0;
	if (jd->step100)
		flags |= JDF_STEP100;
	if (jd->from_version[0] != '\0')
		flags |= JDF_FROM;
	if (jd->delta[0] != '\0')
		flags |= JDF_DELTA;
	if (jd->delta_fail == 1)
		flags |= JDF_DFAIL1;
	else if (jd->delta_fail == 2)
		flags |= JDF_DFAIL2;
	else if (jd->delta_fail != 0)
		return 0;
	if (jd->cancel_acked)
		flags |= JDF_CACK;
	w_str(&w, jd->job, sizeof(jd->job));
	w_str(&w, jd->device, sizeof(jd->device));
	w_byte(&w, (unsigned)jd->state);
	w_str(&w, jd->reason, sizeof(jd->reason));
	w_str(&w, jd->desc, sizeof(jd->desc));
	w_svar(&w, jd->step);
	w_byte(&w, flags);
	w_uvar(&w, jd->retries);
	w_str(&w, jd->last_version, sizeof(jd->last_version));
	if (flags & JDF_FROM)
		w_str(&w, jd->from_version, sizeof(jd->from_version));
	w_svar(&w, jd->created);
	w_svar(&w, jd->notified);
	w_svar(&w, jd->started);
	w_svar(&w, jd->updated);
	w_svar(&w, jd->next_at);
	if (flags & JDF_DELTA) {
		w_str(&w, jd->delta, sizeof(jd->delta));
		w_uvar(&w, jd->delta_saved);
	}
	return w_done(&w);
}

int
unpack_jobdev(const void *buf, size_t len, struct jobdev_rec *jd)
{
	struct pr r;
	unsigned flags;

	memset(jd, 0, sizeof(*jd));
	r_head(&r, buf, len, KIND_JOBDEV);
	r_str(&r, jd->job, sizeof(jd->job));
	r_str(&r, jd->device, sizeof(jd->device));
	jd->state = (int)r_byte(&r);
	if (jd->state >= JD_NSTATES)
		r.err = 1;
	r_str(&r, jd->reason, sizeof(jd->reason));
	r_str(&r, jd->desc, sizeof(jd->desc));
	jd->step = r_int(&r);
	flags = r_byte(&r);
	if ((flags & ~JDF_ALL) != 0)
		r.err = 1;
	jd->step100 = (flags & JDF_STEP100) != 0;
	jd->cancel_acked = (flags & JDF_CACK) != 0;
	jd->retries = r_uint(&r, UINT_MAX);
	r_str(&r, jd->last_version, sizeof(jd->last_version));
	if (flags & JDF_FROM) {
		r_str(&r, jd->from_version, sizeof(jd->from_version));
		if (jd->from_version[0] == '\0')
			r.err = 1;	/* the flag means one is there */
	}
	jd->created = r_svar(&r);
	jd->notified = r_svar(&r);
	jd->started = r_svar(&r);
	jd->updated = r_svar(&r);
	jd->next_at = r_svar(&r);
	if ((flags & (JDF_DFAIL1 | JDF_DFAIL2)) == (JDF_DFAIL1 | JDF_DFAIL2))
		r.err = 1;
	jd->delta_fail = (flags & JDF_DFAIL1) ? 1 : (flags & JDF_DFAIL2) ?
	    2 : 0;
	if (flags & JDF_DELTA) {
		r_str(&r, jd->delta, sizeof(jd->delta));
		if (jd->delta[0] == '\0')
			r.err = 1;
		jd->delta_saved = r_uvar(&r);
	}
	return r_done(&r);
}

/*
 * Patches (delta packages).
 */

size_t
pack_delta(const struct delta_rec *d, uint8_t *buf, size_t cap)
{
	struct pw w;

	w_head(&w, buf, cap, KIND_DELTA);
	w_str(&w, d->id, sizeof(d->id));
	w_str(&w, d->product, sizeof(d->product));
	w_str(&w, d->module, sizeof(d->module));
	w_str(&w, d->from, sizeof(d->from));
	w_str(&w, d->from_version, sizeof(d->from_version));
	w_str(&w, d->to, sizeof(d->to));
	w_str(&w, d->to_version, sizeof(d->to_version));
	w_str(&w, d->format, sizeof(d->format));
	w_bytes(&w, d->md5, sizeof(d->md5));
	w_bytes(&w, d->sha256, sizeof(d->sha256));
	w_uvar(&w, d->size);
	w_bytes(&w, d->to_sha256, sizeof(d->to_sha256));
	w_uvar(&w, d->to_size);
	w_svar(&w, d->created);
	return w_done(&w);
}

int
unpack_delta(const void *buf, size_t len, struct delta_rec *d)
{
	struct pr r;

	memset(d, 0, sizeof(*d));
	r_head(&r, buf, len, KIND_DELTA);
	r_str(&r, d->id, sizeof(d->id));
	r_str(&r, d->product, sizeof(d->product));
	r_str(&r, d->module, sizeof(d->module));
	r_str(&r, d->from, sizeof(d->from));
	r_str(&r, d->from_version, sizeof(d->from_version));
	r_str(&r, d->to, sizeof(d->to));
	r_str(&r, d->to_version, sizeof(d->to_version));
	r_str(&r, d->format, sizeof(d->format));
	r_bytes(&r, d->md5, sizeof(d->md5));
	r_bytes(&r, d->sha256, sizeof(d->sha256));
	d->size = r_uvar(&r);
	r_bytes(&r, d->to_sha256, sizeof(d->to_sha256));
	d->to_size = r_uvar(&r);
	d->created = r_svar(&r);
	return r_done(&r);
}

/*
 * History entries.
 */

size_t
pack_history(const struct history_rec *h, uint8_t *buf, size_t cap)
{
	struct pw w;

	w_head(&w, buf, cap, KIND_HISTORY);
	if (h->state < JD_WAIT_CONFIRM || h->state >= JD_NSTATES)
		return 0;
	w_str(&w, h->job, sizeof(h->job));
	w_str(&w, h->firmware, sizeof(h->firmware));
	w_str(&w, h->module, sizeof(h->module));
	w_str(&w, h->from_version, sizeof(h->from_version));
	w_str(&w, h->to_version, sizeof(h->to_version));
	w_byte(&w, (unsigned)h->state);
	w_str(&w, h->reason, sizeof(h->reason));
	w_str(&w, h->desc, sizeof(h->desc));
	w_uvar(&w, h->retries);
	w_svar(&w, h->notified);
	w_svar(&w, h->started);
	w_svar(&w, h->finished);
	return w_done(&w);
}

int
unpack_history(const void *buf, size_t len, struct history_rec *h)
{
	struct pr r;

	memset(h, 0, sizeof(*h));
	r_head(&r, buf, len, KIND_HISTORY);
	r_str(&r, h->job, sizeof(h->job));
	r_str(&r, h->firmware, sizeof(h->firmware));
	r_str(&r, h->module, sizeof(h->module));
	r_str(&r, h->from_version, sizeof(h->from_version));
	r_str(&r, h->to_version, sizeof(h->to_version));
	h->state = (int)r_byte(&r);
	if (h->state >= JD_NSTATES)
		r.err = 1;
	r_str(&r, h->reason, sizeof(h->reason));
	r_str(&r, h->desc, sizeof(h->desc));
	h->retries = r_uint(&r, UINT_MAX);
	h->notified = r_svar(&r);
	h->started = r_svar(&r);
	h->finished = r_svar(&r);
	return r_done(&r);
}

/*
 * Products (their author key).
 */

size_t
pack_product(const struct product_rec *p, uint8_t *buf, size_t cap)
{
	struct pw w;

	w_head(&w, buf, cap, KIND_PRODUCT);
	if (p->author_key_len > OTA_PEM_MAX ||
	    strnlen(p->author_key, sizeof(p->author_key)) !=
	    p->author_key_len)
		return 0;
	w_str(&w, p->id, sizeof(p->id));
	w_str(&w, p->author_key, sizeof(p->author_key));
	w_svar(&w, p->updated);
	return w_done(&w);
}

int
unpack_product(const void *buf, size_t len, struct product_rec *p)
{
	struct pr r;

	memset(p, 0, sizeof(*p));
	r_head(&r, buf, len, KIND_PRODUCT);
	r_str(&r, p->id, sizeof(p->id));
	r_str(&r, p->author_key, sizeof(p->author_key));
	p->author_key_len = strlen(p->author_key);
	p->updated = r_svar(&r);
	return r_done(&r);
}

/*
 * Outbox values and numbers.
 */

void
pack_be64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
unpack_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

void
pack_outbox_hdr(uint8_t hdr[PACK_OUTBOX_HDR], int type, int64_t ts)
{
	hdr[0] = (uint8_t)type;
	pack_be64(hdr + 1, (uint64_t)ts);
}

int
unpack_outbox(const void *buf, size_t len, int *type, int64_t *ts,
    const uint8_t **data, size_t *dlen)
{
	const uint8_t *p = buf;

	if (p == NULL || len < PACK_OUTBOX_HDR || p[0] > EV_TRANSFER)
		return STORE_EINVAL;
	*type = p[0];
	*ts = (int64_t)unpack_be64(p + 1);
	*data = p + PACK_OUTBOX_HDR;
	*dlen = len - PACK_OUTBOX_HDR;
	return 0;
}

/*
 * Keys.
 */

size_t
pack_key_len(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, OTA_ID_MAX + 1);
	return n > OTA_ID_MAX ? 0 : n;
}

size_t
pack_key2(uint8_t *buf, const char *a, const char *b)
{
	size_t na, nb = 0;

	if ((na = pack_key_len(a)) == 0)
		return 0;
	if (b != NULL && (nb = pack_key_len(b)) == 0)
		return 0;
	memcpy(buf, a, na);
	buf[na] = '\0';
	if (nb > 0)
		memcpy(buf + na + 1, b, nb);
	return na + 1 + nb;
}

size_t
pack_key3(uint8_t *buf, const char *a, const char *b, const char *c)
{
	size_t na, nc;

	if ((na = pack_key2(buf, a, b)) == 0 || b == NULL ||
	    (nc = pack_key_len(c)) == 0)
		return 0;
	buf[na] = '\0';
	memcpy(buf + na + 1, c, nc);
	return na + 1 + nc;
}
