/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ops.h: the operator operations of otagw (devices, firmware, jobs, relay
 * status) as plain functions over the store.
 *
 * otactl calls them directly on a state directory (--state DIR), and the
 * admin API calls the same functions for its HTTPS requests, so both give
 * the same answers.  Nothing here prints or exits: results come back in
 * structs, and every failure is an enum ops_status with a one-line message
 * in struct ops_err (for a CLI line or a JSON error body).  Secrets are
 * never logged, returned or stored in clear.
 *
 * Every change is one store transaction together with the outbox events
 * that describe it (CONTRACT §5): a call that fails changes nothing.
 * Job creation and termination are the exceptions: over many devices
 * they write rows in bounded transactions of their own (OPS_CHUNK_ROWS
 * rows or OPS_CHUNK_MS each), so that neither the daemon's event loop nor
 * its write transactions wait long behind them (see job.c).
 *
 * The calls are implemented in src/ops, one file per concern (named in
 * each section below); ops.c holds ops_init and the status helpers.
 *
 * Decisions (also in docs/otactl.md):
 *   - device rm is refused (409) while the device has an UPGRADING row;
 *     its other open rows are canceled (with their events) in the same
 *     transaction, its closed rows stay in their jobs, and its upgrade
 *     history goes with it.
 *   - device put needs a product for a new device; a product, secret or
 *     PSK that is not given is kept, an empty secret or PSK ("") removes
 *     it.  (otactl always asks for --product, as CONTRACT §4 has it.)
 *   - firmware add: module defaults to "default"; the name defaults to
 *     the version with '.' turned into '_', cut to 32 characters and led
 *     by 'v' when it would not start with a letter or digit; the images
 *     per product limit gives 409; an empty image 400; too large 413.
 *   - job create: a batch on a firmware that is not VERIFIED (without
 *     force), overlapping source versions with another open batch of the
 *     same product and module (without override), and a second open
 *     dynamic job of one firmware are 409; a static job that selects no
 *     device is 422, as is a dynamic job with a device list.
 */
#ifndef OTAGW_OPS_H
#define OTAGW_OPS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "jobs/jobs.h"
#include "store/store.h"

struct config;

enum ops_status {		/* 0 or a negative error, as STORE_E* */
	OPS_OK = 0,
	OPS_EINVAL = -1,	/* 400: malformed or invalid input */
	OPS_EUNPROC = -2,	/* 422: valid input that cannot be done */
	OPS_ENOTFOUND = -3,	/* 404: no such device, firmware or job */
	OPS_ECONFLICT = -4,	/* 409: clashes with what is stored */
	OPS_ETOOLARGE = -5,	/* 413: image over firmware_max_size */
	OPS_EFULL = -6,		/* 507: store map or disk full */
	OPS_EIO = -7,		/* 500: store or I/O failure */
};

/* HTTP status for an enum ops_status (200 for OPS_OK). */
int	 ops_status_http(int status);
/* Short code for JSON error bodies: "bad_request", "not_found", ... */
const char *ops_status_name(int status);

#define OPS_ERR_MAX	256
struct ops_err {
	int	status;			/* enum ops_status */
	char	msg[OPS_ERR_MAX];	/* "" on success */
};

/*
 * The context: the store and the firmware limits.  ops_init copies the
 * limits from cfg (NULL: the built-in defaults, 1 GiB and 100 images).
 * now may be replaced for tests (default: the wall clock).
 */
struct ops {
	struct store *st;
	uint64_t fw_max_size;
	unsigned fw_max_per_product;
	int64_t	(*now)(void);
	/*
	 * Long operations (job create and terminate) call progress, when
	 * set, after each of their transactions: what ("rows"), how many
	 * of how many are done.
	 */
	void	(*progress)(void *arg, const char *what, size_t done,
		    size_t total);
	void	*progress_arg;
};
void	 ops_init(struct ops *, struct store *, const struct config *cfg);

#define OPS_FW_MAX_SIZE_DEFAULT		((uint64_t)1 << 30)
#define OPS_FW_MAX_PER_PRODUCT_DEFAULT	100
#define OPS_IMPORT_MAX_LINES		10000
#define OPS_JOB_DEVICES_MAX		10000
#define OPS_SECRET_MAX			256
#define OPS_CHUNK_ROWS			1000	/* rows per transaction */
#define OPS_CHUNK_MS			2	/* ... or this long */
#define OPS_CHUNK_PAUSE_MS		1	/* then a pause for others */

/*
 * Parses "[MODULE=]VER" (module "default" when absent) and validates both.
 * 0, or -1.
 */
int	 ops_parse_module_version(const char *arg, struct module_version *out);

/*
 * A page of a list in id order (fw-2 before fw-10): the items after
 * `after' (NULL or "": from the first), at most `limit' of them (0: no
 * limit).  When the limit cut the list short, next receives the id to
 * pass as `after' for the next page, else "" (written last: it may be the
 * buffer `after' points to).  A NULL page is the whole list.
 */
struct ops_page {
	const char *after;
	size_t	 limit;
};

/*
 * Devices (device.c; the CSV import is csv.c).
 */

struct ops_device_params {
	const char *id;
	const char *product;	/* NULL: keep (a new device needs one) */
	const char *secret;		/* NULL: keep; "": remove */
	const char *psk_hex;	/* NULL: keep; "": remove; 1..64 bytes */
	size_t	 nversions;
	const char *const *versions;	/* "[MODULE=]VER", merged by module */
};

/*
 * Provisions or updates a device (keeps `created', merges versions).  A
 * newly provisioned device also joins the open dynamic jobs it matches.
 * *created (may be NULL) tells whether the device is new; out (may be
 * NULL) receives the stored record.
 */
int	 ops_device_put(struct ops *, const struct ops_device_params *,
	    struct device_rec *out, int *created, struct ops_err *);
/*
 * The device's attributes (hawkBit configData) as the JSON object the
 * store keeps, into buf (size bytes, STORE_ATTRS_MAX + 1 is enough); ""
 * when it has none.
 */
int	 ops_device_attrs(struct ops *, const char *id, char *buf, size_t size,
	    struct ops_err *);
int	 ops_device_show(struct ops *, const char *id, struct device_rec *out,
	    struct ops_err *);
/* Removes a device; 409 while it is UPGRADING in a job (see above). */
int	 ops_device_rm(struct ops *, const char *id, struct ops_err *);

struct ops_device_filter {
	const char *product;		/* NULL: any */
	const char *module;		/* NULL: "default" (with version) */
	const char *version;		/* NULL: any */
	const char *after;		/* NULL: from the first id */
	size_t	 limit;			/* 0: no limit */
};
/*
 * Calls cb for each matching device in id order (a non-zero return stops
 * the listing early, which is not an error).  When the limit cut the list
 * short, next (may be NULL) receives the id to pass as `after' for the
 * next page, else "".  cb runs inside a read transaction: it must not call
 * other ops functions.
 */
int	 ops_device_list(struct ops *, const struct ops_device_filter *,
	    int (*cb)(const struct device_rec *, void *), void *arg,
	    char next[OTA_ID_MAX + 1], struct ops_err *);

/*
 * A device's upgrade history (struct history_rec, model.h), newest first.
 * pg->after is the seq of the last entry of the page before, in decimal
 * (NULL or "": from the newest); pg->limit the most entries (0: all).
 * When the limit cut the list short, next receives the after of the next
 * page, else "".  An unknown device is 404 (its history goes with it).
 * cb as in ops_device_list.
 */
int	 ops_device_history(struct ops *, const char *id,
	    const struct ops_page *pg,
	    int (*cb)(const struct history_rec *, void *), void *arg,
	    char next[OTA_ID_MAX + 1], struct ops_err *);

/*
 * The version distribution of a product: how many of its devices report
 * each version of a module (NULL or "": "default"), the most common
 * first (ties by version), and how many never reported one.  A product
 * without devices has total 0.  Free with ops_versions_free.
 */
struct ops_versions {
	char	 product[OTA_ID_MAX + 1];
	char	 module[OTA_ID_MAX + 1];
	struct version_count *items;	/* malloc'd */
	size_t	 n;
	size_t	 unreported;		/* devices that never reported it */
	size_t	 total;			/* devices of the product */
};
int	 ops_product_versions(struct ops *, const char *product,
	    const char *module, struct ops_versions *, struct ops_err *);
void	 ops_versions_free(struct ops_versions *);

/* A bad line of a refused import. */
#define OPS_IMPORT_BAD_MAX	100	/* bad lines listed; the rest counted */
#define OPS_IMPORT_MSG_MAX	160
struct ops_import_bad {
	unsigned line;			/* in the file, from 1 */
	char	 msg[OPS_IMPORT_MSG_MAX];
};

struct ops_import_result {
	size_t	 lines;			/* device lines read */
	size_t	 created;
	size_t	 updated;
	/* a refused import (OPS_EINVAL): its bad lines, in line order */
	size_t	 nbad;			/* every one found */
	size_t	 nlisted;		/* in bad[]: the first ones */
	struct ops_import_bad bad[OPS_IMPORT_BAD_MAX];
};
/*
 * CSV import: "product,device,secret,psk" per line (an empty secret or
 * psk means none; fields may be double-quoted; blank lines are ignored),
 * or the columns a first line names (product/ProductKey/productId,
 * device/DeviceName/deviceId, secret/DeviceSecret, psk, in any order and
 * case; others are ignored: see csv.c), at most 10,000 device lines, all
 * or nothing in one transaction.  product (NULL: none) is the product of
 * lines that name none.  Every bad line is found before anything is
 * stored: res lists them (the first 100, and how many) and err names the
 * first; other errors (413, store) are in err alone.
 */
int	 ops_device_import(struct ops *, const char *csv, size_t len,
	    const char *product, struct ops_import_result *,
	    struct ops_err *);

/*
 * Firmware (firmware.c; by URL, fetch.h).
 */

struct ops_fw_params {
	const char *product;
	const char *version;
	const char *module;		/* NULL or "": "default" */
	const char *name;		/* NULL or "": from the version */
	const char *description;	/* NULL: "" */
	const char *sign_method;	/* NULL or "": "SHA256"; or "MD5" */
	/*
	 * Security sequence number (docs/jobs.md): 0 takes one more than
	 * the highest of the product's module; a given one may equal it
	 * but not be lower.
	 */
	uint32_t seq;
	/*
	 * The author's DER signature of the image's SHA-256: required, and
	 * checked, when the product has an author key; refused when not.
	 */
	const uint8_t *author_sig;
	size_t	 author_sig_len;		/* 0: none */
	/*
	 * The file name hawkBit clients see (docs/hawkbit.md): NULL or "":
	 * none; else 1-128 of A-Z a-z 0-9 . _ -.
	 */
	const char *filename;
};

/*
 * Streaming upload, for callers that receive the image in pieces (the
 * admin API): begin validates the parameters and the limits before any
 * byte arrives (expected_size: the announced size, or -1), write streams
 * into a temporary image and computes MD5 and SHA-256, finish stores the
 * image and its record.  finish always frees the upload; after a failed
 * write, or to give up, the caller calls abort.  Nothing is left behind by
 * a failure.
 */
struct ops_upload;
int	 ops_firmware_upload_begin(struct ops *, const struct ops_fw_params *,
	    int64_t expected_size, struct ops_upload **out, struct ops_err *);
int	 ops_firmware_upload_write(struct ops_upload *, const void *, size_t,
	    struct ops_err *);
int	 ops_firmware_upload_finish(struct ops_upload *,
	    struct firmware_rec *out, struct ops_err *);
void	 ops_firmware_upload_abort(struct ops_upload *);	/* NULL ok */
/*
 * What begin checks before any byte arrives (the parameters, the
 * uniqueness and per-product limits, whether an author signature is
 * needed), without starting an upload: for a caller that fetches the
 * image later and must refuse bad parameters at once (a fetch by URL).
 */
int	 ops_firmware_upload_check(struct ops *, const struct ops_fw_params *,
	    struct ops_err *);

/* The whole image from an open descriptor (read to EOF) or a file. */
int	 ops_firmware_add_fd(struct ops *, const struct ops_fw_params *, int fd,
	    struct firmware_rec *out, struct ops_err *);
int	 ops_firmware_add_file(struct ops *, const struct ops_fw_params *,
	    const char *path, struct firmware_rec *out, struct ops_err *);

/*
 * A firmware with its devices by state: the devices that have a row in
 * one of its jobs, each counted once, in the state of its row in the
 * newest of those jobs (a device retried in a second job of the same
 * firmware is one device, not two).
 */
struct ops_fw_item {
	struct firmware_rec fw;
	struct jobs_counts devices;
};
int	 ops_firmware_show(struct ops *, const char *id, struct ops_fw_item *,
	    struct ops_err *);
/* Firmware in id order; *items is malloc'd (free it), *n its length. */
int	 ops_firmware_list(struct ops *, const struct ops_page *,
	    struct ops_fw_item **items, size_t *n, char next[OTA_ID_MAX + 1],
	    struct ops_err *);
/* name / description: NULL keeps the current value. */
int	 ops_firmware_edit(struct ops *, const char *id, const char *name,
	    const char *description, struct firmware_rec *out,
	    struct ops_err *);
/* 409 while an open (SCHEDULED, RUNNING, PAUSED) job uses it. */
int	 ops_firmware_rm(struct ops *, const char *id, struct ops_err *);

/*
 * Patches, uploaded (delta.c, docs/delta.md): from firmware `from' to
 * firmware `to' (same product and module, other versions), in a format
 * named by the operator.  What applying it makes may be declared
 * (to_sha256, to_size) and must then be `to''s image; the patch must be
 * smaller than that image (422).  One patch per (to, from's version): 409.
 * The upload streams as a firmware's does.
 */
struct ops_delta_params {
	const char *from;
	const char *to;			/* or NULL, and to_version: */
	const char *to_version;		/* the version of from's module */
	const char *format;		/* [A-Za-z0-9._-]{1,32} */
	const char *to_sha256;		/* hex, or NULL / "": not declared */
	int64_t	 to_size;		/* -1: not declared */
};
struct ops_delta_upload;
int	 ops_delta_upload_begin(struct ops *, const struct ops_delta_params *,
	    int64_t expected_size, struct ops_delta_upload **out,
	    struct ops_err *);
int	 ops_delta_upload_write(struct ops_delta_upload *, const void *,
	    size_t, struct ops_err *);
/*
 * Frees the upload; p again, for the checks made once more.  A bsdiff4
 * patch is applied once first (seconds for a large image: off the event
 * loop), and refused without taking an id when it does not make the
 * target; cancel (may be NULL) stops that check.
 */
int	 ops_delta_upload_finish(struct ops_delta_upload *,
	    const struct ops_delta_params *p, const atomic_int *cancel,
	    struct delta_rec *out, struct ops_err *);
/* The upload goes on with ops (a work thread's own copy of its ops). */
void	 ops_delta_upload_adopt(struct ops_delta_upload *, struct ops *);
void	 ops_delta_upload_abort(struct ops_delta_upload *);	/* NULL ok */
int	 ops_delta_add_fd(struct ops *, const struct ops_delta_params *,
	    int fd, struct delta_rec *out, struct ops_err *);
/* Every patch, or those from or to firmware; *items malloc'd. */
int	 ops_delta_list(struct ops *, const char *firmware,
	    struct delta_rec **items, size_t *n, struct ops_err *);
int	 ops_delta_show(struct ops *, const char *id, struct delta_rec *,
	    struct ops_err *);
/*
 * Removes a patch and its file.  A notice that offered it no longer
 * does; a device that fails on it gets the full image.
 */
int	 ops_delta_rm(struct ops *, const char *id, struct ops_err *);
/*
 * Makes the patch from firmware `from' to `to' (or to_version of from's
 * product and module) in the BSDIFF40 format ("bsdiff4", src/delta),
 * with bzip2 blocks of block x 100 kB (0: 9), applies it to check that
 * it makes the target's image, and stores it as an uploaded patch is
 * stored.  Long (seconds per MiB): callers run it off any event loop.
 * progress (may be NULL) gets the bytes of the target image done of a
 * total; cancel (may be NULL) stops it.  Every patch in format bsdiff4,
 * uploaded or made, is checked the same way before it is stored (422
 * when it does not make the target's image).
 */
struct ops_delta_make {
	const char *from;
	const char *to;			/* or NULL, and to_version */
	const char *to_version;
	int	 block;			/* 1..9, 0: 9 */
	void	(*progress)(void *arg, uint64_t done, uint64_t total);
	void	*progress_arg;
	const atomic_int *cancel;
};
int	 ops_delta_make(struct ops *, const struct ops_delta_make *,
	    struct delta_rec *out, struct ops_err *);

/*
 * Products (product.c): the author key.  ops_product_get gives an empty
 * record (no key) for a product nobody set anything for.  pem NULL
 * clears the key; else it must be an ECDSA P-256 public key in PEM.
 */
int	 ops_product_get(struct ops *, const char *product,
	    struct product_rec *out, struct ops_err *);
int	 ops_product_author_key(struct ops *, const char *product,
	    const char *pem, size_t len, struct product_rec *out,
	    struct ops_err *);

/*
 * Jobs (job.c).
 */

struct ops_job_item {
	struct job_rec job;
	struct jobs_counts counts;
};

struct ops_job_result {
	size_t	 added;		/* rows created */
	size_t	 skipped;	/* listed devices that do not match (already
				 * on the target, or not on a source version) */
	size_t	 left_out;	/* selected devices not added (upgrading, or
				 * in another open job of the module) */
	size_t	 superseded;	/* other jobs' rows replaced (override) */
};

/*
 * Creates a job.  params comes from jobs_job_defaults plus the caller's
 * options; only `firmware' and the options are read (product, module and
 * version come from the firmware, id, state and times are assigned).
 * With scope JOB_SCOPE_DEVICES, devices/ndevices is the list (repeats are
 * ignored; unknown devices are 404; devices of another product 422).
 * On success out (may be NULL) holds the stored job with its counts.
 *
 * The devices are chosen in a read transaction; the job is then stored
 * CREATING, its rows written in bounded transactions (each checks its
 * devices again), and the last one makes it SCHEDULED or RUNNING: no
 * device sees the job before all its rows exist.  A creation interrupted
 * midway (a crash, a kill) leaves a CREATING job that no device sees; the
 * daemon terminates it a minute after its last transaction (core_tick).
 */
int	 ops_job_create(struct ops *, const struct job_rec *params,
	    const char *const *devices, size_t ndevices,
	    struct ops_job_item *out, struct ops_job_result *res,
	    struct ops_err *);
int	 ops_job_show(struct ops *, const char *id, struct ops_job_item *,
	    struct ops_err *);
/* Jobs in id order with their counts; *items is malloc'd. */
int	 ops_job_list(struct ops *, const struct ops_page *,
	    struct ops_job_item **items, size_t *n, char next[OTA_ID_MAX + 1],
	    struct ops_err *);

struct ops_jobdev_filter {
	int	 state;			/* enum jd_state, or -1 for all */
	const char *after;		/* device id; NULL: from the first */
	size_t	 limit;			/* 0: no limit */
};
/* Rows of a job in device order (cb as in ops_device_list). */
int	 ops_job_devices(struct ops *, const char *id,
	    const struct ops_jobdev_filter *,
	    int (*cb)(const struct jobdev_rec *, void *), void *arg,
	    char next[OTA_ID_MAX + 1], struct ops_err *);

/*
 * Ends an open job: its open rows fail with "terminated".  The job is
 * TERMINATED in a first transaction, from which moment no device gets a
 * notice of it and every view (job show, job devices) shows its open rows
 * as failed "terminated"; the rows themselves are then written in bounded
 * transactions (what is left after a crash, the daemon's tick finishes).
 */
int	 ops_job_terminate(struct ops *, const char *id,
	    struct ops_job_item *out, struct ops_err *);
/* One row: 409 when the row's state does not allow it. */
int	 ops_job_cancel(struct ops *, const char *job, const char *device,
	    struct jobdev_rec *out, struct ops_err *);
int	 ops_job_retry(struct ops *, const char *job, const char *device,
	    struct jobdev_rec *out, struct ops_err *);
int	 ops_job_confirm(struct ops *, const char *job, const char *device,
	    struct jobdev_rec *out, struct ops_err *);

/*
 * Relay (ops.c).
 */
int	 ops_relay_status(struct ops *, struct outbox_stats *,
	    struct ops_err *);

/*
 * The key that signs download URLs (core/capability.h), in ops.c: a new
 * one from now on.  The previous key keeps verifying the URLs it signed
 * (until they expire, download_url_ttl) unless drop_previous, which makes
 * every URL handed out before stop working.  *rotated: the time, ms;
 * *previous: earlier keys still accepted (0 or 1).
 */
int	 ops_url_key_rotate(struct ops *, int drop_previous, int64_t *rotated,
	    int *previous, struct ops_err *);

/*
 * The keys that sign notices (keys.c, docs/signing.md): at most
 * STORE_SIGN_KEYS; the current one signs every notice, none current
 * means notices go out unsigned.  A key's private half never leaves the
 * store; what the operator sees is struct sign_key_info.
 */
/*
 * A new key of alg; it becomes the current one when activate is set or
 * no key is current.  409 when STORE_SIGN_KEYS keys exist already.
 */
int	 ops_sign_key_create(struct ops *, int alg, int activate,
	    struct sign_key_info *out, struct ops_err *);
/* Every key, oldest first; *n set.  out holds STORE_SIGN_KEYS. */
int	 ops_sign_key_list(struct ops *, struct sign_key_info *out, size_t *n,
	    struct ops_err *);
/* kid becomes the current key (404 when there is no such key). */
int	 ops_sign_key_activate(struct ops *, const char *kid,
	    struct ops_err *);
/*
 * Removes kid.  The current key only with force (else 409): notices go
 * out unsigned from then on.
 */
int	 ops_sign_key_delete(struct ops *, const char *kid, int force,
	    struct ops_err *);

#endif
