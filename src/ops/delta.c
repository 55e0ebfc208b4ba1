/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * delta.c: patches (delta packages) uploaded by the operator (ops.h,
 * docs/delta.md).  A patch goes from one firmware to another of the same
 * product and module; its upload streams like an image's (a temporary
 * file, MD5 and SHA-256 on the way), and its record is stored with the
 * checks made again in the transaction that stores it.  A patch in the
 * format otagw knows (bsdiff4: BSDIFF40, src/delta) is applied to its
 * source image before it is stored, whoever made it, and stored only
 * when it makes the target image exactly; ops_delta_make makes one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "delta/delta.h"
#include "log.h"
#include "store/image.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

struct ops_delta_upload {
	struct ops *ops;
	struct delta_rec rec;
	struct store_image_writer *w;
	struct digest *dg;
};

#define DELTA_FORMAT	"bsdiff4"	/* what src/delta makes and checks */

static int
valid_format(const char *s)
{
	return s != NULL && strlen(s) <= OTA_FORMAT_MAX && valid_module(s);
}

/*
 * The source and target firmware of p into rec, checked against each
 * other, against what p declares of the result and against the patches
 * stored, in txn.
 */
static int
delta_check(struct store_txn *txn, const struct ops_delta_params *p,
    struct delta_rec *rec, struct ops_err *err)
{
	struct firmware_rec from, to;
	struct delta_rec old;
	char	 toid[OTA_ID_MAX + 1];
	uint8_t	 sha[32];
	size_t	 n;
	int	 rc;

	if (p->from == NULL || !valid_id(p->from) ||
	    (p->to != NULL && !valid_id(p->to)) ||
	    (p->to == NULL && (p->to_version == NULL ||
	    !valid_version(p->to_version))))
		return ops_fail(err, OPS_EINVAL, "invalid firmware id or "
		    "version");
	if (!valid_format(p->format))
		return ops_fail(err, OPS_EINVAL, "invalid patch format (1-32 "
		    "of A-Z a-z 0-9 . _ -, such as bsdiff4)");
	if ((rc = store_firmware_get(txn, p->from, &from)) == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no firmware %s", p->from);
	if (rc == 0 && p->to == NULL) {
		rc = store_firmware_find(txn, from.product, from.module,
		    p->to_version, toid);
		if (rc == STORE_ENOTFOUND)
			return ops_fail(err, OPS_ENOTFOUND, "product %s has no "
			    "version %s of module %s", from.product,
			    p->to_version, from.module);
	} else if (rc == 0)
		snprintf(toid, sizeof(toid), "%s", p->to);
	if (rc == 0 && (rc = store_firmware_get(txn, toid, &to)) ==
	    STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no firmware %s", toid);
	if (rc != 0)
		return ops_fail_store(err, rc, "patch add");
	if (strcmp(from.id, to.id) == 0)
		return ops_fail(err, OPS_EUNPROC, "a patch goes from one "
		    "firmware to another: %s is both ends", from.id);
	if (strcmp(from.version, to.version) == 0)
		return ops_fail(err, OPS_EUNPROC, "%s and %s have the same "
		    "version %s: a patch needs two versions", from.id, to.id,
		    to.version);
	if (strcmp(from.product, to.product) != 0 ||
	    strcmp(from.module, to.module) != 0)
		return ops_fail(err, OPS_EUNPROC, "%s and %s are not of the "
		    "same product and module", from.id, to.id);
	if (p->to_sha256 != NULL && *p->to_sha256 != '\0' &&
	    (hex_decode(p->to_sha256, sha, sizeof(sha), &n) != 0 ||
	    n != sizeof(sha)))
		return ops_fail(err, OPS_EINVAL, "the result's SHA-256: 64 "
		    "hex digits");
	if (p->to_sha256 != NULL && *p->to_sha256 != '\0' &&
	    memcmp(sha, to.sha256, sizeof(sha)) != 0)
		return ops_fail(err, OPS_EUNPROC, "the patch's result is "
		    "declared with another SHA-256 than %s's image", to.id);
	if (p->to_size >= 0 && (uint64_t)p->to_size != to.size)
		return ops_fail(err, OPS_EUNPROC, "the patch's result is "
		    "declared %lld bytes, %s's image has %llu",
		    (long long)p->to_size, to.id,
		    (unsigned long long)to.size);
	rc = store_delta_find(txn, to.id, from.version, &old);
	if (rc == 0)
		return ops_fail(err, OPS_ECONFLICT, "patch %s already goes "
		    "from %s to %s", old.id, from.version, to.version);
	if (rc != STORE_ENOTFOUND)
		return ops_fail_store(err, rc, "patch add");
	snprintf(rec->product, sizeof(rec->product), "%s", to.product);
	snprintf(rec->module, sizeof(rec->module), "%s", to.module);
	memcpy(rec->from, from.id, sizeof(rec->from));
	memcpy(rec->from_version, from.version, sizeof(rec->from_version));
	memcpy(rec->to, to.id, sizeof(rec->to));
	memcpy(rec->to_version, to.version, sizeof(rec->to_version));
	snprintf(rec->format, sizeof(rec->format), "%s", p->format);
	memcpy(rec->to_sha256, to.sha256, sizeof(rec->to_sha256));
	rec->to_size = to.size;
	return ops_ok(err);
}

void
ops_delta_upload_abort(struct ops_delta_upload *up)
{
	if (up == NULL)
		return;
	store_image_discard(up->w);
	digest_free(up->dg);
	free(up);
}

int
ops_delta_upload_begin(struct ops *ops, const struct ops_delta_params *p,
    int64_t expected_size, struct ops_delta_upload **out,
    struct ops_err *err)
{
	struct ops_delta_upload *up;
	struct store_txn *txn = NULL;
	int	 rc;

	*out = NULL;
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return ops_fail(err, OPS_EIO, "out of memory");
	up->ops = ops;
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "patch add");
		goto fail;
	}
	rc = delta_check(txn, p, &up->rec, err);
	store_txn_abort(txn);
	if (rc != OPS_OK)
		goto fail;
	if (expected_size == 0) {
		rc = ops_fail(err, OPS_EINVAL, "the patch is empty");
		goto fail;
	}
	if (expected_size > 0 && (uint64_t)expected_size >= up->rec.to_size) {
		rc = ops_fail(err, OPS_EUNPROC, "the patch (%lld bytes) is "
		    "not smaller than the image it makes (%llu)",
		    (long long)expected_size,
		    (unsigned long long)up->rec.to_size);
		goto fail;
	}
	if ((up->dg = digest_new()) == NULL) {
		rc = ops_fail(err, OPS_EIO, "out of memory");
		goto fail;
	}
	if ((rc = store_image_create(ops->st, &up->w)) != 0) {
		rc = ops_fail_store(err, rc, "patch");
		goto fail;
	}
	*out = up;
	return ops_ok(err);
fail:
	ops_delta_upload_abort(up);
	return rc;
}

int
ops_delta_upload_write(struct ops_delta_upload *up, const void *buf,
    size_t len, struct ops_err *err)
{
	int	 rc;

	if (len >= up->rec.to_size || up->rec.size >= up->rec.to_size - len)
		return ops_fail(err, OPS_EUNPROC, "the patch is not smaller "
		    "than the image it makes (%llu bytes)",
		    (unsigned long long)up->rec.to_size);
	if (len == 0)
		return ops_ok(err);
	if ((rc = store_image_write(up->w, buf, len)) != 0)
		return ops_fail_store(err, rc, "patch");
	digest_update(up->dg, buf, len);
	up->rec.size += len;
	return ops_ok(err);
}

/*
 * A patch (the bytes at patch, len) in the BSDIFF40 format, applied to
 * its source image: OPS_OK when it makes the target's image.  cancel may
 * be NULL.
 */
static int
delta_check_data(struct ops *ops, const struct delta_rec *rec,
    const void *patch, size_t len, const atomic_int *cancel,
    struct ops_err *err)
{
	const struct store_image *old = NULL;
	struct delta_opts o;
	struct delta_err de;
	int	 rc;

	if ((rc = store_image_open(ops->st, rec->from, &old)) != 0)
		return ops_fail_store(err, rc, "patch check");
	memset(&o, 0, sizeof(o));
	o.cancel = cancel;
	if (delta_verify(old->data, (size_t)old->size, patch, len,
	    rec->to_size, rec->to_sha256, &o, &de) != 0)
		rc = de.code == DELTA_ECANCELED ? ops_fail(err, OPS_EIO,
		    "the patch check was stopped: otagw is stopping") :
		    ops_fail(err, OPS_EUNPROC, "the patch does not make %s's "
		    "image from %s's: %s", rec->to, rec->from, de.msg);
	else
		rc = ops_ok(err);
	store_image_unref(old);
	return rc;
}

/* Stores rec once its file is in place; the file goes on failure. */
static int
delta_store(struct ops *ops, const struct ops_delta_params *p,
    struct delta_rec *rec, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct delta_rec again;
	int	 rc;

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "patch add");
		goto out;
	}
	/* the firmware may have changed while the bytes came */
	memset(&again, 0, sizeof(again));
	if ((rc = delta_check(txn, p, &again, err)) != OPS_OK)
		goto out;
	if ((rc = store_delta_put(txn, rec)) != 0) {
		rc = ops_fail_store(err, rc, "patch add");
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		rc = ops_fail_store(err, rc, "patch add");
out:
	store_txn_abort(txn);
	if (rc != OPS_OK)
		store_image_remove(ops->st, rec->id);
	return rc;
}

void
ops_delta_upload_adopt(struct ops_delta_upload *up, struct ops *ops)
{
	up->ops = ops;
}

/* The bytes received, checked by applying them, before they get an id. */
static int
delta_upload_check(struct ops_delta_upload *up, const atomic_int *cancel,
    struct ops_err *err)
{
	const void *data;
	size_t	 len;
	int	 rc;

	if (strcmp(up->rec.format, DELTA_FORMAT) != 0)
		return ops_ok(err);	/* not a format otagw reads */
	if ((rc = store_image_writer_map(up->w, &data, &len)) != 0)
		return ops_fail_store(err, rc, "patch check");
	return delta_check_data(up->ops, &up->rec, data, len, cancel, err);
}

int
ops_delta_upload_finish(struct ops_delta_upload *up,
    const struct ops_delta_params *p, const atomic_int *cancel,
    struct delta_rec *out, struct ops_err *err)
{
	struct ops *ops = up->ops;
	struct delta_rec *rec = &up->rec;
	struct store_txn *txn = NULL;
	uint8_t	 md5[16];
	int	 rc;

	if (rec->size == 0) {
		rc = ops_fail(err, OPS_EINVAL, "the patch is empty");
		goto out;
	}
	digest_final(up->dg, md5, rec->sha256);
	memcpy(rec->md5, md5, sizeof(rec->md5));
	rec->created = ops_now(ops);
	/* a patch that does not apply is refused before it takes an id */
	if ((rc = delta_upload_check(up, cancel, err)) != OPS_OK)
		goto out;
	/* the id, in a short transaction of its own */
	if ((rc = store_txn_begin(ops->st, 0, &txn)) == 0 &&
	    (rc = store_next_id(txn, "dp", rec->id)) == 0) {
		rc = store_txn_commit(txn);
		txn = NULL;
	}
	if (rc != 0) {
		rc = ops_fail_store(err, rc, "patch id");
		goto out;
	}
	rc = store_image_commit(up->w, rec->id);
	up->w = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, "patch");
		goto out;
	}
	if ((rc = delta_store(ops, p, rec, err)) != OPS_OK)
		goto out;
	if (out != NULL)
		*out = *rec;
	log_info("patch %s added: %s %s/%s -> %s (%s), %llu bytes", rec->id,
	    rec->product, rec->module, rec->from_version, rec->to_version,
	    rec->format, (unsigned long long)rec->size);
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	ops_delta_upload_abort(up);
	return rc;
}

/* ops_read_fd's writer for a patch. */
static int
delta_write(void *up, const void *buf, size_t len, struct ops_err *err)
{
	return ops_delta_upload_write(up, buf, len, err);
}

int
ops_delta_add_fd(struct ops *ops, const struct ops_delta_params *p, int fd,
    struct delta_rec *out, struct ops_err *err)
{
	struct ops_delta_upload *up = NULL;
	int	 rc;

	if ((rc = ops_delta_upload_begin(ops, p, -1, &up, err)) != OPS_OK)
		return rc;
	if ((rc = ops_read_fd(fd, delta_write, up, "patch", err)) != OPS_OK) {
		ops_delta_upload_abort(up);
		return rc;
	}
	return ops_delta_upload_finish(up, p, NULL, out, err);
}

struct delta_list {
	struct delta_rec *items;
	size_t	 n, cap;
	const char *firmware;	/* only patches from or to it; or NULL */
	int	 oom;
};

static int
delta_list_cb(const struct delta_rec *d, void *arg)
{
	struct delta_list *l = arg;
	struct delta_rec *p;

	if (l->firmware != NULL && strcmp(d->from, l->firmware) != 0 &&
	    strcmp(d->to, l->firmware) != 0)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((p = reallocarray(l->items, l->cap, sizeof(*p))) == NULL) {
			l->oom = 1;
			return 1;
		}
		l->items = p;
	}
	l->items[l->n++] = *d;
	return 0;
}

int
ops_delta_list(struct ops *ops, const char *firmware,
    struct delta_rec **items, size_t *n, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct delta_list l;
	int	 rc;

	*items = NULL;
	*n = 0;
	if (firmware != NULL && !valid_id(firmware))
		return ops_fail(err, OPS_EINVAL, "invalid firmware id");
	memset(&l, 0, sizeof(l));
	l.firmware = firmware;
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "patch list");
	rc = store_delta_iter(txn, delta_list_cb, &l);
	store_txn_abort(txn);
	if (rc == 0 && l.oom)
		rc = STORE_EIO;
	if (rc != 0) {
		free(l.items);
		return ops_fail_store(err, rc, "patch list");
	}
	*items = l.items;
	*n = l.n;
	return ops_ok(err);
}

int
ops_delta_show(struct ops *ops, const char *id, struct delta_rec *out,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid patch id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "patch show");
	rc = store_delta_get(txn, id, out);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no patch %s", id);
	if (rc != 0)
		return ops_fail_store(err, rc, id);
	return ops_ok(err);
}

int
ops_delta_rm(struct ops *ops, const char *id, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid patch id");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "patch rm");
	rc = store_delta_del(txn, id);
	if (rc == 0) {
		rc = store_txn_commit(txn);
		txn = NULL;
	}
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no patch %s", id);
	if (rc != 0)
		return ops_fail_store(err, rc, id);
	store_image_remove(ops->st, id);
	log_info("patch %s removed", id);
	return ops_ok(err);
}

struct delta_use {
	const char *fw;
	char	 id[OTA_ID_MAX + 1];
	unsigned n;
};

static int
delta_use_cb(const struct delta_rec *d, void *arg)
{
	struct delta_use *u = arg;

	if (strcmp(d->from, u->fw) != 0 && strcmp(d->to, u->fw) != 0)
		return 0;
	if (u->n++ == 0)
		memcpy(u->id, d->id, sizeof(u->id));
	return 0;
}

int
ops_delta_uses(struct store_txn *txn, const char *fwid,
    char id[OTA_ID_MAX + 1], unsigned *n)
{
	struct delta_use u;
	int	 rc;

	u.fw = fwid;
	u.id[0] = '\0';
	u.n = 0;
	if ((rc = store_delta_iter(txn, delta_use_cb, &u)) != 0)
		return rc;
	memcpy(id, u.id, sizeof(u.id));
	*n = u.n;
	return 0;
}

/*
 * A patch made here: the upload path, fed by src/delta's maker.
 */

struct make_sink {
	struct ops_delta_upload *up;
	struct ops_err *err;
	int	 failed;
};

static int
make_write(void *arg, const void *buf, size_t n)
{
	struct make_sink *s = arg;

	if (ops_delta_upload_write(s->up, buf, n, s->err) == OPS_OK)
		return 0;
	s->failed = 1;
	errno = EFBIG;
	return -1;
}

/* The images of both ends, mapped; 0 or an ops status (err set). */
static int
make_maps(struct ops *ops, const struct delta_rec *rec,
    const struct store_image **old, const struct store_image **new,
    struct ops_err *err)
{
	int	 rc;

	*old = *new = NULL;
	if ((rc = store_image_open(ops->st, rec->from, old)) != 0 ||
	    (rc = store_image_open(ops->st, rec->to, new)) != 0) {
		store_image_unref(*old);
		*old = NULL;
		return ops_fail_store(err, rc, "firmware image");
	}
	return OPS_OK;
}

int
ops_delta_make(struct ops *ops, const struct ops_delta_make *m,
    struct delta_rec *out, struct ops_err *err)
{
	const struct store_image *old = NULL, *new = NULL;
	struct ops_delta_params p;
	struct ops_delta_upload *up = NULL;
	struct make_sink sink;
	struct delta_out dout;
	struct delta_opts o;
	struct delta_err de;
	int	 rc;

	memset(&p, 0, sizeof(p));
	p.from = m->from;
	p.to = m->to;
	p.to_version = m->to_version;
	p.format = DELTA_FORMAT;
	p.to_size = -1;
	if (m->block < 0 || m->block > 9)
		return ops_fail(err, OPS_EINVAL, "block: 1 to 9 (x 100 kB)");
	if ((rc = ops_delta_upload_begin(ops, &p, -1, &up, err)) != OPS_OK)
		return rc;
	if ((rc = make_maps(ops, &up->rec, &old, &new, err)) != OPS_OK)
		goto out;
	memset(&sink, 0, sizeof(sink));
	sink.up = up;
	sink.err = err;
	memset(&dout, 0, sizeof(dout));
	dout.fd = -1;
	dout.write = make_write;
	dout.arg = &sink;
	memset(&o, 0, sizeof(o));
	o.block = m->block;
	o.progress = m->progress;
	o.progress_arg = m->progress_arg;
	o.cancel = m->cancel;
	log_info("patch from %s to %s: making it", up->rec.from, up->rec.to);
	if (delta_make(old->data, (size_t)old->size, new->data,
	    (size_t)new->size, &dout, &o, NULL, &de) != 0) {
		if (sink.failed)
			rc = err->status;	/* said by the upload */
		else
			rc = ops_fail(err, de.code == DELTA_ETOOBIG ?
			    OPS_ETOOLARGE : OPS_EIO, "making the patch: %s",
			    de.msg);
		goto out;
	}
	rc = ops_delta_upload_finish(up, &p, m->cancel, out, err);
	up = NULL;
out:
	store_image_unref(old);
	store_image_unref(new);
	ops_delta_upload_abort(up);
	return rc;
}
