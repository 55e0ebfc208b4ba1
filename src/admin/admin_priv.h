/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin_priv.h: what the files of the admin API share; private to
 * src/admin (the rest of the daemon sees admin.h).
 *
 *   admin.c     the listener's life cycle and limits, the token
 *   route.c     the table of calls and the HTTP callbacks that route
 *   reply.c     JSON answers, errors, list answers
 *   query.c     percent-decoding, query string values
 *   devices.c, firmware.c (uploads too), fetch.c (firmware by URL),
 *   jobs.c, status.c (relay status, /healthz, /metrics)
 *               the handlers, one per call, each one ops operation
 *
 * A handler (admin_handler_fn) answers one request through the http_resp_*
 * calls and returns the HTTP status it answered, for the counters and the
 * log line.
 */
#ifndef OTAGW_ADMIN_PRIV_H
#define OTAGW_ADMIN_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http/http.h"
#include "model.h"
#include "ops/ops.h"

#define ADMIN_PREFIX		"/api/v1/"
#define ADMIN_MAX_BODY		(8u << 20)	/* JSON and CSV bodies */
#define ADMIN_URL_MAX		2048		/* firmware fetch url= */

enum admin_class {
	CLASS_2XX = 0,
	CLASS_3XX,
	CLASS_4XX,
	CLASS_5XX,
	CLASS_N,
};

struct core;
struct ev;
struct metrics;
struct relay;
struct store;
struct admin_fetch;
struct admin_route;
struct admin_work;

struct admin {
	const struct config *cfg;
	struct store	*st;
	struct core	*core;
	struct ev	*ev;
	struct metrics	*metrics;
	struct relay	*relay;
	struct ops	 ops;
	struct http_server *srv;
	struct http_handler handler;	/* outlives srv */
	uint8_t		 token_hash[32];
	uint64_t	 responses[CLASS_N];
	uint64_t	 auth_failures;
	uint64_t	 uploads;
	/* fetches by URL (fetch.c) */
	pthread_mutex_t	 lock;
	struct admin_fetch *fetches;
	unsigned	 fetch_seq;
	int		 wake_fd;	/* fetches and works that ended */
	struct admin_work *works;	/* long operations (work.c) */
	atomic_int	 stopping;	/* set at shutdown: patches stop */
};

/* What on_headers found out about a request, kept until on_close. */
struct admin_req {
	const struct admin_route *route;	/* the call: path and method */
	char		 id[OTA_ID_MAX + 1];	/* {id} of the path */
	char		 dev[OTA_ID_MAX + 1];	/* {dev} of a job row */
	struct ops_upload *up;			/* streaming upload */
	struct ops_delta_upload *dup;		/* or a patch's */
	struct admin_patch_q *pq;		/* the patch's query */
	struct http_resp *resp;			/* this request's answer */
	int		 status;		/* for the log line */
	struct admin_work *work;		/* running off the loop */
	int		 no_body;		/* a public call: none taken */
};

typedef int admin_handler_fn(struct admin *, struct admin_req *,
    struct http_req *, struct http_resp *);

/*
 * admin.c
 */

/* 1 when the request carries the admin token. */
int	 admin_authorized(struct admin *, struct http_req *);

/*
 * route.c
 */

/* Points h's callbacks at the router, with a as their argument. */
void	 admin_route_handler(struct admin *a, struct http_handler *h);
/* A handler's answer was made (late, for a work): counts and logs it. */
void	 admin_answered(struct admin *, struct admin_req *, struct http_req *,
	    int status);

/*
 * work.c: long operations on a thread of their own, answered later.  A
 * handler returns admin_work_start(...): ADMIN_DEFERRED, or the status of
 * the error it answered (ctx is then freed).  run (on the thread) does
 * the operation with its own struct ops and keeps the outcome in ctx;
 * answer (on the loop) fills the response from ctx and returns its
 * status; ctx_free frees ctx in any case.
 */
#define ADMIN_DEFERRED	0
typedef void admin_work_run(struct ops *, void *ctx);
typedef int admin_work_answer(void *ctx, struct http_resp *);
int	 admin_work_start(struct admin *, struct admin_req *,
	    struct http_req *, struct http_resp *, admin_work_run *,
	    admin_work_answer *, void *ctx, void (*ctx_free)(void *));
void	 admin_work_orphan(struct admin_work *);
void	 admin_work_reap(struct admin *, int all);

/*
 * reply.c: each sets the status, Content-Type: application/json and
 * Cache-Control: no-store, and returns the status it set (500 when the
 * answer could not be made).
 */

/* Sends a malloc'd JSON text (taken) with status; 500 when json is NULL. */
int	 admin_json(struct http_resp *, int status, char *json);
/* {"error":code,"message":...} with status. */
int	 admin_error(struct http_resp *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An ops failure: its status, its code, its message. */
int	 admin_ops_error(struct http_resp *, const struct ops_err *);
/* 400 bad_request with msg. */
int	 admin_bad(struct http_resp *, const char *msg);

/* A list answer being built, {"items":[...],"next":...}, capped in size. */
struct admin_list {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 n;		/* items so far */
	int	 failed;	/* too large, or out of memory */
};
void	 admin_list_init(struct admin_list *);
/* Adds one encoded item (taken; NULL marks the list failed). */
void	 admin_list_item(struct admin_list *, char *json);
/*
 * Closes the list with "next" (NULL or "": null; ids need no escaping)
 * and sends it: 200, or 500 when it failed.  The buffer goes to the
 * answer, or is freed.
 */
int	 admin_list_send(struct http_resp *, struct admin_list *,
	    const char *next);
void	 admin_list_free(struct admin_list *);	/* instead of sending */

/*
 * query.c
 */

/*
 * Percent-decodes s[0..n) into out (size bytes); '+' is a space when plus
 * is set (query strings).  0, or -1 (bad escape, %00, too long).
 */
int	 admin_pct_decode(const char *s, size_t n, char *out, size_t size,
	    int plus);
/*
 * The value of name in the query: 1 found (decoded into out), 0 absent,
 * -1 malformed, too long or given twice.
 */
int	 admin_query_get(const char *query, const char *name, char *out,
	    size_t size);
/* One query parameter to read: its name, where it goes, its room. */
struct admin_qfield {
	const char *name;
	char	*out;
	size_t	 size;
	int	 has;		/* set: 1 found, 0 absent */
};
/*
 * Each of the n fields by admin_query_get: 0, or -1 with "bad query
 * parameter NAME (...)" in msg for the first one malformed.
 */
int	 admin_query_fields(const char *query, struct admin_qfield *,
	    size_t n, char *msg, size_t msglen);
/* limit= (default 1,000, at most 10,000); 0 or -1. */
int	 admin_query_limit(const char *query, size_t *limit);
/*
 * after= (into after, which pg->after then points to, or NULL) and limit=
 * of a list (firmware, jobs, a device's history): 0, or the status of
 * the 400 answer made.
 */
int	 admin_query_page(const char *query, struct ops_page *pg,
	    char after[OTA_ID_MAX + 1], struct http_resp *);

/*
 * The handlers, by resource.
 */

admin_handler_fn admin_device_list, admin_device_import, admin_device_show,
    admin_device_put, admin_device_rm, admin_device_history,
    admin_product_versions, admin_product_key_show, admin_product_key_set,
    admin_product_key_clear;

admin_handler_fn admin_firmware_list, admin_firmware_show,
    admin_firmware_edit, admin_firmware_rm;
/*
 * POST /api/v1/firmware.  upload_begin runs when the head is in: it
 * returns HTTP_STREAM for the body, or HTTP_RESPOND with the answer made
 * and its status in ar->status.  upload_end stores the image.
 */
admin_handler_fn admin_firmware_upload_begin, admin_firmware_upload_end;
/* The firmware view with status (its devices by state may be NULL). */
int	 admin_fw_send(struct http_resp *, int status,
	    const struct firmware_rec *, const struct jobs_counts *devices);

/* POST /api/v1/firmware's query: the parameters as given. */
struct admin_fw_query {
	char	 product[OTA_ID_MAX + 1];
	char	 version[OTA_ID_MAX + 1];
	char	 module[OTA_ID_MAX + 1];
	char	 name[OTA_UTF8_SIZE(OTA_NAME_MAX)];
	char	 description[OTA_UTF8_SIZE(OTA_DESC_MAX)];
	char	 sign[16];
	char	 url[ADMIN_URL_MAX + 1];
	char	 sha256[72];
	int	 has[8];	/* which were given, in that order */
	/* seq= and signature= (base64url of the DER), decoded */
	uint32_t seq;		/* 0: not given */
	uint8_t	 sig[OTA_SIG_MAX];
	size_t	 sig_len;	/* 0: not given */
	char	 filename[OTA_FILENAME_MAX + 1];	/* "": not given */
};

/* fetch.c: firmware by URL, on worker threads. */
/* Starts a fetch for the query's url= and sha256=: 202, or an error. */
int	 admin_fetch_start(struct admin *, const struct admin_fw_query *,
	    struct http_resp *);
admin_handler_fn admin_fetch_show;
/* Joins ended threads and forgets old fetches (all: every one, waiting). */
void	 admin_fetch_reap(struct admin *, int all);
void	 admin_fetch_counts(struct admin *, unsigned *running,
	    unsigned *kept);
/* The event loop's callback for a->wake_fd: a fetch thread ended. */
void	 admin_fetch_wake_cb(int fd, uint32_t events, void *arg);

admin_handler_fn admin_job_list, admin_job_create, admin_job_show,
    admin_job_devices, admin_job_terminate, admin_job_cancel,
    admin_job_retry, admin_job_confirm;

/* status.c */
admin_handler_fn admin_relay_show, admin_healthz, admin_metrics_show;
admin_handler_fn admin_url_key_rotate;
admin_handler_fn admin_patch_upload_begin;
admin_handler_fn admin_patch_upload_end;
admin_handler_fn admin_patch_list;
admin_handler_fn admin_patch_show;
admin_handler_fn admin_patch_rm;
admin_handler_fn admin_patch_make;
admin_handler_fn admin_sign_key_list;
admin_handler_fn admin_sign_key_create;
admin_handler_fn admin_sign_key_show;
admin_handler_fn admin_sign_key_activate;
admin_handler_fn admin_sign_key_delete;
/* The admin figures for /metrics (registered by admin_new). */
struct metrics_out;
void	 admin_metrics_cb(void *arg, struct metrics_out *);

#endif
