/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ops_int.h: what the files of src/ops share with each other.  Private to
 * src/ops: nothing outside it includes this header (the public calls are
 * in ops.h).
 *
 *   ops.c       status codes, the error helpers below, the clock, a
 *               growable array
 *   job.c       the row and job helpers below, which device removal and
 *               provisioning also need, besides the job operations
 *   device.c    device parameters checked and applied inside a caller's
 *               transaction, which the CSV import (csv.c) runs per line
 *
 * Helpers that take a struct ops_err fill it and return the enum
 * ops_status they put in it; those that take only a transaction return a
 * store code (0 or STORE_E*), which the caller maps with ops_fail_store.
 */
#ifndef OTAGW_OPS_INT_H
#define OTAGW_OPS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "jobs/jobs.h"
#include "ops/ops.h"
#include "store/store.h"

/*
 * Errors (ops.c).  ops_fail sets err (may be NULL) to status and the
 * formatted message and returns status; ops_ok clears err and returns
 * OPS_OK; ops_fail_store maps a store code to a status, with `what' at the
 * start of the message.
 */
int	 ops_fail(struct ops_err *, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	 ops_ok(struct ops_err *);
int	 ops_fail_store(struct ops_err *, int code, const char *what);

/* ops->now, or the wall clock, in milliseconds. */
int64_t	 ops_now(const struct ops *);

/*
 * A growable array of fixed-size elements (ops.c).  ops_vec_push returns
 * a new zeroed element at the end, or NULL when out of memory; data may
 * move on a push.  ops_vec_free leaves an empty array.
 */
struct ops_vec {
	char	*data;
	size_t	 n;
	size_t	 cap;
	size_t	 esize;
};
void	 ops_vec_init(struct ops_vec *, size_t esize);
void	*ops_vec_push(struct ops_vec *);
void	*ops_vec_at(const struct ops_vec *, size_t i);
void	 ops_vec_free(struct ops_vec *);

/*
 * Paged lists (ops.c).  ops_page_check validates a page's `after' (an
 * id of what is listed, `what' in the message).  ops_pager collects up to
 * a page's limit of records into a struct ops_vec (esize bytes each, the
 * record copied to its start) from a store_*_iter callback, and notes
 * whether more followed (ops_pager_cb: 0 to go on, 1 to stop);
 * ops_pager_next gives the next page's `after'.
 */
int	 ops_page_check(const struct ops_page *, const char *what,
	    struct ops_err *);
struct ops_pager {
	struct ops_vec v;
	size_t	 limit;		/* 0: no limit */
	size_t	 rsize;		/* bytes of the record copied */
	size_t	 idoff;		/* offset of the record's id */
	int	 more;		/* a record past the limit was seen */
	int	 nomem;		/* stopped: out of memory */
};
void	 ops_pager_init(struct ops_pager *, const struct ops_page *,
	    size_t esize, size_t rsize, size_t idoff);
int	 ops_pager_cb(const void *rec, struct ops_pager *);
void	 ops_pager_next(const struct ops_pager *, char next[OTA_ID_MAX + 1]);

/*
 * Rows and jobs (job.c); all return store codes.
 *
 * ops_row_store writes a row that ch says changed, with one outbox event
 * per state it entered; ops_row_add writes a new row of job for device,
 * with the event of its first state.  ops_job_counts counts a job's rows
 * by state as the operator sees them (the open rows of a TERMINATED job
 * as FAILED: a terminate writes them after the job's own transaction).
 * ops_rows_collect_cb is a store_*_iter callback that copies each row into
 * a struct ops_vec of struct jobdev_rec (1, stop, when out of memory).
 * ops_job_settle applies a job's own rules after an operator changed its
 * rows, and the firmware state a verify job leads to when it ends.
 * ops_all_jobs copies every job into a struct ops_vec of struct job_rec
 * (initialized here; the caller frees it).
 */
int	 ops_row_store(struct store_txn *, const struct job_rec *,
	    const struct jobdev_rec *, const struct jobs_change *, int64_t now);
int	 ops_row_add(struct store_txn *, const struct job_rec *,
	    const char *device, int64_t now);
int	 ops_job_counts(struct store_txn *, const char *id,
	    struct jobs_counts *);
int	 ops_rows_collect_cb(const struct jobdev_rec *, void *vec);
int	 ops_job_settle(struct store_txn *, struct job_rec *, int64_t now);
int	 ops_all_jobs(struct store_txn *, struct ops_vec *jobs);

/*
 * Devices (device.c), for ops_device_put and the CSV import.
 */

/* Open dynamic jobs, loaded once per transaction for provisioning. */
struct ops_dynjobs {
	int	 loaded;
	struct ops_vec jobs;	/* struct job_rec */
};

/* Checked and decoded device parameters; wipe them after use. */
struct ops_devparams {
	const char *id;
	const char *product;
	const char *secret;
	int	 set_psk;		/* psk given ("" clears) */
	size_t	 psk_len;
	uint8_t	 psk[OTA_PSK_MAX];
	unsigned nversions;
	struct module_version versions[OTA_MODULES_MAX];
};

int	 ops_devparams_check(const struct ops_device_params *,
	    struct ops_devparams *, struct ops_err *);
void	 ops_devparams_wipe(struct ops_devparams *);
/*
 * Provisions one device inside txn; a new device joins the open dynamic
 * jobs it matches (dj is loaded on first need: free dj->jobs when
 * dj->loaded).  out and created may be NULL.
 */
int	 ops_device_apply(struct store_txn *, const struct ops_devparams *,
	    struct ops_dynjobs *dj, int64_t now, struct device_rec *out,
	    int *created, struct ops_err *);

/*
 * The patches from or to fwid: the first into id ("": none), how many
 * into *n; 0 or STORE_E*.
 */
int	 ops_delta_uses(struct store_txn *, const char *fwid,
	    char id[OTA_ID_MAX + 1], unsigned *n);

/*
 * Reads fd to its end in OPS_READ_CHUNK pieces, each given to sink
 * (arg, bytes, len, err), which returns OPS_OK or a status (err set):
 * the first one not OPS_OK ends it.  "reading the <what>: ..." on a read
 * error.  OPS_OK at the end of the file.
 */
#define OPS_READ_CHUNK	(1 << 16)
int	 ops_read_fd(int fd, int (*sink)(void *, const void *, size_t,
	    struct ops_err *), void *arg, const char *what, struct ops_err *);

#endif
