/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * firmware.c: the operator's firmware operations: add (a streamed upload,
 * or the whole image from a descriptor or a file), show and list with
 * their devices by state (each device once, across the firmware's jobs),
 * edit the name and description, remove.
 *
 * An image is a file, not a store record, so adding one takes three
 * steps: the bytes stream into a temporary image while MD5 and SHA-256
 * are computed; a short transaction takes the firmware id; the image is
 * fsync'ed and renamed to that id outside any transaction (so writers are
 * not held up); then the record is committed, and if that fails the image
 * is removed again.  The uniqueness and per-product limits are checked
 * before the first byte and again in each transaction.  Removal deletes
 * the record first, so no device is offered the image any more, then the
 * file.  src/ops/fetch.c drives the same upload calls for an image
 * fetched from a URL.
 *
 * Each firmware has a security seq (docs/jobs.md): given, it may not be
 * below the highest of its product's module; not given, it is one more
 * than that, taken in the transaction that stores the record.  When the
 * product has an author key (docs/images.md), the image must come with
 * the author's signature of its SHA-256, checked against the key once
 * the image is in and before it gets an id; the record keeps the
 * signature, the image is stored as it came.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "log.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

struct ops_upload {
	struct ops *ops;
	struct firmware_rec rec;
	uint32_t seq_req;		/* the seq asked for; 0: the next */
	struct store_image_writer *w;
	struct digest *dg;
};

/* The default name: the version with '.' as '_', led by a letter/digit. */
static void
fw_default_name(const char *version, char *out, size_t size)
{
	char	 buf[OTA_ID_MAX + 2];
	size_t	 i, o = 0;

	if (!((version[0] >= 'A' && version[0] <= 'Z') ||
	    (version[0] >= 'a' && version[0] <= 'z') ||
	    (version[0] >= '0' && version[0] <= '9')))
		buf[o++] = 'v';
	for (i = 0; version[i] != '\0' && o < OTA_NAME_MAX; i++)
		buf[o++] = version[i] == '.' ? '_' : version[i];
	buf[o] = '\0';
	snprintf(out, size, "%s", buf);
}

struct fwcount {
	const struct firmware_rec *rec;
	size_t	 n;
	uint32_t max_seq;		/* of the product's module */
	char	 max_id[OTA_ID_MAX + 1];
};

static int
fwcount_cb(const struct firmware_rec *fw, void *arg)
{
	struct fwcount *c = arg;

	if (strcmp(fw->product, c->rec->product) != 0)
		return 0;
	c->n++;
	if (strcmp(fw->module, c->rec->module) == 0 && fw->seq > c->max_seq) {
		c->max_seq = fw->seq;
		snprintf(c->max_id, sizeof(c->max_id), "%s", fw->id);
	}
	return 0;
}

/*
 * The uniqueness, per-product limit and seq checks, inside txn; sets
 * rec->seq: seq_req, or one more than the module's highest when 0.
 */
static int
fw_check_room(struct ops *ops, struct store_txn *txn,
    struct firmware_rec *rec, uint32_t seq_req, struct ops_err *err)
{
	char	 id[OTA_ID_MAX + 1];
	struct fwcount c;
	int	 rc;

	rc = store_firmware_find(txn, rec->product, rec->module, rec->version,
	    id);
	if (rc == 0)
		return ops_fail(err, OPS_ECONFLICT, "product %s already has "
		    "version %s of module %s (%s)", rec->product, rec->version,
		    rec->module, id);
	if (rc != STORE_ENOTFOUND)
		return ops_fail_store(err, rc, "firmware add");
	memset(&c, 0, sizeof(c));
	c.rec = rec;
	if ((rc = store_firmware_iter(txn, fwcount_cb, &c)) != 0)
		return ops_fail_store(err, rc, "firmware add");
	if (c.n >= ops->fw_max_per_product)
		return ops_fail(err, OPS_ECONFLICT, "product %s already has "
		    "%zu images (firmware_max_per_product %u); remove one "
		    "first",
		    rec->product, c.n, ops->fw_max_per_product);
	if (seq_req != 0 && seq_req < c.max_seq)
		return ops_fail(err, OPS_ECONFLICT, "seq %lu is below seq %lu "
		    "of %s (product %s, module %s): a module's seq never "
		    "goes back", (unsigned long)seq_req,
		    (unsigned long)c.max_seq, c.max_id, rec->product,
		    rec->module);
	if (seq_req == 0 && c.max_seq == UINT32_MAX)
		return ops_fail(err, OPS_ECONFLICT, "module %s of product %s "
		    "is at the highest seq (%lu): give --seq", rec->module,
		    rec->product, (unsigned long)c.max_seq);
	rec->seq = seq_req != 0 ? seq_req : c.max_seq + 1;
	return ops_ok(err);
}

/*
 * The author signature against the product's author key, in txn: none
 * needed without a key, none allowed either; with one, it must verify
 * over the image's SHA-256.
 */
static int
fw_check_author(struct store_txn *txn, const struct firmware_rec *rec,
    int have_digest, struct ops_err *err)
{
	struct product_rec p;
	int	 rc;

	rc = store_product_get(txn, rec->product, &p);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return ops_fail_store(err, rc, rec->product);
	if (rc == STORE_ENOTFOUND || p.author_key_len == 0) {
		if (rec->author_sig_len > 0)
			return ops_fail(err, OPS_EINVAL, "product %s has no "
			    "author key to check the signature with (otactl "
			    "product author-key %s --set KEY.pem)",
			    rec->product, rec->product);
		return ops_ok(err);
	}
	if (rec->author_sig_len == 0)
		return ops_fail(err, OPS_EINVAL, "product %s has an author "
		    "key: its images need the author's signature "
		    "(--signature FILE, as openssl dgst -sha256 -sign KEY "
		    "-out FILE IMAGE writes it)", rec->product);
	/* before the image is in: only whether one is there */
	if (!have_digest)
		return ops_ok(err);
	rc = crypto_es256_verify_digest(p.author_key, p.author_key_len,
	    rec->sha256, rec->author_sig, rec->author_sig_len);
	if (rc == 1)
		return ops_ok(err);
	if (rc == 0)
		return ops_fail(err, OPS_EUNPROC, "the author signature does "
		    "not verify with product %s's author key: image refused",
		    rec->product);
	return ops_fail(err, OPS_EIO, "product %s: the author key cannot "
	    "be read", rec->product);
}

void
ops_firmware_upload_abort(struct ops_upload *up)
{
	if (up == NULL)
		return;
	store_image_discard(up->w);
	digest_free(up->dg);
	free(up);
}

/*
 * The record an upload will store, from the caller's parameters: checks
 * them and fills in the defaults (module "default", a name made from the
 * version, SHA256).  Sizes, digests and the id come later.
 */
static int
fw_rec_from_params(const struct ops_fw_params *p, struct firmware_rec *rec,
    struct ops_err *err)
{
	const char *s;

	if (p->product == NULL || !valid_product(p->product))
		return ops_fail(err, OPS_EINVAL, "invalid product (1-64 of "
		    "A-Z a-z 0-9 _ -)");
	if (p->version == NULL || !valid_version(p->version))
		return ops_fail(err, OPS_EINVAL, "invalid version (1-64 of "
		    "A-Z a-z 0-9 . _ -)");
	s = p->module != NULL && *p->module != '\0' ? p->module : "default";
	if (!valid_module(s))
		return ops_fail(err, OPS_EINVAL, "invalid module (1-64 of "
		    "A-Z a-z 0-9 . _ -)");
	snprintf(rec->product, sizeof(rec->product), "%s", p->product);
	snprintf(rec->version, sizeof(rec->version), "%s", p->version);
	snprintf(rec->module, sizeof(rec->module), "%s", s);
	if (p->name != NULL && *p->name != '\0') {
		if (!valid_fw_name(p->name) ||
		    str_copy(rec->name, sizeof(rec->name), p->name) == -1)
			return ops_fail(err, OPS_EINVAL, "invalid name: 1-32 "
			    "characters of CJK, letters, digits and _-(), "
			    "starting with CJK, a letter or a digit");
	} else
		fw_default_name(p->version, rec->name, sizeof(rec->name));
	s = p->description != NULL ? p->description : "";
	if (!valid_fw_description(s) ||
	    str_copy(rec->description, sizeof(rec->description), s) == -1)
		return ops_fail(err, OPS_EINVAL, "invalid description: at "
		    "most %d characters of UTF-8", OTA_DESC_MAX);
	s = p->sign_method;
	if (s == NULL || *s == '\0' || strcasecmp(s, "SHA256") == 0 ||
	    strcasecmp(s, "SHA-256") == 0)
		rec->sign_method = SIGN_SHA256;
	else if (strcasecmp(s, "MD5") == 0)
		rec->sign_method = SIGN_MD5;
	else
		return ops_fail(err, OPS_EINVAL, "sign method must be SHA256 "
		    "or MD5");
	rec->state = FW_UNVERIFIED;
	if (p->author_sig_len > OTA_SIG_MAX || (p->author_sig_len > 0 &&
	    p->author_sig == NULL))
		return ops_fail(err, OPS_EINVAL, "the author signature is "
		    "not a DER ECDSA P-256 signature (at most %d bytes)",
		    OTA_SIG_MAX);
	if (p->filename != NULL && *p->filename != '\0') {
		if (!valid_filename(p->filename))
			return ops_fail(err, OPS_EINVAL, "invalid file name "
			    "(1-128 of A-Z a-z 0-9 . _ -, not starting with "
			    "'.')");
		snprintf(rec->filename, sizeof(rec->filename), "%s",
		    p->filename);
	}
	rec->author_sig_len = p->author_sig_len;
	if (p->author_sig_len > 0)
		memcpy(rec->author_sig, p->author_sig, p->author_sig_len);
	return ops_ok(err);
}

/*
 * What would be refused at the end, before reading a byte: the
 * uniqueness, per-product limit and seq checks, and whether the product
 * wants an author signature.
 */
static int
fw_precheck(struct ops *ops, struct firmware_rec *rec, uint32_t seq_req,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "firmware add");
	rc = fw_check_room(ops, txn, rec, seq_req, err);
	if (rc == OPS_OK)
		rc = fw_check_author(txn, rec, 0, err);
	store_txn_abort(txn);
	return rc;
}

int
ops_firmware_upload_check(struct ops *ops, const struct ops_fw_params *p,
    struct ops_err *err)
{
	struct firmware_rec rec;
	int	 rc;

	memset(&rec, 0, sizeof(rec));
	if ((rc = fw_rec_from_params(p, &rec, err)) != OPS_OK)
		return rc;
	return fw_precheck(ops, &rec, p->seq, err);
}

int
ops_firmware_upload_begin(struct ops *ops, const struct ops_fw_params *p,
    int64_t expected_size, struct ops_upload **out, struct ops_err *err)
{
	struct ops_upload *up = NULL;
	int	 rc;

	*out = NULL;
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return ops_fail(err, OPS_EIO, "out of memory");
	up->ops = ops;
	up->seq_req = p->seq;
	if ((rc = fw_rec_from_params(p, &up->rec, err)) != OPS_OK)
		goto out;
	if (expected_size == 0) {
		rc = ops_fail(err, OPS_EINVAL, "the image is empty");
		goto out;
	}
	if (expected_size > 0 && (uint64_t)expected_size > ops->fw_max_size) {
		rc = ops_fail(err, OPS_ETOOLARGE, "the image is larger than "
		    "firmware_max_size (%llu bytes)",
		    (unsigned long long)ops->fw_max_size);
		goto out;
	}
	if ((rc = fw_precheck(ops, &up->rec, up->seq_req, err)) != OPS_OK)
		goto out;
	if ((up->dg = digest_new()) == NULL) {
		rc = ops_fail(err, OPS_EIO, "out of memory");
		goto out;
	}
	if ((rc = store_image_create(ops->st, &up->w)) != 0) {
		rc = ops_fail_store(err, rc, "firmware image");
		goto out;
	}
	*out = up;
	up = NULL;
	rc = ops_ok(err);
out:
	ops_firmware_upload_abort(up);
	return rc;
}

int
ops_firmware_upload_write(struct ops_upload *up, const void *buf, size_t len,
    struct ops_err *err)
{
	int	 rc;

	if (len > up->ops->fw_max_size ||
	    up->rec.size > up->ops->fw_max_size - len)
		return ops_fail(err, OPS_ETOOLARGE, "the image is larger than "
		    "firmware_max_size (%llu bytes)",
		    (unsigned long long)up->ops->fw_max_size);
	if (len == 0)
		return ops_ok(err);
	if ((rc = store_image_write(up->w, buf, len)) != 0)
		return ops_fail_store(err, rc, "firmware image");
	digest_update(up->dg, buf, len);
	up->rec.size += len;
	return ops_ok(err);
}

int
ops_firmware_upload_finish(struct ops_upload *up, struct firmware_rec *out,
    struct ops_err *err)
{
	struct ops *ops = up->ops;
	struct firmware_rec *rec = &up->rec;
	struct store_txn *txn = NULL;
	int	 rc, committed = 0;

	if (rec->size == 0) {
		rc = ops_fail(err, OPS_EINVAL, "the image is empty");
		goto out;
	}
	digest_final(up->dg, rec->md5, rec->sha256);
	digest_sha1(up->dg, rec->sha1);
	rec->has_sha1 = 1;
	rec->created = ops_now(ops);

	/* The id, in a short transaction of its own. */
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "firmware add");
		goto out;
	}
	if ((rc = fw_check_room(ops, txn, rec, up->seq_req, err)) != OPS_OK ||
	    (rc = fw_check_author(txn, rec, 1, err)) != OPS_OK)
		goto out;
	if ((rc = store_next_id(txn, "fw", rec->id)) != 0) {
		rc = ops_fail_store(err, rc, "firmware id");
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, "firmware id");
		goto out;
	}

	/* fsync and rename outside any transaction: writers go on. */
	rc = store_image_commit(up->w, rec->id);
	up->w = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, "firmware image");
		goto out;
	}
	committed = 1;

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "firmware add");
		goto out;
	}
	/* both again: the product's author key may have changed meanwhile */
	if ((rc = fw_check_room(ops, txn, rec, up->seq_req, err)) != OPS_OK ||
	    (rc = fw_check_author(txn, rec, 1, err)) != OPS_OK)
		goto out;
	if ((rc = store_firmware_put(txn, rec)) != 0) {
		rc = rc == STORE_EEXIST ? ops_fail(err, OPS_ECONFLICT,
		    "product %s already has version %s of module %s",
		    rec->product, rec->version, rec->module) :
		    ops_fail_store(err, rc, "firmware add");
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, "firmware add");
		goto out;
	}
	if (out != NULL)
		*out = *rec;
	log_info("firmware %s added: %s %s/%s, %llu bytes, seq %lu%s",
	    rec->id, rec->product, rec->module, rec->version,
	    (unsigned long long)rec->size, (unsigned long)rec->seq,
	    rec->author_sig_len > 0 ? ", author-signed" : "");
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	if (rc != OPS_OK && committed)
		store_image_remove(ops->st, rec->id);
	ops_firmware_upload_abort(up);
	return rc;
}

/* ops_read_fd's writer for an image. */
static int
fw_write(void *up, const void *buf, size_t len, struct ops_err *err)
{
	return ops_firmware_upload_write(up, buf, len, err);
}

int
ops_firmware_add_fd(struct ops *ops, const struct ops_fw_params *p, int fd,
    struct firmware_rec *out, struct ops_err *err)
{
	struct ops_upload *up = NULL;
	int	 rc;

	if ((rc = ops_firmware_upload_begin(ops, p, -1, &up, err)) != OPS_OK)
		return rc;
	if ((rc = ops_read_fd(fd, fw_write, up, "image", err)) != OPS_OK) {
		ops_firmware_upload_abort(up);
		return rc;
	}
	return ops_firmware_upload_finish(up, out, err);
}

int
ops_firmware_add_file(struct ops *ops, const struct ops_fw_params *p,
    const char *path, struct firmware_rec *out, struct ops_err *err)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ops_fail(err, errno == ENOENT ? OPS_ENOTFOUND :
		    OPS_EINVAL, "%s: %s", path, strerror(errno));
	rc = ops_firmware_add_fd(ops, p, fd, out, err);
	close(fd);
	return rc;
}

/*
 * The devices of a firmware by state.  A device may have rows in several
 * of the firmware's jobs (failed in one, retried in the next): it counts
 * once, in the state of its row in the newest job.  With one job that is
 * the job's counts; with more, the rows are collected with the rank of
 * their job (0: the newest), sorted by device and rank, and the first
 * row of each device is counted.
 */
struct fw_row {
	char	 device[OTA_ID_MAX + 1];
	uint32_t rank;
	int	 state;
};

struct fw_rows {
	struct ops_vec v;
	uint32_t rank;
};

static int
fw_row_cb(const struct jobdev_rec *jd, void *arg)
{
	struct fw_rows *fr = arg;
	struct fw_row *r;

	if ((r = ops_vec_push(&fr->v)) == NULL)
		return 1;
	memcpy(r->device, jd->device, sizeof(r->device));
	r->rank = fr->rank;
	r->state = jd->state;
	return 0;
}

static int
fw_row_cmp(const void *a, const void *b)
{
	const struct fw_row *x = a, *y = b;
	int	 c;

	if ((c = strcmp(x->device, y->device)) != 0)
		return c;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int
fw_counts(struct store_txn *txn, const struct ops_vec *jobs, const char *id,
    struct jobs_counts *c)
{
	struct fw_rows fr;
	struct fw_row *r, *prev = NULL;
	struct job_rec *job, *only = NULL;
	size_t	 i, njobs = 0;
	int	 rc = 0;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < jobs->n; i++) {
		job = ops_vec_at(jobs, i);
		if (strcmp(job->firmware, id) == 0) {
			only = job;
			njobs++;
		}
	}
	if (njobs == 0)
		return 0;
	if (njobs == 1)
		return ops_job_counts(txn, only->id, c);
	memset(&fr, 0, sizeof(fr));
	ops_vec_init(&fr.v, sizeof(struct fw_row));
	/* jobs come in id order, the order they were made: newest last */
	for (i = jobs->n; i-- > 0 && rc == 0;) {
		job = ops_vec_at(jobs, i);
		if (strcmp(job->firmware, id) != 0)
			continue;
		rc = store_jobdev_iter(txn, job->id, fw_row_cb, &fr);
		if (rc == STORE_ESTOP)
			rc = STORE_EIO;	/* out of memory */
		fr.rank++;
	}
	if (rc == 0 && fr.v.n > 1)
		qsort(fr.v.data, fr.v.n, fr.v.esize, fw_row_cmp);
	for (i = 0; rc == 0 && i < fr.v.n; i++) {
		r = ops_vec_at(&fr.v, i);
		if (prev == NULL || strcmp(prev->device, r->device) != 0)
			jobs_counts_add(c, r->state);
		prev = r;
	}
	ops_vec_free(&fr.v);
	return rc;
}

int
ops_firmware_show(struct ops *ops, const char *id, struct ops_fw_item *item,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct ops_vec jobs;
	int	 rc;

	ops_vec_init(&jobs, sizeof(struct job_rec));
	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid firmware id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "firmware show");
	rc = store_firmware_get(txn, id, &item->fw);
	if (rc == STORE_ENOTFOUND) {
		rc = ops_fail(err, OPS_ENOTFOUND, "no firmware %s", id);
		goto out;
	}
	if (rc != 0 || (rc = ops_all_jobs(txn, &jobs)) != 0 ||
	    (rc = fw_counts(txn, &jobs, id, &item->devices)) != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	ops_vec_free(&jobs);
	return rc;
}

static int
fw_page_cb(const struct firmware_rec *fw, void *arg)
{
	return ops_pager_cb(fw, arg);
}

int
ops_firmware_list(struct ops *ops, const struct ops_page *pg,
    struct ops_fw_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct ops_fw_item *it;
	struct ops_pager p;
	struct ops_vec jobs;
	size_t	 i;
	int	 rc;

	*items = NULL;
	*n = 0;
	if ((rc = ops_page_check(pg, "firmware", err)) != OPS_OK)
		return rc;
	ops_pager_init(&p, pg, sizeof(struct ops_fw_item),
	    sizeof(struct firmware_rec), offsetof(struct firmware_rec, id));
	ops_vec_init(&jobs, sizeof(struct job_rec));
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "firmware list");
	rc = store_firmware_iter_after(txn, pg != NULL ? pg->after : NULL,
	    fw_page_cb, &p);
	if (rc == STORE_ESTOP)
		rc = p.nomem ? STORE_EIO : 0;
	if (rc == 0)
		rc = ops_all_jobs(txn, &jobs);
	for (i = 0; rc == 0 && i < p.v.n; i++) {
		it = ops_vec_at(&p.v, i);
		rc = fw_counts(txn, &jobs, it->fw.id, &it->devices);
	}
	store_txn_abort(txn);
	ops_vec_free(&jobs);
	if (rc != 0) {
		ops_vec_free(&p.v);
		return ops_fail_store(err, rc, "firmware list");
	}
	ops_pager_next(&p, next);
	*items = (struct ops_fw_item *)p.v.data;
	*n = p.v.n;
	return ops_ok(err);
}

int
ops_firmware_edit(struct ops *ops, const char *id, const char *name,
    const char *description, struct firmware_rec *out, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct firmware_rec fw;
	int	 rc;

	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid firmware id");
	if (name != NULL && !valid_fw_name(name))
		return ops_fail(err, OPS_EINVAL, "invalid name: 1-32 "
		    "characters of CJK, letters, digits and _-(), starting "
		    "with CJK, a letter or a digit");
	if (description != NULL && !valid_fw_description(description))
		return ops_fail(err, OPS_EINVAL, "invalid description: at most "
		    "%d characters of UTF-8", OTA_DESC_MAX);
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "firmware edit");
	rc = store_firmware_get(txn, id, &fw);
	if (rc == STORE_ENOTFOUND) {
		rc = ops_fail(err, OPS_ENOTFOUND, "no firmware %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	if ((name != NULL && str_copy(fw.name, sizeof(fw.name), name) == -1) ||
	    (description != NULL && str_copy(fw.description,
	    sizeof(fw.description), description) == -1)) {
		rc = ops_fail(err, OPS_EINVAL, "name or description too long");
		goto out;
	}
	if ((rc = store_firmware_put(txn, &fw)) != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	if (out != NULL)
		*out = fw;
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	return rc;
}

struct fwuse {
	const char *id;
	char	 job[OTA_ID_MAX + 1];
};

static int
fwuse_cb(const struct job_rec *job, void *arg)
{
	struct fwuse *u = arg;

	if (strcmp(job->firmware, u->id) != 0 || !jobs_job_is_open(job))
		return 0;
	snprintf(u->job, sizeof(u->job), "%s", job->id);
	return 1;
}

int
ops_firmware_rm(struct ops *ops, const char *id, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct firmware_rec fw;
	struct fwuse use;
	unsigned npatch;
	int	 rc;

	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid firmware id");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "firmware rm");
	rc = store_firmware_get(txn, id, &fw);
	if (rc == STORE_ENOTFOUND) {
		rc = ops_fail(err, OPS_ENOTFOUND, "no firmware %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	if ((rc = ops_delta_uses(txn, id, use.job, &npatch)) != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	if (npatch == 1)
		rc = ops_fail(err, OPS_ECONFLICT, "firmware %s has patch %s; "
		    "remove it first", id, use.job);
	else if (npatch > 1)
		rc = ops_fail(err, OPS_ECONFLICT, "firmware %s has %u "
		    "patches (%s first; otactl patch list --firmware %s); "
		    "remove them first", id, npatch, use.job, id);
	if (npatch > 0)
		goto out;
	memset(&use, 0, sizeof(use));
	use.id = id;
	rc = store_job_iter(txn, fwuse_cb, &use);
	if (rc == STORE_ESTOP) {
		rc = ops_fail(err, OPS_ECONFLICT, "firmware %s is used by open "
		    "job %s; terminate it first", id, use.job);
		goto out;
	}
	if (rc != 0 || (rc = store_firmware_del(txn, id)) != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	/* The record is gone, so nobody is offered the image any more. */
	rc = store_image_remove(ops->st, id);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		log_warnx("firmware %s: image not removed: %s", id,
		    store_strerror(rc));
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	return rc;
}
