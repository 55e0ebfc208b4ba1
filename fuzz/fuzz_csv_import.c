/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_csv_import.c: the device CSV import (ops_device_import), which
 * the admin API runs on an uploaded file (POST /api/v1/devices/import)
 * and otactl on a local one.
 *
 * The input is the file.  It goes through the real function, parser and
 * store transaction included, against a store in a temporary directory
 * (in memory when /dev/shm is there) that the process opens on its first
 * input and removes at exit.  Beyond "no crash" the target checks the
 * contract of ops.h: an import is all or nothing, so a refused file
 * leaves the number of stored devices as it was and a good one adds
 * exactly the devices it reports as created; every line it reports is a
 * device created or updated; a failure has a status and a message.
 *
 * Stored devices make the next input's rows updates rather than
 * creations, which changes nothing the target checks; the store is
 * emptied when it holds more than FUZZ_CSV_DEVICES_MAX devices so that
 * long runs stay small and fast.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ops/ops.h"
#include "store/store.h"

#define FUZZ_CSV_DEVICES_MAX	20000

static char dir[256];
static struct store *st;
static pid_t owner;

static int64_t
fixed_now(void)
{
	return 1764000000000;	/* 2025-11-24T16:00:00Z */
}

static void
cleanup(void)
{
	/* a forked child must not remove its parent's store */
	if (getpid() != owner)
		return;
	store_close(st);
	st = NULL;
	fuzz_rmtree(dir);
}

static void
open_store(void)
{
	if (fuzz_mkdtemp(dir, sizeof(dir), "csv") == -1 ||
	    store_open(dir, 64 * 1024 * 1024, &st) != 0) {
		fprintf(stderr, "fuzz_csv_import: cannot make a store in %s\n",
		    dir);
		abort();
	}
}

static size_t
device_count(void)
{
	struct store_txn *txn;
	size_t	 n = 0;

	if (store_txn_begin(st, 1, &txn) != 0 ||
	    store_device_count(txn, &n) != 0)
		abort();
	store_txn_abort(txn);
	return n;
}

FUZZ_TARGET(csv_import)
{
	struct ops_import_result res;
	struct ops_err err;
	struct ops ops;
	size_t	 before, after, i;
	int	 rc;

	if (st == NULL) {
		fuzz_quiet();
		owner = getpid();
		open_store();
		atexit(cleanup);
	}
	before = device_count();
	if (before > FUZZ_CSV_DEVICES_MAX) {
		store_close(st);
		fuzz_rmtree(dir);
		open_store();
		before = 0;
	}
	ops_init(&ops, st, NULL);
	ops.now = fixed_now;
	memset(&err, 0, sizeof(err));
	rc = ops_device_import(&ops, (const char *)data, size, NULL, &res,
	    &err);
	after = device_count();
	FUZZ_ASSERT(err.status == rc);
	if (rc != OPS_OK) {
		FUZZ_ASSERT(err.msg[0] != '\0');
		FUZZ_ASSERT(ops_status_http(rc) >= 400);
		FUZZ_ASSERT(after == before);
		FUZZ_ASSERT(res.lines == 0 && res.created == 0 &&
		    res.updated == 0);
		/* bad lines: listed in order, the first in the message */
		FUZZ_ASSERT(res.nlisted <= OPS_IMPORT_BAD_MAX &&
		    res.nlisted <= res.nbad);
		FUZZ_ASSERT(res.nbad == 0 || (rc == OPS_EINVAL &&
		    res.nlisted == (res.nbad < OPS_IMPORT_BAD_MAX ?
		    res.nbad : OPS_IMPORT_BAD_MAX)));
		for (i = 1; i < res.nlisted; i++)
			FUZZ_ASSERT(res.bad[i - 1].line < res.bad[i].line);
		return 0;
	}
	FUZZ_ASSERT(res.lines >= 1 && res.lines <= OPS_IMPORT_MAX_LINES);
	FUZZ_ASSERT(res.lines == res.created + res.updated);
	FUZZ_ASSERT(after == before + res.created);
	return 0;
}
