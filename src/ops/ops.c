/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ops.c: what every operator operation shares: the status codes and their
 * HTTP mapping, the error helpers, the clock, a growable array, ops_init;
 * and the two small calls that belong to no one concern (parsing
 * "[MODULE=]VER", the relay's outbox figures).
 *
 * The operations themselves live beside this file, one concern each:
 * device.c (provisioning, listing and removing devices), csv.c (the CSV
 * import of devices), firmware.c (images and their records) and job.c
 * (jobs and their rows).  They share what is in ops_int.h; otactl and the
 * admin API see only ops.h.
 *
 * Every operation validates its input first, then does all its reads and
 * writes in one store transaction, together with one upstream event per
 * state a job row enters (CONTRACT §5), and commits once: a refused or
 * failed call changes nothing.  Job create and terminate, which may touch
 * a million rows, are the exceptions: bounded transactions (job.c).
 * Results go back in structs and failures as enum ops_status with a
 * message, so that otactl prints them and the admin API turns them into
 * JSON errors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto/crypto.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

/*
 * Status codes and errors.
 */

int
ops_status_http(int status)
{
	switch (status) {
	case OPS_OK:
		return 200;
	case OPS_EINVAL:
		return 400;
	case OPS_EUNPROC:
		return 422;
	case OPS_ENOTFOUND:
		return 404;
	case OPS_ECONFLICT:
		return 409;
	case OPS_ETOOLARGE:
		return 413;
	case OPS_EFULL:
		return 507;
	default:
		return 500;
	}
}

const char *
ops_status_name(int status)
{
	switch (status) {
	case OPS_OK:
		return "ok";
	case OPS_EINVAL:
		return "bad_request";
	case OPS_EUNPROC:
		return "unprocessable";
	case OPS_ENOTFOUND:
		return "not_found";
	case OPS_ECONFLICT:
		return "conflict";
	case OPS_ETOOLARGE:
		return "too_large";
	case OPS_EFULL:
		return "insufficient_storage";
	default:
		return "internal";
	}
}

int
ops_fail(struct ops_err *err, int status, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL) {
		err->status = status;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return status;
}

int
ops_ok(struct ops_err *err)
{
	if (err != NULL) {
		err->status = OPS_OK;
		err->msg[0] = '\0';
	}
	return OPS_OK;
}

/* Maps a store code to an ops status, with `what' as the message. */
int
ops_fail_store(struct ops_err *err, int code, const char *what)
{
	switch (code) {
	case STORE_ENOTFOUND:
		return ops_fail(err, OPS_ENOTFOUND, "%s: not found", what);
	case STORE_EEXIST:
		return ops_fail(err, OPS_ECONFLICT, "%s: already exists", what);
	case STORE_EFULL:
		return ops_fail(err, OPS_EFULL, "%s: %s; nothing was changed",
		    what, store_strerror(code));
	default:
		return ops_fail(err, OPS_EIO, "%s: %s", what,
		    store_strerror(code));
	}
}

int64_t
ops_now(const struct ops *ops)
{
	return ops->now != NULL ? ops->now() : time_now_ms();
}

void
ops_init(struct ops *ops, struct store *st, const struct config *cfg)
{
	memset(ops, 0, sizeof(*ops));
	ops->st = st;
	ops->fw_max_size = OPS_FW_MAX_SIZE_DEFAULT;
	ops->fw_max_per_product = OPS_FW_MAX_PER_PRODUCT_DEFAULT;
	if (cfg != NULL) {
		if (cfg->firmware_max_size > 0)
			ops->fw_max_size = cfg->firmware_max_size;
		if (cfg->firmware_max_per_product > 0)
			ops->fw_max_per_product = cfg->firmware_max_per_product;
	}
}

/*
 * A growable array of fixed-size elements.
 */

void
ops_vec_init(struct ops_vec *v, size_t esize)
{
	memset(v, 0, sizeof(*v));
	v->esize = esize;
}

/* A new zeroed element at the end, or NULL when out of memory. */
void *
ops_vec_push(struct ops_vec *v)
{
	size_t	 ncap;
	char	*p;

	if (v->n == v->cap) {
		ncap = v->cap ? v->cap * 2 : 16;
		if (ncap < v->cap || ncap > SIZE_MAX / v->esize)
			return NULL;
		if ((p = realloc(v->data, ncap * v->esize)) == NULL)
			return NULL;
		v->data = p;
		v->cap = ncap;
	}
	p = v->data + v->n * v->esize;
	memset(p, 0, v->esize);
	v->n++;
	return p;
}

void *
ops_vec_at(const struct ops_vec *v, size_t i)
{
	return v->data + i * v->esize;
}

void
ops_vec_free(struct ops_vec *v)
{
	free(v->data);
	v->data = NULL;
	v->n = v->cap = 0;
}

/*
 * Small helpers.
 */

int
ops_parse_module_version(const char *arg, struct module_version *out)
{
	const char *eq;
	size_t	 mlen;

	memset(out, 0, sizeof(*out));
	if (arg == NULL)
		return -1;
	if ((eq = strchr(arg, '=')) == NULL) {
		snprintf(out->module, sizeof(out->module), "default");
		if (str_copy(out->version, sizeof(out->version), arg) == -1)
			return -1;
	} else {
		mlen = (size_t)(eq - arg);
		if (mlen == 0 || mlen >= sizeof(out->module))
			return -1;
		memcpy(out->module, arg, mlen);
		out->module[mlen] = '\0';
		if (str_copy(out->version, sizeof(out->version), eq + 1) == -1)
			return -1;
	}
	if (!valid_module(out->module) || !valid_version(out->version))
		return -1;
	return 0;
}

/*
 * Relay.
 */

int
ops_relay_status(struct ops *ops, struct outbox_stats *stats,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "relay status");
	rc = store_outbox_stats(txn, stats);
	store_txn_abort(txn);
	if (rc != 0)
		return ops_fail_store(err, rc, "relay status");
	return ops_ok(err);
}

/*
 * Download URL keys.
 */

int
ops_url_key_rotate(struct ops *ops, int drop_previous, int64_t *rotated,
    int *previous, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct url_keys k;
	int64_t	 now = time_now_ms();
	int	 rc;

	memset(&k, 0, sizeof(k));
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "url key");
	rc = store_url_keys_get(txn, &k);
	if (rc == STORE_ENOTFOUND) {
		memset(&k, 0, sizeof(k));	/* otagw never ran here */
		drop_previous = 1;
	} else if (rc != 0)
		goto fail;
	memcpy(k.prev, k.cur, sizeof(k.prev));
	k.has_prev = !drop_previous;
	k.rotated = now;
	if (crypto_random(k.cur, sizeof(k.cur)) == -1) {
		rc = STORE_EIO;
		goto fail;
	}
	rc = store_url_keys_put(txn, &k);
	explicit_bzero(&k, sizeof(k));
	if (rc != 0)
		goto fail;
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	*rotated = now;
	*previous = !drop_previous;
	return ops_ok(err);
fail:
	explicit_bzero(&k, sizeof(k));
	store_txn_abort(txn);
	return ops_fail_store(err, rc, "url key");
}

/*
 * Paged lists.
 */

int
ops_page_check(const struct ops_page *pg, const char *what,
    struct ops_err *err)
{
	if (pg != NULL && pg->after != NULL && *pg->after != '\0' &&
	    !valid_id(pg->after))
		return ops_fail(err, OPS_EINVAL, "invalid %s id in after",
		    what);
	return ops_ok(err);
}

void
ops_pager_init(struct ops_pager *p, const struct ops_page *pg, size_t esize,
    size_t rsize, size_t idoff)
{
	memset(p, 0, sizeof(*p));
	ops_vec_init(&p->v, esize);
	p->limit = pg != NULL ? pg->limit : 0;
	p->rsize = rsize;
	p->idoff = idoff;
}

/* 0 to go on, 1 to stop: the page is full, or out of memory. */
int
ops_pager_cb(const void *rec, struct ops_pager *p)
{
	void	*e;

	if (p->limit > 0 && p->v.n == p->limit) {
		p->more = 1;
		return 1;
	}
	if ((e = ops_vec_push(&p->v)) == NULL) {
		p->nomem = 1;
		return 1;
	}
	memcpy(e, rec, p->rsize);
	return 0;
}

void
ops_pager_next(const struct ops_pager *p, char next[OTA_ID_MAX + 1])
{
	const char *last;

	if (next == NULL)
		return;
	if (!p->more || p->v.n == 0) {
		next[0] = '\0';
		return;
	}
	last = (const char *)ops_vec_at(&p->v, p->v.n - 1) + p->idoff;
	snprintf(next, OTA_ID_MAX + 1, "%s", last);
}

int
ops_read_fd(int fd, int (*sink)(void *, const void *, size_t,
    struct ops_err *), void *arg, const char *what, struct ops_err *err)
{
	char	*buf;
	ssize_t	 n;
	int	 rc = OPS_OK;

	if ((buf = malloc(OPS_READ_CHUNK)) == NULL)
		return ops_fail(err, OPS_EIO, "out of memory");
	for (;;) {
		n = read(fd, buf, OPS_READ_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = ops_fail(err, OPS_EIO, "reading the %s: %s", what,
			    strerror(errno));
			break;
		}
		if (n == 0 || (rc = sink(arg, buf, (size_t)n, err)) != OPS_OK)
			break;
	}
	free(buf);
	return rc;
}
