/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_patches.c: unit tests for the store's patch records and for the
 * patch members of a job row (src/store/store.c, pack.c).
 *
 * A patch is found by id and by (target, source version), only one per
 * pair, and goes with both keys; a row keeps the patch it offers, the
 * bytes saved and the fallback state, and a row written before they
 * existed reads as a row without them; hostile encodings are refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/pack.h"
#include "store/store.h"
#include "t.h"
#include "tmpdir.h"

static void
patch_sample(struct delta_rec *d, const char *id, const char *to,
    const char *from_version)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	snprintf(d->product, sizeof(d->product), "p");
	snprintf(d->module, sizeof(d->module), "default");
	snprintf(d->from, sizeof(d->from), "fw-1");
	snprintf(d->from_version, sizeof(d->from_version), "%s",
	    from_version);
	snprintf(d->to, sizeof(d->to), "%s", to);
	snprintf(d->to_version, sizeof(d->to_version), "2.0.0");
	snprintf(d->format, sizeof(d->format), "bsdiff4");
	memset(d->md5, 1, sizeof(d->md5));
	memset(d->sha256, 2, sizeof(d->sha256));
	memset(d->to_sha256, 3, sizeof(d->to_sha256));
	d->size = 1234;
	d->to_size = 987654;
	d->created = 1700000000000LL;
}

static int
count_cb(const struct delta_rec *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

static void
test_records(void)
{
	struct delta_rec a, b, got;
	struct store_txn *t;
	struct store *st = NULL;
	char	 dir[256];
	int	 n = 0;

	t_tmpdir_make(dir, sizeof(dir), "patches");
	T_EQ_INT(store_open(dir, 0, &st), 0);
	if (st == NULL)
		return;
	patch_sample(&a, "dp-1", "fw-2", "1.0.0");
	patch_sample(&b, "dp-2", "fw-2", "1.5.0");
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_delta_put(t, &a), 0);
	T_EQ_INT(store_delta_put(t, &b), 0);
	/* another id for the same pair: refused; the same id: replaced */
	patch_sample(&got, "dp-3", "fw-2", "1.0.0");
	T_EQ_INT(store_delta_put(t, &got), STORE_EEXIST);
	T_EQ_INT(store_delta_put(t, &a), 0);
	T_EQ_INT(store_txn_commit(t), 0);

	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_delta_get(t, "dp-1", &got), 0);
	T_CHECK(memcmp(&got, &a, sizeof(a)) == 0);
	T_EQ_INT(store_delta_find(t, "fw-2", "1.5.0", &got), 0);
	T_EQ_STR(got.id, "dp-2");
	T_EQ_INT(store_delta_find(t, "fw-2", "0.9", &got), STORE_ENOTFOUND);
	T_EQ_INT(store_delta_find(t, "fw-9", "1.0.0", &got),
	    STORE_ENOTFOUND);
	T_EQ_INT(store_delta_get(t, "dp-3", &got), STORE_ENOTFOUND);
	T_EQ_INT(store_delta_get(t, "", &got), STORE_EINVAL);
	T_EQ_INT(store_delta_iter(t, count_cb, &n), 0);
	T_EQ_INT(n, 2);
	store_txn_abort(t);

	/* removal takes both keys */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_delta_del(t, "dp-1"), 0);
	T_EQ_INT(store_delta_del(t, "dp-1"), STORE_ENOTFOUND);
	T_EQ_INT(store_delta_find(t, "fw-2", "1.0.0", &got),
	    STORE_ENOTFOUND);
	patch_sample(&got, "dp-3", "fw-2", "1.0.0");
	T_EQ_INT(store_delta_put(t, &got), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	store_close(st);
	t_tmpdir_remove(dir);
}

static void
test_pack(void)
{
	struct jobdev_rec jd, got;
	struct delta_rec d, dg;
	uint8_t	 buf[PACK_MAX];
	size_t	 n, i;

	memset(&jd, 0, sizeof(jd));
	snprintf(jd.job, sizeof(jd.job), "j-1");
	snprintf(jd.device, sizeof(jd.device), "d");
	jd.state = JD_NOTIFIED;
	snprintf(jd.delta, sizeof(jd.delta), "dp-7");
	jd.delta_saved = 5000000;
	jd.delta_fail = 0;
	n = pack_jobdev(&jd, buf, sizeof(buf));
	T_CHECK(n > 0);
	T_EQ_INT(unpack_jobdev(buf, n, &got), 0);
	T_EQ_STR(got.delta, "dp-7");
	T_CHECK(got.delta_saved == 5000000 && got.delta_fail == 0);
	jd.delta[0] = '\0';
	jd.delta_saved = 0;
	for (jd.delta_fail = 0; jd.delta_fail <= 2; jd.delta_fail++) {
		n = pack_jobdev(&jd, buf, sizeof(buf));
		T_EQ_INT(unpack_jobdev(buf, n, &got), 0);
		T_EQ_INT(got.delta_fail, jd.delta_fail);
		T_EQ_STR(got.delta, "");
	}
	jd.delta_fail = 3;
	T_EQ_INT((int)pack_jobdev(&jd, buf, sizeof(buf)), 0);

	/* a row without a patch is as rows were before patches */
	jd.delta_fail = 0;
	n = pack_jobdev(&jd, buf, sizeof(buf));
	T_EQ_INT(buf[0], PACK_SCHEMA);

	patch_sample(&d, "dp-1", "fw-2", "1.0.0");
	n = pack_delta(&d, buf, sizeof(buf));
	T_CHECK(n > 0);
	T_EQ_INT(unpack_delta(buf, n, &dg), 0);
	T_CHECK(memcmp(&d, &dg, sizeof(d)) == 0);
	/* every truncation and a trailing byte: refused */
	for (i = 0; i < n; i++)
		T_CHECK(unpack_delta(buf, i, &dg) != 0);
	buf[n] = 0;
	T_CHECK(unpack_delta(buf, n + 1, &dg) != 0);
	/* another kind: refused */
	n = pack_jobdev(&jd, buf, sizeof(buf));
	T_CHECK(unpack_delta(buf, n, &dg) != 0);
}

int
main(void)
{
	T_RUN(test_records);
	T_RUN(test_pack);
	return t_done();
}
