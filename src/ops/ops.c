/*
 * ops.c: the operator operations (devices, firmware, jobs, relay status)
 * over the store, shared by otactl and the admin API.
 *
 * Each operation validates its input first, then does all its reads and
 * writes in one store transaction, together with one upstream event per
 * state a job row enters (CONTRACT §5), and commits once: a refused or
 * failed call changes nothing.  The only exception is a firmware image,
 * which is a file: it is written to a temporary file, renamed into place
 * only once everything was checked, and removed again if its record cannot
 * be committed.
 *
 * The job rules themselves (which rows a job gets, how a row moves) are in
 * src/jobs; this file decides which records to read and write.  Results
 * go back in structs and failures as enum ops_status with a message, so
 * that otactl prints them and the admin API turns them into JSON errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "codec/codec.h"
#include "core/events.h"
#include "crypto/crypto.h"
#include "log.h"
#include "ops/ops.h"
#include "util/validate.h"

#define CSV_LINE_MAX	4096	/* bytes in one import line */

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

static int	 fail(struct ops_err *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ops_err *err, int status, const char *fmt, ...)
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

static int
ok(struct ops_err *err)
{
	if (err != NULL) {
		err->status = OPS_OK;
		err->msg[0] = '\0';
	}
	return OPS_OK;
}

/* Maps a store code to an ops status, with `what' as the message. */
static int
fail_store(struct ops_err *err, int code, const char *what)
{
	switch (code) {
	case STORE_ENOTFOUND:
		return fail(err, OPS_ENOTFOUND, "%s: not found", what);
	case STORE_EEXIST:
		return fail(err, OPS_ECONFLICT, "%s: already exists", what);
	case STORE_EFULL:
		return fail(err, OPS_EFULL, "%s: %s; nothing was changed",
		    what, store_strerror(code));
	default:
		return fail(err, OPS_EIO, "%s: %s", what, store_strerror(code));
	}
}

static int64_t
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

struct vec {
	char	*data;
	size_t	 n;
	size_t	 cap;
	size_t	 esize;
};

static void
vec_init(struct vec *v, size_t esize)
{
	memset(v, 0, sizeof(*v));
	v->esize = esize;
}

/* A new zeroed element at the end, or NULL when out of memory. */
static void *
vec_push(struct vec *v)
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

static void *
vec_at(const struct vec *v, size_t i)
{
	return v->data + i * v->esize;
}

static void
vec_free(struct vec *v)
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

/* Writes a changed row and its events. */
static int
row_store(struct store_txn *txn, const struct job_rec *job,
    const struct jobdev_rec *jd, const struct jobs_change *ch, int64_t now)
{
	int	 rc;

	if (!ch->changed && ch->to == ch->from)
		return 0;
	if ((rc = store_jobdev_put(txn, jd)) != 0)
		return rc;
	return events_state_change(txn, job, jd, ch, now);
}

/*
 * Per-job helpers.
 */

static int
counts_cb(const struct jobdev_rec *jd, void *arg)
{
	jobs_counts_add(arg, jd->state);
	return 0;
}

static int
job_counts(struct store_txn *txn, const char *id, struct jobs_counts *c)
{
	memset(c, 0, sizeof(*c));
	return store_jobdev_iter(txn, id, counts_cb, c);
}

static int
rows_collect_cb(const struct jobdev_rec *jd, void *arg)
{
	struct jobdev_rec *p;

	if ((p = vec_push(arg)) == NULL)
		return 1;
	*p = *jd;
	return 0;
}

/* All rows of a job, copied out (so that the caller may write them). */
static int
job_rows(struct store_txn *txn, const char *id, struct vec *rows)
{
	int	 rc;

	vec_init(rows, sizeof(struct jobdev_rec));
	rc = store_jobdev_iter(txn, id, rows_collect_cb, rows);
	if (rc == STORE_ESTOP)
		rc = STORE_EIO;	/* out of memory */
	return rc;
}

/*
 * After an operator changed rows of a job: applies the job's own rules
 * (completion, reopening after a retry, window, abort) and, when a verify
 * job ends, the firmware state it leads to.
 */
static int
job_settle(struct store_txn *txn, struct job_rec *job, int64_t now)
{
	struct jobs_counts c;
	struct firmware_rec fw;
	int	 rc, was_open = jobs_job_is_open(job);

	if ((rc = job_counts(txn, job->id, &c)) != 0)
		return rc;
	if (!jobs_job_tick(job, &c, now))
		return 0;
	if ((rc = store_job_put(txn, job)) != 0)
		return rc;
	if (was_open && !jobs_job_is_open(job) && job->kind == JOB_KIND_VERIFY) {
		rc = store_firmware_get(txn, job->firmware, &fw);
		if (rc == STORE_ENOTFOUND)
			return 0;
		if (rc != 0)
			return rc;
		fw.state = jobs_verify_result(&c);
		return store_firmware_put(txn, &fw);
	}
	return 0;
}

/*
 * Devices.
 */

/* Open dynamic jobs, loaded once per transaction for provisioning. */
struct dynjobs {
	int	 loaded;
	struct vec jobs;	/* struct job_rec */
};

static int
dyn_collect_cb(const struct job_rec *job, void *arg)
{
	struct job_rec *p;

	if (!job->dynamic || !jobs_job_is_open(job))
		return 0;
	if ((p = vec_push(arg)) == NULL)
		return 1;
	*p = *job;
	return 0;
}

static int
dyn_load(struct store_txn *txn, struct dynjobs *dj)
{
	int	 rc;

	if (dj->loaded)
		return 0;
	vec_init(&dj->jobs, sizeof(struct job_rec));
	rc = store_job_iter(txn, dyn_collect_cb, &dj->jobs);
	if (rc == STORE_ESTOP)
		rc = STORE_EIO;
	if (rc == 0)
		dj->loaded = 1;
	return rc;
}

/* A newly provisioned device joins the open dynamic jobs it matches. */
static int
dyn_join(struct store_txn *txn, struct dynjobs *dj,
    const struct device_rec *dev, int64_t now)
{
	struct jobdev_rec jd;
	struct jobs_change ch;
	struct job_rec *job;
	size_t	 i;
	int	 rc;

	if ((rc = dyn_load(txn, dj)) != 0)
		return rc;
	for (i = 0; i < dj->jobs.n; i++) {
		job = vec_at(&dj->jobs, i);
		if (!jobs_device_matches(job, dev))
			continue;
		jobs_jd_init(job, &jd, dev->id, now);
		memset(&ch, 0, sizeof(ch));
		ch.changed = 1;
		ch.from = -1;
		ch.to = jd.state;
		if ((rc = row_store(txn, job, &jd, &ch, now)) != 0)
			return rc;
	}
	return 0;
}

/* Checked and decoded device parameters. */
struct devparams {
	const char *id;
	const char *product;
	const char *secret;
	int	 set_psk;		/* psk given ("" clears) */
	size_t	 psk_len;
	uint8_t	 psk[OTA_PSK_MAX];
	unsigned nversions;
	struct module_version versions[OTA_MODULES_MAX];
};

static void
devparams_wipe(struct devparams *dp)
{
	crypto_wipe(dp->psk, sizeof(dp->psk));
}

static int
devparams_check(const struct ops_device_params *p, struct devparams *dp,
    struct ops_err *err)
{
	struct module_version mv;
	size_t	 i, slen;
	unsigned j;

	memset(dp, 0, sizeof(*dp));
	if (p->id == NULL || !valid_device_id(p->id))
		return fail(err, OPS_EINVAL, "invalid device id (1-64 of "
		    "A-Z a-z 0-9 _ . : @ -)");
	if (p->product != NULL && !valid_product(p->product))
		return fail(err, OPS_EINVAL, "invalid product (1-64 of "
		    "A-Z a-z 0-9 _ -)");
	dp->id = p->id;
	dp->product = p->product;
	if (p->secret != NULL) {
		slen = strlen(p->secret);
		if (slen > OPS_SECRET_MAX)
			return fail(err, OPS_EINVAL, "the secret is longer "
			    "than %d bytes", OPS_SECRET_MAX);
		for (i = 0; i < slen; i++)
			if ((unsigned char)p->secret[i] < 0x20 ||
			    p->secret[i] == 0x7f)
				return fail(err, OPS_EINVAL, "the secret "
				    "contains a control character");
		dp->secret = p->secret;
	}
	if (p->psk_hex != NULL) {
		dp->set_psk = 1;
		if (*p->psk_hex != '\0' && (hex_decode(p->psk_hex, dp->psk,
		    sizeof(dp->psk), &dp->psk_len) == -1 || dp->psk_len == 0)) {
			devparams_wipe(dp);
			return fail(err, OPS_EINVAL, "the PSK must be 1 to %d "
			    "bytes in hex", OTA_PSK_MAX);
		}
	}
	for (i = 0; i < p->nversions; i++) {
		if (ops_parse_module_version(p->versions[i], &mv) == -1) {
			devparams_wipe(dp);
			return fail(err, OPS_EINVAL, "invalid version \"%.80s\" "
			    "(want [MODULE=]VERSION)", p->versions[i]);
		}
		for (j = 0; j < dp->nversions; j++)
			if (strcmp(dp->versions[j].module, mv.module) == 0)
				break;
		if (j == OTA_MODULES_MAX) {
			devparams_wipe(dp);
			return fail(err, OPS_EUNPROC, "at most %d modules per "
			    "device", OTA_MODULES_MAX);
		}
		dp->versions[j] = mv;
		if (j == dp->nversions)
			dp->nversions++;
	}
	return ok(err);
}

/* Provisions one device inside txn. */
static int
device_apply(struct store_txn *txn, const struct devparams *dp,
    struct dynjobs *dj, int64_t now, struct device_rec *out, int *created,
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
		return fail_store(err, rc, dp->id);

	if (dp->product != NULL)
		snprintf(dev.product, sizeof(dev.product), "%s", dp->product);
	else if (isnew) {
		rc = fail(err, OPS_EINVAL, "a new device needs a product");
		goto out;
	}
	if (dp->secret != NULL) {
		crypto_wipe(dev.secret_salt, sizeof(dev.secret_salt));
		crypto_wipe(dev.secret_hash, sizeof(dev.secret_hash));
		dev.has_secret = 0;
		if (*dp->secret != '\0') {
			if (crypto_random(dev.secret_salt,
			    sizeof(dev.secret_salt)) == -1) {
				rc = fail(err, OPS_EIO, "no random bytes");
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
			rc = fail(err, OPS_EUNPROC, "device %s: at most %d "
			    "modules per device", dev.id, OTA_MODULES_MAX);
			goto out;
		}
		dev.versions[j] = dp->versions[i];
		if (j == dev.nversions)
			dev.nversions++;
	}
	dev.updated = now;
	if ((rc = store_device_put(txn, &dev)) != 0) {
		rc = fail_store(err, rc, dev.id);
		goto out;
	}
	if (isnew && (rc = dyn_join(txn, dj, &dev, now)) != 0) {
		rc = fail_store(err, rc, dev.id);
		goto out;
	}
	if (out != NULL)
		*out = dev;
	if (created != NULL)
		*created = isnew;
	rc = ok(err);
out:
	crypto_wipe(&dev, sizeof(dev));
	return rc;
}

int
ops_device_put(struct ops *ops, const struct ops_device_params *p,
    struct device_rec *out, int *created, struct ops_err *err)
{
	struct devparams dp;
	struct dynjobs dj;
	struct store_txn *txn = NULL;
	int	 rc;

	memset(&dj, 0, sizeof(dj));
	if ((rc = devparams_check(p, &dp, err)) != OPS_OK)
		return rc;
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = fail_store(err, rc, "device put");
		goto out;
	}
	rc = device_apply(txn, &dp, &dj, ops_now(ops), out, created, err);
	if (rc != OPS_OK)
		goto out;
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, p->id);
		goto out;
	}
	rc = ok(err);
out:
	store_txn_abort(txn);
	devparams_wipe(&dp);
	if (dj.loaded)
		vec_free(&dj.jobs);
	return rc;
}

int
ops_device_show(struct ops *ops, const char *id, struct device_rec *out,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if (id == NULL || !valid_device_id(id))
		return fail(err, OPS_EINVAL, "invalid device id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return fail_store(err, rc, "device show");
	rc = store_device_get(txn, id, out);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return fail(err, OPS_ENOTFOUND, "no device %s", id);
	if (rc != 0)
		return fail_store(err, rc, id);
	return ok(err);
}

int
ops_device_rm(struct ops *ops, const char *id, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct device_rec dev;
	struct job_rec job;
	struct jobs_change ch;
	struct jobdev_rec *jd;
	struct vec rows;
	int64_t	 now = ops_now(ops);
	size_t	 i;
	int	 rc;

	vec_init(&rows, sizeof(struct jobdev_rec));
	if (id == NULL || !valid_device_id(id))
		return fail(err, OPS_EINVAL, "invalid device id");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = fail_store(err, rc, "device rm");
		goto out;
	}
	rc = store_device_get(txn, id, &dev);
	crypto_wipe(&dev, sizeof(dev));
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "no device %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	rc = store_device_open_jobs(txn, id, rows_collect_cb, &rows);
	if (rc != 0) {
		rc = fail_store(err, rc == STORE_ESTOP ? STORE_EIO : rc, id);
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = vec_at(&rows, i);
		if (jd->state == JD_UPGRADING) {
			rc = fail(err, OPS_ECONFLICT, "device %s is upgrading "
			    "in job %s; cancel it there first", id, jd->job);
			goto out;
		}
	}
	for (i = 0; i < rows.n; i++) {
		jd = vec_at(&rows, i);
		rc = store_job_get(txn, jd->job, &job);
		if (rc == STORE_ENOTFOUND)
			continue;	/* a dangling row: nothing to tell */
		if (rc != 0) {
			rc = fail_store(err, rc, id);
			goto out;
		}
		if (jobs_jd_cancel(jd, now, &ch) == -1)
			continue;
		if ((rc = row_store(txn, &job, jd, &ch, now)) != 0 ||
		    (rc = job_settle(txn, &job, now)) != 0) {
			rc = fail_store(err, rc, id);
			goto out;
		}
	}
	if ((rc = store_device_del(txn, id)) != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	rc = ok(err);
out:
	store_txn_abort(txn);
	vec_free(&rows);
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
		return fail(err, OPS_EINVAL, "invalid product");
	if (f->module != NULL && *f->module != '\0') {
		if (!valid_module(f->module))
			return fail(err, OPS_EINVAL, "invalid module");
		dl.module = f->module;
	}
	if (f->version != NULL && *f->version != '\0') {
		if (!valid_version(f->version))
			return fail(err, OPS_EINVAL, "invalid version");
		if (dl.module == NULL)
			dl.module = "default";
	}
	if (f->after != NULL && *f->after != '\0' &&
	    !valid_device_id(f->after))
		return fail(err, OPS_EINVAL, "invalid device id in after");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return fail_store(err, rc, "device list");
	rc = store_device_iter(txn, f->after, devlist_cb, &dl);
	store_txn_abort(txn);
	if (rc != 0 && rc != STORE_ESTOP)
		return fail_store(err, rc, "device list");
	if (dl.more && next != NULL)
		snprintf(next, OTA_ID_MAX + 1, "%s", dl.last);
	return ok(err);
}

/*
 * CSV import.
 */

struct csvrow {
	unsigned line;
	char	 product[OTA_ID_MAX + 1];
	char	 device[OTA_ID_MAX + 1];
	char	 secret[OPS_SECRET_MAX + 1];
	char	 psk[OTA_PSK_MAX * 2 + 1];
	int	 has_secret;
	int	 has_psk;
};

/*
 * Splits one line (without its end of line) into at most nf fields of at
 * most fsize bytes each.  Fields may be double-quoted, with "" for a
 * quote.  Returns the number of fields, or -1.
 */
static int
csv_split(const char *s, size_t len, char fields[][OPS_SECRET_MAX + 1],
    int nf, const char **why)
{
	size_t	 i = 0, o;
	int	 n = 0;

	for (;;) {
		if (n == nf) {
			*why = "too many fields (want product,device,secret,psk)";
			return -1;
		}
		o = 0;
		if (i < len && s[i] == '"') {
			i++;
			for (;;) {
				if (i == len) {
					*why = "unterminated quote";
					return -1;
				}
				if (s[i] == '"') {
					if (i + 1 < len && s[i + 1] == '"')
						i++;
					else
						break;
				}
				if (o == OPS_SECRET_MAX) {
					*why = "field too long";
					return -1;
				}
				fields[n][o++] = s[i++];
			}
			i++;	/* closing quote */
			if (i < len && s[i] != ',') {
				*why = "text after a closing quote";
				return -1;
			}
		} else {
			while (i < len && s[i] != ',') {
				if (s[i] == '"') {
					*why = "quote inside a field";
					return -1;
				}
				if (o == OPS_SECRET_MAX) {
					*why = "field too long";
					return -1;
				}
				fields[n][o++] = s[i++];
			}
		}
		fields[n][o] = '\0';
		if (memchr(fields[n], '\0', o) != NULL) {
			*why = "NUL byte in a field";
			return -1;
		}
		n++;
		if (i == len)
			return n;
		i++;	/* the comma */
	}
}

static int
csvrow_cmp(const void *a, const void *b)
{
	const struct csvrow *const *x = a, *const *y = b;

	return strcmp((*x)->device, (*y)->device);
}

/* Parses the whole file into rows; an error names its line. */
static int
csv_parse(const char *csv, size_t len, struct vec *rows, struct ops_err *err)
{
	char	 f[4][OPS_SECRET_MAX + 1];
	const char *p = csv, *end = csv + len, *eol, *why;
	struct csvrow *r;
	unsigned line = 0;
	size_t	 ll, i;
	int	 n, first = 1, rc = OPS_OK;

	vec_init(rows, sizeof(struct csvrow));
	while (p < end) {
		line++;
		eol = memchr(p, '\n', (size_t)(end - p));
		ll = (size_t)((eol != NULL ? eol : end) - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll > CSV_LINE_MAX) {
			rc = fail(err, OPS_EINVAL, "line %u: longer than %d "
			    "bytes", line, CSV_LINE_MAX);
			goto out;
		}
		if (line == 1 && ll >= 3 &&
		    memcmp(p, "\xef\xbb\xbf", 3) == 0) {	/* BOM */
			p += 3;
			ll -= 3;
		}
		for (i = 0; i < ll && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		if (i == ll)
			goto next;	/* blank */
		if ((n = csv_split(p, ll, f, 4, &why)) == -1) {
			rc = fail(err, OPS_EINVAL, "line %u: %s", line, why);
			goto out;
		}
		if (first && n >= 2 && strcasecmp(f[0], "product") == 0 &&
		    strcasecmp(f[1], "device") == 0) {
			first = 0;
			goto next;	/* header */
		}
		first = 0;
		if (n < 2) {
			rc = fail(err, OPS_EINVAL, "line %u: want "
			    "product,device,secret,psk", line);
			goto out;
		}
		if (rows->n == OPS_IMPORT_MAX_LINES) {
			rc = fail(err, OPS_ETOOLARGE, "line %u: more than %d "
			    "devices in one import", line,
			    OPS_IMPORT_MAX_LINES);
			goto out;
		}
		if (!valid_product(f[0])) {
			rc = fail(err, OPS_EINVAL, "line %u: invalid product",
			    line);
			goto out;
		}
		if (!valid_device_id(f[1])) {
			rc = fail(err, OPS_EINVAL, "line %u: invalid device id",
			    line);
			goto out;
		}
		if ((r = vec_push(rows)) == NULL) {
			rc = fail(err, OPS_EIO, "out of memory");
			goto out;
		}
		r->line = line;
		/* both validated: they fit */
		(void)str_copy(r->product, sizeof(r->product), f[0]);
		(void)str_copy(r->device, sizeof(r->device), f[1]);
		if (n >= 3 && f[2][0] != '\0') {
			snprintf(r->secret, sizeof(r->secret), "%s", f[2]);
			r->has_secret = 1;
		}
		if (n >= 4 && f[3][0] != '\0') {
			if (strlen(f[3]) >= sizeof(r->psk)) {
				rc = fail(err, OPS_EINVAL, "line %u: the PSK "
				    "must be 1 to %d bytes in hex", line,
				    OTA_PSK_MAX);
				goto out;
			}
			snprintf(r->psk, sizeof(r->psk), "%s", f[3]);
			r->has_psk = 1;
		}
	next:
		if (eol == NULL)
			break;
		p = eol + 1;
	}
out:
	crypto_wipe(f, sizeof(f));
	return rc;
}

static void
csv_rows_free(struct vec *rows)
{
	if (rows->data != NULL)
		crypto_wipe(rows->data, rows->cap * rows->esize);
	vec_free(rows);
}

int
ops_device_import(struct ops *ops, const char *csv, size_t len,
    struct ops_import_result *res, struct ops_err *err)
{
	struct ops_device_params p;
	struct devparams dp;
	struct dynjobs dj;
	struct store_txn *txn = NULL;
	struct csvrow **sorted = NULL, *r;
	struct vec rows;
	int64_t	 now = ops_now(ops);
	size_t	 i;
	int	 rc, created;

	memset(&dj, 0, sizeof(dj));
	memset(&dp, 0, sizeof(dp));
	memset(res, 0, sizeof(*res));
	if ((rc = csv_parse(csv, len, &rows, err)) != OPS_OK)
		goto out;
	if (rows.n == 0) {
		rc = fail(err, OPS_EINVAL, "no devices in the file");
		goto out;
	}
	/* The same device twice is most likely a mistake: refuse it. */
	if ((sorted = calloc(rows.n, sizeof(*sorted))) == NULL) {
		rc = fail(err, OPS_EIO, "out of memory");
		goto out;
	}
	for (i = 0; i < rows.n; i++)
		sorted[i] = vec_at(&rows, i);
	qsort(sorted, rows.n, sizeof(*sorted), csvrow_cmp);
	for (i = 1; i < rows.n; i++) {
		if (strcmp(sorted[i - 1]->device, sorted[i]->device) == 0) {
			rc = fail(err, OPS_EINVAL, "line %u: device %s is "
			    "already on line %u",
			    sorted[i - 1]->line > sorted[i]->line ?
			    sorted[i - 1]->line : sorted[i]->line,
			    sorted[i]->device,
			    sorted[i - 1]->line > sorted[i]->line ?
			    sorted[i]->line : sorted[i - 1]->line);
			goto out;
		}
	}
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = fail_store(err, rc, "device import");
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		r = vec_at(&rows, i);
		memset(&p, 0, sizeof(p));
		p.id = r->device;
		p.product = r->product;
		p.secret = r->has_secret ? r->secret : NULL;
		p.psk_hex = r->has_psk ? r->psk : NULL;
		rc = devparams_check(&p, &dp, err);
		if (rc == OPS_OK)
			rc = device_apply(txn, &dp, &dj, now, NULL, &created,
			    err);
		devparams_wipe(&dp);
		if (rc != OPS_OK) {
			if (err != NULL) {
				char	 m[OPS_ERR_MAX];

				snprintf(m, sizeof(m), "%s", err->msg);
				fail(err, rc, "line %u: %s", r->line, m);
			}
			goto out;
		}
		if (created)
			res->created++;
		else
			res->updated++;
		res->lines++;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, "device import");
		goto out;
	}
	rc = ok(err);
out:
	store_txn_abort(txn);
	if (rc != OPS_OK)
		memset(res, 0, sizeof(*res));
	free(sorted);
	csv_rows_free(&rows);
	if (dj.loaded)
		vec_free(&dj.jobs);
	return rc;
}

/*
 * Firmware.
 */

struct ops_upload {
	struct ops *ops;
	struct firmware_rec rec;
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
	const char *product;
	size_t	 n;
};

static int
fwcount_cb(const struct firmware_rec *fw, void *arg)
{
	struct fwcount *c = arg;

	if (strcmp(fw->product, c->product) == 0)
		c->n++;
	return 0;
}

/* The uniqueness and per-product limit checks, inside txn. */
static int
fw_check_room(struct ops *ops, struct store_txn *txn,
    const struct firmware_rec *rec, struct ops_err *err)
{
	char	 id[OTA_ID_MAX + 1];
	struct fwcount c;
	int	 rc;

	rc = store_firmware_find(txn, rec->product, rec->module, rec->version,
	    id);
	if (rc == 0)
		return fail(err, OPS_ECONFLICT, "product %s already has "
		    "version %s of module %s (%s)", rec->product, rec->version,
		    rec->module, id);
	if (rc != STORE_ENOTFOUND)
		return fail_store(err, rc, "firmware add");
	c.product = rec->product;
	c.n = 0;
	if ((rc = store_firmware_iter(txn, fwcount_cb, &c)) != 0)
		return fail_store(err, rc, "firmware add");
	if (c.n >= ops->fw_max_per_product)
		return fail(err, OPS_ECONFLICT, "product %s already has %zu "
		    "images (firmware_max_per_product %u); remove one first",
		    rec->product, c.n, ops->fw_max_per_product);
	return ok(err);
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

int
ops_firmware_upload_begin(struct ops *ops, const struct ops_fw_params *p,
    int64_t expected_size, struct ops_upload **out, struct ops_err *err)
{
	struct ops_upload *up = NULL;
	struct firmware_rec *rec;
	struct store_txn *txn = NULL;
	const char *s;
	int	 rc;

	*out = NULL;
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return fail(err, OPS_EIO, "out of memory");
	up->ops = ops;
	rec = &up->rec;
	if (p->product == NULL || !valid_product(p->product)) {
		rc = fail(err, OPS_EINVAL, "invalid product (1-64 of "
		    "A-Z a-z 0-9 _ -)");
		goto out;
	}
	if (p->version == NULL || !valid_version(p->version)) {
		rc = fail(err, OPS_EINVAL, "invalid version (1-64 of "
		    "A-Z a-z 0-9 . _ -)");
		goto out;
	}
	s = p->module != NULL && *p->module != '\0' ? p->module : "default";
	if (!valid_module(s)) {
		rc = fail(err, OPS_EINVAL, "invalid module (1-64 of "
		    "A-Z a-z 0-9 . _ -)");
		goto out;
	}
	snprintf(rec->product, sizeof(rec->product), "%s", p->product);
	snprintf(rec->version, sizeof(rec->version), "%s", p->version);
	snprintf(rec->module, sizeof(rec->module), "%s", s);
	if (p->name != NULL && *p->name != '\0') {
		if (!valid_fw_name(p->name) ||
		    str_copy(rec->name, sizeof(rec->name), p->name) == -1) {
			rc = fail(err, OPS_EINVAL, "invalid name: 1-32 "
			    "characters of CJK, letters, digits and _-(), "
			    "starting with CJK, a letter or a digit");
			goto out;
		}
	} else
		fw_default_name(p->version, rec->name, sizeof(rec->name));
	s = p->description != NULL ? p->description : "";
	if (!valid_fw_description(s) ||
	    str_copy(rec->description, sizeof(rec->description), s) == -1) {
		rc = fail(err, OPS_EINVAL, "invalid description: at most %d "
		    "characters of UTF-8", OTA_DESC_MAX);
		goto out;
	}
	s = p->sign_method;
	if (s == NULL || *s == '\0' || strcasecmp(s, "SHA256") == 0 ||
	    strcasecmp(s, "SHA-256") == 0)
		rec->sign_method = SIGN_SHA256;
	else if (strcasecmp(s, "MD5") == 0)
		rec->sign_method = SIGN_MD5;
	else {
		rc = fail(err, OPS_EINVAL, "sign method must be SHA256 or MD5");
		goto out;
	}
	rec->state = FW_UNVERIFIED;
	if (expected_size == 0) {
		rc = fail(err, OPS_EINVAL, "the image is empty");
		goto out;
	}
	if (expected_size > 0 && (uint64_t)expected_size > ops->fw_max_size) {
		rc = fail(err, OPS_ETOOLARGE, "the image is larger than "
		    "firmware_max_size (%llu bytes)",
		    (unsigned long long)ops->fw_max_size);
		goto out;
	}
	/* Refuse what would be refused at the end before reading a byte. */
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0) {
		rc = fail_store(err, rc, "firmware add");
		goto out;
	}
	rc = fw_check_room(ops, txn, rec, err);
	store_txn_abort(txn);
	if (rc != OPS_OK)
		goto out;
	if ((up->dg = digest_new()) == NULL) {
		rc = fail(err, OPS_EIO, "out of memory");
		goto out;
	}
	if ((rc = store_image_create(ops->st, &up->w)) != 0) {
		rc = fail_store(err, rc, "firmware image");
		goto out;
	}
	*out = up;
	up = NULL;
	rc = ok(err);
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
		return fail(err, OPS_ETOOLARGE, "the image is larger than "
		    "firmware_max_size (%llu bytes)",
		    (unsigned long long)up->ops->fw_max_size);
	if (len == 0)
		return ok(err);
	if ((rc = store_image_write(up->w, buf, len)) != 0)
		return fail_store(err, rc, "firmware image");
	digest_update(up->dg, buf, len);
	up->rec.size += len;
	return ok(err);
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
		rc = fail(err, OPS_EINVAL, "the image is empty");
		goto out;
	}
	digest_final(up->dg, rec->md5, rec->sha256);
	rec->created = ops_now(ops);

	/* The id, in a short transaction of its own. */
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = fail_store(err, rc, "firmware add");
		goto out;
	}
	if ((rc = fw_check_room(ops, txn, rec, err)) != OPS_OK)
		goto out;
	if ((rc = store_next_id(txn, "fw", rec->id)) != 0) {
		rc = fail_store(err, rc, "firmware id");
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, "firmware id");
		goto out;
	}

	/* fsync and rename outside any transaction: writers go on. */
	rc = store_image_commit(up->w, rec->id);
	up->w = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, "firmware image");
		goto out;
	}
	committed = 1;

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = fail_store(err, rc, "firmware add");
		goto out;
	}
	if ((rc = fw_check_room(ops, txn, rec, err)) != OPS_OK)
		goto out;
	if ((rc = store_firmware_put(txn, rec)) != 0) {
		rc = rc == STORE_EEXIST ? fail(err, OPS_ECONFLICT, "product "
		    "%s already has version %s of module %s", rec->product,
		    rec->version, rec->module) :
		    fail_store(err, rc, "firmware add");
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, "firmware add");
		goto out;
	}
	if (out != NULL)
		*out = *rec;
	log_info("firmware %s added: %s %s/%s, %llu bytes", rec->id,
	    rec->product, rec->module, rec->version,
	    (unsigned long long)rec->size);
	rc = ok(err);
out:
	store_txn_abort(txn);
	if (rc != OPS_OK && committed)
		store_image_remove(ops->st, rec->id);
	ops_firmware_upload_abort(up);
	return rc;
}

int
ops_firmware_add_fd(struct ops *ops, const struct ops_fw_params *p, int fd,
    struct firmware_rec *out, struct ops_err *err)
{
	struct ops_upload *up = NULL;
	char	*buf = NULL;
	ssize_t	 n;
	int	 rc;

	if ((rc = ops_firmware_upload_begin(ops, p, -1, &up, err)) != OPS_OK)
		return rc;
	if ((buf = malloc(1 << 16)) == NULL) {
		rc = fail(err, OPS_EIO, "out of memory");
		goto out;
	}
	for (;;) {
		n = read(fd, buf, 1 << 16);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = fail(err, OPS_EIO, "reading the image: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		rc = ops_firmware_upload_write(up, buf, (size_t)n, err);
		if (rc != OPS_OK)
			goto out;
	}
	rc = ops_firmware_upload_finish(up, out, err);
	up = NULL;
out:
	ops_firmware_upload_abort(up);
	free(buf);
	return rc;
}

int
ops_firmware_add_file(struct ops *ops, const struct ops_fw_params *p,
    const char *path, struct firmware_rec *out, struct ops_err *err)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return fail(err, errno == ENOENT ? OPS_ENOTFOUND : OPS_EINVAL,
		    "%s: %s", path, strerror(errno));
	rc = ops_firmware_add_fd(ops, p, fd, out, err);
	close(fd);
	return rc;
}

static int
jobs_collect_cb(const struct job_rec *job, void *arg)
{
	struct job_rec *p;

	if ((p = vec_push(arg)) == NULL)
		return 1;
	*p = *job;
	return 0;
}

static int
all_jobs(struct store_txn *txn, struct vec *jobs)
{
	int	 rc;

	vec_init(jobs, sizeof(struct job_rec));
	rc = store_job_iter(txn, jobs_collect_cb, jobs);
	return rc == STORE_ESTOP ? STORE_EIO : rc;
}

/* Adds the row counts of every job of firmware id to c. */
static int
fw_counts(struct store_txn *txn, const struct vec *jobs, const char *id,
    struct jobs_counts *c)
{
	struct jobs_counts jc;
	struct job_rec *job;
	size_t	 i;
	int	 rc, s;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < jobs->n; i++) {
		job = vec_at(jobs, i);
		if (strcmp(job->firmware, id) != 0)
			continue;
		if ((rc = job_counts(txn, job->id, &jc)) != 0)
			return rc;
		for (s = 0; s < JD_NSTATES; s++)
			c->n[s] += jc.n[s];
		c->total += jc.total;
	}
	return 0;
}

int
ops_firmware_show(struct ops *ops, const char *id, struct ops_fw_item *item,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct vec jobs;
	int	 rc;

	vec_init(&jobs, sizeof(struct job_rec));
	if (id == NULL || !valid_id(id))
		return fail(err, OPS_EINVAL, "invalid firmware id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return fail_store(err, rc, "firmware show");
	rc = store_firmware_get(txn, id, &item->fw);
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "no firmware %s", id);
		goto out;
	}
	if (rc != 0 || (rc = all_jobs(txn, &jobs)) != 0 ||
	    (rc = fw_counts(txn, &jobs, id, &item->counts)) != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	rc = ok(err);
out:
	store_txn_abort(txn);
	vec_free(&jobs);
	return rc;
}

static int
fw_collect_cb(const struct firmware_rec *fw, void *arg)
{
	struct ops_fw_item *p;

	if ((p = vec_push(arg)) == NULL)
		return 1;
	p->fw = *fw;
	return 0;
}

int
ops_firmware_list(struct ops *ops, struct ops_fw_item **items, size_t *n,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct ops_fw_item *it;
	struct vec fws, jobs;
	size_t	 i;
	int	 rc;

	*items = NULL;
	*n = 0;
	vec_init(&fws, sizeof(struct ops_fw_item));
	vec_init(&jobs, sizeof(struct job_rec));
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return fail_store(err, rc, "firmware list");
	rc = store_firmware_iter(txn, fw_collect_cb, &fws);
	if (rc == STORE_ESTOP)
		rc = STORE_EIO;
	if (rc == 0)
		rc = all_jobs(txn, &jobs);
	for (i = 0; rc == 0 && i < fws.n; i++) {
		it = vec_at(&fws, i);
		rc = fw_counts(txn, &jobs, it->fw.id, &it->counts);
	}
	store_txn_abort(txn);
	vec_free(&jobs);
	if (rc != 0) {
		vec_free(&fws);
		return fail_store(err, rc, "firmware list");
	}
	*items = (struct ops_fw_item *)fws.data;
	*n = fws.n;
	return ok(err);
}

int
ops_firmware_edit(struct ops *ops, const char *id, const char *name,
    const char *description, struct firmware_rec *out, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct firmware_rec fw;
	int	 rc;

	if (id == NULL || !valid_id(id))
		return fail(err, OPS_EINVAL, "invalid firmware id");
	if (name != NULL && !valid_fw_name(name))
		return fail(err, OPS_EINVAL, "invalid name: 1-32 characters "
		    "of CJK, letters, digits and _-(), starting with CJK, a "
		    "letter or a digit");
	if (description != NULL && !valid_fw_description(description))
		return fail(err, OPS_EINVAL, "invalid description: at most "
		    "%d characters of UTF-8", OTA_DESC_MAX);
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return fail_store(err, rc, "firmware edit");
	rc = store_firmware_get(txn, id, &fw);
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "no firmware %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	if ((name != NULL && str_copy(fw.name, sizeof(fw.name), name) == -1) ||
	    (description != NULL && str_copy(fw.description,
	    sizeof(fw.description), description) == -1)) {
		rc = fail(err, OPS_EINVAL, "name or description too long");
		goto out;
	}
	if ((rc = store_firmware_put(txn, &fw)) != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	if (out != NULL)
		*out = fw;
	rc = ok(err);
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
	int	 rc;

	if (id == NULL || !valid_id(id))
		return fail(err, OPS_EINVAL, "invalid firmware id");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return fail_store(err, rc, "firmware rm");
	rc = store_firmware_get(txn, id, &fw);
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "no firmware %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	memset(&use, 0, sizeof(use));
	use.id = id;
	rc = store_job_iter(txn, fwuse_cb, &use);
	if (rc == STORE_ESTOP) {
		rc = fail(err, OPS_ECONFLICT, "firmware %s is used by open "
		    "job %s; terminate it first", id, use.job);
		goto out;
	}
	if (rc != 0 || (rc = store_firmware_del(txn, id)) != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	/* The record is gone, so nobody is offered the image any more. */
	rc = store_image_remove(ops->st, id);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		log_warnx("firmware %s: image not removed: %s", id,
		    store_strerror(rc));
	rc = ok(err);
out:
	store_txn_abort(txn);
	return rc;
}

/*
 * Jobs.
 */

static int
job_cmp(const void *a, const void *b)
{
	return strcmp(((const struct job_rec *)a)->id,
	    ((const struct job_rec *)b)->id);
}

static const struct job_rec *
job_find(const struct vec *jobs, const char *id)
{
	struct job_rec key;

	if (str_copy(key.id, sizeof(key.id), id) == -1)
		return NULL;
	if (jobs->n == 0)
		return NULL;
	return bsearch(&key, jobs->data, jobs->n, jobs->esize, job_cmp);
}

static int
src_has(const struct job_rec *job, const char *v)
{
	unsigned i;

	for (i = 0; i < job->nsrc && i < OTA_SRCVER_MAX; i++)
		if (strcmp(job->src_versions[i], v) == 0)
			return 1;
	return 0;
}

/* Whether two jobs of one module can pick a device on the same version. */
static int
src_overlap(const struct job_rec *a, const struct job_rec *b)
{
	unsigned i;

	if (a->nsrc == 0 && b->nsrc == 0)
		return 1;
	if (a->nsrc == 0) {
		for (i = 0; i < b->nsrc; i++)
			if (strcmp(b->src_versions[i], a->version) != 0)
				return 1;
		return 0;
	}
	if (b->nsrc == 0)
		return src_overlap(b, a);
	for (i = 0; i < a->nsrc; i++)
		if (src_has(b, a->src_versions[i]))
			return 1;
	return 0;
}

struct cand {
	uint64_t rank;
	char	 id[OTA_ID_MAX + 1];
};

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct allsel {
	const struct job_rec *job;
	struct vec *cands;
};

static int
allsel_cb(const struct device_rec *dev, void *arg)
{
	struct allsel *as = arg;
	struct cand *c;

	if (!jobs_device_matches(as->job, dev))
		return 0;
	if ((c = vec_push(as->cands)) == NULL)
		return 1;
	snprintf(c->id, sizeof(c->id), "%s", dev->id);
	return 0;
}

/*
 * Whether a candidate device can join the job: never while it is
 * UPGRADING anywhere; while it has an open row in another open job of the
 * same module, only with override, which supersedes a row that has not
 * started (WAIT_CONFIRM, QUEUED, NOTIFIED).  Returns 1 (join), 0 (left
 * out) or a negative store code.  With apply, the rows to supersede are
 * written with their events (only for the devices finally picked).
 */
static int
cand_admit(struct store_txn *txn, const struct job_rec *job,
    const struct vec *jobs, const char *device, int apply, int64_t now,
    size_t *superseded)
{
	const struct job_rec *other;
	struct jobdev_rec *jd;
	struct jobs_change ch;
	struct vec rows;
	size_t	 i;
	int	 rc, blocked = 0;

	vec_init(&rows, sizeof(struct jobdev_rec));
	rc = store_device_open_jobs(txn, device, rows_collect_cb, &rows);
	if (rc != 0) {
		rc = rc == STORE_ESTOP ? STORE_EIO : rc;
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = vec_at(&rows, i);
		if (jd->state == JD_UPGRADING) {
			rc = 0;
			goto out;
		}
		other = job_find(jobs, jd->job);
		if (other == NULL || !jobs_job_is_open(other) ||
		    strcmp(other->module, job->module) != 0)
			continue;
		if (!job->override || (jd->state != JD_WAIT_CONFIRM &&
		    jd->state != JD_QUEUED && jd->state != JD_NOTIFIED))
			blocked = 1;
	}
	if (blocked || !apply) {
		rc = !blocked;
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = vec_at(&rows, i);
		other = job_find(jobs, jd->job);
		if (other == NULL || !jobs_job_is_open(other) ||
		    strcmp(other->module, job->module) != 0)
			continue;
		if (jobs_jd_supersede(jd, now, &ch) == -1)
			continue;
		if ((rc = row_store(txn, other, jd, &ch, now)) != 0)
			goto out;
		(*superseded)++;
	}
	rc = 1;
out:
	vec_free(&rows);
	return rc;
}

/* The job's candidates: listed devices, or all matching of the product. */
static int
job_candidates(struct store_txn *txn, const struct job_rec *job,
    const char *const *devices, size_t ndevices, struct vec *cands,
    struct ops_job_result *res, struct ops_err *err)
{
	struct device_rec dev;
	struct allsel as;
	const char **sorted = NULL;
	struct cand *c;
	size_t	 i;
	int	 rc;

	vec_init(cands, sizeof(struct cand));
	if (job->scope != JOB_SCOPE_DEVICES) {
		if (job->dynamic && job->only_new_reports)
			return ok(err);	/* only reports after now count */
		as.job = job;
		as.cands = cands;
		rc = store_device_iter(txn, NULL, allsel_cb, &as);
		if (rc != 0)
			return fail_store(err, rc == STORE_ESTOP ? STORE_EIO :
			    rc, "job create");
		return ok(err);
	}
	if ((sorted = calloc(ndevices, sizeof(*sorted))) == NULL)
		return fail(err, OPS_EIO, "out of memory");
	for (i = 0; i < ndevices; i++) {
		if (devices[i] == NULL || !valid_device_id(devices[i])) {
			rc = fail(err, OPS_EINVAL, "invalid device id "
			    "\"%.70s\"", devices[i] ? devices[i] : "");
			goto out;
		}
		sorted[i] = devices[i];
	}
	qsort(sorted, ndevices, sizeof(*sorted), strp_cmp);
	for (i = 0; i < ndevices; i++) {
		if (i > 0 && strcmp(sorted[i - 1], sorted[i]) == 0)
			continue;
		rc = store_device_get(txn, sorted[i], &dev);
		if (rc == STORE_ENOTFOUND) {
			rc = fail(err, OPS_ENOTFOUND, "no device %s",
			    sorted[i]);
			goto out;
		}
		if (rc != 0) {
			rc = fail_store(err, rc, sorted[i]);
			goto out;
		}
		if (strcmp(dev.product, job->product) != 0) {
			rc = fail(err, OPS_EUNPROC, "device %s is of product "
			    "%s, the firmware of %s", dev.id, dev.product,
			    job->product);
			goto out;
		}
		if (!jobs_device_matches(job, &dev)) {
			res->skipped++;
			continue;
		}
		if ((c = vec_push(cands)) == NULL) {
			rc = fail(err, OPS_EIO, "out of memory");
			goto out;
		}
		snprintf(c->id, sizeof(c->id), "%s", dev.id);
	}
	rc = ok(err);
out:
	crypto_wipe(&dev, sizeof(dev));
	free(sorted);
	return rc;
}

/* Refusals that depend on the other jobs. */
static int
job_check_others(const struct job_rec *job, const struct vec *jobs,
    struct ops_err *err)
{
	const struct job_rec *o;
	size_t	 i;

	for (i = 0; i < jobs->n; i++) {
		o = vec_at(jobs, i);
		if (!jobs_job_is_open(o))
			continue;
		if (job->dynamic && o->dynamic &&
		    strcmp(o->firmware, job->firmware) == 0)
			return fail(err, OPS_ECONFLICT, "firmware %s already "
			    "has an open dynamic job (%s)", job->firmware,
			    o->id);
		if (job->kind == JOB_KIND_BATCH && o->kind == JOB_KIND_BATCH &&
		    !job->override && strcmp(o->product, job->product) == 0 &&
		    strcmp(o->module, job->module) == 0 &&
		    src_overlap(job, o))
			return fail(err, OPS_ECONFLICT, "the source versions "
			    "overlap those of open batch %s of %s/%s; use "
			    "override to replace its not yet started devices",
			    o->id, job->product, job->module);
	}
	return ok(err);
}

int
ops_job_create(struct ops *ops, const struct job_rec *params,
    const char *const *devices, size_t ndevices, struct ops_job_item *out,
    struct ops_job_result *resp, struct ops_err *err)
{
	struct ops_job_result res;
	struct store_txn *txn = NULL;
	struct firmware_rec fw;
	struct job_rec job;
	struct jobdev_rec jd;
	struct jobs_change ch;
	struct vec jobs, cands;
	struct cand *c;
	char	 msg[OPS_ERR_MAX];
	int64_t	 now = ops_now(ops);
	size_t	 i, n, k;
	int	 rc;

	memset(&res, 0, sizeof(res));
	vec_init(&jobs, sizeof(struct job_rec));
	vec_init(&cands, sizeof(struct cand));
	job = *params;
	if (!valid_id(job.firmware))
		return fail(err, OPS_EINVAL, "invalid firmware id");
	if (job.scope == JOB_SCOPE_DEVICES) {
		if (ndevices == 0)
			return fail(err, OPS_EINVAL, "no devices given");
		if (ndevices > OPS_JOB_DEVICES_MAX)
			return fail(err, OPS_EINVAL, "at most %d devices in a "
			    "job", OPS_JOB_DEVICES_MAX);
		if (job.dynamic)
			return fail(err, OPS_EUNPROC, "a dynamic job takes "
			    "the devices of the whole product, not a list");
	} else if (ndevices > 0)
		return fail(err, OPS_EINVAL, "a device list needs the "
		    "devices scope");

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return fail_store(err, rc, "job create");
	rc = store_firmware_get(txn, job.firmware, &fw);
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "no firmware %s", job.firmware);
		goto out;
	}
	if (rc != 0) {
		rc = fail_store(err, rc, job.firmware);
		goto out;
	}
	snprintf(job.product, sizeof(job.product), "%s", fw.product);
	snprintf(job.module, sizeof(job.module), "%s", fw.module);
	snprintf(job.version, sizeof(job.version), "%s", fw.version);
	if (jobs_job_validate(&job, msg, sizeof(msg)) == -1) {
		rc = fail(err, OPS_EINVAL, "%s", msg);
		goto out;
	}
	if (job.kind == JOB_KIND_BATCH && !job.force &&
	    fw.state != FW_VERIFIED) {
		rc = fail(err, OPS_ECONFLICT, "firmware %s is %s: verify it "
		    "first, or force the batch", fw.id,
		    jobs_fw_state_name(fw.state));
		goto out;
	}
	if (job.end != 0 && job.end <= now) {
		rc = fail(err, OPS_EUNPROC, "the window has already ended");
		goto out;
	}
	if ((rc = all_jobs(txn, &jobs)) != 0) {
		rc = fail_store(err, rc, "job create");
		goto out;
	}
	if (jobs.n > 1)
		qsort(jobs.data, jobs.n, jobs.esize, job_cmp);
	if ((rc = job_check_others(&job, &jobs, err)) != OPS_OK)
		goto out;

	if ((rc = store_next_id(txn, "j", job.id)) != 0) {
		rc = fail_store(err, rc, "job id");
		goto out;
	}
	job.created = now;
	job.started = job.finished = 0;
	job.rate_window = 0;
	job.rate_used = 0;
	if (job.start == 0 || job.start <= now) {
		job.state = JOB_RUNNING;
		job.started = now;
	} else
		job.state = JOB_SCHEDULED;

	rc = job_candidates(txn, &job, devices, ndevices, &cands, &res, err);
	if (rc != OPS_OK)
		goto out;
	/* Leave out those that cannot join; supersede with override. */
	for (i = 0, n = 0; i < cands.n; i++) {
		c = vec_at(&cands, i);
		rc = cand_admit(txn, &job, &jobs, c->id, 0, now, NULL);
		if (rc < 0) {
			rc = fail_store(err, rc, c->id);
			goto out;
		}
		if (rc == 0) {
			res.left_out++;
			continue;
		}
		if (n != i)
			memcpy(vec_at(&cands, n), c, sizeof(*c));
		n++;
	}
	cands.n = n;
	k = n;
	if (job.scope == JOB_SCOPE_GRAY) {
		for (i = 0; i < n; i++) {
			c = vec_at(&cands, i);
			c->rank = jobs_gray_rank(job.id, c->id);
		}
		if (n > 1)
			qsort(cands.data, n, cands.esize, cand_cmp);
		k = jobs_gray_count(n, job.gray_percent);
	}
	if (k == 0 && !job.dynamic) {
		rc = fail(err, OPS_EUNPROC, "no device matches the job "
		    "(%zu already on %s or not on a source version, %zu busy "
		    "in other jobs)", res.skipped, job.version, res.left_out);
		goto out;
	}
	for (i = 0; i < k; i++) {
		c = vec_at(&cands, i);
		if (job.override && (rc = cand_admit(txn, &job, &jobs, c->id,
		    1, now, &res.superseded)) < 0) {
			rc = fail_store(err, rc, c->id);
			goto out;
		}
		jobs_jd_init(&job, &jd, c->id, now);
		memset(&ch, 0, sizeof(ch));
		ch.changed = 1;
		ch.from = -1;
		ch.to = jd.state;
		if ((rc = row_store(txn, &job, &jd, &ch, now)) != 0) {
			rc = fail_store(err, rc, c->id);
			goto out;
		}
		res.added++;
	}
	if ((rc = store_job_put(txn, &job)) != 0) {
		rc = fail_store(err, rc, job.id);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, "job create");
		goto out;
	}
	if (out != NULL) {
		out->job = job;
		memset(&out->counts, 0, sizeof(out->counts));
		out->counts.n[job.confirm ? JD_WAIT_CONFIRM : JD_QUEUED] =
		    res.added;
		out->counts.total = res.added;
	}
	if (resp != NULL)
		*resp = res;
	log_info("job %s created for %s: %zu devices", job.id, job.firmware,
	    res.added);
	rc = ok(err);
out:
	store_txn_abort(txn);
	vec_free(&jobs);
	vec_free(&cands);
	return rc;
}

int
ops_job_show(struct ops *ops, const char *id, struct ops_job_item *item,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if (id == NULL || !valid_id(id))
		return fail(err, OPS_EINVAL, "invalid job id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return fail_store(err, rc, "job show");
	rc = store_job_get(txn, id, &item->job);
	if (rc == 0)
		rc = job_counts(txn, id, &item->counts);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return fail(err, OPS_ENOTFOUND, "no job %s", id);
	if (rc != 0)
		return fail_store(err, rc, id);
	return ok(err);
}

static int
jobitem_collect_cb(const struct job_rec *job, void *arg)
{
	struct ops_job_item *p;

	if ((p = vec_push(arg)) == NULL)
		return 1;
	p->job = *job;
	return 0;
}

int
ops_job_list(struct ops *ops, struct ops_job_item **items, size_t *n,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct ops_job_item *it;
	struct vec v;
	size_t	 i;
	int	 rc;

	*items = NULL;
	*n = 0;
	vec_init(&v, sizeof(struct ops_job_item));
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return fail_store(err, rc, "job list");
	rc = store_job_iter(txn, jobitem_collect_cb, &v);
	if (rc == STORE_ESTOP)
		rc = STORE_EIO;
	for (i = 0; rc == 0 && i < v.n; i++) {
		it = vec_at(&v, i);
		rc = job_counts(txn, it->job.id, &it->counts);
	}
	store_txn_abort(txn);
	if (rc != 0) {
		vec_free(&v);
		return fail_store(err, rc, "job list");
	}
	*items = (struct ops_job_item *)v.data;
	*n = v.n;
	return ok(err);
}

struct jdlist {
	const struct ops_jobdev_filter *f;
	int	(*cb)(const struct jobdev_rec *, void *);
	void	*arg;
	size_t	 delivered;
	int	 more;
	char	 last[OTA_ID_MAX + 1];
};

static int
jdlist_cb(const struct jobdev_rec *jd, void *arg)
{
	struct jdlist *l = arg;

	if (l->f->after != NULL && *l->f->after != '\0' &&
	    strcmp(jd->device, l->f->after) <= 0)
		return 0;
	if (l->f->state >= 0 && jd->state != l->f->state)
		return 0;
	if (l->f->limit > 0 && l->delivered == l->f->limit) {
		l->more = 1;
		return 1;
	}
	l->delivered++;
	snprintf(l->last, sizeof(l->last), "%s", jd->device);
	return l->cb(jd, l->arg) != 0;
}

int
ops_job_devices(struct ops *ops, const char *id,
    const struct ops_jobdev_filter *f,
    int (*cb)(const struct jobdev_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct ops_jobdev_filter all = { -1, NULL, 0 };
	struct store_txn *txn = NULL;
	struct job_rec job;
	struct jdlist l;
	int	 rc;

	if (next != NULL)
		next[0] = '\0';
	if (id == NULL || !valid_id(id))
		return fail(err, OPS_EINVAL, "invalid job id");
	if (f == NULL)
		f = &all;
	if (f->state >= JD_NSTATES)
		return fail(err, OPS_EINVAL, "invalid state");
	memset(&l, 0, sizeof(l));
	l.f = f;
	l.cb = cb;
	l.arg = arg;
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return fail_store(err, rc, "job devices");
	rc = store_job_get(txn, id, &job);
	if (rc == 0)
		rc = store_jobdev_iter(txn, id, jdlist_cb, &l);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return fail(err, OPS_ENOTFOUND, "no job %s", id);
	if (rc != 0 && rc != STORE_ESTOP)
		return fail_store(err, rc, id);
	if (l.more && next != NULL)
		snprintf(next, OTA_ID_MAX + 1, "%s", l.last);
	return ok(err);
}

int
ops_job_terminate(struct ops *ops, const char *id, struct ops_job_item *out,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct firmware_rec fw;
	struct job_rec job;
	struct jobdev_rec *jd;
	struct jobs_change ch;
	struct jobs_counts c;
	struct vec rows;
	int64_t	 now = ops_now(ops);
	size_t	 i;
	int	 rc;

	vec_init(&rows, sizeof(struct jobdev_rec));
	memset(&c, 0, sizeof(c));
	if (id == NULL || !valid_id(id))
		return fail(err, OPS_EINVAL, "invalid job id");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return fail_store(err, rc, "job terminate");
	rc = store_job_get(txn, id, &job);
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "no job %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	if (!jobs_job_is_open(&job)) {
		rc = fail(err, OPS_ECONFLICT, "job %s is already %s", id,
		    jobs_state_name(job.state));
		goto out;
	}
	if ((rc = job_rows(txn, id, &rows)) != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = vec_at(&rows, i);
		if (jobs_jd_terminate(jd, now, &ch) == 0 &&
		    (rc = row_store(txn, &job, jd, &ch, now)) != 0) {
			rc = fail_store(err, rc, id);
			goto out;
		}
		jobs_counts_add(&c, jd->state);
	}
	job.state = JOB_TERMINATED;
	job.finished = now;
	if ((rc = store_job_put(txn, &job)) != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	if (job.kind == JOB_KIND_VERIFY &&
	    store_firmware_get(txn, job.firmware, &fw) == 0) {
		fw.state = jobs_verify_result(&c);
		if ((rc = store_firmware_put(txn, &fw)) != 0) {
			rc = fail_store(err, rc, id);
			goto out;
		}
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, id);
		goto out;
	}
	if (out != NULL) {
		out->job = job;
		out->counts = c;
	}
	rc = ok(err);
out:
	store_txn_abort(txn);
	vec_free(&rows);
	return rc;
}

enum rowop {
	ROWOP_CANCEL,
	ROWOP_RETRY,
	ROWOP_CONFIRM,
};

static int
job_rowop(struct ops *ops, int op, const char *jid, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	static const char *const names[] = { "cancel", "retry", "confirm" };
	struct store_txn *txn = NULL;
	struct job_rec job;
	struct jobdev_rec jd;
	struct jobs_change ch;
	int64_t	 now = ops_now(ops);
	int	 rc, r;

	if (jid == NULL || !valid_id(jid))
		return fail(err, OPS_EINVAL, "invalid job id");
	if (dev == NULL || !valid_device_id(dev))
		return fail(err, OPS_EINVAL, "invalid device id");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return fail_store(err, rc, names[op]);
	rc = store_job_get(txn, jid, &job);
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "no job %s", jid);
		goto out;
	}
	if (rc == 0)
		rc = store_jobdev_get(txn, jid, dev, &jd);
	if (rc == STORE_ENOTFOUND) {
		rc = fail(err, OPS_ENOTFOUND, "device %s is not in job %s",
		    dev, jid);
		goto out;
	}
	if (rc != 0) {
		rc = fail_store(err, rc, jid);
		goto out;
	}
	switch (op) {
	case ROWOP_CANCEL:
		r = jobs_jd_cancel(&jd, now, &ch);
		break;
	case ROWOP_RETRY:
		r = jobs_jd_retry(&job, &jd, now, &ch);
		break;
	default:
		r = jobs_jd_confirm(&jd, now, &ch);
		break;
	}
	if (r == -1) {
		rc = fail(err, OPS_ECONFLICT, "cannot %s device %s in job %s: "
		    "it is %s%s", names[op], dev, jid,
		    jobs_jd_state_name(jd.state),
		    op == ROWOP_RETRY && job.state == JOB_TERMINATED ?
		    " and the job is TERMINATED" : "");
		goto out;
	}
	if ((rc = row_store(txn, &job, &jd, &ch, now)) != 0 ||
	    (rc = job_settle(txn, &job, now)) != 0) {
		rc = fail_store(err, rc, jid);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = fail_store(err, rc, jid);
		goto out;
	}
	if (out != NULL)
		*out = jd;
	rc = ok(err);
out:
	store_txn_abort(txn);
	return rc;
}

int
ops_job_cancel(struct ops *ops, const char *job, const char *device,
    struct jobdev_rec *out, struct ops_err *err)
{
	return job_rowop(ops, ROWOP_CANCEL, job, device, out, err);
}

int
ops_job_retry(struct ops *ops, const char *job, const char *device,
    struct jobdev_rec *out, struct ops_err *err)
{
	return job_rowop(ops, ROWOP_RETRY, job, device, out, err);
}

int
ops_job_confirm(struct ops *ops, const char *job, const char *device,
    struct jobdev_rec *out, struct ops_err *err)
{
	return job_rowop(ops, ROWOP_CONFIRM, job, device, out, err);
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
		return fail_store(err, rc, "relay status");
	rc = store_outbox_stats(txn, stats);
	store_txn_abort(txn);
	if (rc != 0)
		return fail_store(err, rc, "relay status");
	return ok(err);
}
