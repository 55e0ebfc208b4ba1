/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * core_int.h: what core.c shares with the other files of src/core that
 * run the check rules themselves (watch.c).  Private to src/core: front
 * ends use core.h and watch.h.
 */
#ifndef OTAGW_CORE_INT_H
#define OTAGW_CORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "core/core.h"

struct store;
struct store_txn;
struct watch_table;

struct store *core_store(struct core *);
const struct config *core_config(const struct core *);
int64_t	 core_clock(struct core *);	/* the injectable clock, ms */
struct watch_table *core_watch_table(struct core *);

/*
 * core_check on a body already decoded and a request already validated
 * (device id, size, peer).  job (jobsize bytes, may be NULL) gets the id
 * of the job whose notice resp carries, "" when none.
 */
void	 core_check_decoded(struct core *, const struct core_req *,
	    const struct check_body *, struct core_resp *, char *job,
	    size_t jobsize);
/*
 * core_progress on a body already decoded and a request already
 * validated (the hawkBit front end's feedback, core/ddi.h).
 */
void	 core_progress_decoded(struct core *, const struct core_req *,
	    const struct progress_body *, struct core_resp *);
/*
 * The check rules run on copies in txn (a read transaction of the
 * caller's), storing nothing: job gets the id of the job whose notice a
 * check would hand out now ("" when none), and, when there is none,
 * *wake_s the seconds until a rule that depends on time alone (a job's
 * window, its rate of notices, the end of a retry wait) may change that
 * (0: none waits on time).  Returns 0 or a STORE_E* code (STORE_ENOTFOUND:
 * no such device).
 */
int	 core_check_peek(struct core *, struct store_txn *,
	    const struct core_req *, const struct check_body *, int64_t now,
	    char *job, size_t jobsize, unsigned *wake_s);

/* watch.c */
struct watch_table *watch_table_new(void);
/* Frees every watch left, without calling back.  NULL ok. */
void	 watch_table_free(struct watch_table *);

#endif
