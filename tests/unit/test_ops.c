/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_ops.c: unit tests of the operator operations (src/ops) on a real
 * store in a temporary directory.
 *
 * Every operation is run once to success and once into each of its error
 * codes.  After every refused call the test compares a snapshot of the
 * store (devices, firmware, jobs, outbox depth, files in images/) with the
 * one taken before: a refused call must leave nothing behind.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "log.h"
#include "ops/ops.h"
#include "store/store.h"
#include "util/validate.h"

#include "t.h"

static char dir[256];
static struct store *st;
static struct ops ops;
static int64_t t_now = 1795000000000LL;	/* 2026-11-19 */

static int64_t
test_clock(void)
{
	return t_now;
}

/*
 * Snapshots.
 */

struct snap {
	size_t	 devices;
	size_t	 firmware;
	size_t	 jobs;
	size_t	 outbox;
	size_t	 images;
	uint64_t last_seq;
};

static int
count_fw_cb(const struct firmware_rec *fw, void *arg)
{
	(void)fw;
	(*(size_t *)arg)++;
	return 0;
}

static int
count_job_cb(const struct job_rec *job, void *arg)
{
	(void)job;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
count_images(void)
{
	char	 path[512];
	struct dirent *de;
	size_t	 n = 0;
	DIR	*d;

	snprintf(path, sizeof(path), "%s/images", dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static struct snap
snap_take(void)
{
	struct store_txn *txn;
	struct outbox_stats os;
	struct snap s;

	memset(&s, 0, sizeof(s));
	if (store_txn_begin(st, 1, &txn) != 0) {
		T_CHECK(!"read txn");
		return s;
	}
	store_device_count(txn, &s.devices);
	store_firmware_iter(txn, count_fw_cb, &s.firmware);
	store_job_iter(txn, count_job_cb, &s.jobs);
	if (store_outbox_stats(txn, &os) == 0) {
		s.outbox = os.depth;
		s.last_seq = os.last_seq;
	}
	store_txn_abort(txn);
	s.images = count_images();
	return s;
}

#define SNAP_SAME(a, b) do {						\
	T_EQ_INT((a).devices, (b).devices);				\
	T_EQ_INT((a).firmware, (b).firmware);				\
	T_EQ_INT((a).jobs, (b).jobs);					\
	T_EQ_INT((a).outbox, (b).outbox);				\
	T_EQ_INT((a).images, (b).images);				\
	T_EQ_INT((a).last_seq, (b).last_seq);				\
} while (0)

/* Runs a call that must fail with `want' and change nothing. */
#define REFUSED(call, want) do {					\
	struct snap r_before_ = snap_take(), r_after_;			\
	int r_rc_ = (call);						\
	T_EQ_INT(r_rc_, want);						\
	r_after_ = snap_take();						\
	SNAP_SAME(r_before_, r_after_);					\
} while (0)

/*
 * Helpers.
 */

static int
put_dev(const char *id, const char *product, const char *version,
    const char *secret, const char *psk)
{
	struct ops_device_params p;
	struct ops_err err;
	const char *v[1];
	int	 rc;

	memset(&p, 0, sizeof(p));
	p.id = id;
	p.product = product;
	p.secret = secret;
	p.psk_hex = psk;
	if (version != NULL) {
		v[0] = version;
		p.versions = v;
		p.nversions = 1;
	}
	rc = ops_device_put(&ops, &p, NULL, NULL, &err);
	if (rc != OPS_OK)
		fprintf(stderr, "put_dev %s: %s\n", id, err.msg);
	return rc;
}

static void
fill(uint8_t *buf, size_t n, unsigned seed)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)((i * 131 + seed * 7) ^ (i >> 8));
}

/* Writes n bytes to a temporary file and returns its path (static). */
static const char *
tmp_image(size_t n, unsigned seed)
{
	static char path[512];
	uint8_t	*buf;
	FILE	*f;

	snprintf(path, sizeof(path), "%s.img", dir);
	if ((buf = malloc(n + 1)) == NULL)
		return NULL;
	fill(buf, n, seed);
	if ((f = fopen(path, "wb")) == NULL) {
		free(buf);
		return NULL;
	}
	if (n > 0)
		fwrite(buf, 1, n, f);
	fclose(f);
	free(buf);
	return path;
}

static int
add_fw_full(const char *product, const char *module, const char *version,
    const char *name, const char *desc, const char *sign, size_t size,
    struct firmware_rec *out, struct ops_err *err)
{
	struct ops_fw_params p;

	memset(&p, 0, sizeof(p));
	p.product = product;
	p.module = module;
	p.version = version;
	p.name = name;
	p.description = desc;
	p.sign_method = sign;
	return ops_firmware_add_file(&ops, &p, tmp_image(size, (unsigned)size),
	    out, err);
}

static int
add_fw(const char *product, const char *version, struct firmware_rec *out)
{
	struct ops_err err;
	int	 rc;

	rc = add_fw_full(product, NULL, version, NULL, NULL, NULL, 1000, out,
	    &err);
	if (rc != OPS_OK)
		fprintf(stderr, "add_fw %s: %s\n", version, err.msg);
	return rc;
}

static void
job_params(struct job_rec *j, const char *fw)
{
	jobs_job_defaults(j);
	snprintf(j->firmware, sizeof(j->firmware), "%s", fw);
}

static int
set_row_state(const char *job, const char *dev, int state)
{
	struct store_txn *txn;
	struct jobdev_rec jd;
	int	 rc;

	if ((rc = store_txn_begin(st, 0, &txn)) != 0)
		return rc;
	if ((rc = store_jobdev_get(txn, job, dev, &jd)) != 0) {
		store_txn_abort(txn);
		return rc;
	}
	jd.state = state;
	if (state == JD_UPGRADING) {
		jd.started = t_now;
		jd.notified = t_now;
		jd.step = 10;
	}
	if (state == JD_FAILED)
		snprintf(jd.reason, sizeof(jd.reason), "device:-1");
	if ((rc = store_jobdev_put(txn, &jd)) != 0) {
		store_txn_abort(txn);
		return rc;
	}
	return store_txn_commit(txn);
}

static int
row_state(const char *job, const char *dev)
{
	struct store_txn *txn;
	struct jobdev_rec jd;
	int	 rc;

	if (store_txn_begin(st, 1, &txn) != 0)
		return -100;
	rc = store_jobdev_get(txn, job, dev, &jd);
	store_txn_abort(txn);
	return rc == 0 ? jd.state : rc;
}

static int
set_fw_state(const char *id, int state)
{
	struct store_txn *txn;
	struct firmware_rec fw;
	int	 rc;

	if ((rc = store_txn_begin(st, 0, &txn)) != 0)
		return rc;
	if ((rc = store_firmware_get(txn, id, &fw)) != 0) {
		store_txn_abort(txn);
		return rc;
	}
	fw.state = state;
	if ((rc = store_firmware_put(txn, &fw)) != 0) {
		store_txn_abort(txn);
		return rc;
	}
	return store_txn_commit(txn);
}

static int
file_contains(const char *path, const void *needle, size_t n)
{
	struct stat sb;
	char	*buf;
	int	 fd, found = 0;
	ssize_t	 r;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || (buf = malloc((size_t)sb.st_size + 1)) ==
	    NULL) {
		close(fd);
		return -1;
	}
	r = read(fd, buf, (size_t)sb.st_size);
	if (r > 0 && memmem(buf, (size_t)r, needle, n) != NULL)
		found = 1;
	free(buf);
	close(fd);
	return found;
}

/*
 * Tests.
 */

static void
test_status(void)
{
	T_EQ_INT(ops_status_http(OPS_OK), 200);
	T_EQ_INT(ops_status_http(OPS_EINVAL), 400);
	T_EQ_INT(ops_status_http(OPS_EUNPROC), 422);
	T_EQ_INT(ops_status_http(OPS_ENOTFOUND), 404);
	T_EQ_INT(ops_status_http(OPS_ECONFLICT), 409);
	T_EQ_INT(ops_status_http(OPS_ETOOLARGE), 413);
	T_EQ_INT(ops_status_http(OPS_EFULL), 507);
	T_EQ_INT(ops_status_http(OPS_EIO), 500);
	T_EQ_STR(ops_status_name(OPS_ENOTFOUND), "not_found");
	T_EQ_STR(ops_status_name(OPS_ECONFLICT), "conflict");
	T_EQ_STR(ops_status_name(OPS_EINVAL), "bad_request");
}

static void
test_parse_mv(void)
{
	struct module_version mv;

	T_EQ_INT(ops_parse_module_version("1.0.0", &mv), 0);
	T_EQ_STR(mv.module, "default");
	T_EQ_STR(mv.version, "1.0.0");
	T_EQ_INT(ops_parse_module_version("wifi=2.1", &mv), 0);
	T_EQ_STR(mv.module, "wifi");
	T_EQ_STR(mv.version, "2.1");
	T_EQ_INT(ops_parse_module_version("=2.1", &mv), -1);
	T_EQ_INT(ops_parse_module_version("wifi=", &mv), -1);
	T_EQ_INT(ops_parse_module_version("", &mv), -1);
	T_EQ_INT(ops_parse_module_version("a b", &mv), -1);
	T_EQ_INT(ops_parse_module_version("m=1=2", &mv), -1);
}

/* Device parameters refused (nothing stored), and shows that fail. */
static void
device_put_refused(void)
{
	const char *v9[] = { "a=1", "b=1", "c=1", "d=1", "e=1", "f=1", "g=1",
	    "h=1", "i=1" };
	struct ops_device_params p;
	struct device_rec d;
	struct ops_err err;

	memset(&p, 0, sizeof(p));
	p.id = "bad id";
	p.product = "prodA";
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "device id") != NULL);
	p.id = "dev-2";
	p.product = NULL;
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	p.product = "prod/A";
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	p.product = "prodA";
	p.psk_hex = "abc";
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	p.psk_hex = "zz";
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	p.psk_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbcc"
	    "ddeeff00112233445566778899aabbccddeeff00112233445566778899aabb"
	    "ccddeeff00";	/* 65 bytes */
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	p.psk_hex = NULL;
	p.secret = "line\nbreak";
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	p.secret = NULL;
	p.versions = (const char *const[]){ "mod=bad version" };
	p.nversions = 1;
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EINVAL);
	p.versions = v9;
	p.nversions = 9;
	REFUSED(ops_device_put(&ops, &p, NULL, NULL, &err), OPS_EUNPROC);
	T_EQ_INT(err.status, OPS_EUNPROC);

	/* show: unknown and invalid */
	T_EQ_INT(ops_device_show(&ops, "nobody", &d, &err), OPS_ENOTFOUND);
	T_CHECK(strstr(err.msg, "nobody") != NULL);
	T_EQ_INT(ops_device_show(&ops, "bad id", &d, &err), OPS_EINVAL);
}

static void
test_device_put(void)
{
	const char *v2[] = { "2.0", "wifi=1.1" };
	struct ops_device_params p;
	struct device_rec d, d2;
	struct ops_err err;
	uint8_t	 hash[32], zero[16] = { 0 };
	char	 path[512];
	int	 created = -1;

	memset(&p, 0, sizeof(p));
	p.id = "dev-1";
	p.product = "prodA";
	p.secret = "Sup3rS3cretValue";
	p.psk_hex = "00112233445566778899aabbccddeeff";
	p.versions = v2;
	p.nversions = 1;
	T_EQ_INT(ops_device_put(&ops, &p, &d, &created, &err), OPS_OK);
	T_EQ_INT(created, 1);
	T_EQ_STR(d.product, "prodA");
	T_EQ_INT(d.has_secret, 1);
	T_CHECK(memcmp(d.secret_salt, zero, sizeof(zero)) != 0);
	crypto_secret_hash(d.secret_salt, "Sup3rS3cretValue", 16, hash);
	T_CHECK(memcmp(hash, d.secret_hash, 32) == 0);
	T_EQ_INT(d.psk_len, 16);
	T_EQ_INT(d.psk[15], 0xff);
	T_EQ_INT(d.nversions, 1);
	T_EQ_STR(d.versions[0].module, "default");
	T_EQ_STR(d.versions[0].version, "2.0");
	T_EQ_INT(d.created, t_now);

	/* an update keeps created, secret and PSK, merges versions */
	t_now += 1000;
	memset(&p, 0, sizeof(p));
	p.id = "dev-1";
	p.product = "prodA";
	p.versions = v2 + 1;
	p.nversions = 1;
	T_EQ_INT(ops_device_put(&ops, &p, &d2, &created, &err), OPS_OK);
	T_EQ_INT(created, 0);
	T_EQ_INT(d2.created, d.created);
	T_EQ_INT(d2.updated, t_now);
	T_EQ_INT(d2.has_secret, 1);
	T_CHECK(memcmp(d2.secret_hash, d.secret_hash, 32) == 0);
	T_EQ_INT(d2.psk_len, 16);
	T_EQ_INT(d2.nversions, 2);
	T_EQ_STR(d2.versions[1].module, "wifi");
	T_EQ_STR(d2.versions[1].version, "1.1");
	T_EQ_INT(ops_device_show(&ops, "dev-1", &d2, &err), OPS_OK);
	T_EQ_INT(d2.nversions, 2);

	/* the secret is nowhere in the store files */
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	T_EQ_INT(file_contains(path, "Sup3rS3cretValue", 16), 0);

	/* "" removes secret and PSK */
	p.versions = NULL;
	p.nversions = 0;
	p.secret = "";
	p.psk_hex = "";
	T_EQ_INT(ops_device_put(&ops, &p, &d2, NULL, &err), OPS_OK);
	T_EQ_INT(d2.has_secret, 0);
	T_EQ_INT(d2.psk_len, 0);
	T_EQ_INT(d2.nversions, 2);
	/* no product: the stored one is kept */
	p.product = NULL;
	p.secret = NULL;
	p.psk_hex = NULL;
	T_EQ_INT(ops_device_put(&ops, &p, &d2, NULL, &err), OPS_OK);
	T_EQ_STR(d2.product, "prodA");

	device_put_refused();
	crypto_wipe(&d, sizeof(d));
}

struct collect {
	char	 ids[64][OTA_ID_MAX + 1];
	size_t	 n;
};

static int
collect_dev_cb(const struct device_rec *d, void *arg)
{
	struct collect *c = arg;

	if (c->n < 64)
		snprintf(c->ids[c->n++], OTA_ID_MAX + 1, "%s", d->id);
	return 0;
}

static void
test_device_list(void)
{
	struct ops_device_filter f;
	struct collect c;
	struct ops_err err;
	char	 next[OTA_ID_MAX + 1];

	T_EQ_INT(put_dev("list-a", "prodL", "1.0", NULL, NULL), OPS_OK);
	T_EQ_INT(put_dev("list-b", "prodL", "2.0", NULL, NULL), OPS_OK);
	T_EQ_INT(put_dev("list-c", "prodL", "wifi=1.0", NULL, NULL), OPS_OK);
	T_EQ_INT(put_dev("list-d", "prodM", "1.0", NULL, NULL), OPS_OK);

	memset(&f, 0, sizeof(f));
	f.product = "prodL";
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ops_device_list(&ops, &f, collect_dev_cb, &c, next, &err),
	    OPS_OK);
	T_EQ_INT(c.n, 3);
	T_EQ_STR(next, "");

	f.version = "1.0";
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ops_device_list(&ops, &f, collect_dev_cb, &c, next, &err),
	    OPS_OK);
	T_EQ_INT(c.n, 1);
	T_EQ_STR(c.ids[0], "list-a");

	f.module = "wifi";
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ops_device_list(&ops, &f, collect_dev_cb, &c, next, &err),
	    OPS_OK);
	T_EQ_INT(c.n, 1);
	T_EQ_STR(c.ids[0], "list-c");

	/* paging */
	memset(&f, 0, sizeof(f));
	f.product = "prodL";
	f.limit = 2;
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ops_device_list(&ops, &f, collect_dev_cb, &c, next, &err),
	    OPS_OK);
	T_EQ_INT(c.n, 2);
	T_EQ_STR(next, "list-b");
	f.after = next;
	memset(&c, 0, sizeof(c));
	T_EQ_INT(ops_device_list(&ops, &f, collect_dev_cb, &c, NULL, &err),
	    OPS_OK);
	T_EQ_INT(c.n, 1);
	T_EQ_STR(c.ids[0], "list-c");

	f.after = NULL;
	f.product = "bad product!";
	T_EQ_INT(ops_device_list(&ops, &f, collect_dev_cb, &c, NULL, &err),
	    OPS_EINVAL);
	f.product = NULL;
	f.version = "bad version";
	T_EQ_INT(ops_device_list(&ops, &f, collect_dev_cb, &c, NULL, &err),
	    OPS_EINVAL);
}

static int
import(const char *csv, const char *product, struct ops_import_result *res,
    struct ops_err *err)
{
	return ops_device_import(&ops, csv, strlen(csv), product, res, err);
}

static void
test_device_import(void)
{
	const char good[] =
	    "\xef\xbb\xbfproduct,device,secret,psk\r\n"
	    "prodI,imp-1,sec1,0011\r\n"
	    "\r\n"
	    "prodI,\"imp-2\",\"a,\"\"quoted\"\" secret\",\n"
	    "prodI,imp-3,,\n"
	    "prodI,imp-4\n";
	const char badline[] =
	    "prodI,imp-5,s,00\n"
	    "prodI,imp-6,s,00\n"
	    "prodI,bad id,s,00\n";
	const char badpsk[] = "prodI,imp-7,s,0\n";
	const char dup[] = "prodI,imp-8\nprodI,imp-9\nprodI,imp-8\n";
	const char quote[] = "prodI,\"imp-10,s\n";
	struct ops_import_result res;
	struct device_rec d;
	struct ops_err err;
	uint8_t	 hash[32];
	char	*big;
	size_t	 i, o;

	T_EQ_INT(import(good, NULL, &res, &err), OPS_OK);
	T_EQ_INT(res.lines, 4);
	T_EQ_INT(res.created, 4);
	T_EQ_INT(res.nbad, 0);
	T_EQ_INT(ops_device_show(&ops, "imp-2", &d, &err), OPS_OK);
	T_EQ_INT(d.has_secret, 1);
	crypto_secret_hash(d.secret_salt, "a,\"quoted\" secret", 17, hash);
	T_CHECK(memcmp(hash, d.secret_hash, 32) == 0);
	T_EQ_INT(d.psk_len, 0);
	T_EQ_INT(ops_device_show(&ops, "imp-1", &d, &err), OPS_OK);
	T_EQ_INT(d.psk_len, 2);
	T_EQ_INT(ops_device_show(&ops, "imp-3", &d, &err), OPS_OK);
	T_EQ_INT(d.has_secret, 0);

	/* again: all updates */
	T_EQ_INT(import(good, NULL, &res, &err), OPS_OK);
	T_EQ_INT(res.updated, 4);
	T_EQ_INT(res.created, 0);

	REFUSED(import(badline, NULL, &res, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "line 3") != NULL);
	T_EQ_INT(res.nbad, 1);
	T_EQ_INT(res.nlisted, 1);
	T_EQ_INT(res.bad[0].line, 3);
	T_CHECK(strstr(res.bad[0].msg, "device id") != NULL);
	T_EQ_INT(res.lines, 0);
	T_EQ_INT(ops_device_show(&ops, "imp-5", &d, &err), OPS_ENOTFOUND);
	REFUSED(import(badpsk, NULL, &res, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "line 1") != NULL);
	T_CHECK(strstr(err.msg, "PSK") != NULL);
	REFUSED(import(dup, NULL, &res, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "line 3") != NULL);
	T_EQ_STR(res.bad[0].msg, "device imp-8 is already on line 1");
	REFUSED(import(quote, NULL, &res, &err), OPS_EINVAL);
	REFUSED(import("", NULL, &res, &err), OPS_EINVAL);
	T_EQ_INT(res.nbad, 0);
	REFUSED(import("a,b,c,d,e\n", NULL, &res, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "too many fields") != NULL);

	/* 10,001 lines: too many, nothing stored */
	big = malloc(10001 * 32);
	T_CHECK(big != NULL);
	if (big == NULL)
		return;
	for (i = 0, o = 0; i < 10001; i++)
		o += (size_t)sprintf(big + o, "prodBig,big-%zu,,\n", i);
	REFUSED(ops_device_import(&ops, big, o, NULL, &res, &err),
	    OPS_ETOOLARGE);
	T_CHECK(strstr(err.msg, "line 10001") != NULL);
	/* exactly 10,000 is fine */
	o = 0;
	for (i = 0; i < 10000; i++)
		o += (size_t)sprintf(big + o, "prodBig,big-%zu,,\n", i);
	T_EQ_INT(ops_device_import(&ops, big, o, NULL, &res, &err), OPS_OK);
	T_EQ_INT(res.created, 10000);
	free(big);
}

/*
 * Every bad line of a file, in line order, and nothing stored: three of
 * them, of three kinds; then more than can be listed.
 */
static void
test_import_bad_lines(void)
{
	const char three[] =
	    "prodB,bl-1,s,00\n"
	    "prodB,bl-2,s,zz\n"			/* 2: PSK not hex */
	    "prodB,bl-3\n"
	    "prod/B,bl-4\n"			/* 4: product */
	    "\n"
	    "prodB,bl-1,s\n";			/* 6: bl-1 again */
	struct ops_import_result res;
	struct device_rec d;
	struct ops_err err;
	char	*csv;
	size_t	 i, o;

	REFUSED(import(three, NULL, &res, &err), OPS_EINVAL);
	T_EQ_INT(res.nbad, 3);
	T_EQ_INT(res.nlisted, 3);
	T_EQ_INT(res.bad[0].line, 2);
	T_CHECK(strstr(res.bad[0].msg, "PSK") != NULL);
	T_EQ_INT(res.bad[1].line, 4);
	T_CHECK(strstr(res.bad[1].msg, "product") != NULL);
	T_EQ_INT(res.bad[2].line, 6);
	T_EQ_STR(res.bad[2].msg, "device bl-1 is already on line 1");
	T_CHECK(strncmp(err.msg, "line 2: ", 8) == 0);
	T_CHECK(strstr(err.msg, "and 2 more bad lines") != NULL);
	T_EQ_INT(ops_device_show(&ops, "bl-1", &d, &err), OPS_ENOTFOUND);
	T_EQ_INT(ops_device_show(&ops, "bl-3", &d, &err), OPS_ENOTFOUND);

	/* 250 bad lines among good ones: the first 100 listed, 250 counted */
	csv = malloc(500 * 40);
	T_CHECK(csv != NULL);
	if (csv == NULL)
		return;
	for (i = 0, o = 0; i < 500; i++)
		o += (size_t)sprintf(csv + o, i % 2 ? "prodB,many %zu\n" :
		    "prodB,many-%zu\n", i);
	REFUSED(ops_device_import(&ops, csv, o, NULL, &res, &err),
	    OPS_EINVAL);
	T_EQ_INT(res.nbad, 250);
	T_EQ_INT(res.nlisted, OPS_IMPORT_BAD_MAX);
	T_EQ_INT(res.bad[0].line, 2);
	T_EQ_INT(res.bad[99].line, 200);
	for (i = 1; i < res.nlisted; i++)
		T_CHECK(res.bad[i - 1].line < res.bad[i].line);
	T_CHECK(strstr(err.msg, "and 249 more bad lines") != NULL);
	T_EQ_INT(ops_device_show(&ops, "many-0", &d, &err), OPS_ENOTFOUND);
	free(csv);
}

/* Header lines: the vendors' templates, any case, a default product. */
static void
test_import_header(void)
{
	static const struct {
		const char *csv;
		const char *product;	/* the default */
		int	 rc;
		const char *dev;	/* then stored, with this product */
		const char *want_product;
		int	 secret;
		int	 bad_line;	/* refused: the first bad line */
	} cases[] = {
	    /* Tencent's template: one column, the product from outside */
	    { "DeviceName\nth-1\nth-2\n", "prodT", OPS_OK, "th-2", "prodT",
		0, 0 },
	    { "DeviceName\nth-3\n", NULL, OPS_EINVAL, NULL, NULL, 0, 1 },
	    /* Aliyun's: other columns (Nickname) ignored, any order */
	    { "\xef\xbb\xbf" "DeviceName,Nickname,ProductKey,DeviceSecret\r\n"
		"ah-1,\"lamp one\",prodA,s3cret\r\n", NULL, OPS_OK, "ah-1",
		"prodA", 1, 0 },
	    /* case, '_' and '-' do not matter */
	    { "PRODUCT_ID,device-id,PSK\nprodC,ch-1,0011\n", NULL, OPS_OK,
		"ch-1", "prodC", 0, 0 },
	    /* the old header */
	    { "product,device,secret,psk\nprodO,oh-1,s,\n", "prodX", OPS_OK,
		"oh-1", "prodO", 1, 0 },
	    /* a line's empty product takes the default */
	    { "prodE,eh-1\n,eh-2\n", "prodHd", OPS_OK, "eh-2", "prodHd", 0,
		0 },
	    { ",eh-3\n", NULL, OPS_EINVAL, NULL, NULL, 0, 1 },
	    /* two columns for one thing */
	    { "device,DeviceName\nx,y\n", "p", OPS_EINVAL, NULL, NULL, 0, 1 },
	    /* more fields than the header names */
	    { "DeviceName,ProductKey\nfh-1,p,extra\nfh-2,p\n", NULL,
		OPS_EINVAL, NULL, NULL, 0, 2 },
	    /* no device column: not a header but a line, a bad one */
	    { "ProductKey,Nickname,a,b,c\n", NULL, OPS_EINVAL, NULL, NULL, 0,
		1 },
	    /* a header alone */
	    { "DeviceName\n", "p", OPS_EINVAL, NULL, NULL, 0, 0 },
	};
	struct ops_import_result res;
	struct device_rec d;
	struct ops_err err;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = import(cases[i].csv, cases[i].product, &res, &err);
		T_EQ_INT(rc, cases[i].rc);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
		if (cases[i].bad_line > 0) {
			T_EQ_INT(res.nlisted > 0 ? res.bad[0].line : 0,
			    cases[i].bad_line);
		}
		if (cases[i].dev == NULL)
			continue;
		T_EQ_INT(ops_device_show(&ops, cases[i].dev, &d, &err),
		    OPS_OK);
		T_EQ_STR(d.product, cases[i].want_product);
		T_EQ_INT(d.has_secret, cases[i].secret);
	}
	T_EQ_INT(ops_device_show(&ops, "th-3", &d, &err), OPS_ENOTFOUND);
	REFUSED(import("DeviceName\nz-1\n", "bad/product", &res, &err),
	    OPS_EINVAL);
	T_EQ_INT(res.nbad, 0);
}

/*
 * Firmware refused, with nothing stored: bad parameters, an image over
 * fw_max_size, one image too many for the product.
 */
static void
firmware_add_refused(void)
{
	struct ops_fw_params p;
	struct ops_upload *up;
	struct ops_err err;
	char	 desc[120];

	/* refusals: nothing stored, no image left */
	REFUSED(add_fw_full("prodF", NULL, "1.2.0", NULL, NULL, NULL, 100,
	    NULL, &err), OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "1.2.0") != NULL);
	REFUSED(add_fw_full("prodF", NULL, "bad version", NULL, NULL, NULL,
	    100, NULL, &err), OPS_EINVAL);
	REFUSED(add_fw_full("prodF", NULL, "2.0", "_starts_badly", NULL, NULL,
	    100, NULL, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "name") != NULL);
	REFUSED(add_fw_full("prodF", NULL, "2.0", "has space", NULL, NULL,
	    100, NULL, &err), OPS_EINVAL);
	REFUSED(add_fw_full("prodF", NULL, "2.0",
	    "abcdefghijklmnopqrstuvwxyz0123456", NULL, NULL, 100, NULL, &err),
	    OPS_EINVAL);
	memset(desc, 'd', 101);
	desc[101] = '\0';
	REFUSED(add_fw_full("prodF", NULL, "2.0", NULL, desc, NULL, 100, NULL,
	    &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "description") != NULL);
	desc[100] = '\0';
	REFUSED(add_fw_full("prodF", NULL, "2.0", NULL, NULL, "CRC32", 100,
	    NULL, &err), OPS_EINVAL);
	REFUSED(add_fw_full("prodF", "bad module", "2.0", NULL, NULL, NULL,
	    100, NULL, &err), OPS_EINVAL);
	REFUSED(add_fw_full("bad/prod", NULL, "2.0", NULL, NULL, NULL, 100,
	    NULL, &err), OPS_EINVAL);
	REFUSED(add_fw_full("prodF", NULL, "2.0", NULL, NULL, NULL, 0, NULL,
	    &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "empty") != NULL);
	memset(&p, 0, sizeof(p));
	p.product = "prodF";
	p.version = "2.0";
	REFUSED(ops_firmware_add_file(&ops, &p, "/nonexistent/image", NULL,
	    &err), OPS_ENOTFOUND);

	/* size limit: 413, announced or streamed */
	ops.fw_max_size = 4096;
	REFUSED(add_fw_full("prodF", NULL, "2.0", NULL, NULL, NULL, 4097,
	    NULL, &err), OPS_ETOOLARGE);
	REFUSED(ops_firmware_upload_begin(&ops, &p, 5000, &up, &err),
	    OPS_ETOOLARGE);
	T_EQ_INT(add_fw_full("prodF", NULL, "2.0", NULL, desc, NULL, 4096,
	    NULL, &err), OPS_OK);
	ops.fw_max_size = OPS_FW_MAX_SIZE_DEFAULT;

	/* images per product: 409 */
	ops.fw_max_per_product = 4;
	T_EQ_INT(add_fw("prodG", "1", NULL), OPS_OK);
	REFUSED(add_fw_full("prodF", NULL, "3.0", NULL, NULL, NULL, 100, NULL,
	    &err), OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "firmware_max_per_product") != NULL);
	ops.fw_max_per_product = OPS_FW_MAX_PER_PRODUCT_DEFAULT;
}

static void
test_firmware_add(void)
{
	struct ops_fw_params p;
	struct firmware_rec fw, fw2;
	struct ops_upload *up;
	struct ops_fw_item it;
	struct ops_err err;
	struct digest *dg;
	uint8_t	 buf[1000], md5[16], sha[32];
	int	 fd;

	T_EQ_INT(add_fw_full("prodF", NULL, "1.2.0", NULL, "first", NULL,
	    1000, &fw, &err), OPS_OK);
	T_CHECK(strncmp(fw.id, "fw-", 3) == 0);
	T_EQ_STR(fw.module, "default");
	T_EQ_STR(fw.name, "1_2_0");
	T_EQ_STR(fw.description, "first");
	T_EQ_INT(fw.sign_method, SIGN_SHA256);
	T_EQ_INT(fw.state, FW_UNVERIFIED);
	T_EQ_INT(fw.size, 1000);
	fill(buf, sizeof(buf), 1000);
	dg = digest_new();
	digest_update(dg, buf, sizeof(buf));
	digest_final(dg, md5, sha);
	digest_free(dg);
	T_CHECK(memcmp(fw.md5, md5, 16) == 0);
	T_CHECK(memcmp(fw.sha256, sha, 32) == 0);
	T_EQ_INT(ops_firmware_show(&ops, fw.id, &it, &err), OPS_OK);
	T_CHECK(memcmp(it.fw.sha256, sha, 32) == 0);
	T_EQ_INT(it.devices.total, 0);
	T_EQ_INT(count_images(), 1);

	/* from a descriptor, MD5, a CJK name, another module */
	memset(&p, 0, sizeof(p));
	p.product = "prodF";
	p.version = "1.2.0";
	p.module = "wifi";
	p.name = "固件(测试)_v2";
	p.sign_method = "md5";
	fd = open(tmp_image(5000, 3), O_RDONLY);
	T_CHECK(fd != -1);
	T_EQ_INT(ops_firmware_add_fd(&ops, &p, fd, &fw2, &err), OPS_OK);
	close(fd);
	T_EQ_INT(fw2.sign_method, SIGN_MD5);
	T_EQ_STR(fw2.name, "固件(测试)_v2");
	T_EQ_INT(fw2.size, 5000);
	T_CHECK(strcmp(fw.id, fw2.id) != 0);

	/* the streaming API used by the admin API */
	p.module = "ble";
	p.name = NULL;
	p.sign_method = NULL;
	T_EQ_INT(ops_firmware_upload_begin(&ops, &p, 2000, &up, &err), OPS_OK);
	T_EQ_INT(ops_firmware_upload_write(up, buf, 1000, &err), OPS_OK);
	T_EQ_INT(ops_firmware_upload_write(up, buf, 1000, &err), OPS_OK);
	T_EQ_INT(ops_firmware_upload_finish(up, &fw2, &err), OPS_OK);
	T_EQ_INT(fw2.size, 2000);
	/* an abandoned upload leaves nothing */
	p.version = "9.9";
	{
		struct snap a = snap_take(), b;

		T_EQ_INT(ops_firmware_upload_begin(&ops, &p, -1, &up, &err),
		    OPS_OK);
		T_EQ_INT(ops_firmware_upload_write(up, buf, 1000, &err),
		    OPS_OK);
		ops_firmware_upload_abort(up);
		b = snap_take();
		SNAP_SAME(a, b);
	}

	firmware_add_refused();
}

/*
 * Security seqs: the module's next by default, per product and module;
 * an equal one taken, a lower one refused.  Author keys: a key that is
 * not P-256 refused; with one set, an image without a signature or with
 * one that does not verify is refused and nothing is stored; the good
 * one is kept in the record; without a key a signature is refused.
 * The key and signature are those of test_crypto ("otagw image").
 */
static const char seq_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIB9zwQvim1TM9XzqeW9T+aB3FDFw\n"
    "xFaaHz0STxkNQRzM4MFVXj43GDeRHGjwSIYgEC1VSidM9uR2QESE02/NWg==\n"
    "-----END PUBLIC KEY-----\n";
static const uint8_t seq_sig[] = {
	0x30, 0x44, 0x02, 0x20, 0x66, 0x37, 0xdf, 0x03, 0x06, 0x95, 0x41, 0xf6,
	0xf6, 0x34, 0xea, 0xbe, 0x5d, 0x90, 0x73, 0x3d, 0x62, 0xdd, 0x97, 0x91,
	0x72, 0xff, 0x31, 0x43, 0x51, 0x73, 0x97, 0x6c, 0x20, 0xa6, 0x3d, 0x72,
	0x02, 0x20, 0x55, 0x79, 0x80, 0xe0, 0x70, 0xb0, 0xf9, 0x9a, 0x8b, 0x01,
	0x22, 0x7f, 0xd6, 0x94, 0xef, 0x89, 0x81, 0x6e, 0x9c, 0x91, 0x35, 0xac,
	0x33, 0xec, 0x7c, 0x5d, 0x5d, 0xaa, 0x53, 0x42, 0xe6, 0xe0,
};

static int
add_seq(const char *module, const char *version, uint32_t seq,
    const uint8_t *sig, size_t siglen, struct firmware_rec *out,
    struct ops_err *err)
{
	struct ops_fw_params p;
	static char path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s.signed", dir);
	if ((f = fopen(path, "wb")) == NULL)
		return -100;
	fputs("otagw image", f);
	fclose(f);
	memset(&p, 0, sizeof(p));
	p.product = "prodS";
	p.module = module;
	p.version = version;
	p.seq = seq;
	p.author_sig = sig;
	p.author_sig_len = siglen;
	return ops_firmware_add_file(&ops, &p, path, out, err);
}

/*
 * A job below a device's accepted seq: refused, naming the device, for a
 * list and for --all; taken with allow_downgrade, which the job keeps
 * with its firmware's seq.  prodS module default: "2" has seq 2.
 */
static void
test_job_rollback(void)
{
	const char *devs[] = { "sq-1", "sq-2" };
	struct ops_job_item ji;
	struct firmware_rec fw;
	struct store_txn *txn;
	struct device_rec d;
	struct job_rec j;
	struct ops_err err;
	char	 id[OTA_ID_MAX + 1];

	T_EQ_INT(put_dev("sq-1", "prodS", "1", NULL, NULL), OPS_OK);
	T_EQ_INT(put_dev("sq-2", "prodS", "1", NULL, NULL), OPS_OK);
	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_device_get(txn, "sq-2", &d), 0);
	T_EQ_INT(jobs_device_accept_seq(&d, "default", 3, 0), 1);
	T_EQ_INT(store_device_put(txn, &d), 0);
	T_EQ_INT(store_firmware_find(txn, "prodS", "default", "2", id), 0);
	T_EQ_INT(store_firmware_get(txn, id, &fw), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
	T_EQ_INT(fw.seq, 2);

	job_params(&j, fw.id);
	j.force = 1;
	j.scope = JOB_SCOPE_DEVICES;
	REFUSED(ops_job_create(&ops, &j, devs, 2, NULL, NULL, &err),
	    OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "device sq-2 accepted seq 3") != NULL);
	/* only sq-1: fine (it accepted nothing) */
	T_EQ_INT(ops_job_create(&ops, &j, devs, 1, &ji, NULL, &err), OPS_OK);
	T_EQ_INT(ji.job.seq, 2);
	T_EQ_INT(ji.job.allow_downgrade, 0);
	T_EQ_INT(ops_job_terminate(&ops, ji.job.id, NULL, &err), OPS_OK);
	j.scope = JOB_SCOPE_ALL;
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "sq-2") != NULL);
	j.allow_downgrade = 1;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji, NULL, &err), OPS_OK);
	T_EQ_INT(ji.job.allow_downgrade, 1);
	T_EQ_INT(ji.counts.total, 2);
	T_EQ_INT(ops_job_show(&ops, ji.job.id, &ji, &err), OPS_OK);
	T_EQ_INT(ji.job.allow_downgrade, 1);
	T_EQ_INT(ji.job.seq, 2);
}

static void
test_firmware_seq(void)
{
	struct firmware_rec fw;
	struct product_rec pr;
	struct ops_err err;
	uint8_t	 bad[sizeof(seq_sig)];

	T_EQ_INT(add_seq(NULL, "1", 0, NULL, 0, &fw, &err), OPS_OK);
	T_EQ_INT(fw.seq, 1);
	T_EQ_INT(add_seq(NULL, "2", 0, NULL, 0, &fw, &err), OPS_OK);
	T_EQ_INT(fw.seq, 2);
	T_EQ_INT(add_seq("wifi", "1", 0, NULL, 0, &fw, &err), OPS_OK);
	T_EQ_INT(fw.seq, 1);			/* per module */
	T_EQ_INT(add_seq(NULL, "2.1", 2, NULL, 0, &fw, &err), OPS_OK);
	T_EQ_INT(fw.seq, 2);			/* equal: taken */
	REFUSED(add_seq(NULL, "2.2", 1, NULL, 0, &fw, &err), OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "never goes back") != NULL);
	T_EQ_INT(add_seq(NULL, "5", 10, NULL, 0, &fw, &err), OPS_OK);
	T_EQ_INT(add_seq(NULL, "6", 0, NULL, 0, &fw, &err), OPS_OK);
	T_EQ_INT(fw.seq, 11);
	T_EQ_INT(add_seq(NULL, "7", 4294967295U, NULL, 0, &fw, &err),
	    OPS_OK);
	REFUSED(add_seq(NULL, "8", 0, NULL, 0, &fw, &err), OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "highest seq") != NULL);

	/* author keys */
	REFUSED(add_seq("m2", "1", 0, seq_sig, sizeof(seq_sig), &fw, &err),
	    OPS_EINVAL);
	T_CHECK(strstr(err.msg, "no author key") != NULL);
	T_EQ_INT(ops_product_author_key(&ops, "prodS", "junk", 4, NULL,
	    &err), OPS_EINVAL);
	T_EQ_INT(ops_product_get(&ops, "prodS", &pr, &err), OPS_OK);
	T_EQ_INT(pr.author_key_len, 0);
	T_EQ_INT(ops_product_author_key(&ops, "prodS", seq_pub,
	    strlen(seq_pub), NULL, &err), OPS_OK);
	T_EQ_INT(ops_product_get(&ops, "prodS", &pr, &err), OPS_OK);
	T_EQ_STR(pr.author_key, seq_pub);
	REFUSED(add_seq("m2", "1", 0, NULL, 0, &fw, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "author key") != NULL);
	memcpy(bad, seq_sig, sizeof(bad));
	bad[sizeof(bad) - 1] ^= 1;
	REFUSED(add_seq("m2", "1", 0, bad, sizeof(bad), &fw, &err),
	    OPS_EUNPROC);
	T_CHECK(strstr(err.msg, "does not verify") != NULL);
	REFUSED(add_seq("m2", "1", 0, seq_sig, sizeof(seq_sig) - 1, &fw,
	    &err), OPS_EUNPROC);
	T_EQ_INT(add_seq("m2", "1", 0, seq_sig, sizeof(seq_sig), &fw, &err),
	    OPS_OK);
	T_EQ_INT(fw.author_sig_len, sizeof(seq_sig));
	T_CHECK(memcmp(fw.author_sig, seq_sig, sizeof(seq_sig)) == 0);
	memset(&fw, 0, sizeof(fw));
	T_EQ_INT(add_seq("m2", "2", 0, seq_sig, sizeof(seq_sig), &fw, &err),
	    OPS_OK);
	T_EQ_INT(ops_product_author_key(&ops, "prodS", NULL, 0, NULL, &err),
	    OPS_OK);
	T_EQ_INT(ops_product_get(&ops, "prodS", &pr, &err), OPS_OK);
	T_EQ_INT(pr.author_key_len, 0);
	T_EQ_INT(add_seq("m2", "3", 0, NULL, 0, &fw, &err), OPS_OK);
	T_EQ_INT(fw.seq, 3);
	test_job_rollback();
}

static void
test_firmware_manage(void)
{
	struct ops_fw_item *items = NULL, it;
	struct firmware_rec fw, out;
	struct job_rec j;
	struct ops_job_item ji;
	struct ops_err err;
	const char *devs[] = { "fm-1" };
	char	 path[512];
	size_t	 n, i;
	int	 found = 0;

	T_EQ_INT(add_fw("prodM2", "5.0", &fw), OPS_OK);
	T_EQ_INT(ops_firmware_list(&ops, NULL, &items, &n, NULL, &err),
	    OPS_OK);
	for (i = 0; i < n; i++)
		if (strcmp(items[i].fw.id, fw.id) == 0)
			found = 1;
	T_CHECK(found);
	free(items);

	T_EQ_INT(ops_firmware_edit(&ops, fw.id, "新名字", NULL, &out, &err),
	    OPS_OK);
	T_EQ_STR(out.name, "新名字");
	T_EQ_STR(out.version, "5.0");
	T_EQ_INT(ops_firmware_edit(&ops, fw.id, NULL, "desc", &out, &err),
	    OPS_OK);
	T_EQ_STR(out.name, "新名字");
	T_EQ_STR(out.description, "desc");
	REFUSED(ops_firmware_edit(&ops, fw.id, "(bad", NULL, NULL, &err),
	    OPS_EINVAL);
	REFUSED(ops_firmware_edit(&ops, "fw-999", "ok", NULL, NULL, &err),
	    OPS_ENOTFOUND);
	T_EQ_INT(ops_firmware_show(&ops, "fw-999", &it, &err), OPS_ENOTFOUND);
	T_EQ_INT(ops_firmware_show(&ops, "bad id", &it, &err), OPS_EINVAL);

	/* rm refused while an open job uses it, done after terminate */
	T_EQ_INT(put_dev("fm-1", "prodM2", "4.0", NULL, NULL), OPS_OK);
	job_params(&j, fw.id);
	j.kind = JOB_KIND_VERIFY;
	j.scope = JOB_SCOPE_DEVICES;
	T_EQ_INT(ops_job_create(&ops, &j, devs, 1, &ji, NULL, &err), OPS_OK);
	T_EQ_INT(ops_firmware_show(&ops, fw.id, &it, &err), OPS_OK);
	T_EQ_INT(it.devices.total, 1);
	T_EQ_INT(it.devices.n[JD_QUEUED], 1);
	REFUSED(ops_firmware_rm(&ops, fw.id, &err), OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, ji.job.id) != NULL);
	T_EQ_INT(ops_job_terminate(&ops, ji.job.id, NULL, &err), OPS_OK);
	snprintf(path, sizeof(path), "%s/images/%s", dir, fw.id);
	T_EQ_INT(access(path, F_OK), 0);
	T_EQ_INT(ops_firmware_rm(&ops, fw.id, &err), OPS_OK);
	T_CHECK(access(path, F_OK) == -1);
	T_EQ_INT(ops_firmware_show(&ops, fw.id, &it, &err), OPS_ENOTFOUND);
	REFUSED(ops_firmware_rm(&ops, fw.id, &err), OPS_ENOTFOUND);
	/* the same version can be added again */
	T_EQ_INT(add_fw("prodM2", "5.0", NULL), OPS_OK);
}

static size_t
outbox_depth(void)
{
	struct outbox_stats os;
	struct ops_err err;

	if (ops_relay_status(&ops, &os, &err) != OPS_OK)
		return (size_t)-1;
	return os.depth;
}

struct rows {
	struct jobdev_rec r[64];
	size_t	 n;
};

static int
collect_rows_cb(const struct jobdev_rec *jd, void *arg)
{
	struct rows *rs = arg;

	if (rs->n < 64)
		rs->r[rs->n++] = *jd;
	return 0;
}

/* Jobs refused: nothing stored. */
static void
job_create_refused(const struct firmware_rec *fw)
{
	const char *devs[] = { "jc-1", "jc-2", "jc-1" };
	const char *unknown[] = { "jc-1", "nobody" };
	const char *other[] = { "jc-1", "list-d" };
	struct ops_job_result res;
	struct job_rec j;
	struct ops_err err;

	job_params(&j, "fw-999");
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_ENOTFOUND);
	job_params(&j, "bad id!");
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_EINVAL);
	job_params(&j, fw->id);
	j.kind = JOB_KIND_VERIFY;
	j.scope = JOB_SCOPE_DEVICES;
	REFUSED(ops_job_create(&ops, &j, unknown, 2, NULL, NULL, &err),
	    OPS_ENOTFOUND);
	T_CHECK(strstr(err.msg, "nobody") != NULL);
	REFUSED(ops_job_create(&ops, &j, other, 2, NULL, NULL, &err),
	    OPS_EUNPROC);
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_EINVAL);
	j.rate_per_minute = 5;
	REFUSED(ops_job_create(&ops, &j, devs, 2, NULL, NULL, &err),
	    OPS_EINVAL);
	T_CHECK(strstr(err.msg, "rate") != NULL);
	/* only a device already on the target: nothing to do */
	j.rate_per_minute = 0;
	REFUSED(ops_job_create(&ops, &j, (const char *const[]){ "jc-5" }, 1,
	    NULL, &res, &err), OPS_EUNPROC);
	/* a batch needs VERIFIED firmware unless forced */
	job_params(&j, fw->id);
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "UNVERIFIED") != NULL);
	/* a window that has ended */
	j.force = 1;
	j.end = t_now - 1000;
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_EUNPROC);
	/* a dynamic job with a list */
	j.end = 0;
	j.dynamic = 1;
	j.scope = JOB_SCOPE_DEVICES;
	REFUSED(ops_job_create(&ops, &j, devs, 2, NULL, NULL, &err),
	    OPS_EUNPROC);
}

/*
 * A row that job `newer' superseded is not retried in job `older' while
 * newer's row is open (one open row per module), and is once it is not.
 */
static void
job_retry_superseded(const char *older, const char *newer, const char *dev)
{
	struct ops_err err;
	size_t	 before = outbox_depth();

	REFUSED(ops_job_retry(&ops, older, dev, NULL, &err), OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, newer) != NULL &&
	    strstr(err.msg, "QUEUED") != NULL);
	T_EQ_INT(row_state(older, dev), JD_FAILED);
	T_EQ_INT(outbox_depth(), before);
	T_EQ_INT(ops_job_cancel(&ops, newer, dev, NULL, &err), OPS_OK);
	T_EQ_INT(ops_job_retry(&ops, older, dev, NULL, &err), OPS_OK);
	T_EQ_INT(row_state(older, dev), JD_QUEUED);
}

/*
 * Long because it is one story over one set of devices: a verify job, a
 * batch, the overlap refusal, an override and its supersessions, each
 * step relying on the rows the ones before left.
 */
static void
test_job_create(void)
{
	const char *devs[] = { "jc-1", "jc-2", "jc-1" };
	struct ops_job_result res;
	struct ops_job_item ji, ji2, *items;
	struct firmware_rec fw, fw2;
	struct job_rec j;
	struct ops_err err;
	struct rows rs;
	struct ops_jobdev_filter f = { JD_QUEUED, NULL, 0 };
	size_t	 before, n;
	char	 id[16];
	int	 i;

	for (i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "jc-%d", i);
		T_EQ_INT(put_dev(id, "prodJ", i == 5 ? "2.0" : "1.0", NULL,
		    NULL), OPS_OK);
	}
	T_EQ_INT(add_fw("prodJ", "2.0", &fw), OPS_OK);

	/* verify job on a list: repeats ignored, events written */
	before = outbox_depth();
	job_params(&j, fw.id);
	j.kind = JOB_KIND_VERIFY;
	j.scope = JOB_SCOPE_DEVICES;
	T_EQ_INT(ops_job_create(&ops, &j, devs, 3, &ji, &res, &err), OPS_OK);
	T_CHECK(strncmp(ji.job.id, "j-", 2) == 0);
	T_EQ_INT(ji.job.state, JOB_RUNNING);
	T_EQ_INT(ji.job.started, t_now);
	T_EQ_STR(ji.job.product, "prodJ");
	T_EQ_STR(ji.job.module, "default");
	T_EQ_STR(ji.job.version, "2.0");
	T_EQ_INT(res.added, 2);
	T_EQ_INT(ji.counts.total, 2);
	T_EQ_INT(outbox_depth(), before + 2);
	T_EQ_INT(row_state(ji.job.id, "jc-1"), JD_QUEUED);
	T_EQ_INT(ops_job_show(&ops, ji.job.id, &ji2, &err), OPS_OK);
	T_EQ_INT(ji2.counts.n[JD_QUEUED], 2);
	memset(&rs, 0, sizeof(rs));
	T_EQ_INT(ops_job_devices(&ops, ji.job.id, &f, collect_rows_cb, &rs,
	    NULL, &err), OPS_OK);
	T_EQ_INT(rs.n, 2);
	f.state = JD_FAILED;
	memset(&rs, 0, sizeof(rs));
	T_EQ_INT(ops_job_devices(&ops, ji.job.id, &f, collect_rows_cb, &rs,
	    NULL, &err), OPS_OK);
	T_EQ_INT(rs.n, 0);
	T_EQ_INT(ops_job_devices(&ops, "j-999", NULL, collect_rows_cb, &rs,
	    NULL, &err), OPS_ENOTFOUND);
	T_EQ_INT(ops_job_show(&ops, "j-999", &ji2, &err), OPS_ENOTFOUND);

	job_create_refused(&fw);

	/* a forced batch over all: jc-1/2 are busy in the verify job */
	job_params(&j, fw.id);
	j.force = 1;
	j.src_versions[0][0] = '\0';
	snprintf(j.src_versions[0], sizeof(j.src_versions[0]), "1.0");
	j.nsrc = 1;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji2, &res, &err), OPS_OK);
	T_EQ_INT(res.added, 2);	/* jc-3, jc-4 */
	T_EQ_INT(res.left_out, 2);
	T_EQ_INT(row_state(ji2.job.id, "jc-3"), JD_QUEUED);
	T_EQ_INT(row_state(ji2.job.id, "jc-1"), STORE_ENOTFOUND);
	T_EQ_INT(row_state(ji2.job.id, "jc-5"), STORE_ENOTFOUND);

	/* overlapping source versions with that open batch: 409 */
	T_EQ_INT(add_fw("prodJ", "3.0", &fw2), OPS_OK);
	job_params(&j, fw2.id);
	j.force = 1;
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, ji2.job.id) != NULL);
	/* a source version nobody else upgrades from: fine */
	snprintf(j.src_versions[0], sizeof(j.src_versions[0]), "2.0");
	j.nsrc = 1;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, NULL, &res, &err), OPS_OK);
	T_EQ_INT(res.added, 1);	/* jc-5 */

	/* override: supersedes the not-yet-started rows, not UPGRADING */
	T_EQ_INT(set_row_state(ji2.job.id, "jc-4", JD_UPGRADING), 0);
	job_params(&j, fw2.id);
	j.force = 1;
	j.override = 1;
	snprintf(j.src_versions[0], sizeof(j.src_versions[0]), "1.0");
	j.nsrc = 1;
	before = outbox_depth();
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji, &res, &err), OPS_OK);
	/* jc-1, jc-2 (rows of the verify job), jc-3 superseded; jc-4 busy */
	T_EQ_INT(res.added, 3);
	T_EQ_INT(res.superseded, 3);
	T_EQ_INT(res.left_out, 1);
	T_EQ_INT(row_state(ji2.job.id, "jc-3"), JD_FAILED);
	T_EQ_INT(row_state(ji2.job.id, "jc-4"), JD_UPGRADING);
	T_EQ_INT(row_state(ji.job.id, "jc-4"), STORE_ENOTFOUND);
	T_EQ_INT(outbox_depth(), before + 6);
	job_retry_superseded(ji2.job.id, ji.job.id, "jc-3");

	/* jobs list */
	T_EQ_INT(ops_job_list(&ops, NULL, &items, &n, NULL, &err), OPS_OK);
	T_CHECK(n >= 4);
	free(items);
}

static void
test_job_schedule_dynamic(void)
{
	struct ops_job_result res;
	struct ops_job_item ji;
	struct firmware_rec fw;
	struct job_rec j;
	struct ops_err err;

	T_EQ_INT(put_dev("dy-1", "prodD", "1.0", NULL, NULL), OPS_OK);
	T_EQ_INT(add_fw("prodD", "2.0", &fw), OPS_OK);
	T_EQ_INT(set_fw_state(fw.id, FW_VERIFIED), 0);

	/* a start in the future: SCHEDULED */
	job_params(&j, fw.id);
	j.dynamic = 1;
	j.start = t_now + 3600 * 1000;
	j.end = t_now + 7200 * 1000;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji, &res, &err), OPS_OK);
	T_EQ_INT(ji.job.state, JOB_SCHEDULED);
	T_EQ_INT(ji.job.started, 0);
	T_EQ_INT(res.added, 1);

	/* one open dynamic job per firmware */
	job_params(&j, fw.id);
	j.dynamic = 1;
	j.override = 1;
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "dynamic") != NULL);

	/* a device provisioned later joins it */
	T_EQ_INT(put_dev("dy-2", "prodD", "1.0", NULL, NULL), OPS_OK);
	T_EQ_INT(row_state(ji.job.id, "dy-2"), JD_QUEUED);
	/* but not one on the target, nor one of another product */
	T_EQ_INT(put_dev("dy-3", "prodD", "2.0", NULL, NULL), OPS_OK);
	T_EQ_INT(row_state(ji.job.id, "dy-3"), STORE_ENOTFOUND);
	T_EQ_INT(put_dev("dy-4", "prodX", "1.0", NULL, NULL), OPS_OK);
	T_EQ_INT(row_state(ji.job.id, "dy-4"), STORE_ENOTFOUND);
	T_EQ_INT(ops_job_terminate(&ops, ji.job.id, &ji, &err), OPS_OK);
	T_EQ_INT(ji.job.state, JOB_TERMINATED);
	T_EQ_INT(ji.counts.n[JD_FAILED], 2);
	REFUSED(ops_job_terminate(&ops, ji.job.id, NULL, &err),
	    OPS_ECONFLICT);
	REFUSED(ops_job_terminate(&ops, "j-999", NULL, &err), OPS_ENOTFOUND);
	T_EQ_INT(row_state(ji.job.id, "dy-1"), JD_FAILED);
}

struct rank {
	uint64_t r;
	char	 id[16];
};

static int
rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->r != y->r)
		return x->r < y->r ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void
test_job_gray(void)
{
	struct ops_job_result res;
	struct ops_job_item ji, ji2;
	struct firmware_rec fw;
	struct rank rk[20];
	struct job_rec j;
	struct ops_err err;
	struct rows rs;
	size_t	 i;

	for (i = 0; i < 20; i++) {
		snprintf(rk[i].id, sizeof(rk[i].id), "gr-%02zu", i);
		T_EQ_INT(put_dev(rk[i].id, "prodR", "1.0", NULL, NULL), OPS_OK);
	}
	T_EQ_INT(add_fw("prodR", "2.0", &fw), OPS_OK);
	T_EQ_INT(set_fw_state(fw.id, FW_VERIFIED), 0);
	job_params(&j, fw.id);
	j.scope = JOB_SCOPE_GRAY;
	j.gray_percent = 15;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji, &res, &err), OPS_OK);
	T_EQ_INT(res.added, 3);	/* floor(20 * 15 / 100) */
	/* the pick is the lowest ranks of (job, device): stable */
	for (i = 0; i < 20; i++)
		rk[i].r = jobs_gray_rank(ji.job.id, rk[i].id);
	qsort(rk, 20, sizeof(rk[0]), rank_cmp);
	memset(&rs, 0, sizeof(rs));
	T_EQ_INT(ops_job_devices(&ops, ji.job.id, NULL, collect_rows_cb, &rs,
	    NULL, &err), OPS_OK);
	T_EQ_INT(rs.n, 3);
	for (i = 0; i < 3; i++) {
		T_EQ_INT(row_state(ji.job.id, rk[i].id), JD_QUEUED);
		T_EQ_INT(row_state(ji.job.id, rk[i + 3].id), STORE_ENOTFOUND);
	}
	T_EQ_INT(ops_job_terminate(&ops, ji.job.id, NULL, &err), OPS_OK);

	/* 1% of 20 is still one device */
	job_params(&j, fw.id);
	j.scope = JOB_SCOPE_GRAY;
	j.gray_percent = 1;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji2, &res, &err), OPS_OK);
	T_EQ_INT(res.added, 1);
	T_EQ_INT(ji2.counts.total, 1);
	T_EQ_INT(ops_job_terminate(&ops, ji2.job.id, NULL, &err), OPS_OK);
	/* gray percent out of range */
	j.gray_percent = 0;
	REFUSED(ops_job_create(&ops, &j, NULL, 0, NULL, NULL, &err),
	    OPS_EINVAL);
}

static void
test_job_rows(void)
{
	const char *devs[] = { "rw-1", "rw-2", "rw-3" };
	struct ops_job_item ji, ji2;
	struct firmware_rec fw, fwv;
	struct jobdev_rec jd;
	struct job_rec j;
	struct ops_err err;
	size_t	 before;
	int	 i;

	for (i = 0; i < 3; i++)
		T_EQ_INT(put_dev(devs[i], "prodW", "1.0", NULL, NULL), OPS_OK);
	T_EQ_INT(add_fw("prodW", "2.0", &fw), OPS_OK);
	job_params(&j, fw.id);
	j.kind = JOB_KIND_VERIFY;
	j.scope = JOB_SCOPE_DEVICES;
	j.confirm = 1;
	T_EQ_INT(ops_job_create(&ops, &j, devs, 3, &ji, NULL, &err), OPS_OK);
	T_EQ_INT(ji.counts.n[JD_WAIT_CONFIRM], 3);

	before = outbox_depth();
	T_EQ_INT(ops_job_confirm(&ops, ji.job.id, "rw-1", &jd, &err), OPS_OK);
	T_EQ_INT(jd.state, JD_QUEUED);
	T_EQ_INT(outbox_depth(), before + 1);
	REFUSED(ops_job_confirm(&ops, ji.job.id, "rw-1", NULL, &err),
	    OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, "QUEUED") != NULL);
	REFUSED(ops_job_confirm(&ops, ji.job.id, "nobody", NULL, &err),
	    OPS_ENOTFOUND);
	REFUSED(ops_job_confirm(&ops, "j-999", "rw-1", NULL, &err),
	    OPS_ENOTFOUND);
	REFUSED(ops_job_confirm(&ops, ji.job.id, "bad id", NULL, &err),
	    OPS_EINVAL);

	T_EQ_INT(ops_job_cancel(&ops, ji.job.id, "rw-2", &jd, &err), OPS_OK);
	T_EQ_INT(jd.state, JD_CANCELED);
	REFUSED(ops_job_cancel(&ops, ji.job.id, "rw-2", NULL, &err),
	    OPS_ECONFLICT);
	REFUSED(ops_job_retry(&ops, ji.job.id, "rw-2", NULL, &err),
	    OPS_ECONFLICT);

	/* a failed row can be retried */
	T_EQ_INT(set_row_state(ji.job.id, "rw-1", JD_FAILED), 0);
	before = outbox_depth();
	T_EQ_INT(ops_job_retry(&ops, ji.job.id, "rw-1", &jd, &err), OPS_OK);
	T_EQ_INT(jd.state, JD_QUEUED);
	T_EQ_INT(jd.retries, 1);
	T_EQ_INT(outbox_depth(), before + 1);

	/* device rm: refused while UPGRADING, else cancels its rows */
	T_EQ_INT(set_row_state(ji.job.id, "rw-1", JD_UPGRADING), 0);
	REFUSED(ops_device_rm(&ops, "rw-1", &err), OPS_ECONFLICT);
	T_CHECK(strstr(err.msg, ji.job.id) != NULL);
	REFUSED(ops_device_rm(&ops, "nobody", &err), OPS_ENOTFOUND);
	REFUSED(ops_device_rm(&ops, "bad id", &err), OPS_EINVAL);
	T_EQ_INT(ops_device_rm(&ops, "rw-3", &err), OPS_OK);
	T_EQ_INT(row_state(ji.job.id, "rw-3"), JD_CANCELED);
	{
		struct device_rec d;

		T_EQ_INT(ops_device_show(&ops, "rw-3", &d, &err),
		    OPS_ENOTFOUND);
	}

	/* the last open row succeeds: the verify job completes */
	T_EQ_INT(set_row_state(ji.job.id, "rw-1", JD_SUCCEEDED), 0);
	T_EQ_INT(ops_job_show(&ops, ji.job.id, &ji2, &err), OPS_OK);
	T_EQ_INT(ji2.counts.n[JD_SUCCEEDED], 1);

	/* terminating a verify job settles the firmware state */
	T_EQ_INT(add_fw("prodW", "3.0", &fwv), OPS_OK);
	job_params(&j, fwv.id);
	j.kind = JOB_KIND_VERIFY;
	j.scope = JOB_SCOPE_DEVICES;
	T_EQ_INT(ops_job_create(&ops, &j, devs, 1, &ji, NULL, &err), OPS_OK);
	T_EQ_INT(ops_job_terminate(&ops, ji.job.id, &ji2, &err), OPS_OK);
	T_EQ_INT(row_state(ji.job.id, "rw-1"), JD_FAILED);
	{
		struct ops_fw_item it;

		T_EQ_INT(ops_firmware_show(&ops, fwv.id, &it, &err), OPS_OK);
		T_EQ_INT(it.fw.state, FW_VERIFY_FAILED);
	}
	/* retry on a terminated job: 409 */
	REFUSED(ops_job_retry(&ops, ji.job.id, "rw-1", NULL, &err),
	    OPS_ECONFLICT);
}

/*
 * Upgrade histories through the operator's operations.
 */

struct hist {
	char	 s[1024];
	size_t	 n;
};

static int
hist_cb(const struct history_rec *h, void *arg)
{
	struct hist *hs = arg;
	size_t	 len = strlen(hs->s);

	snprintf(hs->s + len, sizeof(hs->s) - len, "%s%llu:%s:%s:%s:%s>%s",
	    len > 0 ? " " : "", (unsigned long long)h->seq, h->job,
	    jobs_jd_state_name(h->state), h->reason,
	    h->from_version[0] != '\0' ? h->from_version : "?",
	    h->to_version);
	hs->n++;
	return 0;
}

/* The history ops gives, newest first: "seq:job:STATE:reason:from>to". */
static const char *
hist_of(const char *dev, const char *after, size_t limit, char *next)
{
	static struct hist hs;
	struct ops_page pg = { after, limit };
	struct ops_err err;

	memset(&hs, 0, sizeof(hs));
	if (ops_device_history(&ops, dev, &pg, hist_cb, &hs, next,
	    &err) != OPS_OK)
		snprintf(hs.s, sizeof(hs.s), "(%s)", err.msg);
	return hs.s;
}

/*
 * Every operator action that ends a row leaves its entry: cancel,
 * terminate, an override's supersede, device rm's cancels (which go with
 * the device); a retry keeps the failed attempt.  Pages, errors and the
 * bound.  Long because each step uses the jobs the steps before made.
 */
static void
test_history(void)
{
	const char *devs[] = { "hi-1", "hi-2", "hi-3" };
	struct ops_job_item ji, ji2;
	struct ops_job_result res;
	struct firmware_rec fw, fw2;
	struct store_txn *txn;
	struct ops_page pg;
	struct ops_err err;
	struct job_rec j;
	struct hist hs;
	char	 next[OTA_ID_MAX + 1], want[128];
	int	 i;

	for (i = 0; i < 3; i++)
		T_EQ_INT(put_dev(devs[i], "prodH", "1.0", NULL, NULL), OPS_OK);
	T_EQ_INT(add_fw("prodH", "2.0", &fw), OPS_OK);
	T_EQ_INT(add_fw("prodH", "2.1", &fw2), OPS_OK);
	T_EQ_STR(hist_of("hi-1", NULL, 0, next), "");
	T_EQ_STR(next, "");

	job_params(&j, fw.id);
	j.force = 1;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji, NULL, &err), OPS_OK);
	/* cancel: CANCELED, from the version the device runs */
	t_now += 1000;
	T_EQ_INT(ops_job_cancel(&ops, ji.job.id, "hi-1", NULL, &err), OPS_OK);
	snprintf(want, sizeof(want), "1:%s:CANCELED:canceled:1.0>2.0",
	    ji.job.id);
	T_EQ_STR(hist_of("hi-1", NULL, 0, next), want);
	T_EQ_STR(next, "");

	/* a failed row retried by hand: its failure was recorded already */
	T_EQ_INT(set_row_state(ji.job.id, "hi-2", JD_FAILED), 0);
	T_EQ_INT(ops_job_retry(&ops, ji.job.id, "hi-2", NULL, &err), OPS_OK);
	T_EQ_STR(hist_of("hi-2", NULL, 0, next), "");

	/* an override supersedes the rows that have not started */
	job_params(&j, fw2.id);
	j.force = 1;
	j.override = 1;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji2, &res, &err), OPS_OK);
	T_EQ_INT(res.superseded, 2);
	memset(&hs, 0, sizeof(hs));
	T_EQ_INT(ops_device_history(&ops, "hi-2", NULL, hist_cb, &hs, NULL,
	    &err), OPS_OK);
	T_CHECK(strstr(hs.s, ":FAILED:superseded:1.0>2.0") != NULL);
	T_CHECK(strstr(hs.s, ji.job.id) != NULL);

	/* terminate: the open rows fail as terminated, newest first */
	T_EQ_INT(ops_job_terminate(&ops, ji2.job.id, NULL, &err), OPS_OK);
	memset(&hs, 0, sizeof(hs));
	T_EQ_INT(ops_device_history(&ops, "hi-3", NULL, hist_cb, &hs, NULL,
	    &err), OPS_OK);
	T_EQ_INT(hs.n, 2);
	T_CHECK(strncmp(hs.s, "2:", 2) == 0);
	T_CHECK(strstr(hs.s, ":FAILED:terminated:1.0>2.1 1:") != NULL);

	/* pages: limit, next, after */
	T_CHECK(strncmp(hist_of("hi-3", NULL, 1, next), "2:", 2) == 0);
	T_EQ_STR(next, "2");
	T_CHECK(strncmp(hist_of("hi-3", "2", 1, next), "1:", 2) == 0);
	T_EQ_STR(next, "");
	T_EQ_STR(hist_of("hi-3", "1", 0, next), "");
	T_CHECK(strncmp(hist_of("hi-3", "99", 0, next), "2:", 2) == 0);

	/* errors change nothing */
	pg.after = "x";
	pg.limit = 0;
	REFUSED(ops_device_history(&ops, "hi-3", &pg, hist_cb, &hs, next,
	    &err), OPS_EINVAL);
	pg.after = "0";
	REFUSED(ops_device_history(&ops, "hi-3", &pg, hist_cb, &hs, next,
	    &err), OPS_EINVAL);
	pg.after = "-1";
	REFUSED(ops_device_history(&ops, "hi-3", &pg, hist_cb, &hs, next,
	    &err), OPS_EINVAL);
	pg.after = "99999999999999999999";
	REFUSED(ops_device_history(&ops, "hi-3", &pg, hist_cb, &hs, next,
	    &err), OPS_EINVAL);
	REFUSED(ops_device_history(&ops, "nobody", NULL, hist_cb, &hs, next,
	    &err), OPS_ENOTFOUND);
	REFUSED(ops_device_history(&ops, "bad id", NULL, hist_cb, &hs, next,
	    &err), OPS_EINVAL);

	/* the bound, as otagw records it: the oldest go */
	T_EQ_INT(ops_job_terminate(&ops, ji.job.id, NULL, &err), OPS_OK);
	/* hi-1, canceled in the first job, was taken by the override */
	T_CHECK(strstr(hist_of("hi-1", NULL, 0, next), " 1:") != NULL);
	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_history_max_set(txn, 2), 0);
	T_EQ_INT(store_txn_commit(txn), 0);
	job_params(&j, fw2.id);
	j.force = 1;
	j.scope = JOB_SCOPE_DEVICES;
	T_EQ_INT(ops_job_create(&ops, &j, devs + 2, 1, &ji, NULL, &err),
	    OPS_OK);
	T_EQ_INT(ops_job_cancel(&ops, ji.job.id, "hi-3", NULL, &err), OPS_OK);
	memset(&hs, 0, sizeof(hs));
	T_EQ_INT(ops_device_history(&ops, "hi-3", NULL, hist_cb, &hs, NULL,
	    &err), OPS_OK);
	T_EQ_INT(hs.n, 2);
	T_CHECK(strncmp(hs.s, "3:", 2) == 0);
	T_CHECK(strstr(hs.s, " 2:") != NULL);
	T_EQ_INT(store_txn_begin(st, 0, &txn), 0);
	T_EQ_INT(store_history_max_set(txn, STORE_HISTORY_MAX_DEFAULT), 0);
	T_EQ_INT(store_txn_commit(txn), 0);

	/* device rm: its open rows canceled, its history gone with it */
	job_params(&j, fw2.id);
	j.force = 1;
	j.scope = JOB_SCOPE_DEVICES;
	T_EQ_INT(ops_job_create(&ops, &j, devs, 1, &ji, NULL, &err), OPS_OK);
	T_EQ_INT(ops_device_rm(&ops, "hi-1", &err), OPS_OK);
	T_EQ_INT(row_state(ji.job.id, "hi-1"), JD_CANCELED);
	REFUSED(ops_device_history(&ops, "hi-1", NULL, hist_cb, &hs, next,
	    &err), OPS_ENOTFOUND);
	T_EQ_INT(put_dev("hi-1", "prodH", "1.0", NULL, NULL), OPS_OK);
	T_EQ_STR(hist_of("hi-1", NULL, 0, next), "");
	/* the others keep theirs */
	T_CHECK(hist_of("hi-2", NULL, 0, next)[0] != '\0');
}

/* "version=devices ..." in the order ops gives them. */
static void
versions_line(const struct ops_versions *vs, char *out, size_t size)
{
	size_t	 i, len;

	out[0] = '\0';
	for (i = 0; i < vs->n; i++) {
		len = strlen(out);
		snprintf(out + len, size - len, "%s%s=%zu", i ? " " : "",
		    vs->items[i].version, vs->items[i].devices);
	}
}

static void
test_product_versions(void)
{
	struct ops_versions vs;
	struct ops_err err;
	char	 line[256], id[16];
	int	 i;

	/* 5 on 1.0, 3 on 2.0, 3 on 1.5 (ties by version), 2 unreported */
	for (i = 0; i < 13; i++) {
		snprintf(id, sizeof(id), "pv-%02d", i);
		T_EQ_INT(put_dev(id, "prodV", i < 5 ? "1.0" : i < 8 ? "2.0" :
		    i < 11 ? "1.5" : NULL, NULL, NULL), OPS_OK);
	}
	T_EQ_INT(put_dev("pv-wifi", "prodV", "wifi=7", NULL, NULL), OPS_OK);
	T_EQ_INT(put_dev("pv-other", "prodV2", "1.0", NULL, NULL), OPS_OK);

	T_EQ_INT(ops_product_versions(&ops, "prodV", NULL, &vs, &err), OPS_OK);
	T_EQ_STR(vs.product, "prodV");
	T_EQ_STR(vs.module, "default");
	versions_line(&vs, line, sizeof(line));
	T_EQ_STR(line, "1.0=5 1.5=3 2.0=3");
	T_EQ_INT(vs.unreported, 3);
	T_EQ_INT(vs.total, 14);
	ops_versions_free(&vs);

	T_EQ_INT(ops_product_versions(&ops, "prodV", "wifi", &vs, &err),
	    OPS_OK);
	versions_line(&vs, line, sizeof(line));
	T_EQ_STR(line, "7=1");
	T_EQ_INT(vs.unreported, 13);
	T_EQ_INT(vs.total, 14);
	ops_versions_free(&vs);

	/* a product without devices: nothing, not an error */
	T_EQ_INT(ops_product_versions(&ops, "prodNone", "", &vs, &err),
	    OPS_OK);
	T_EQ_INT(vs.n, 0);
	T_EQ_INT(vs.total, 0);
	T_EQ_INT(vs.unreported, 0);
	ops_versions_free(&vs);

	T_EQ_INT(ops_product_versions(&ops, "bad product", NULL, &vs, &err),
	    OPS_EINVAL);
	T_EQ_INT(ops_product_versions(&ops, NULL, NULL, &vs, &err),
	    OPS_EINVAL);
	T_EQ_INT(ops_product_versions(&ops, "prodV", "bad/module", &vs, &err),
	    OPS_EINVAL);
	T_CHECK(strstr(err.msg, "module") != NULL);
}

/*
 * A firmware counts devices: one retried in a second job of the same
 * firmware counts once, by its row in the newest job.
 */
static void
test_firmware_devices(void)
{
	const char *devs[] = { "fd-1", "fd-2", "fd-3" };
	struct ops_job_item ji, ji2;
	struct firmware_rec fw;
	struct ops_fw_item it, *items = NULL;
	struct ops_page pg;
	struct ops_err err;
	struct job_rec j;
	size_t	 n, i;

	for (i = 0; i < 3; i++)
		T_EQ_INT(put_dev(devs[i], "prodFD", "1.0", NULL, NULL),
		    OPS_OK);
	T_EQ_INT(add_fw("prodFD", "2.0", &fw), OPS_OK);
	job_params(&j, fw.id);
	j.force = 1;
	T_EQ_INT(ops_job_create(&ops, &j, NULL, 0, &ji, NULL, &err), OPS_OK);
	T_EQ_INT(set_row_state(ji.job.id, "fd-3", JD_SUCCEEDED), 0);
	T_EQ_INT(ops_job_terminate(&ops, ji.job.id, NULL, &err), OPS_OK);
	T_EQ_INT(ops_firmware_show(&ops, fw.id, &it, &err), OPS_OK);
	T_EQ_INT(it.devices.total, 3);
	T_EQ_INT(it.devices.n[JD_FAILED], 2);
	T_EQ_INT(it.devices.n[JD_SUCCEEDED], 1);

	/* the failed ones again, in a second job of the same firmware */
	j.scope = JOB_SCOPE_DEVICES;
	T_EQ_INT(ops_job_create(&ops, &j, devs, 2, &ji2, NULL, &err), OPS_OK);
	T_EQ_INT(ops_firmware_show(&ops, fw.id, &it, &err), OPS_OK);
	T_EQ_INT(it.devices.total, 3);
	T_EQ_INT(it.devices.n[JD_QUEUED], 2);
	T_EQ_INT(it.devices.n[JD_FAILED], 0);
	T_EQ_INT(it.devices.n[JD_SUCCEEDED], 1);

	/* the list says the same */
	pg.after = NULL;
	pg.limit = 0;
	T_EQ_INT(ops_firmware_list(&ops, &pg, &items, &n, NULL, &err), OPS_OK);
	for (i = 0; i < n; i++)
		if (strcmp(items[i].fw.id, fw.id) == 0) {
			T_EQ_INT(items[i].devices.total, 3);
			T_EQ_INT(items[i].devices.n[JD_QUEUED], 2);
		}
	free(items);
}

static void
test_relay_status(void)
{
	struct outbox_stats os;
	struct ops_err err;

	T_EQ_INT(ops_relay_status(&ops, &os, &err), OPS_OK);
	T_CHECK(os.depth > 0);
	T_CHECK(os.last_seq >= os.depth);
	T_CHECK(os.oldest_seq >= 1);
	T_EQ_INT(os.oldest_ts > 0, 1);
}

/* A map too small for what is written: OPS_EFULL, store intact. */
static void
test_full(void)
{
	struct store *big_st = st;
	struct ops big_ops = ops;
	struct ops_import_result res;
	struct ops_err err;
	char	 small[300], id[32], *csv;
	size_t	 i, o, n = 0;
	int	 rc = OPS_OK;

	snprintf(small, sizeof(small), "%s-small", dir);
	if (store_open(small, 256 * 1024, &st) != 0) {
		T_CHECK(!"store_open small");
		st = big_st;
		return;
	}
	ops_init(&ops, st, NULL);
	ops.now = test_clock;
	/* one transaction far too large for the map */
	csv = malloc(10000 * 100);
	T_CHECK(csv != NULL);
	for (i = 0, o = 0; csv != NULL && i < 10000; i++)
		o += (size_t)sprintf(csv + o, "prodFull,full-%zu,secret%zu,"
		    "00112233445566778899aabbccddeeff\n", i, i);
	if (csv != NULL)
		REFUSED(ops_device_import(&ops, csv, o, NULL, &res, &err),
		    OPS_EFULL);
	free(csv);
	/* then one device at a time until it is full */
	for (i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "one-%zu", i);
		rc = put_dev(id, "prodFull", "1.0", "s", "0011");
		if (rc != OPS_OK)
			break;
		n++;
	}
	T_EQ_INT(rc, OPS_EFULL);
	T_CHECK(n > 0);
	/* what was committed is intact */
	{
		struct device_rec d;

		T_EQ_INT(ops_device_show(&ops, "one-0", &d, &err), OPS_OK);
		T_EQ_STR(d.product, "prodFull");
	}
	store_close(st);
	st = big_st;
	ops = big_ops;
}

/* The ids of a firmware or job list, joined by commas. */
static void
ids_join(char *out, size_t size, const void *items, size_t n, size_t esize)
{
	size_t	 i, o = 0;

	out[0] = '\0';
	for (i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", o ? "," : "",
		    (const char *)items + i * esize);
}

/*
 * Firmware and jobs list in id order, by number (fw-2 before fw-10), and
 * pages of any size walk the same list.
 */
static void
test_list_order(void)
{
	struct ops_fw_item *fws = NULL;
	struct ops_job_item *jobs = NULL, ji;
	struct ops_job_result res;
	struct ops_page pg;
	struct firmware_rec fw;
	struct job_rec j;
	struct ops_err err;
	const char *devs[] = { "ord-1" };
	char	 all[8192], paged[8192], page[8192], next[OTA_ID_MAX + 1];
	char	 ver[16];
	size_t	 n, i, o;
	int	 k;

	T_EQ_INT(put_dev("ord-1", "prodOrd", "0.1", NULL, NULL), OPS_OK);
	for (k = 1; k <= 12; k++) {
		snprintf(ver, sizeof(ver), "1.%d", k);
		T_EQ_INT(add_fw("prodOrd", ver, &fw), OPS_OK);
		/* a verify job, ended so that the device is free again */
		job_params(&j, fw.id);
		j.kind = JOB_KIND_VERIFY;
		j.scope = JOB_SCOPE_DEVICES;
		T_EQ_INT(ops_job_create(&ops, &j, devs, 1, &ji, &res, &err),
		    OPS_OK);
		T_EQ_INT(ops_job_terminate(&ops, ji.job.id, NULL, &err),
		    OPS_OK);
	}

	/* firmware: strictly increasing by id_cmp, fw-2 before fw-10 */
	T_EQ_INT(ops_firmware_list(&ops, NULL, &fws, &n, next, &err), OPS_OK);
	T_CHECK(n >= 12);
	T_EQ_STR(next, "");
	for (i = 1; i < n; i++)
		T_CHECK(id_cmp(fws[i - 1].fw.id, fws[i].fw.id) < 0);
	ids_join(all, sizeof(all), fws, n, sizeof(*fws));
	T_CHECK(strstr(all, "fw-2,fw-3") != NULL);
	T_CHECK(strstr(all, "fw-9,fw-10,fw-11") != NULL);
	free(fws);
	/* pages of 5 */
	memset(&pg, 0, sizeof(pg));
	pg.limit = 5;
	paged[0] = '\0';
	o = 0;
	for (k = 0; k < 100; k++) {
		T_EQ_INT(ops_firmware_list(&ops, &pg, &fws, &n, next, &err),
		    OPS_OK);
		T_CHECK(n <= 5);
		ids_join(page, sizeof(page), fws, n, sizeof(*fws));
		o += (size_t)snprintf(paged + o, sizeof(paged) - o, "%s%s",
		    o && n ? "," : "", page);
		if (n > 0 && next[0] != '\0')
			T_EQ_STR(next, fws[n - 1].fw.id);
		free(fws);
		if (next[0] == '\0')
			break;
		pg.after = next;	/* next is read before it is written */
	}
	T_EQ_STR(paged, all);
	pg.after = "fw-9";
	pg.limit = 2;
	T_EQ_INT(ops_firmware_list(&ops, &pg, &fws, &n, next, &err), OPS_OK);
	ids_join(page, sizeof(page), fws, n, sizeof(*fws));
	T_EQ_STR(page, "fw-10,fw-11");
	T_EQ_STR(next, "fw-11");
	free(fws);
	pg.after = "bad id";
	REFUSED(ops_firmware_list(&ops, &pg, &fws, &n, next, &err),
	    OPS_EINVAL);

	/* jobs the same */
	T_EQ_INT(ops_job_list(&ops, NULL, &jobs, &n, next, &err), OPS_OK);
	T_CHECK(n >= 12);
	for (i = 1; i < n; i++)
		T_CHECK(id_cmp(jobs[i - 1].job.id, jobs[i].job.id) < 0);
	ids_join(all, sizeof(all), jobs, n, sizeof(*jobs));
	T_CHECK(strstr(all, "j-2,j-3") != NULL);
	T_CHECK(strstr(all, "j-9,j-10,j-11") != NULL);
	free(jobs);
	pg.after = "j-2";
	pg.limit = 8;
	T_EQ_INT(ops_job_list(&ops, &pg, &jobs, &n, next, &err), OPS_OK);
	ids_join(page, sizeof(page), jobs, n, sizeof(*jobs));
	T_EQ_STR(page, "j-3,j-4,j-5,j-6,j-7,j-8,j-9,j-10");
	T_EQ_STR(next, "j-10");
	T_EQ_INT(jobs[0].counts.total, jobs[0].counts.total);
	free(jobs);
	pg.after = "j-10";
	pg.limit = 0;
	T_EQ_INT(ops_job_list(&ops, &pg, &jobs, &n, next, &err), OPS_OK);
	T_CHECK(n >= 2);
	T_EQ_STR(jobs[0].job.id, "j-11");
	T_EQ_STR(next, "");
	free(jobs);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char	 cmd[1024];
	int	 rc;

	log_init("test_ops", 1, LOG_LEVEL_WARN);
	snprintf(dir, sizeof(dir), "%s/test_ops.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if ((rc = store_open(dir, 0, &st)) != 0) {
		fprintf(stderr, "store_open: %s\n", store_strerror(rc));
		return 1;
	}
	ops_init(&ops, st, NULL);
	ops.now = test_clock;

	T_RUN(test_status);
	T_RUN(test_parse_mv);
	T_RUN(test_device_put);
	T_RUN(test_device_list);
	T_RUN(test_device_import);
	T_RUN(test_import_bad_lines);
	T_RUN(test_import_header);
	T_RUN(test_firmware_add);
	T_RUN(test_firmware_manage);
	T_RUN(test_job_create);
	T_RUN(test_job_schedule_dynamic);
	T_RUN(test_job_gray);
	T_RUN(test_job_rows);
	T_RUN(test_history);
	T_RUN(test_product_versions);
	T_RUN(test_firmware_devices);
	T_RUN(test_relay_status);
	T_RUN(test_list_order);
	T_RUN(test_firmware_seq);
	T_RUN(test_full);

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s-small' '%s.img'", dir,
	    dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_done();
}
