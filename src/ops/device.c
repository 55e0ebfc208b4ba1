/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * device.c: the operator's device operations: provision or update (put),
 * show, list in pages, remove; a device's upgrade history, and the
 * version distribution of a product's devices.
 *
 * A device's secret is stored only as a salted hash, and the copies of a
 * secret or PSK made here are wiped once done with.  A newly provisioned
 * device joins the open dynamic jobs it matches in the transaction that
 * creates it, so it does not miss a rollout that is already running.
 * Removing a device is refused while one of its rows is UPGRADING;
 * otherwise its open rows are canceled (with their events, and their
 * jobs settled again), its closed rows stay in their jobs, and its
 * upgrade history goes with it (store_device_del).
 *
 * ops_devparams_check and ops_device_apply are shared with csv.c, whose
 * import is the same provisioning, once per line, in one transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

static int
dyn_collect_cb(const struct job_rec *job, void *arg)
{
	struct job_rec *p;

	if (!job->dynamic || !jobs_job_is_open(job))
		return 0;
	if ((p = ops_vec_push(arg)) == NULL)
		return 1;
	*p = *job;
	return 0;
}

static int
dyn_load(struct store_txn *txn, struct ops_dynjobs *dj)
{
	int	 rc;

	if (dj->loaded)
		return 0;
	ops_vec_init(&dj->jobs, sizeof(struct job_rec));
	rc = store_job_iter(txn, dyn_collect_cb, &dj->jobs);
	if (rc == STORE_ESTOP)
		rc = STORE_EIO;
	if (rc == 0)
		dj->loaded = 1;
	return rc;
}

/* A newly provisioned device joins the open dynamic jobs it matches. */
static int
dyn_join(struct store_txn *txn, struct ops_dynjobs *dj,
    const struct device_rec *dev, int64_t now)
{
	struct job_rec *job;
	size_t	 i;
	int	 rc;

	if ((rc = dyn_load(txn, dj)) != 0)
		return rc;
	for (i = 0; i < dj->jobs.n; i++) {
		job = ops_vec_at(&dj->jobs, i);
		if (!jobs_device_matches(job, dev))
			continue;
		if ((rc = ops_row_add(txn, job, dev->id, now)) != 0)
			return rc;
	}
	return 0;
}

void
ops_devparams_wipe(struct ops_devparams *dp)
{
	crypto_wipe(dp->psk, sizeof(dp->psk));
}

int
ops_devparams_check(const struct ops_device_params *p, struct ops_devparams *dp,
    struct ops_err *err)
{
	struct module_version mv;
	size_t	 i, slen;
	unsigned j;

	memset(dp, 0, sizeof(*dp));
	if (p->id == NULL || !valid_device_id(p->id))
		return ops_fail(err, OPS_EINVAL, "invalid device id (1-64 of "
		    "A-Z a-z 0-9 _ . : @ -)");
	if (p->product != NULL && !valid_product(p->product))
		return ops_fail(err, OPS_EINVAL, "invalid product (1-64 of "
		    "A-Z a-z 0-9 _ -)");
	dp->id = p->id;
	dp->product = p->product;
	if (p->secret != NULL) {
		slen = strlen(p->secret);
		if (slen > OPS_SECRET_MAX)
			return ops_fail(err, OPS_EINVAL, "the secret is longer "
			    "than %d bytes", OPS_SECRET_MAX);
		for (i = 0; i < slen; i++)
			if ((unsigned char)p->secret[i] < 0x20 ||
			    p->secret[i] == 0x7f)
				return ops_fail(err, OPS_EINVAL, "the secret "
				    "contains a control character");
		dp->secret = p->secret;
	}
	if (p->psk_hex != NULL) {
		dp->set_psk = 1;
		if (*p->psk_hex != '\0' && (hex_decode(p->psk_hex, dp->psk,
		    sizeof(dp->psk), &dp->psk_len) == -1 || dp->psk_len == 0)) {
			ops_devparams_wipe(dp);
			return ops_fail(err, OPS_EINVAL, "the PSK must be 1 "
			    "to %d bytes in hex", OTA_PSK_MAX);
		}
	}
	for (i = 0; i < p->nversions; i++) {
		if (ops_parse_module_version(p->versions[i], &mv) == -1) {
			ops_devparams_wipe(dp);
			return ops_fail(err, OPS_EINVAL, "invalid version "
			    "\"%.80s\" (want [MODULE=]VERSION)",
			    p->versions[i]);
		}
		for (j = 0; j < dp->nversions; j++)
			if (strcmp(dp->versions[j].module, mv.module) == 0)
				break;
		if (j == OTA_MODULES_MAX) {
			ops_devparams_wipe(dp);
			return ops_fail(err, OPS_EUNPROC, "at most %d modules "
			    "per device", OTA_MODULES_MAX);
		}
		dp->versions[j] = mv;
		if (j == dp->nversions)
			dp->nversions++;
	}
	return ops_ok(err);
}

/* Provisions one device inside txn. */
int
ops_device_apply(struct store_txn *txn, const struct ops_devparams *dp,
    struct ops_dynjobs *dj, int64_t now, struct device_rec *out, int *created,
    struct ops_err *err)
{
	struct device_rec dev;
	unsigned i, j;
	int	 rc, isnew = 0;

	rc = store_device_get(txn, dp->id, &dev);
	if (rc == STORE_ENOTFOUND) {
		memset(&dev, 0, sizeof(dev));
		snprintf(dev.id, sizeof(dev.id), "%s", dp->id);
		dev.created = now;
		isnew = 1;
	} else if (rc != 0)
		return ops_fail_store(err, rc, dp->id);

	if (dp->product != NULL)
		snprintf(dev.product, sizeof(dev.product), "%s", dp->product);
	else if (isnew) {
		rc = ops_fail(err, OPS_EINVAL, "a new device needs a product");
		goto out;
	}
	if (dp->secret != NULL) {
		crypto_wipe(dev.secret_salt, sizeof(dev.secret_salt));
		crypto_wipe(dev.secret_hash, sizeof(dev.secret_hash));
		dev.has_secret = 0;
		if (*dp->secret != '\0') {
			if (crypto_random(dev.secret_salt,
			    sizeof(dev.secret_salt)) == -1) {
				rc = ops_fail(err, OPS_EIO, "no random bytes");
				goto out;
			}
			crypto_secret_hash(dev.secret_salt, dp->secret,
			    strlen(dp->secret), dev.secret_hash);
			dev.has_secret = 1;
		}
	}
	if (dp->set_psk) {
		crypto_wipe(dev.psk, sizeof(dev.psk));
		memcpy(dev.psk, dp->psk, dp->psk_len);
		dev.psk_len = dp->psk_len;
	}
	for (i = 0; i < dp->nversions; i++) {
		for (j = 0; j < dev.nversions && j < OTA_MODULES_MAX; j++)
			if (strcmp(dev.versions[j].module,
			    dp->versions[i].module) == 0)
				break;
		if (j == OTA_MODULES_MAX) {
			rc = ops_fail(err, OPS_EUNPROC, "device %s: at most %d "
			    "modules per device", dev.id, OTA_MODULES_MAX);
			goto out;
		}
		dev.versions[j] = dp->versions[i];
		if (j == dev.nversions)
			dev.nversions++;
	}
	dev.updated = now;
	if ((rc = store_device_put(txn, &dev)) != 0) {
		rc = ops_fail_store(err, rc, dev.id);
		goto out;
	}
	if (isnew && (rc = dyn_join(txn, dj, &dev, now)) != 0) {
		rc = ops_fail_store(err, rc, dev.id);
		goto out;
	}
	if (out != NULL)
		*out = dev;
	if (created != NULL)
		*created = isnew;
	rc = ops_ok(err);
out:
	crypto_wipe(&dev, sizeof(dev));
	return rc;
}

int
ops_device_put(struct ops *ops, const struct ops_device_params *p,
    struct device_rec *out, int *created, struct ops_err *err)
{
	struct ops_devparams dp;
	struct ops_dynjobs dj;
	struct store_txn *txn = NULL;
	int	 rc;

	memset(&dj, 0, sizeof(dj));
	if ((rc = ops_devparams_check(p, &dp, err)) != OPS_OK)
		return rc;
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "device put");
		goto out;
	}
	rc = ops_device_apply(txn, &dp, &dj, ops_now(ops), out, created, err);
	if (rc != OPS_OK)
		goto out;
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, p->id);
		goto out;
	}
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	ops_devparams_wipe(&dp);
	if (dj.loaded)
		ops_vec_free(&dj.jobs);
	return rc;
}

int
ops_device_show(struct ops *ops, const char *id, struct device_rec *out,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if (id == NULL || !valid_device_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid device id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "device show");
	rc = store_device_get(txn, id, out);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no device %s", id);
	if (rc != 0)
		return ops_fail_store(err, rc, id);
	return ops_ok(err);
}

int
ops_device_attrs(struct ops *ops, const char *id, char *buf, size_t size,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	buf[0] = '\0';
	if (id == NULL || !valid_device_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid device id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "device attributes");
	rc = store_attrs_get(txn, id, buf, size);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return ops_ok(err);
	if (rc != 0)
		return ops_fail_store(err, rc, id);
	return ops_ok(err);
}

int
ops_device_rm(struct ops *ops, const char *id, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct device_rec dev;
	struct job_rec job;
	struct jobs_change ch;
	struct jobdev_rec *jd;
	struct ops_vec rows;
	int64_t	 now = ops_now(ops);
	size_t	 i;
	int	 rc;

	ops_vec_init(&rows, sizeof(struct jobdev_rec));
	if (id == NULL || !valid_device_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid device id");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "device rm");
		goto out;
	}
	rc = store_device_get(txn, id, &dev);
	crypto_wipe(&dev, sizeof(dev));
	if (rc == STORE_ENOTFOUND) {
		rc = ops_fail(err, OPS_ENOTFOUND, "no device %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	rc = store_device_open_jobs(txn, id, ops_rows_collect_cb, &rows);
	if (rc != 0) {
		rc = ops_fail_store(err, rc == STORE_ESTOP ? STORE_EIO : rc,
		    id);
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = ops_vec_at(&rows, i);
		if (jd->state == JD_UPGRADING) {
			rc = ops_fail(err, OPS_ECONFLICT, "device %s is "
			    "upgrading in job %s; cancel it there first", id,
			    jd->job);
			goto out;
		}
	}
	for (i = 0; i < rows.n; i++) {
		jd = ops_vec_at(&rows, i);
		rc = store_job_get(txn, jd->job, &job);
		if (rc == STORE_ENOTFOUND)
			continue;	/* a dangling row: nothing to tell */
		if (rc != 0) {
			rc = ops_fail_store(err, rc, id);
			goto out;
		}
		if (jobs_jd_cancel(jd, now, &ch) == -1)
			continue;
		if ((rc = ops_row_store(txn, &job, jd, &ch, now)) != 0 ||
		    (rc = ops_job_settle(txn, &job, now)) != 0) {
			rc = ops_fail_store(err, rc, id);
			goto out;
		}
	}
	if ((rc = store_device_del(txn, id)) != 0 ||
	    (rc = store_xfer_del_device(txn, id)) != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	ops_vec_free(&rows);
	return rc;
}

struct devlist {
	const struct ops_device_filter *f;
	const char *module;
	int	(*cb)(const struct device_rec *, void *);
	void	*arg;
	size_t	 delivered;
	int	 more;
	int	 user_stop;
	char	 last[OTA_ID_MAX + 1];
};

static int
devlist_cb(const struct device_rec *dev, void *arg)
{
	struct devlist *dl = arg;
	const char *v;

	if (dl->f->product != NULL && *dl->f->product != '\0' &&
	    strcmp(dl->f->product, dev->product) != 0)
		return 0;
	if (dl->module != NULL) {
		if ((v = jobs_device_version(dev, dl->module)) == NULL)
			return 0;
		if (dl->f->version != NULL && *dl->f->version != '\0' &&
		    strcmp(v, dl->f->version) != 0)
			return 0;
	}
	if (dl->f->limit > 0 && dl->delivered == dl->f->limit) {
		dl->more = 1;
		return 1;
	}
	dl->delivered++;
	snprintf(dl->last, sizeof(dl->last), "%s", dev->id);
	if (dl->cb(dev, dl->arg) != 0) {
		dl->user_stop = 1;
		return 1;
	}
	return 0;
}

int
ops_device_list(struct ops *ops, const struct ops_device_filter *f,
    int (*cb)(const struct device_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct ops_device_filter none;
	struct store_txn *txn = NULL;
	struct devlist dl;
	int	 rc;

	if (next != NULL)
		next[0] = '\0';
	if (f == NULL) {
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	memset(&dl, 0, sizeof(dl));
	dl.f = f;
	dl.cb = cb;
	dl.arg = arg;
	if (f->product != NULL && *f->product != '\0' &&
	    !valid_product(f->product))
		return ops_fail(err, OPS_EINVAL, "invalid product");
	if (f->module != NULL && *f->module != '\0') {
		if (!valid_module(f->module))
			return ops_fail(err, OPS_EINVAL, "invalid module");
		dl.module = f->module;
	}
	if (f->version != NULL && *f->version != '\0') {
		if (!valid_version(f->version))
			return ops_fail(err, OPS_EINVAL, "invalid version");
		if (dl.module == NULL)
			dl.module = "default";
	}
	if (f->after != NULL && *f->after != '\0' &&
	    !valid_device_id(f->after))
		return ops_fail(err, OPS_EINVAL, "invalid device id in after");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "device list");
	rc = store_device_iter(txn, f->after, devlist_cb, &dl);
	store_txn_abort(txn);
	if (rc != 0 && rc != STORE_ESTOP)
		return ops_fail_store(err, rc, "device list");
	if (dl.more && next != NULL)
		snprintf(next, OTA_ID_MAX + 1, "%s", dl.last);
	return ops_ok(err);
}

/*
 * Upgrade history.
 */

struct histlist {
	int	(*cb)(const struct history_rec *, void *);
	void	*arg;
	size_t	 limit;
	size_t	 delivered;
	int	 more;
	uint64_t last;
};

static int
histlist_cb(const struct history_rec *h, void *arg)
{
	struct histlist *hl = arg;

	if (hl->limit > 0 && hl->delivered == hl->limit) {
		hl->more = 1;
		return 1;
	}
	hl->delivered++;
	hl->last = h->seq;
	return hl->cb(h, hl->arg) != 0;
}

/* A page's after: the seq of an entry, in decimal; 0 and 0 for none. */
static int
history_after(const char *after, uint64_t *seq)
{
	char	*end;
	unsigned long long v;

	*seq = 0;
	if (after == NULL || *after == '\0')
		return 0;
	if (*after < '1' || *after > '9' || strlen(after) > 19)
		return -1;
	errno = 0;
	v = strtoull(after, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return -1;
	*seq = v;
	return 0;
}

int
ops_device_history(struct ops *ops, const char *id, const struct ops_page *pg,
    int (*cb)(const struct history_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct device_rec dev;
	struct histlist hl;
	uint64_t before;
	int	 rc;

	if (next != NULL)
		next[0] = '\0';
	if (id == NULL || !valid_device_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid device id");
	if (history_after(pg != NULL ? pg->after : NULL, &before) == -1)
		return ops_fail(err, OPS_EINVAL, "invalid history entry in "
		    "after (the number of an entry)");
	memset(&hl, 0, sizeof(hl));
	hl.cb = cb;
	hl.arg = arg;
	hl.limit = pg != NULL ? pg->limit : 0;
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "device history");
	rc = store_device_get(txn, id, &dev);
	crypto_wipe(&dev, sizeof(dev));
	if (rc == 0)
		rc = store_history_iter(txn, id, before, histlist_cb, &hl);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no device %s", id);
	if (rc != 0 && rc != STORE_ESTOP)
		return ops_fail_store(err, rc, id);
	if (hl.more && next != NULL)
		snprintf(next, OTA_ID_MAX + 1, "%llu",
		    (unsigned long long)hl.last);
	return ops_ok(err);
}

/*
 * The version distribution of a product.  The versions seen are kept in
 * an array sorted by version (a fleet has few), found by binary search.
 */

struct vdist {
	const char *product;
	const char *module;
	struct ops_vec v;	/* struct version_count, by version */
	size_t	 unreported;
	size_t	 total;
	int	 nomem;
};

static int
vdist_cb(const struct device_rec *dev, void *arg)
{
	struct vdist *vd = arg;
	struct version_count *vc;
	const char *v;
	size_t	 lo = 0, hi, mid;
	int	 c;

	if (strcmp(dev->product, vd->product) != 0)
		return 0;
	vd->total++;
	if ((v = jobs_device_version(dev, vd->module)) == NULL) {
		vd->unreported++;
		return 0;
	}
	for (hi = vd->v.n; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		vc = ops_vec_at(&vd->v, mid);
		if ((c = strcmp(v, vc->version)) == 0) {
			vc->devices++;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (ops_vec_push(&vd->v) == NULL) {
		vd->nomem = 1;
		return 1;
	}
	vc = ops_vec_at(&vd->v, lo);
	memmove((char *)vc + sizeof(*vc), vc, (vd->v.n - 1 - lo) *
	    sizeof(*vc));
	memset(vc, 0, sizeof(*vc));
	snprintf(vc->version, sizeof(vc->version), "%s", v);
	vc->devices = 1;
	return 0;
}

/* The most devices first; versions in byte order break ties. */
static int
vcount_cmp(const void *a, const void *b)
{
	const struct version_count *x = a, *y = b;

	if (x->devices != y->devices)
		return x->devices > y->devices ? -1 : 1;
	return strcmp(x->version, y->version);
}

int
ops_product_versions(struct ops *ops, const char *product, const char *module,
    struct ops_versions *out, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct vdist vd;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (module == NULL || *module == '\0')
		module = "default";
	if (product == NULL || !valid_product(product))
		return ops_fail(err, OPS_EINVAL, "invalid product (1-64 of "
		    "A-Z a-z 0-9 _ -)");
	if (!valid_module(module))
		return ops_fail(err, OPS_EINVAL, "invalid module (1-64 of "
		    "A-Z a-z 0-9 . _ -)");
	memset(&vd, 0, sizeof(vd));
	vd.product = product;
	vd.module = module;
	ops_vec_init(&vd.v, sizeof(struct version_count));
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "product versions");
	rc = store_device_iter(txn, NULL, vdist_cb, &vd);
	store_txn_abort(txn);
	if (rc == STORE_ESTOP)
		rc = STORE_EIO;	/* out of memory */
	if (rc != 0) {
		ops_vec_free(&vd.v);
		return ops_fail_store(err, rc, "product versions");
	}
	if (vd.v.n > 1)
		qsort(vd.v.data, vd.v.n, vd.v.esize, vcount_cmp);
	snprintf(out->product, sizeof(out->product), "%s", product);
	snprintf(out->module, sizeof(out->module), "%s", module);
	out->items = (struct version_count *)vd.v.data;
	out->n = vd.v.n;
	out->unreported = vd.unreported;
	out->total = vd.total;
	return ops_ok(err);
}

void
ops_versions_free(struct ops_versions *vs)
{
	if (vs == NULL)
		return;
	free(vs->items);
	vs->items = NULL;
	vs->n = 0;
}
