/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store.c: otagw's records in LMDB (see store.h for the contract).
 *
 * Layout.  One environment in DIR with these named databases, all opened
 * once by store_open in a single write transaction:
 *
 *   meta     "schema" -> u32 (2); "id\0<prefix>" -> u64 (last id handed
 *            out);
 *            "outbox\0seq" -> u64 (last outbox sequence number)
 *   devices  <device id>                    -> device record
 *   firmware <firmware id>                  -> firmware record
 *   fwkey    <product>\0<module>\0<version>  -> firmware id (uniqueness)
 *   jobs     <job id>                       -> job record
 *   jobdev   <job>\0<device>                -> job row record
 *   devopen  <device>\0<job>                -> state byte, for open rows only
 *   outbox   <u64 big-endian seq>           -> type, time stamp, event
 *   parked   <u64 big-endian seq>           -> as outbox: events of batches
 *            the upstream refused with a 4xx, kept for the operator
 *   history  <device>\0<u64 big-endian seq> -> history entry: a device's
 *            upgrade attempts that ended, its own seq from 1, so that a
 *            device's entries lie together in the order they were made
 *
 * meta also counts "outbox\0drops" (events dropped at the outbox limit;
 * "outbox\0dropsk" the version reports and state changes among them),
 * "outbox\0parked" (batches parked), keeps "outbox\0limit" (the daemon's
 * outbox_limit, which otactl --state applies too), "history\0max" (the
 * bound of each device's history) and "outbox\0noprog",
 * a lower bound of the oldest progress event's sequence number (there is
 * none below it), so finding the event to drop does not rescan the
 * outbox from its start every time.
 *
 * Records are encoded by pack.c, never dumped as structs.  Ids cannot hold
 * a NUL, so a scan over the prefix "<device>\0" sees exactly one device's
 * rows.  Numbers in keys are big-endian so they sort numerically.
 *
 * Order.  Ids the store hands out sort by number (fw-2 before fw-10): the
 * firmware and jobs databases, and the job part of jobdev and devopen
 * keys, have comparators (mdb_set_compare, by util's id_cmp_n); device ids
 * and everything else keep LMDB's byte order.  A comparator lives in the
 * process, not in the file, so store_open sets them every time, before the
 * databases are read; this file is the only one that opens the store.
 * Schema 1 kept every key in byte order: store_open sorts such a store
 * again once, in its opening transaction (migrate_order), and writes
 * schema 2.  (A copy made with mdb_dump and mdb_load would come back in
 * byte order: copy a store with mdb_copy, or as files while it is shut.)
 *
 * Transactions.  struct store_txn wraps MDB_txn.  The first LMDB failure in
 * a write transaction (a full map above all) marks it failed: later calls
 * return the same code, and commit aborts and returns it, so a transaction
 * is applied whole or not at all.  LMDB codes become STORE_E* codes in one
 * place, store_code().
 *
 * The hot read path (a device's record and its open rows, on every check)
 * allocates nothing: the environment is opened with MDB_NOTLS, and one
 * finished read-only transaction is kept reset (mdb_txn_reset) with its
 * cursors, to be renewed by the next read instead of created.
 *
 * Several processes share DIR (the daemon and otactl).  Reader slots left
 * by dead processes (they pin old pages) are cleared at open, and again
 * when the map or the reader table is full.  If another process grows the map,
 * a new transaction gets MDB_MAP_RESIZED: the map is adopted with
 * mdb_env_set_mapsize(env, 0) and the transaction retried.  LMDB's default
 * durable commits are kept: a committed transaction survives kill -9 and a
 * power cut.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store/pack.h"
#include "store/store.h"
#include "util/validate.h"

#define STORE_SCHEMA      2 /* 2: ids sort by number */
#define STORE_MAP_DEFAULT ((size_t)1 << 30)
#define STORE_MAXREADERS  256
#define OUTBOX_DATA_MAX   (1024 * 1024) /* one encoded event */
#define RESIZE_TRIES      3
#define STORE_LOW_SPACE   ((uint64_t)1 << 20) /* "disk full" below */

enum {
	DB_META,
	DB_DEVICES,
	DB_FIRMWARE,
	DB_FWKEY,
	DB_JOBS,
	DB_JOBDEV,
	DB_DEVOPEN,
	DB_OUTBOX,
	DB_PARKED,
	DB_XFER,
	DB_HISTORY,
	DB_DELTA,
	DB_COUNT
};

#define DB_ALL ((1u << DB_COUNT) - 1)

static const char *const db_names[DB_COUNT] = {
    "meta", "devices", "firmware", "fwkey",
    "jobs", "jobdev",  "devopen",  "outbox", "parked", "xfer",
    "history", "delta",
};

static const char meta_schema[] = "schema";
static const char meta_seq[] = "outbox\0seq"; /* sizeof - 1 bytes */
static const char meta_drops[] = "outbox\0drops";
static const char meta_parked[] = "outbox\0parked";
static const char meta_noprog[] = "outbox\0noprog";
static const char meta_dropsk[] = "outbox\0dropsk";
static const char meta_limit[] = "outbox\0limit";
static const char meta_sent[] = "relay\0sent";
static const char meta_retries[] = "relay\0retries";
static const char meta_urlkeys[] = "url\0keys";
static const char meta_signkeys[] = "sign\0keys";
static const char meta_histmax[] = "history\0max";
#define URLKEYS_LEN	(1 + 1 + 8 + 32 + 32)	/* version, flags, time */

#define DROP_LOG_MS 10000 /* at most one drop message per 10 s */

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char *dir;
	struct store_images *images;
	pthread_mutex_t lock;    /* spare, ntxn */
	struct store_txn *spare; /* a reset read-only txn */
	unsigned ntxn;           /* live transactions */
	size_t outbox_limit;     /* 0: none */
	size_t map_size;         /* the map now */
	size_t map_max;          /* store_set_map_max; 0: never grow */
	int grow;                /* 80 % used, or full: grow when idle */
	int warned;              /* the 80 % warning was logged */
	int full;                /* the last write found no room */
	int write_failed;        /* the last write failed otherwise */
	int64_t drop_logged;     /* when drops were last logged, ms */
	uint64_t drop_unlogged;  /* drops since */
};

struct store_txn {
	struct store *st;
	MDB_txn *txn;
	int rdonly;
	int err; /* write txn failed: STORE_E* */
	/* read-only: cursors kept across reset/renew */
	MDB_cursor *cur[DB_COUNT];
	unsigned cur_stale; /* bound to an older txn */
	unsigned cur_busy;  /* in use by a scan */
};

/*
 * Errors.
 */

/* The one place where LMDB and errno codes become STORE_E* codes. */
static int
store_code(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_ENOTFOUND;
	case MDB_KEYEXIST:
		return STORE_EEXIST;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return STORE_EFULL;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
	case EBUSY:
	case EAGAIN:
		return STORE_EBUSY;
	case MDB_BAD_VALSIZE:
	case EINVAL:
		return STORE_EINVAL;
	default:
		return STORE_EIO;
	}
}

const char *
store_strerror(int code)
{
	switch (code) {
	case STORE_OK:
		return "success";
	case STORE_ENOTFOUND:
		return "not found";
	case STORE_EEXIST:
		return "already exists";
	case STORE_EFULL:
		return "store full (map or disk)";
	case STORE_EIO:
		return "store I/O error";
	case STORE_EINVAL:
		return "invalid argument or corrupt record";
	case STORE_EBUSY:
		return "store busy, try again";
	case STORE_ESTOP:
		return "stopped";
	default:
		return "unknown store error";
	}
}

/*
 * Clears the reader slots of processes that died (kill -9) inside a read
 * transaction: they pin old pages and can make the map fill up.  Done at
 * open, and again when the map is full or the reader table is.
 */
static int
reader_sweep(struct store *st)
{
	int dead = 0;

	if (mdb_reader_check(st->env, &dead) != 0)
		return 0;
	if (dead > 0)
		log_info("store: %s: cleared %d stale reader slot%s", st->dir,
		    dead, dead == 1 ? "" : "s");
	return dead;
}

/*
 * LMDB reports a write cut short by a full disk as a plain EIO ("short
 * write"), so a failed commit is called full when the file system has
 * next to no room left, or the data file reached the process's file size
 * limit.
 */
static int
store_out_of_space(const struct store *st)
{
	struct statvfs vfs;
	struct rlimit rl;
	struct stat sb;
	char path[PATH_MAX];
	int n;

	if (statvfs(st->dir, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < STORE_LOW_SPACE)
		return 1;
	n = snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
	if (n > 0 && (size_t)n < sizeof(path) && stat(path, &sb) == 0 &&
	    getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)sb.st_size + STORE_LOW_SPACE > (uint64_t)rl.rlim_cur)
		return 1;
	return 0;
}

/*
 * Records an LMDB failure.  "Not found" and "exists" are answers, not
 * failures.  Anything else is logged, and in a write transaction makes it
 * fail as a whole (LMDB itself refuses further use of it).
 */
static int
txn_fail(struct store_txn *t, const char *what, int rc)
{
	int code = store_code(rc);

	if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
		return code;
	if (rc == MDB_MAP_FULL)
		reader_sweep(t->st);
	if (!t->rdonly) {
		if (t->err != 0)
			return t->err;
		t->err = code;
	}
	log_warnx("store: %s: %s", what, mdb_strerror(rc));
	return code;
}

static int
corrupt(const char *kind, const void *key, size_t klen)
{
	log_warnx("store: %s %.*s: corrupt record", kind, (int)klen,
	    (const char *)key);
	return STORE_EINVAL;
}

/* 0 when t may be used to read. */
static int
txn_usable(const struct store_txn *t)
{
	if (t == NULL || t->txn == NULL)
		return STORE_EINVAL;
	return t->err;
}

/* 0 when t may be used to write. */
static int
txn_writable(const struct store_txn *t)
{
	if (t == NULL || t->txn == NULL || t->rdonly)
		return STORE_EINVAL;
	return t->err;
}

/*
 * Environment.
 */

struct store_images *
store_images_of(struct store *st)
{
	return st->images;
}

const char *
store_dir(const struct store *st)
{
	return st != NULL ? st->dir : NULL;
}

/*
 * Key order.  Keys are in byte order, except where they hold ids the
 * store hands out ("fw-2", "j-10"): those sort by number (id_cmp_n), so
 * that lists, pages and a device's open rows come in the order the ids
 * were made.  Device ids, chosen by operators, keep their byte order.
 */

/* firmware, jobs: the key is the id. */
static int
cmp_id(const MDB_val *a, const MDB_val *b)
{
	return id_cmp_n(a->mv_data, a->mv_size, b->mv_data, b->mv_size);
}

/* The length of a composite key's first part: up to its NUL, or all. */
static size_t
key_head(const MDB_val *k, int *has_nul)
{
	const uint8_t *z = NULL;

	if (k->mv_size > 0)
		z = memchr(k->mv_data, '\0', k->mv_size);
	*has_nul = z != NULL;
	return z != NULL ? (size_t)(z - (const uint8_t *)k->mv_data) :
	    k->mv_size;
}

/* Byte order, a shorter key before its extensions (LMDB's default). */
static int
cmp_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	int	 c;

	if (alen > 0 && blen > 0 &&
	    (c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/*
 * jobdev "<job>\0<device>" (job_first) and devopen "<device>\0<job>":
 * the parts in turn, the job by id_cmp_n, the device by its bytes; a key
 * without a NUL before the keys of its first part.  A prefix scan for
 * "<part>\0" therefore still finds exactly that part's keys together.
 */
static int
cmp_pair(const MDB_val *a, const MDB_val *b, int job_first)
{
	const uint8_t *pa = a->mv_data, *pb = b->mv_data;
	size_t	 ha, hb;
	int	 za, zb, c;

	ha = key_head(a, &za);
	hb = key_head(b, &zb);
	c = job_first ? id_cmp_n(pa, ha, pb, hb) : cmp_bytes(pa, ha, pb, hb);
	if (c != 0)
		return c;
	if (za != zb)
		return za ? 1 : -1;
	if (!za)
		return 0;
	pa += ha + 1;
	pb += hb + 1;
	ha = a->mv_size - ha - 1;
	hb = b->mv_size - hb - 1;
	return job_first ? cmp_bytes(pa, ha, pb, hb) : id_cmp_n(pa, ha, pb, hb);
}

static int
cmp_job_dev(const MDB_val *a, const MDB_val *b)
{
	return cmp_pair(a, b, 1);
}

static int
cmp_dev_job(const MDB_val *a, const MDB_val *b)
{
	return cmp_pair(a, b, 0);
}

/* The databases that do not keep LMDB's byte order, and theirs. */
static MDB_cmp_func *const db_cmp[DB_COUNT] = {
	[DB_FIRMWARE] = cmp_id,
	[DB_JOBS] = cmp_id,
	[DB_JOBDEV] = cmp_job_dev,
	[DB_DEVOPEN] = cmp_dev_job,
};

/*
 * Whether a process other than this one has the store open: its reader
 * slot (the daemon keeps one) shows in mdb_reader_list's lines, "pid
 * thread txnid" after a header line.
 */
struct readers {
	long	 self;
	long	 other;		/* the first other pid, or 0 */
};

static int
reader_line(const char *msg, void *arg)
{
	struct readers *r = arg;
	char	*end;
	long	 pid;

	pid = strtol(msg, &end, 10);
	if (end != msg && pid > 0 && pid != r->self && r->other == 0)
		r->other = pid;
	return 0;
}

/*
 * Copies the records of dbi aside into tmp (in the byte order they are
 * in), empties dbi, gives it cmp, and copies them back in cmp's order.
 */
static int
resort_db(MDB_txn *txn, MDB_dbi dbi, MDB_dbi tmp, MDB_cmp_func *cmp)
{
	MDB_cursor *c = NULL;
	MDB_val	 k, v;
	int	 rc;

	if ((rc = mdb_drop(txn, tmp, 0)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if ((rc = mdb_put(txn, tmp, &k, &v, MDB_APPEND)) != 0)
			break;
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	/* an empty database takes a new order safely */
	if ((rc = mdb_drop(txn, dbi, 0)) != 0 ||
	    (rc = mdb_set_compare(txn, dbi, cmp)) != 0 ||
	    (rc = mdb_cursor_open(txn, tmp, &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if ((rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE)) != 0)
			break;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Schema 1 to 2: the databases of db_cmp, kept in byte order until now,
 * are sorted again in their own order (resort_db), inside open_dbs's one
 * write transaction, so it happens whole or not at all, and once: the
 * caller writes schema 2 in the same transaction.  A process that still
 * runs the old code would read and write them in the wrong order, so
 * while another process has the store open (and there is something to
 * sort) nothing is done: STORE_EBUSY with the pid.  On a full map
 * MDB_MAP_FULL comes back: the sort needs room for a second copy.
 */
static int
migrate_order(struct store *st, MDB_txn *txn)
{
	struct readers r;
	MDB_stat ms;
	MDB_dbi	 tmp;
	size_t	 n = 0;
	int	 rc, i;

	for (i = 0; i < DB_COUNT; i++) {
		if (db_cmp[i] == NULL)
			continue;
		if ((rc = mdb_stat(txn, st->dbi[i], &ms)) != 0)
			return rc;
		n += ms.ms_entries;
	}
	if (n > 0) {
		r.self = (long)getpid();
		r.other = 0;
		mdb_reader_list(st->env, reader_line, &r);
		if (r.other != 0) {
			log_warnx("store: %s: sorting ids by number (schema 2) "
			    "needs the store to itself, but process %ld has "
			    "it open (an older otagw or otactl?): stop it and "
			    "try again", st->dir, r.other);
			return EBUSY;
		}
		log_info("store: %s: sorting %zu records by id number "
		    "(schema 1 to 2)", st->dir, n);
	}
	if ((rc = mdb_dbi_open(txn, "migrate", MDB_CREATE, &tmp)) != 0)
		return rc;
	for (i = 0; i < DB_COUNT; i++) {
		if (db_cmp[i] == NULL)
			continue;
		if ((rc = resort_db(txn, st->dbi[i], tmp, db_cmp[i])) != 0)
			return rc;
	}
	return mdb_drop(txn, tmp, 1);
}

/*
 * Opens the databases in one write transaction: creates them (and the
 * schema record) in a new store, sets the key orders, and moves a store
 * of schema 1 to schema 2 (migrate_order).  A later schema is refused.
 */
static int
open_dbs(struct store *st)
{
	MDB_txn *txn = NULL;
	MDB_val k, v;
	uint8_t buf[4];
	uint32_t schema = 0;
	int rc, i, tries;

	for (tries = 0;; tries++) {
		rc = mdb_txn_begin(st->env, NULL, 0, &txn);
		if (rc != MDB_MAP_RESIZED || tries >= RESIZE_TRIES)
			break;
		if ((rc = mdb_env_set_mapsize(st->env, 0)) != 0)
			break;
	}
	if (rc != 0) {
		log_warnx("store: %s: begin: %s", st->dir, mdb_strerror(rc));
		return store_code(rc);
	}
	for (i = 0; i < DB_COUNT; i++) {
		if ((rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE,
		    &st->dbi[i])) != 0) {
			log_warnx("store: %s: database %s: %s", st->dir,
			    db_names[i], mdb_strerror(rc));
			goto fail;
		}
	}
	k.mv_data = (void *)meta_schema;
	k.mv_size = sizeof(meta_schema) - 1;
	rc = mdb_get(txn, st->dbi[DB_META], &k, &v);
	if (rc == 0) {
		if (v.mv_size != 4) {
			log_warnx("store: %s: bad schema record", st->dir);
			rc = EINVAL;
			goto fail;
		}
		memcpy(buf, v.mv_data, 4);
		schema = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
		    (uint32_t)buf[2] << 8 | buf[3];
		if (schema == 0 || schema > STORE_SCHEMA) {
			log_warnx("store: %s: schema %" PRIu32 ", this "
			    "program knows %d",
			    st->dir, schema, STORE_SCHEMA);
			rc = EINVAL;
			goto fail;
		}
	} else if (rc != MDB_NOTFOUND) {
		log_warnx("store: %s: schema: %s", st->dir, mdb_strerror(rc));
		goto fail;
	}
	/* nothing read from these databases yet: their order may be set */
	if (schema == STORE_SCHEMA) {
		for (i = 0; i < DB_COUNT; i++)
			if (db_cmp[i] != NULL &&
			    (rc = mdb_set_compare(txn, st->dbi[i],
			    db_cmp[i])) != 0)
				goto fail;
	} else {
		/* a new store (no schema yet) or schema 1 */
		if ((rc = migrate_order(st, txn)) != 0) {
			if (rc != EBUSY)
				log_warnx("store: %s: sorting ids by number: "
				    "%s", st->dir, mdb_strerror(rc));
			goto fail;
		}
		buf[0] = 0;
		buf[1] = 0;
		buf[2] = 0;
		buf[3] = STORE_SCHEMA;
		v.mv_data = buf;
		v.mv_size = sizeof(buf);
		if ((rc = mdb_put(txn, st->dbi[DB_META], &k, &v, 0)) != 0) {
			log_warnx("store: %s: schema: %s", st->dir,
			    mdb_strerror(rc));
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		log_warnx("store: %s: commit: %s", st->dir, mdb_strerror(rc));
		return store_code(rc);
	}
	return 0;
fail:
	mdb_txn_abort(txn);
	return store_code(rc);
}

static void	store_map_refresh(struct store *);
static void	txn_free(struct store_txn *);

/* Whether DIR holds an LMDB file already. */
static int
store_exists(const char *dir)
{
	char path[PATH_MAX];
	struct stat sb;

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path))
		return 0;
	return stat(path, &sb) == 0;
}

static void	outbox_limit_load(struct store *);

/* Whether id names a firmware or a patch (or cannot be told: kept). */
static int
orphan_known(void *arg, const char *id)
{
	struct store_txn *txn = arg;
	struct firmware_rec fw;
	struct delta_rec d;
	int rc;

	if ((rc = store_firmware_get(txn, id, &fw)) != STORE_ENOTFOUND)
		return 1;
	rc = store_delta_get(txn, id, &d);
	return rc != STORE_ENOTFOUND;
}

/* Image files without a record, left by a crash (images_sweep_orphans). */
static void
store_orphans(struct store *st)
{
	struct store_txn *txn;

	if (store_txn_begin(st, 1, &txn) != 0)
		return;
	images_sweep_orphans(st->images, orphan_known, txn);
	store_txn_abort(txn);
}

int
store_open(const char *dir, size_t map_size, struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	if (dir == NULL || *dir == '\0') {
		log_warnx("store: no state directory");
		return STORE_EINVAL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = strdup(dir)) == NULL) {
		log_warn("store: %s", dir);
		free(st);
		return STORE_EIO;
	}
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		log_warnx("store: %s: mutex", dir);
		free(st->dir);
		free(st);
		return STORE_EIO;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("store: mkdir %s", dir);
		rc = store_code(errno);
		goto fail;
	}
	if ((rc = images_open(dir, &st->images)) != 0)
		goto fail;
	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		goto fail_mdb;
	}
	/*
	 * A new store is made at map_size.  An existing one is opened at the
	 * size its file has, then grown to map_size: a map that grew since
	 * (map_size_max) keeps its size, and a map_size of 0 (otactl
	 * --state) adopts it.
	 */
	if (!store_exists(dir) && (rc = mdb_env_set_mapsize(st->env,
	    map_size != 0 ? map_size : STORE_MAP_DEFAULT)) != 0)
		goto fail_mdb;
	if ((rc = mdb_env_set_maxdbs(st->env, DB_COUNT + 1)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, STORE_MAXREADERS)) != 0 ||
	    (rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail_mdb;
	store_map_refresh(st);
	if (map_size > st->map_size) {
		if ((rc = mdb_env_set_mapsize(st->env, map_size)) != 0)
			goto fail_mdb;
		store_map_refresh(st);
	}
	reader_sweep(st);
	if ((rc = open_dbs(st)) != 0)
		goto fail;
	outbox_limit_load(st);
	store_orphans(st);
	*out = st;
	return 0;
fail_mdb:
	log_warnx("store: %s: %s", dir, mdb_strerror(rc));
	rc = store_code(rc);
fail:
	store_close(st);
	return rc == 0 ? STORE_EIO : rc;
}

/* The map's size as LMDB has it (another process may have grown it). */
static void
store_map_refresh(struct store *st)
{
	MDB_envinfo info;

	if (mdb_env_info(st->env, &info) == 0)
		st->map_size = info.me_mapsize;
}

/* Bytes of the map in use: pages up to the last one written. */
static size_t
store_map_used(struct store *st)
{
	MDB_envinfo info;
	MDB_stat stat;

	if (mdb_env_info(st->env, &info) != 0 ||
	    mdb_env_stat(st->env, &stat) != 0)
		return 0;
	return (info.me_last_pgno + 1) * (size_t)stat.ms_psize;
}

/* After a write: note what the map looks like, and warn at 80 %. */
static void
store_map_check(struct store *st, int rc)
{
	size_t used = store_map_used(st);

	st->full = rc == STORE_EFULL;
	st->write_failed = rc != 0 && rc != STORE_EFULL;
	if (rc != STORE_EFULL && used < st->map_size / 10 * 8) {
		st->warned = 0;
		return;
	}
	if (st->map_max > st->map_size)
		st->grow = 1;
	else if (!st->warned) {
		st->warned = 1;
		log_warnx("store: %s: %zu%% of the map used (%zu of %zu MiB) "
		    "and map_size_max reached: raise map_size_max or make room",
		    st->dir, used * 100 / (st->map_size ? st->map_size : 1),
		    used >> 20, st->map_size >> 20);
	}
}

/*
 * Grows the map (doubling, up to map_max) while no transaction of this
 * process is live, which is what LMDB requires; other processes adopt the
 * new size at their next transaction.  Called with st->lock held.
 */
static void
store_map_grow(struct store *st)
{
	size_t used = store_map_used(st), next;
	int rc;

	st->grow = 0;
	if (st->ntxn > 0 || st->map_max <= st->map_size)
		return;
	next = st->map_size * 2;
	if (next < used * 2)
		next = used * 2;
	if (next > st->map_max)
		next = st->map_max;
	if (st->spare != NULL) {
		txn_free(st->spare);	/* no reset transaction either */
		st->spare = NULL;
	}
	if ((rc = mdb_env_set_mapsize(st->env, next)) != 0) {
		log_warnx("store: %s: cannot grow the map to %zu MiB: %s",
		    st->dir, next >> 20, mdb_strerror(rc));
		return;
	}
	log_warnx("store: %s: %zu of %zu MiB used: map grown to %zu MiB "
	    "(map_size_max %zu MiB)", st->dir, used >> 20, st->map_size >> 20,
	    next >> 20, st->map_max >> 20);
	st->map_size = next;
	st->warned = 0;
	st->full = 0;
}

void
store_set_map_max(struct store *st, size_t max)
{
	pthread_mutex_lock(&st->lock);
	st->map_max = max;
	store_map_refresh(st);
	if (max > st->map_size &&
	    store_map_used(st) >= st->map_size / 10 * 8)
		st->grow = 1;
	if (st->grow)
		store_map_grow(st);
	pthread_mutex_unlock(&st->lock);
}

void
store_health(struct store *st, struct store_health *h)
{
	pthread_mutex_lock(&st->lock);
	h->map_size = st->map_size;
	h->map_max = st->map_max;
	h->used = store_map_used(st);
	h->full = st->full;
	h->write_failed = st->write_failed;
	pthread_mutex_unlock(&st->lock);
}

uint64_t
store_last_txn(struct store *st)
{
	MDB_envinfo info;

	if (st == NULL || mdb_env_info(st->env, &info) != 0)
		return 0;
	return (uint64_t)info.me_last_txnid;
}

static void
txn_free(struct store_txn *t)
{
	int i;

	for (i = 0; i < DB_COUNT; i++)
		if (t->cur[i] != NULL)
			mdb_cursor_close(t->cur[i]);
	if (t->txn != NULL)
		mdb_txn_abort(t->txn);
	free(t);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->ntxn > 0)
		log_warnx("store: %s: closed with %u open transaction%s",
		    st->dir, st->ntxn, st->ntxn == 1 ? "" : "s");
	if (st->spare != NULL)
		txn_free(st->spare);
	images_close(st->images);
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_mutex_destroy(&st->lock);
	free(st->dir);
	free(st);
}

/*
 * Transactions.
 */

/*
 * Adopts a map grown by another process.  LMDB allows it only while this
 * process has no live transaction, so t must be the only one.
 */
static int
store_remap(struct store *st)
{
	int rc;

	pthread_mutex_lock(&st->lock);
	if (st->ntxn > 1)
		rc = MDB_MAP_RESIZED;
	else if ((rc = mdb_env_set_mapsize(st->env, 0)) == 0)
		store_map_refresh(st);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Ends t: a read-only txn is reset and kept for reuse when possible. */
static void
txn_end(struct store_txn *t)
{
	struct store *st = t->st;
	int i;

	if (t->rdonly && t->txn != NULL) {
		mdb_txn_reset(t->txn);
		t->cur_stale = DB_ALL;
		t->cur_busy = 0;
		t->err = 0;
	} else if (t->txn != NULL) {
		for (i = 0; i < DB_COUNT; i++)
			if (t->cur[i] != NULL) {
				mdb_cursor_close(t->cur[i]);
				t->cur[i] = NULL;
			}
		mdb_txn_abort(t->txn);
		t->txn = NULL;
	}
	pthread_mutex_lock(&st->lock);
	st->ntxn--;
	if (t->rdonly && t->txn != NULL && st->spare == NULL) {
		st->spare = t;
		t = NULL;
	}
	if (st->grow && st->ntxn == 0)
		store_map_grow(st);
	pthread_mutex_unlock(&st->lock);
	if (t != NULL)
		txn_free(t);
}

int
store_txn_begin(struct store *st, int rdonly, struct store_txn **out)
{
	struct store_txn *t = NULL;
	int rc, i, tries;

	*out = NULL;
	if (st == NULL)
		return STORE_EINVAL;
	rdonly = rdonly != 0;
	pthread_mutex_lock(&st->lock);
	if (rdonly && st->spare != NULL) {
		t = st->spare;
		st->spare = NULL;
	}
	st->ntxn++;
	pthread_mutex_unlock(&st->lock);
	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL) {
			log_warn("store: transaction");
			rc = ENOMEM;
			goto fail;
		}
		t->st = st;
		t->rdonly = rdonly;
	}
	for (tries = 0;; tries++) {
		if (t->txn != NULL) {
			if ((rc = mdb_txn_renew(t->txn)) == 0)
				break;
			/* drop the kept txn and its cursors, begin anew */
			for (i = 0; i < DB_COUNT; i++)
				if (t->cur[i] != NULL) {
					mdb_cursor_close(t->cur[i]);
					t->cur[i] = NULL;
				}
			mdb_txn_abort(t->txn);
			t->txn = NULL;
			if (rc != MDB_MAP_RESIZED)
				continue;
		} else {
			rc = mdb_txn_begin(st->env, NULL,
			    rdonly ? MDB_RDONLY : 0, &t->txn);
			if (rc == 0)
				break;
			t->txn = NULL;
			/* a full reader table may hold slots of the dead */
			if (rc == MDB_READERS_FULL && tries < RESIZE_TRIES &&
			    reader_sweep(st) > 0)
				continue;
			if (rc != MDB_MAP_RESIZED)
				break;
		}
		if (tries >= RESIZE_TRIES || (rc = store_remap(st)) != 0)
			break;
	}
	if (rc != 0) {
		log_warnx("store: begin: %s", mdb_strerror(rc));
		goto fail;
	}
	t->err = 0;
	t->cur_stale = DB_ALL;
	t->cur_busy = 0;
	*out = t;
	return 0;
fail:
	pthread_mutex_lock(&st->lock);
	st->ntxn--;
	pthread_mutex_unlock(&st->lock);
	if (t != NULL)
		txn_free(t);
	return store_code(rc);
}

void
store_txn_abort(struct store_txn *t)
{
	if (t != NULL)
		txn_end(t);
}

int
store_txn_commit(struct store_txn *t)
{
	int rc;

	if (t == NULL)
		return STORE_EINVAL;
	if (t->rdonly || t->txn == NULL || t->err != 0) {
		rc = t->rdonly ? 0 : t->txn == NULL ? STORE_EINVAL : t->err;
		if (!t->rdonly && t->err != 0) {
			pthread_mutex_lock(&t->st->lock);
			store_map_check(t->st, t->err);
			pthread_mutex_unlock(&t->st->lock);
		}
		txn_end(t);
		return rc;
	}
	rc = mdb_txn_commit(t->txn); /* frees the MDB_txn, also on error */
	t->txn = NULL;
	if (rc == EIO && store_out_of_space(t->st)) {
		log_warnx("store: commit: short write, out of disk space");
		rc = ENOSPC;
	} else if (rc != 0)
		log_warnx("store: commit: %s", mdb_strerror(rc));
	if (rc != 0) {
		if (rc == MDB_MAP_FULL)
			reader_sweep(t->st);
		rc = store_code(rc);
	}
	pthread_mutex_lock(&t->st->lock);
	store_map_check(t->st, rc);
	pthread_mutex_unlock(&t->st->lock);
	txn_end(t);
	return rc;
}

/*
 * Cursors.  A read-only txn keeps one cursor per database across renewals;
 * a nested scan of the same database, and every write txn, gets its own.
 */
static int
cur_get(struct store_txn *t, int db, MDB_cursor **c, int *kept)
{
	unsigned bit = 1u << db;
	int rc;

	*kept = 0;
	if (t->rdonly && (t->cur_busy & bit) == 0) {
		if (t->cur[db] == NULL)
			rc = mdb_cursor_open(t->txn, t->st->dbi[db],
			    &t->cur[db]);
		else if (t->cur_stale & bit)
			rc = mdb_cursor_renew(t->txn, t->cur[db]);
		else
			rc = 0;
		if (rc != 0) {
			if (t->cur[db] != NULL)
				mdb_cursor_close(t->cur[db]);
			t->cur[db] = NULL;
			return txn_fail(t, "cursor", rc);
		}
		t->cur_stale &= ~bit;
		t->cur_busy |= bit;
		*c = t->cur[db];
		*kept = 1;
		return 0;
	}
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[db], c)) != 0)
		return txn_fail(t, "cursor", rc);
	return 0;
}

static void
cur_put(struct store_txn *t, int db, MDB_cursor *c, int kept)
{
	if (kept)
		t->cur_busy &= ~(1u << db);
	else
		mdb_cursor_close(c);
}

/*
 * Plain key operations.
 */

static int
db_get(struct store_txn *t, int db, const void *key, size_t klen, MDB_val *v,
    const char *what)
{
	MDB_val k;
	int rc;

	if ((rc = txn_usable(t)) != 0)
		return rc;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if ((rc = mdb_get(t->txn, t->st->dbi[db], &k, v)) != 0)
		return txn_fail(t, what, rc);
	return 0;
}

static int
db_put(struct store_txn *t, int db, const void *key, size_t klen,
    const void *data, size_t dlen, const char *what)
{
	MDB_val k, v;
	int rc;

	if ((rc = txn_writable(t)) != 0)
		return rc;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)data;
	v.mv_size = dlen;
	if ((rc = mdb_put(t->txn, t->st->dbi[db], &k, &v, 0)) != 0)
		return txn_fail(t, what, rc);
	return 0;
}

static int
db_del(struct store_txn *t, int db, const void *key, size_t klen,
    const char *what)
{
	MDB_val k;
	int rc;

	if ((rc = txn_writable(t)) != 0)
		return rc;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if ((rc = mdb_del(t->txn, t->st->dbi[db], &k, NULL)) != 0)
		return txn_fail(t, what, rc);
	return 0;
}

static int
meta_get_u64(struct store_txn *t, const void *key, size_t klen, uint64_t *out)
{
	MDB_val v;
	int rc;

	*out = 0;
	if ((rc = db_get(t, DB_META, key, klen, &v, "meta get")) != 0)
		return rc;
	if (v.mv_size != 8)
		return corrupt("counter", key, strnlen(key, klen));
	*out = unpack_be64(v.mv_data);
	return 0;
}

static int
meta_put_u64(struct store_txn *t, const void *key, size_t klen, uint64_t n)
{
	uint8_t buf[8];

	pack_be64(buf, n);
	return db_put(t, DB_META, key, klen, buf, sizeof(buf), "meta put");
}

/*
 * Scans keys in order from `start' (NULL: the first key).  With plen > 0
 * only keys that begin with the first plen bytes of start are visited;
 * with skip_equal a key equal to start is passed over.  fn returns 0 to go
 * on, or a code that ends the scan and is returned.
 */
typedef int (*scan_fn)(struct store_txn *, const MDB_val *, const MDB_val *,
    void *);

static int
db_scan(struct store_txn *t, int db, const void *start, size_t slen,
    size_t plen, int skip_equal, scan_fn fn, void *ctx)
{
	MDB_cursor *c;
	MDB_cursor_op op;
	MDB_val k, v;
	int rc, kept;

	if ((rc = txn_usable(t)) != 0)
		return rc;
	if ((rc = cur_get(t, db, &c, &kept)) != 0)
		return rc;
	k.mv_data = (void *)start;
	k.mv_size = slen;
	op = slen > 0 ? MDB_SET_RANGE : MDB_FIRST;
	for (;;) {
		rc = mdb_cursor_get(c, &k, &v, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc != 0) {
			rc = txn_fail(t, db_names[db], rc);
			break;
		}
		if (plen > 0 &&
		    (k.mv_size < plen || memcmp(k.mv_data, start, plen) != 0))
			break;
		if (skip_equal) {
			skip_equal = 0;
			if (k.mv_size == slen &&
			    memcmp(k.mv_data, start, slen) == 0)
				continue;
		}
		if ((rc = fn(t, &k, &v, ctx)) != 0)
			break;
	}
	cur_put(t, db, c, kept);
	return rc;
}

/*
 * Ids.
 */

int
store_next_id(struct store_txn *t, const char *prefix, char out[OTA_ID_MAX + 1])
{
	uint8_t key[3 + OTA_ID_MAX];
	uint64_t n;
	size_t plen;
	int rc, len;

	if ((rc = txn_writable(t)) != 0)
		return rc;
	plen = pack_key_len(prefix);
	if (plen == 0 || plen > OTA_ID_MAX - 2)
		return STORE_EINVAL;
	memcpy(key, "id", 3); /* with its NUL */
	memcpy(key + 3, prefix, plen);
	rc = meta_get_u64(t, key, 3 + plen, &n);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	n++;
	len = snprintf(out, OTA_ID_MAX + 1, "%s-%" PRIu64, prefix, n);
	if (len < 0 || len > OTA_ID_MAX)
		return STORE_EINVAL;
	return meta_put_u64(t, key, 3 + plen, n);
}

int
store_id_count(struct store_txn *t, const char *prefix, uint64_t *n)
{
	uint8_t key[3 + OTA_ID_MAX];
	size_t plen;
	int rc;

	*n = 0;
	plen = pack_key_len(prefix);
	if (plen == 0 || plen > OTA_ID_MAX - 2)
		return STORE_EINVAL;
	memcpy(key, "id", 3); /* with its NUL */
	memcpy(key + 3, prefix, plen);
	rc = meta_get_u64(t, key, 3 + plen, n);
	return rc == STORE_ENOTFOUND ? 0 : rc;
}

/*
 * Devices.
 */

struct iter_ctx {
	union {
		int (*dev)(const struct device_rec *, void *);
		int (*fw)(const struct firmware_rec *, void *);
		int (*job)(const struct job_rec *, void *);
		int (*jd)(const struct jobdev_rec *, void *);
	} cb;
	void *arg;
	const char *device; /* open rows: the device */
};

int
store_device_get(struct store_txn *t, const char *id, struct device_rec *out)
{
	MDB_val v;
	size_t klen;
	int rc;

	if (out == NULL || (klen = pack_key_len(id)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_DEVICES, id, klen, &v, "device get")) != 0)
		return rc;
	if (unpack_device(v.mv_data, v.mv_size, out) != 0)
		return corrupt("device", id, klen);
	return 0;
}

int
store_device_put(struct store_txn *t, const struct device_rec *rec)
{
	uint8_t buf[PACK_MAX];
	size_t klen, n;

	if (rec == NULL || (klen = pack_key_len(rec->id)) == 0 ||
	    (n = pack_device(rec, buf, sizeof(buf))) == 0)
		return STORE_EINVAL;
	return db_put(t, DB_DEVICES, rec->id, klen, buf, n, "device put");
}

static int	history_del_device(struct store_txn *, const char *, size_t);

int
store_device_del(struct store_txn *t, const char *id)
{
	size_t klen;
	int rc;

	if ((klen = pack_key_len(id)) == 0)
		return STORE_EINVAL;
	if ((rc = db_del(t, DB_DEVICES, id, klen, "device del")) != 0)
		return rc;
	if ((rc = store_attrs_put(t, id, NULL, 0)) != 0)
		return rc;
	return history_del_device(t, id, klen);
}

static int
device_scan_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct iter_ctx *ic = ctx;
	struct device_rec rec;

	if (unpack_device(v->mv_data, v->mv_size, &rec) != 0)
		return corrupt("device", k->mv_data, k->mv_size);
	return ic->cb.dev(&rec, ic->arg) != 0 ? STORE_ESTOP : 0;
}

int
store_device_iter(struct store_txn *t, const char *after,
    int (*cb)(const struct device_rec *, void *), void *arg)
{
	struct iter_ctx ic;
	size_t alen = 0;

	if (cb == NULL)
		return STORE_EINVAL;
	if (after != NULL && *after != '\0' &&
	    (alen = pack_key_len(after)) == 0)
		return STORE_EINVAL;
	ic.cb.dev = cb;
	ic.arg = arg;
	return db_scan(t, DB_DEVICES, after, alen, 0, 1, device_scan_cb, &ic);
}

static int
db_count(struct store_txn *t, int db, size_t *out)
{
	MDB_stat ms;
	int rc;

	if ((rc = txn_usable(t)) != 0)
		return rc;
	if ((rc = mdb_stat(t->txn, t->st->dbi[db], &ms)) != 0)
		return txn_fail(t, "stat", rc);
	*out = ms.ms_entries;
	return 0;
}

int
store_device_count(struct store_txn *t, size_t *out)
{
	if (out == NULL)
		return STORE_EINVAL;
	*out = 0;
	return db_count(t, DB_DEVICES, out);
}

/*
 * Firmware.
 */

static int
fwkey_of(const struct firmware_rec *f, uint8_t key[PACK_KEY_MAX], size_t *klen)
{
	*klen = pack_key3(key, f->product, f->module, f->version);
	return *klen == 0 ? STORE_EINVAL : 0;
}

int
store_firmware_get(struct store_txn *t, const char *id,
    struct firmware_rec *out)
{
	MDB_val v;
	size_t klen;
	int rc;

	if (out == NULL || (klen = pack_key_len(id)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_FIRMWARE, id, klen, &v, "firmware get")) != 0)
		return rc;
	if (unpack_firmware(v.mv_data, v.mv_size, out) != 0)
		return corrupt("firmware", id, klen);
	return 0;
}

int
store_firmware_put(struct store_txn *t, const struct firmware_rec *rec)
{
	uint8_t buf[PACK_MAX], key[PACK_KEY_MAX], okey[PACK_KEY_MAX];
	struct firmware_rec old;
	MDB_val v;
	size_t klen, idlen, oklen, n;
	int rc;

	if ((rc = txn_writable(t)) != 0)
		return rc;
	if (rec == NULL || (idlen = pack_key_len(rec->id)) == 0 ||
	    fwkey_of(rec, key, &klen) != 0 ||
	    (n = pack_firmware(rec, buf, sizeof(buf))) == 0)
		return STORE_EINVAL;

	/* (product, module, version) must belong to no other id */
	rc = db_get(t, DB_FWKEY, key, klen, &v, "fwkey get");
	if (rc == 0 &&
	    (v.mv_size != idlen || memcmp(v.mv_data, rec->id, idlen) != 0))
		return STORE_EEXIST;
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;

	/* an update that changes the triple frees the old one */
	rc = store_firmware_get(t, rec->id, &old);
	if (rc == 0 && fwkey_of(&old, okey, &oklen) == 0 &&
	    (oklen != klen || memcmp(okey, key, klen) != 0)) {
		rc = db_del(t, DB_FWKEY, okey, oklen, "fwkey del");
		if (rc != 0 && rc != STORE_ENOTFOUND)
			return rc;
	} else if (rc != 0 && rc != STORE_ENOTFOUND && rc != STORE_EINVAL)
		return rc;

	if ((rc = db_put(t, DB_FIRMWARE, rec->id, idlen, buf, n,
	    "firmware put")) != 0)
		return rc;
	return db_put(t, DB_FWKEY, key, klen, rec->id, idlen, "fwkey put");
}

int
store_firmware_del(struct store_txn *t, const char *id)
{
	uint8_t key[PACK_KEY_MAX];
	struct firmware_rec old;
	MDB_val v;
	size_t idlen, klen;
	int rc;

	if ((idlen = pack_key_len(id)) == 0)
		return STORE_EINVAL;
	if ((rc = txn_writable(t)) != 0)
		return rc;
	rc = store_firmware_get(t, id, &old);
	if (rc == STORE_ENOTFOUND || (rc != 0 && rc != STORE_EINVAL))
		return rc;
	/* drop the index entry if it is this firmware's */
	if (rc == 0 && fwkey_of(&old, key, &klen) == 0 &&
	    db_get(t, DB_FWKEY, key, klen, &v, "fwkey get") == 0 &&
	    v.mv_size == idlen && memcmp(v.mv_data, id, idlen) == 0 &&
	    (rc = db_del(t, DB_FWKEY, key, klen, "fwkey del")) != 0)
		return rc;
	if ((rc = txn_writable(t)) != 0)
		return rc;
	return db_del(t, DB_FIRMWARE, id, idlen, "firmware del");
}

int
store_firmware_find(struct store_txn *t, const char *product,
    const char *module, const char *version,
    char id[OTA_ID_MAX + 1])
{
	uint8_t key[PACK_KEY_MAX];
	MDB_val v;
	size_t klen;
	int rc;

	if (id == NULL ||
	    (klen = pack_key3(key, product, module, version)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_FWKEY, key, klen, &v, "fwkey get")) != 0)
		return rc;
	if (v.mv_size == 0 || v.mv_size > OTA_ID_MAX ||
	    memchr(v.mv_data, '\0', v.mv_size) != NULL)
		return corrupt("firmware index", key, strlen(product));
	memcpy(id, v.mv_data, v.mv_size);
	id[v.mv_size] = '\0';
	return 0;
}

/*
 * Patches: DB_DELTA holds "i\0<id>" -> the record and "t\0<to>\0<from
 * version>" -> the id.
 */

static size_t
delta_ikey(uint8_t key[PACK_KEY_MAX], const char *id)
{
	return pack_key2(key, "i", id);
}

int
store_delta_get(struct store_txn *t, const char *id, struct delta_rec *out)
{
	uint8_t	 key[PACK_KEY_MAX];
	MDB_val	 v;
	size_t	 klen;
	int	 rc;

	if (out == NULL || (klen = delta_ikey(key, id)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_DELTA, key, klen, &v, "delta get")) != 0)
		return rc;
	if (unpack_delta(v.mv_data, v.mv_size, out) != 0)
		return corrupt("delta", id, strlen(id));
	return 0;
}

int
store_delta_put(struct store_txn *t, const struct delta_rec *rec)
{
	uint8_t	 buf[PACK_MAX], key[PACK_KEY_MAX], tkey[PACK_KEY_MAX];
	MDB_val	 v;
	size_t	 klen, tlen, idlen, n;
	int	 rc;

	if ((rc = txn_writable(t)) != 0)
		return rc;
	if (rec == NULL || (idlen = pack_key_len(rec->id)) == 0 ||
	    (klen = delta_ikey(key, rec->id)) == 0 ||
	    (tlen = pack_key3(tkey, "t", rec->to, rec->from_version)) == 0 ||
	    (n = pack_delta(rec, buf, sizeof(buf))) == 0)
		return STORE_EINVAL;
	rc = db_get(t, DB_DELTA, tkey, tlen, &v, "delta find");
	if (rc == 0 && (v.mv_size != idlen || memcmp(v.mv_data, rec->id,
	    idlen) != 0))
		return STORE_EEXIST;
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	if ((rc = db_put(t, DB_DELTA, key, klen, buf, n, "delta put")) != 0)
		return rc;
	return db_put(t, DB_DELTA, tkey, tlen, rec->id, idlen, "delta put");
}

int
store_delta_del(struct store_txn *t, const char *id)
{
	uint8_t	 key[PACK_KEY_MAX], tkey[PACK_KEY_MAX];
	struct delta_rec d;
	size_t	 klen, tlen;
	int	 rc;

	if ((rc = txn_writable(t)) != 0)
		return rc;
	if ((rc = store_delta_get(t, id, &d)) != 0)
		return rc;
	klen = delta_ikey(key, id);
	if ((tlen = pack_key3(tkey, "t", d.to, d.from_version)) == 0)
		return STORE_EINVAL;
	if ((rc = db_del(t, DB_DELTA, tkey, tlen, "delta del")) != 0 &&
	    rc != STORE_ENOTFOUND)
		return rc;
	return db_del(t, DB_DELTA, key, klen, "delta del");
}

int
store_delta_find(struct store_txn *t, const char *to,
    const char *from_version, struct delta_rec *out)
{
	uint8_t	 tkey[PACK_KEY_MAX];
	char	 id[OTA_ID_MAX + 1];
	MDB_val	 v;
	size_t	 tlen;
	int	 rc;

	if ((tlen = pack_key3(tkey, "t", to, from_version)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_DELTA, tkey, tlen, &v, "delta find")) != 0)
		return rc;
	if (v.mv_size == 0 || v.mv_size > OTA_ID_MAX)
		return corrupt("delta index", tkey, tlen);
	memcpy(id, v.mv_data, v.mv_size);
	id[v.mv_size] = '\0';
	return store_delta_get(t, id, out);
}

struct delta_iter {
	int	(*cb)(const struct delta_rec *, void *);
	void	*arg;
};

static int
delta_scan_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct delta_iter *di = ctx;
	struct delta_rec rec;

	(void)t;
	if (unpack_delta(v->mv_data, v->mv_size, &rec) != 0)
		return corrupt("delta", k->mv_data, k->mv_size);
	return di->cb(&rec, di->arg) != 0 ? STORE_ESTOP : 0;
}

int
store_delta_iter(struct store_txn *t,
    int (*cb)(const struct delta_rec *, void *), void *arg)
{
	struct delta_iter di = { cb, arg };
	int	 rc;

	if (cb == NULL)
		return STORE_EINVAL;
	rc = db_scan(t, DB_DELTA, "i", 2, 2, 0, delta_scan_cb, &di);
	return rc == STORE_ESTOP ? 0 : rc;
}

static int
firmware_scan_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct iter_ctx *ic = ctx;
	struct firmware_rec rec;

	if (unpack_firmware(v->mv_data, v->mv_size, &rec) != 0)
		return corrupt("firmware", k->mv_data, k->mv_size);
	return ic->cb.fw(&rec, ic->arg) != 0 ? STORE_ESTOP : 0;
}

int
store_firmware_iter_after(struct store_txn *t, const char *after,
    int (*cb)(const struct firmware_rec *, void *), void *arg)
{
	struct iter_ctx ic;
	size_t	 alen = 0;

	if (cb == NULL)
		return STORE_EINVAL;
	if (after != NULL && *after != '\0' &&
	    (alen = pack_key_len(after)) == 0)
		return STORE_EINVAL;
	ic.cb.fw = cb;
	ic.arg = arg;
	return db_scan(t, DB_FIRMWARE, after, alen, 0, 1, firmware_scan_cb,
	    &ic);
}

int
store_firmware_iter(struct store_txn *t,
    int (*cb)(const struct firmware_rec *, void *), void *arg)
{
	return store_firmware_iter_after(t, NULL, cb, arg);
}

/*
 * Jobs.
 */

int
store_job_get(struct store_txn *t, const char *id, struct job_rec *out)
{
	MDB_val v;
	size_t klen;
	int rc;

	if (out == NULL || (klen = pack_key_len(id)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_JOBS, id, klen, &v, "job get")) != 0)
		return rc;
	if (unpack_job(v.mv_data, v.mv_size, out) != 0)
		return corrupt("job", id, klen);
	return 0;
}

int
store_job_put(struct store_txn *t, const struct job_rec *rec)
{
	uint8_t buf[PACK_MAX];
	size_t klen, n;

	if (rec == NULL || (klen = pack_key_len(rec->id)) == 0 ||
	    (n = pack_job(rec, buf, sizeof(buf))) == 0)
		return STORE_EINVAL;
	return db_put(t, DB_JOBS, rec->id, klen, buf, n, "job put");
}

int
store_job_del(struct store_txn *t, const char *id)
{
	size_t klen;

	if ((klen = pack_key_len(id)) == 0)
		return STORE_EINVAL;
	return db_del(t, DB_JOBS, id, klen, "job del");
}

static int
job_scan_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct iter_ctx *ic = ctx;
	struct job_rec rec;

	if (unpack_job(v->mv_data, v->mv_size, &rec) != 0)
		return corrupt("job", k->mv_data, k->mv_size);
	return ic->cb.job(&rec, ic->arg) != 0 ? STORE_ESTOP : 0;
}

int
store_job_iter_after(struct store_txn *t, const char *after,
    int (*cb)(const struct job_rec *, void *), void *arg)
{
	struct iter_ctx ic;
	size_t	 alen = 0;

	if (cb == NULL)
		return STORE_EINVAL;
	if (after != NULL && *after != '\0' &&
	    (alen = pack_key_len(after)) == 0)
		return STORE_EINVAL;
	ic.cb.job = cb;
	ic.arg = arg;
	return db_scan(t, DB_JOBS, after, alen, 0, 1, job_scan_cb, &ic);
}

int
store_job_iter(struct store_txn *t, int (*cb)(const struct job_rec *, void *),
    void *arg)
{
	return store_job_iter_after(t, NULL, cb, arg);
}

/*
 * Job rows and the per-device index of open rows.
 */

static int
jd_open(int state)
{
	switch (state) {
	case JD_WAIT_CONFIRM:
	case JD_QUEUED:
	case JD_NOTIFIED:
	case JD_UPGRADING:
	case JD_RETRY_WAIT:
		return 1;
	default:
		return 0;
	}
}

int
store_jobdev_get(struct store_txn *t, const char *job, const char *device,
    struct jobdev_rec *out)
{
	uint8_t key[PACK_KEY_MAX];
	MDB_val v;
	size_t klen;
	int rc;

	if (out == NULL || device == NULL ||
	    (klen = pack_key2(key, job, device)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_JOBDEV, key, klen, &v, "jobdev get")) != 0)
		return rc;
	if (unpack_jobdev(v.mv_data, v.mv_size, out) != 0)
		return corrupt("job row", key, strlen(job));
	return 0;
}

int
store_jobdev_put(struct store_txn *t, const struct jobdev_rec *rec)
{
	uint8_t buf[PACK_MAX], key[PACK_KEY_MAX], okey[PACK_KEY_MAX];
	uint8_t state;
	size_t klen, oklen, n;
	int rc;

	if (rec == NULL ||
	    (klen = pack_key2(key, rec->job, rec->device)) == 0 ||
	    (oklen = pack_key2(okey, rec->device, rec->job)) == 0 ||
	    (n = pack_jobdev(rec, buf, sizeof(buf))) == 0)
		return STORE_EINVAL;
	if ((rc = db_put(t, DB_JOBDEV, key, klen, buf, n, "jobdev put")) != 0)
		return rc;
	if (jd_open(rec->state)) {
		state = (uint8_t)rec->state;
		return db_put(t, DB_DEVOPEN, okey, oklen, &state, 1,
		    "devopen put");
	}
	rc = db_del(t, DB_DEVOPEN, okey, oklen, "devopen del");
	return rc == STORE_ENOTFOUND ? 0 : rc;
}

static int
jobdev_scan_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct iter_ctx *ic = ctx;
	struct jobdev_rec rec;

	if (unpack_jobdev(v->mv_data, v->mv_size, &rec) != 0)
		return corrupt("job row", k->mv_data,
		    strnlen(k->mv_data, k->mv_size));
	return ic->cb.jd(&rec, ic->arg) != 0 ? STORE_ESTOP : 0;
}

int
store_jobdev_iter_after(struct store_txn *t, const char *job,
    const char *after, int (*cb)(const struct jobdev_rec *, void *),
    void *arg)
{
	uint8_t start[PACK_KEY_MAX], prefix[PACK_KEY_MAX];
	struct iter_ctx ic;
	size_t plen, slen;

	if (after == NULL || *after == '\0')
		return store_jobdev_iter(t, job, cb, arg);
	if (cb == NULL || (plen = pack_key2(prefix, job, NULL)) == 0 ||
	    (slen = pack_key2(start, job, after)) == 0)
		return STORE_EINVAL;
	ic.cb.jd = cb;
	ic.arg = arg;
	return db_scan(t, DB_JOBDEV, start, slen, plen, 1, jobdev_scan_cb,
	    &ic);
}

int
store_jobdev_iter(struct store_txn *t, const char *job,
    int (*cb)(const struct jobdev_rec *, void *), void *arg)
{
	uint8_t prefix[PACK_KEY_MAX];
	struct iter_ctx ic;
	size_t plen;

	if (cb == NULL || (plen = pack_key2(prefix, job, NULL)) == 0)
		return STORE_EINVAL;
	ic.cb.jd = cb;
	ic.arg = arg;
	return db_scan(t, DB_JOBDEV, prefix, plen, plen, 0, jobdev_scan_cb,
	    &ic);
}

/* Visits "<device>\0<job>" in devopen: reads the row from jobdev. */
static int
devopen_scan_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct iter_ctx *ic = ctx;
	struct jobdev_rec rec;
	uint8_t key[PACK_KEY_MAX];
	char job[OTA_ID_MAX + 1];
	MDB_val row;
	size_t dlen = strlen(ic->device), jlen, klen;
	int rc;

	jlen = k->mv_size - dlen - 1; /* the scan checked the prefix */
	if (jlen == 0 || jlen > OTA_ID_MAX ||
	    memchr((const char *)k->mv_data + dlen + 1, '\0', jlen) != NULL)
		return corrupt("open-row index", k->mv_data, dlen);
	memcpy(job, (const char *)k->mv_data + dlen + 1, jlen);
	job[jlen] = '\0';
	klen = pack_key2(key, job, ic->device);
	rc = db_get(t, DB_JOBDEV, key, klen, &row, "jobdev get");
	if (rc == STORE_ENOTFOUND) {
		log_warnx("store: open-row index names a missing row %s/%s",
		    job, ic->device);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (unpack_jobdev(row.mv_data, row.mv_size, &rec) != 0)
		return corrupt("job row", job, jlen);
	return ic->cb.jd(&rec, ic->arg) != 0 ? STORE_ESTOP : 0;
}

int
store_device_open_jobs(struct store_txn *t, const char *device,
    int (*cb)(const struct jobdev_rec *, void *), void *arg)
{
	uint8_t prefix[PACK_KEY_MAX];
	struct iter_ctx ic;
	size_t plen;

	if (cb == NULL || (plen = pack_key2(prefix, device, NULL)) == 0)
		return STORE_EINVAL;
	ic.cb.jd = cb;
	ic.arg = arg;
	ic.device = device;
	return db_scan(t, DB_DEVOPEN, prefix, plen, plen, 0, devopen_scan_cb,
	    &ic);
}

/*
 * Upgrade histories: "<device>\0<u64 big-endian seq>" in byte order, so
 * that a device's entries lie together, oldest first.  A device's entries
 * are numbered without gaps (appended after the last, removed from the
 * first), so their count is last - first + 1 and two seeks find it.
 */

#define HIST_KEY_MAX	(OTA_ID_MAX + 1 + 8)

/* The key of device's entry seq (dlen: the device id's length). */
static size_t
hist_key(uint8_t key[HIST_KEY_MAX], const char *device, size_t dlen,
    uint64_t seq)
{
	memcpy(key, device, dlen);
	key[dlen] = '\0';
	pack_be64(key + dlen + 1, seq);
	return dlen + 9;
}

/* The seq of k when it is a key of device, else 0. */
static uint64_t
hist_key_seq(const MDB_val *k, const char *device, size_t dlen)
{
	const uint8_t *p = k->mv_data;

	if (k->mv_size != dlen + 9 || memcmp(p, device, dlen) != 0 ||
	    p[dlen] != '\0')
		return 0;
	return unpack_be64(p + dlen + 1);
}

/*
 * Puts c on the device's newest entry with seq below `below' (0: none):
 * *seq is its seq, or 0 when there is none.
 */
static int
hist_seek_below(struct store_txn *t, MDB_cursor *c, const char *device,
    size_t dlen, uint64_t below, MDB_val *k, MDB_val *v, uint64_t *seq)
{
	uint8_t	 key[HIST_KEY_MAX];
	uint64_t got;
	int	 rc;

	*seq = 0;
	if (below == 0)
		return 0;
	k->mv_data = key;
	k->mv_size = hist_key(key, device, dlen, below);
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, k, v, MDB_LAST);
	else if (rc == 0 && ((got = hist_key_seq(k, device, dlen)) == 0 ||
	    got >= below))
		rc = mdb_cursor_get(c, k, v, MDB_PREV);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return txn_fail(t, "history seek", rc);
	if ((got = hist_key_seq(k, device, dlen)) != 0 && got < below)
		*seq = got;
	return 0;
}

/* Puts c on the device's oldest entry; *seq is its seq, or 0: none. */
static int
hist_seek_first(struct store_txn *t, MDB_cursor *c, const char *device,
    size_t dlen, uint64_t from, MDB_val *k, MDB_val *v, uint64_t *seq)
{
	uint8_t	 key[HIST_KEY_MAX];
	int	 rc;

	*seq = 0;
	k->mv_data = key;
	k->mv_size = hist_key(key, device, dlen, from);
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return txn_fail(t, "history seek", rc);
	*seq = hist_key_seq(k, device, dlen);
	return 0;
}

static int
history_max(struct store_txn *t, uint64_t *max)
{
	int	 rc;

	rc = meta_get_u64(t, meta_histmax, sizeof(meta_histmax) - 1, max);
	if (rc == STORE_ENOTFOUND || (rc == 0 && (*max == 0 ||
	    *max > STORE_HISTORY_MAX_LIMIT))) {
		*max = STORE_HISTORY_MAX_DEFAULT;
		rc = 0;
	}
	return rc;
}

int
store_history_max_get(struct store_txn *t, unsigned *max)
{
	uint64_t m;
	int	 rc;

	if (max == NULL)
		return STORE_EINVAL;
	if ((rc = history_max(t, &m)) != 0)
		return rc;
	*max = (unsigned)m;
	return 0;
}

int
store_history_max_set(struct store_txn *t, unsigned max)
{
	if (max == 0 || max > STORE_HISTORY_MAX_LIMIT)
		return STORE_EINVAL;
	return meta_put_u64(t, meta_histmax, sizeof(meta_histmax) - 1, max);
}

int
store_history_append(struct store_txn *t, struct history_rec *rec)
{
	uint8_t	 buf[PACK_MAX], key[HIST_KEY_MAX];
	MDB_cursor *c;
	MDB_val	 k, v;
	uint64_t max, first, last;
	size_t	 dlen, n;
	int	 rc, kept;

	if ((rc = txn_writable(t)) != 0)
		return rc;
	if (rec == NULL || (dlen = pack_key_len(rec->device)) == 0 ||
	    (n = pack_history(rec, buf, sizeof(buf))) == 0)
		return STORE_EINVAL;
	if ((rc = history_max(t, &max)) != 0)
		return rc;
	if ((rc = cur_get(t, DB_HISTORY, &c, &kept)) != 0)
		return rc;
	if ((rc = hist_seek_below(t, c, rec->device, dlen, UINT64_MAX, &k, &v,
	    &last)) != 0)
		goto out;
	if (last >= UINT64_MAX - 1) {
		rc = corrupt("history", rec->device, dlen);
		goto out;
	}
	rec->seq = last + 1;
	k.mv_data = key;
	k.mv_size = hist_key(key, rec->device, dlen, rec->seq);
	v.mv_data = buf;
	v.mv_size = n;
	if ((rc = mdb_cursor_put(c, &k, &v, 0)) != 0) {
		rc = txn_fail(t, "history put", rc);
		goto out;
	}
	/* the oldest go while there are more than max */
	for (first = 1;;) {
		if ((rc = hist_seek_first(t, c, rec->device, dlen, first, &k,
		    &v, &first)) != 0)
			goto out;
		if (first == 0 || rec->seq - first < max)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			rc = txn_fail(t, "history trim", rc);
			goto out;
		}
		first++;
	}
out:
	cur_put(t, DB_HISTORY, c, kept);
	return rc;
}

/* Removes every entry of a device (its own keys only). */
static int
history_del_device(struct store_txn *t, const char *device, size_t dlen)
{
	MDB_cursor *c;
	MDB_val	 k, v;
	uint64_t seq;
	int	 rc, kept;

	if ((rc = cur_get(t, DB_HISTORY, &c, &kept)) != 0)
		return rc;
	for (;;) {
		if ((rc = hist_seek_first(t, c, device, dlen, 0, &k, &v,
		    &seq)) != 0 || seq == 0)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			rc = txn_fail(t, "history del", rc);
			break;
		}
	}
	cur_put(t, DB_HISTORY, c, kept);
	return rc;
}

int
store_history_iter(struct store_txn *t, const char *device, uint64_t before,
    int (*cb)(const struct history_rec *, void *), void *arg)
{
	struct history_rec rec;
	MDB_cursor *c;
	MDB_val	 k, v;
	uint64_t seq;
	size_t	 dlen;
	int	 rc, kept;

	if (cb == NULL || (dlen = pack_key_len(device)) == 0)
		return STORE_EINVAL;
	if ((rc = txn_usable(t)) != 0)
		return rc;
	if ((rc = cur_get(t, DB_HISTORY, &c, &kept)) != 0)
		return rc;
	rc = hist_seek_below(t, c, device, dlen, before != 0 ? before :
	    UINT64_MAX, &k, &v, &seq);
	while (rc == 0 && seq != 0) {
		if (unpack_history(v.mv_data, v.mv_size, &rec) != 0) {
			rc = corrupt("history", device, dlen);
			break;
		}
		memcpy(rec.device, device, dlen + 1);
		rec.seq = seq;
		if (cb(&rec, arg) != 0) {
			rc = STORE_ESTOP;
			break;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc != 0) {
			rc = txn_fail(t, "history", rc);
			break;
		}
		seq = hist_key_seq(&k, device, dlen);
	}
	cur_put(t, DB_HISTORY, c, kept);
	return rc;
}

int
store_history_count(struct store_txn *t, const char *device, size_t *out)
{
	MDB_cursor *c;
	MDB_val	 k, v;
	uint64_t first, last;
	size_t	 dlen;
	int	 rc, kept;

	if (out == NULL || (dlen = pack_key_len(device)) == 0)
		return STORE_EINVAL;
	*out = 0;
	if ((rc = txn_usable(t)) != 0)
		return rc;
	if ((rc = cur_get(t, DB_HISTORY, &c, &kept)) != 0)
		return rc;
	rc = hist_seek_below(t, c, device, dlen, UINT64_MAX, &k, &v, &last);
	if (rc == 0 && last != 0)
		rc = hist_seek_first(t, c, device, dlen, 0, &k, &v, &first);
	if (rc == 0 && last != 0 && first != 0 && first <= last)
		*out = (size_t)(last - first + 1);
	cur_put(t, DB_HISTORY, c, kept);
	return rc;
}

/*
 * Outbox.
 */

void
store_set_outbox_limit(struct store *st, size_t limit)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	st->outbox_limit = limit;
	pthread_mutex_unlock(&st->lock);
}

static int
meta_add_u64(struct store_txn *t, const char *key, size_t klen, uint64_t n)
{
	uint64_t cur;
	int rc;

	rc = meta_get_u64(t, key, klen, &cur);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	return meta_put_u64(t, key, klen, cur + n);
}

/* Logs drops at most once per DROP_LOG_MS, with how many there were. */
static void
drop_log(struct store *st)
{
	struct timespec now;
	int64_t ms;
	uint64_t n = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	pthread_mutex_lock(&st->lock);
	st->drop_unlogged++;
	if (st->drop_logged == 0 || ms - st->drop_logged >= DROP_LOG_MS) {
		n = st->drop_unlogged;
		st->drop_unlogged = 0;
		st->drop_logged = ms;
	}
	pthread_mutex_unlock(&st->lock);
	if (n > 0)
		log_warnx("store: outbox full (limit %zu): dropped %" PRIu64
		    " event%s", st->outbox_limit, n,
		    n == 1 ? "" : "s");
}

/*
 * Finds the oldest progress event at or after the noprog hint; *found is
 * its sequence number, or 0.  The hint is moved up to it in t.
 */
struct oldest_prog {
	uint64_t seq;
};

static int
oldest_prog_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct oldest_prog *op = ctx;
	const uint8_t *data;
	int64_t ts;
	size_t len;
	int type;

	(void)t;
	if (k->mv_size != 8 ||
	    unpack_outbox(v->mv_data, v->mv_size, &type, &ts, &data, &len) != 0)
		return 0; /* a corrupt entry is not ours to drop */
	if (type != EV_PROGRESS && type != EV_TRANSFER)
		return 0;
	op->seq = unpack_be64(k->mv_data);
	return STORE_ESTOP;
}

static int
outbox_oldest_progress(struct store_txn *t, uint64_t last, uint64_t *found)
{
	struct oldest_prog op;
	uint8_t key[8];
	uint64_t hint;
	int rc;

	*found = 0;
	rc = meta_get_u64(t, meta_noprog, sizeof(meta_noprog) - 1, &hint);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	op.seq = 0;
	pack_be64(key, hint);
	rc = db_scan(t, DB_OUTBOX, hint > 0 ? key : NULL, hint > 0 ? 8 : 0, 0,
	    0, oldest_prog_cb, &op);
	if (rc != 0 && rc != STORE_ESTOP)
		return rc;
	*found = op.seq;
	/* nothing below op.seq (or up to last) is a progress event */
	return meta_put_u64(t, meta_noprog, sizeof(meta_noprog) - 1,
	    op.seq > 0 ? op.seq : last + 1);
}

/* The oldest entry of the outbox, or 0 when it is empty. */
static int
outbox_first_seq_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	(void)t;
	(void)v;
	if (k->mv_size == 8)
		*(uint64_t *)ctx = unpack_be64(k->mv_data);
	return STORE_ESTOP;
}

static int
outbox_oldest(struct store_txn *t, uint64_t *found)
{
	int rc;

	*found = 0;
	rc = db_scan(t, DB_OUTBOX, NULL, 0, 0, 0, outbox_first_seq_cb, found);
	return rc == STORE_ESTOP ? 0 : rc;
}

/*
 * The outbox limit, before appending an event of `type': 1 when the new
 * event is to be dropped, 0 to append it (after dropping one event when
 * the outbox is full), or a STORE_E* code.  The one dropped is the oldest
 * progress or transfer event; a new progress or transfer event with no
 * older one is dropped itself; a new version report or state change with
 * no progress event to drop makes the oldest event of the outbox go,
 * whatever it is: the limit holds with or without an upstream.
 */
static int
outbox_make_room(struct store_txn *t, int type, uint64_t last)
{
	uint64_t victim;
	size_t depth, limit;
	uint8_t key[8];
	int rc, kept = 0;

	pthread_mutex_lock(&t->st->lock);
	limit = t->st->outbox_limit;
	pthread_mutex_unlock(&t->st->lock);
	if (limit == 0)
		return 0;
	if ((rc = db_count(t, DB_OUTBOX, &depth)) != 0)
		return rc;
	if (depth < limit)
		return 0;
	if ((rc = outbox_oldest_progress(t, last, &victim)) != 0)
		return rc;
	if (victim == 0 && type != EV_PROGRESS && type != EV_TRANSFER) {
		if ((rc = outbox_oldest(t, &victim)) != 0)
			return rc;
		kept = 1;
	}
	if (victim != 0) {
		pack_be64(key, victim);
		if ((rc = db_del(t, DB_OUTBOX, key, sizeof(key),
		    "outbox drop")) != 0)
			return rc;
	}
	if ((rc = meta_add_u64(t, meta_drops, sizeof(meta_drops) - 1, 1)) != 0)
		return rc;
	if (kept && (rc = meta_add_u64(t, meta_dropsk, sizeof(meta_dropsk) - 1,
	    1)) != 0)
		return rc;
	drop_log(t->st);
	return victim == 0 ? 1 : 0;
}

int
store_outbox_append(struct store_txn *t, int type, int64_t ts, const char *data,
    size_t len, uint64_t *seq)
{
	uint8_t key[8];
	MDB_val k, v;
	uint64_t last;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if ((rc = txn_writable(t)) != 0)
		return rc;
	if (type < EV_INFORM || type > EV_TRANSFER ||
	    (data == NULL && len > 0) || len > OUTBOX_DATA_MAX)
		return STORE_EINVAL;
	rc = meta_get_u64(t, meta_seq, sizeof(meta_seq) - 1, &last);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	if ((rc = outbox_make_room(t, type, last)) < 0)
		return rc;
	if (rc == 1)
		return 0; /* the new progress event is the one dropped */
	pack_be64(key, last + 1);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = NULL;
	v.mv_size = PACK_OUTBOX_HDR + len;
	/* MDB_APPEND: the key must sort after every key present */
	rc = mdb_put(t->txn, t->st->dbi[DB_OUTBOX], &k, &v,
	    MDB_RESERVE | MDB_APPEND);
	if (rc == MDB_KEYEXIST) {
		t->err = STORE_EIO;
		log_warnx("store: outbox sequence %" PRIu64 " is not past the "
		    "last entry",
		    last + 1);
		return STORE_EIO;
	}
	if (rc != 0)
		return txn_fail(t, "outbox put", rc);
	pack_outbox_hdr(v.mv_data, type, ts);
	if (len > 0)
		memcpy((uint8_t *)v.mv_data + PACK_OUTBOX_HDR, data, len);
	if ((rc = meta_put_u64(t, meta_seq, sizeof(meta_seq) - 1, last + 1)) !=
	    0)
		return rc;
	if (seq != NULL)
		*seq = last + 1;
	return 0;
}

/* The limit the daemon saved, for otactl (none saved: no limit). */
static void
outbox_limit_load(struct store *st)
{
	struct store_txn *t;
	uint64_t n;

	if (store_txn_begin(st, 1, &t) != 0)
		return;
	if (meta_get_u64(t, meta_limit, sizeof(meta_limit) - 1, &n) == 0)
		store_set_outbox_limit(st, (size_t)n);
	store_txn_abort(t);
}

/*
 * Drops up to max events of an outbox over limit, progress and transfer
 * events first, then the oldest; *left: 1 when it is still over.
 */
static int
outbox_trim_some(struct store_txn *t, size_t limit, size_t max, int *left)
{
	uint64_t last, victim;
	size_t depth, n;
	uint8_t key[8];
	int rc, kept;

	*left = 0;
	rc = meta_get_u64(t, meta_seq, sizeof(meta_seq) - 1, &last);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	if ((rc = db_count(t, DB_OUTBOX, &depth)) != 0)
		return rc;
	for (n = 0; depth > limit && n < max; n++, depth--) {
		if ((rc = outbox_oldest_progress(t, last, &victim)) != 0)
			return rc;
		kept = victim == 0;
		if (kept && (rc = outbox_oldest(t, &victim)) != 0)
			return rc;
		if (victim == 0)
			break;
		pack_be64(key, victim);
		if ((rc = db_del(t, DB_OUTBOX, key, sizeof(key),
		    "outbox drop")) != 0 ||
		    (rc = meta_add_u64(t, meta_drops, sizeof(meta_drops) - 1,
		    1)) != 0 ||
		    (kept && (rc = meta_add_u64(t, meta_dropsk,
		    sizeof(meta_dropsk) - 1, 1)) != 0))
			return rc;
	}
	*left = depth > limit;
	return 0;
}

int
store_outbox_limit_save(struct store *st, size_t limit, size_t *dropped)
{
	struct store_txn *t;
	int rc, left = 1;
	size_t before, after;

	*dropped = 0;
	store_set_outbox_limit(st, limit);
	while (left) {
		if ((rc = store_txn_begin(st, 0, &t)) != 0)
			return rc;
		rc = db_count(t, DB_OUTBOX, &before);
		if (rc == 0)
			rc = meta_put_u64(t, meta_limit, sizeof(meta_limit) - 1,
			    limit);
		if (rc == 0 && limit > 0)
			rc = outbox_trim_some(t, limit, 5000, &left);
		else
			left = 0;
		if (rc == 0)
			rc = db_count(t, DB_OUTBOX, &after);
		if (rc != 0) {
			store_txn_abort(t);
			return rc;
		}
		if ((rc = store_txn_commit(t)) != 0)
			return rc;
		*dropped += before - after;
	}
	return 0;
}

struct outbox_ctx {
	int (*cb)(const struct outbox_entry *, void *);
	void *arg;
};

static int
outbox_entry_of(const MDB_val *k, const MDB_val *v, struct outbox_entry *e)
{
	const uint8_t *data;

	if (k->mv_size != 8 || unpack_outbox(v->mv_data, v->mv_size, &e->type,
	    &e->ts, &data, &e->len) != 0) {
		log_warnx("store: outbox: corrupt entry");
		return STORE_EINVAL;
	}
	e->seq = unpack_be64(k->mv_data);
	e->data = (const char *)data;
	return 0;
}

static int
outbox_scan_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct outbox_ctx *oc = ctx;
	struct outbox_entry e;
	int rc;

	if ((rc = outbox_entry_of(k, v, &e)) != 0)
		return rc;
	return oc->cb(&e, oc->arg) != 0 ? STORE_ESTOP : 0;
}

int
store_outbox_iter(struct store_txn *t, uint64_t from,
    int (*cb)(const struct outbox_entry *, void *), void *arg)
{
	struct outbox_ctx oc;
	uint8_t key[8];

	if (cb == NULL)
		return STORE_EINVAL;
	oc.cb = cb;
	oc.arg = arg;
	pack_be64(key, from);
	return db_scan(t, DB_OUTBOX, from > 0 ? key : NULL,
	    from > 0 ? sizeof(key) : 0, 0, 0, outbox_scan_cb, &oc);
}

int
store_outbox_del(struct store_txn *t, uint64_t seq)
{
	uint8_t key[8];

	if (seq == 0)
		return STORE_EINVAL;
	pack_be64(key, seq);
	return db_del(t, DB_OUTBOX, key, sizeof(key), "outbox del");
}

static int
outbox_first_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	struct outbox_entry e;
	struct outbox_stats *os = ctx;
	int rc;

	if ((rc = outbox_entry_of(k, v, &e)) != 0)
		return rc;
	os->oldest_seq = e.seq;
	os->oldest_ts = e.ts;
	return STORE_ESTOP;
}

int
store_outbox_stats(struct store_txn *t, struct outbox_stats *os)
{
	int rc;

	if (os == NULL)
		return STORE_EINVAL;
	memset(os, 0, sizeof(*os));
	if ((rc = db_count(t, DB_OUTBOX, &os->depth)) != 0)
		return rc;
	rc = db_scan(t, DB_OUTBOX, NULL, 0, 0, 0, outbox_first_cb, os);
	if (rc != 0 && rc != STORE_ESTOP)
		return rc;
	rc = meta_get_u64(t, meta_seq, sizeof(meta_seq) - 1, &os->last_seq);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	rc = meta_get_u64(t, meta_drops, sizeof(meta_drops) - 1, &os->dropped);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	rc = meta_get_u64(t, meta_dropsk, sizeof(meta_dropsk) - 1,
	    &os->dropped_kept);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	rc = meta_get_u64(t, meta_parked, sizeof(meta_parked) - 1,
	    &os->parked_batches);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	rc = meta_get_u64(t, meta_sent, sizeof(meta_sent) - 1, &os->sent);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	rc = meta_get_u64(t, meta_retries, sizeof(meta_retries) - 1,
	    &os->retries);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		return rc;
	return db_count(t, DB_PARKED, &os->parked_events);
}

int
store_relay_count(struct store_txn *t, uint64_t sent, uint64_t retries)
{
	int rc = 0;

	if (sent > 0)
		rc = meta_add_u64(t, meta_sent, sizeof(meta_sent) - 1, sent);
	if (rc == 0 && retries > 0)
		rc = meta_add_u64(t, meta_retries, sizeof(meta_retries) - 1,
		    retries);
	return rc;
}

/*
 * Batches: entries with first <= seq <= last.  Both calls walk a write
 * cursor over the range, so gaps left by drops cost nothing.
 */
static int
outbox_range(struct store_txn *t, uint64_t first, uint64_t last, int park,
    size_t *n)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t key[8];
	int rc, kept;

	if (n != NULL)
		*n = 0;
	if ((rc = txn_writable(t)) != 0)
		return rc;
	if (first == 0 || last < first)
		return STORE_EINVAL;
	if ((rc = cur_get(t, DB_OUTBOX, &c, &kept)) != 0)
		return rc;
	pack_be64(key, first);
	for (;;) {
		/* seek again each time: the key just deleted sorts first */
		k.mv_data = key;
		k.mv_size = sizeof(key);
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc != 0) {
			rc = txn_fail(t, "outbox range", rc);
			break;
		}
		if (k.mv_size != 8 || unpack_be64(k.mv_data) > last)
			break;
		memcpy(key, k.mv_data, sizeof(key)); /* where to seek next */
		if (park) {
			rc = mdb_put(t->txn, t->st->dbi[DB_PARKED], &k, &v, 0);
			if (rc != 0) {
				rc = txn_fail(t, "park", rc);
				break;
			}
		}
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			rc = txn_fail(t, "outbox range del", rc);
			break;
		}
		if (n != NULL)
			(*n)++;
	}
	cur_put(t, DB_OUTBOX, c, kept);
	if (rc == 0 && park)
		rc = meta_add_u64(t, meta_parked, sizeof(meta_parked) - 1, 1);
	return rc;
}

int
store_outbox_del_range(struct store_txn *t, uint64_t first, uint64_t last,
    size_t *n)
{
	return outbox_range(t, first, last, 0, n);
}

int
store_outbox_park(struct store_txn *t, uint64_t first, uint64_t last,
    size_t *n)
{
	return outbox_range(t, first, last, 1, n);
}

int
store_parked_iter(struct store_txn *t,
    int (*cb)(const struct outbox_entry *, void *), void *arg)
{
	struct outbox_ctx oc;

	if (cb == NULL)
		return STORE_EINVAL;
	oc.cb = cb;
	oc.arg = arg;
	return db_scan(t, DB_PARKED, NULL, 0, 0, 0, outbox_scan_cb, &oc);
}

int
store_url_keys_get(struct store_txn *t, struct url_keys *k)
{
	const uint8_t *p;
	MDB_val	 v;
	int	 rc;

	memset(k, 0, sizeof(*k));
	if ((rc = db_get(t, DB_META, meta_urlkeys, sizeof(meta_urlkeys) - 1,
	    &v, "url keys get")) != 0)
		return rc;
	p = v.mv_data;
	if (v.mv_size != URLKEYS_LEN || p[0] != 1)
		return corrupt("url keys", meta_urlkeys, 3);
	k->has_prev = p[1] & 1;
	k->rotated = (int64_t)unpack_be64(p + 2);
	memcpy(k->cur, p + 10, 32);
	memcpy(k->prev, p + 42, 32);
	return 0;
}

int
store_url_keys_put(struct store_txn *t, const struct url_keys *k)
{
	uint8_t	 buf[URLKEYS_LEN];
	int	 rc;

	buf[0] = 1;
	buf[1] = k->has_prev ? 1 : 0;
	pack_be64(buf + 2, (uint64_t)k->rotated);
	memcpy(buf + 10, k->cur, 32);
	if (k->has_prev)
		memcpy(buf + 42, k->prev, 32);
	else
		memset(buf + 42, 0, 32);
	rc = db_put(t, DB_META, meta_urlkeys, sizeof(meta_urlkeys) - 1, buf,
	    sizeof(buf), "url keys put");
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/*
 * Signing keys: DB_META "sign\0keys", version 1, count, current index
 * (0xff: none), then per key alg, the kid's 12 characters, created
 * (big-endian 64 bits), the DER's length and the DER.
 */

#define SIGNKEY_FIXED	(1 + STORE_SIGN_KID_LEN + 8 + 1)

int
store_sign_keys_get(struct store_txn *t, struct sign_keys *k)
{
	const uint8_t *p, *end;
	struct sign_key_rec *r;
	MDB_val	 v;
	unsigned i;
	int	 rc;

	memset(k, 0, sizeof(*k));
	k->cur = -1;
	rc = db_get(t, DB_META, meta_signkeys, sizeof(meta_signkeys) - 1, &v,
	    "sign keys get");
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	p = v.mv_data;
	end = p + v.mv_size;
	if (v.mv_size < 3 || p[0] != 1 || p[1] > STORE_SIGN_KEYS ||
	    (p[2] != 0xff && p[2] >= p[1]))
		goto bad;
	k->n = p[1];
	k->cur = p[2] == 0xff ? -1 : p[2];
	p += 3;
	for (i = 0; i < k->n; i++) {
		r = &k->k[i];
		if (end - p < SIGNKEY_FIXED)
			goto bad;
		r->alg = p[0];
		memcpy(r->kid, p + 1, STORE_SIGN_KID_LEN);
		r->kid[STORE_SIGN_KID_LEN] = '\0';
		r->created = (int64_t)unpack_be64(p + 1 + STORE_SIGN_KID_LEN);
		r->der_len = p[SIGNKEY_FIXED - 1];
		p += SIGNKEY_FIXED;
		if (r->der_len > STORE_SIGN_DER_MAX ||
		    (size_t)(end - p) < r->der_len)
			goto bad;
		memcpy(r->der, p, r->der_len);
		p += r->der_len;
	}
	if (p == end)
		return 0;
bad:
	explicit_bzero(k, sizeof(*k));
	k->cur = -1;
	return corrupt("sign keys", meta_signkeys, 4);
}

int
store_sign_keys_put(struct store_txn *t, const struct sign_keys *k)
{
	uint8_t	 buf[3 + STORE_SIGN_KEYS * (SIGNKEY_FIXED +
	    STORE_SIGN_DER_MAX)], *p = buf + 3;
	const struct sign_key_rec *r;
	unsigned i;
	int	 rc;

	if (k->n > STORE_SIGN_KEYS || k->cur >= (int)k->n)
		return STORE_EINVAL;
	buf[0] = 1;
	buf[1] = (uint8_t)k->n;
	buf[2] = k->cur < 0 ? 0xff : (uint8_t)k->cur;
	for (i = 0; i < k->n; i++) {
		r = &k->k[i];
		if (r->der_len > STORE_SIGN_DER_MAX ||
		    strlen(r->kid) != STORE_SIGN_KID_LEN)
			return STORE_EINVAL;
		p[0] = (uint8_t)r->alg;
		memcpy(p + 1, r->kid, STORE_SIGN_KID_LEN);
		pack_be64(p + 1 + STORE_SIGN_KID_LEN, (uint64_t)r->created);
		p[SIGNKEY_FIXED - 1] = (uint8_t)r->der_len;
		p += SIGNKEY_FIXED;
		memcpy(p, r->der, r->der_len);
		p += r->der_len;
	}
	rc = db_put(t, DB_META, meta_signkeys, sizeof(meta_signkeys) - 1, buf,
	    (size_t)(p - buf), "sign keys put");
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/*
 * Transfers: DB_XFER, key device \0 firmware, value delivered, size and
 * updated, each a big-endian 64-bit number.
 */

int
store_xfer_get(struct store_txn *t, const char *device, const char *fwid,
    struct xfer_rec *x)
{
	uint8_t	 key[2 * OTA_ID_MAX + 2];
	const uint8_t *p;
	size_t	 klen;
	MDB_val	 v;
	int	 rc;

	memset(x, 0, sizeof(*x));
	if ((klen = pack_key2(key, device, fwid)) == 0 || fwid == NULL)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_XFER, key, klen, &v, "xfer get")) != 0)
		return rc;
	if (v.mv_size != 24)
		return corrupt("transfer", key, klen);
	p = v.mv_data;
	snprintf(x->device, sizeof(x->device), "%s", device);
	snprintf(x->firmware, sizeof(x->firmware), "%s", fwid);
	x->delivered = unpack_be64(p);
	x->size = unpack_be64(p + 8);
	x->updated = (int64_t)unpack_be64(p + 16);
	return 0;
}

int
store_xfer_put(struct store_txn *t, const struct xfer_rec *x)
{
	uint8_t	 key[2 * OTA_ID_MAX + 2], val[24];
	size_t	 klen;

	if ((klen = pack_key2(key, x->device, x->firmware)) == 0 ||
	    x->firmware[0] == '\0')
		return STORE_EINVAL;
	pack_be64(val, x->delivered);
	pack_be64(val + 8, x->size);
	pack_be64(val + 16, (uint64_t)x->updated);
	return db_put(t, DB_XFER, key, klen, val, sizeof(val), "xfer put");
}

static int
xfer_del_cb(struct store_txn *t, const MDB_val *k, const MDB_val *v,
    void *ctx)
{
	(void)v;
	(void)ctx;
	return db_del(t, DB_XFER, k->mv_data, k->mv_size, "xfer del");
}

int
store_xfer_del_device(struct store_txn *t, const char *device)
{
	uint8_t	 prefix[OTA_ID_MAX + 1];
	size_t	 plen;

	if ((plen = pack_key2(prefix, device, NULL)) == 0)
		return STORE_EINVAL;
	return db_scan(t, DB_XFER, prefix, plen, plen, 0, xfer_del_cb, NULL);
}

/*
 * Records kept in DB_META under "<kind>\0<id>": products' author keys
 * ("product") and devices' attributes ("attrs"), so that a store made
 * before them needs no new database.  The key's length, or 0 for an
 * invalid id.
 */
static size_t
meta_key(uint8_t key[PACK_KEY_MAX], const char *kind, const char *id)
{
	size_t	 k = strlen(kind) + 1, n;	/* with its NUL */

	if ((n = pack_key_len(id)) == 0 || k + n > PACK_KEY_MAX)
		return 0;
	memcpy(key, kind, k);
	memcpy(key + k, id, n);
	return k + n;
}

int
store_attrs_get(struct store_txn *t, const char *device, char *buf,
    size_t size)
{
	uint8_t	 key[PACK_KEY_MAX];
	MDB_val	 v;
	size_t	 klen;
	int	 rc;

	if (buf == NULL || size == 0 ||
	    (klen = meta_key(key, "attrs", device)) == 0)
		return STORE_EINVAL;
	buf[0] = '\0';
	if ((rc = db_get(t, DB_META, key, klen, &v, "attrs get")) != 0)
		return rc;
	if (v.mv_size == 0 || v.mv_size > STORE_ATTRS_MAX ||
	    memchr(v.mv_data, '\0', v.mv_size) != NULL)
		return corrupt("attributes", device, strlen(device));
	if (v.mv_size >= size)
		return STORE_EINVAL;
	memcpy(buf, v.mv_data, v.mv_size);
	buf[v.mv_size] = '\0';
	return 0;
}

int
store_attrs_put(struct store_txn *t, const char *device, const char *json,
    size_t len)
{
	uint8_t	 key[PACK_KEY_MAX];
	size_t	 klen;
	int	 rc;

	if ((klen = meta_key(key, "attrs", device)) == 0 ||
	    len > STORE_ATTRS_MAX || (len > 0 && (json == NULL ||
	    memchr(json, '\0', len) != NULL)))
		return STORE_EINVAL;
	if (len > 0)
		return db_put(t, DB_META, key, klen, json, len, "attrs put");
	rc = db_del(t, DB_META, key, klen, "attrs del");
	return rc == STORE_ENOTFOUND ? 0 : rc;
}

int
store_product_get(struct store_txn *t, const char *id, struct product_rec *out)
{
	uint8_t	 key[PACK_KEY_MAX];
	MDB_val	 v;
	size_t	 klen;
	int	 rc;

	if (out == NULL || (klen = meta_key(key, "product", id)) == 0)
		return STORE_EINVAL;
	if ((rc = db_get(t, DB_META, key, klen, &v, "product get")) != 0)
		return rc;
	if (unpack_product(v.mv_data, v.mv_size, out) != 0)
		return corrupt("product", id, strlen(id));
	return 0;
}

int
store_product_put(struct store_txn *t, const struct product_rec *rec)
{
	uint8_t	 buf[PACK_MAX], key[PACK_KEY_MAX];
	size_t	 klen, n;

	if (rec == NULL || (klen = meta_key(key, "product", rec->id)) == 0 ||
	    (n = pack_product(rec, buf, sizeof(buf))) == 0)
		return STORE_EINVAL;
	return db_put(t, DB_META, key, klen, buf, n, "product put");
}

int
store_product_del(struct store_txn *t, const char *id)
{
	uint8_t	 key[PACK_KEY_MAX];
	size_t	 klen;

	if ((klen = meta_key(key, "product", id)) == 0)
		return STORE_EINVAL;
	return db_del(t, DB_META, key, klen, "product del");
}
