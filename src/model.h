/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model.h: the domain records of otagw, shared by every module.
 *
 * These are plain C structs with fixed-size, NUL-terminated string fields so
 * that they can be copied, compared and handed between modules without any
 * allocation.  The store persists them (in its own compact encoding), the job
 * logic mutates them, the codecs turn them into JSON.  Nothing here knows
 * about LMDB, libcoap, nghttp2, OpenSSL or cJSON.
 *
 * Times are milliseconds since the Unix epoch (int64_t); 0 means "never/unset".
 */
#ifndef OTAGW_MODEL_H
#define OTAGW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define OTA_ID_MAX	64	/* ids, products, modules, versions */
#define OTA_NAME_MAX	32	/* firmware name, in characters */
#define OTA_DESC_MAX	100	/* firmware description, in characters */
#define OTA_PDESC_MAX	128	/* progress "desc", in characters */
#define OTA_REASON_MAX	31	/* failure / wait reason, bytes */
#define OTA_PSK_MAX	64	/* DTLS pre-shared key, bytes */
#define OTA_MODULES_MAX	8	/* modules remembered per device */
#define OTA_SRCVER_MAX	16	/* source versions per job */
#define OTA_SIG_MAX	72	/* DER ECDSA P-256 signature, bytes */
#define OTA_PEM_MAX	1024	/* a public key in PEM, bytes */
#define OTA_FILENAME_MAX 128	/* an image's file name, bytes */

/* Room for a string of n UTF-8 characters (at most 4 bytes each) plus NUL. */
#define OTA_UTF8_SIZE(n) ((n) * 4 + 1)

struct module_version {
	char	module[OTA_ID_MAX + 1];
	char	version[OTA_ID_MAX + 1];
};

/*
 * The highest security sequence number (struct firmware_rec's seq) a
 * device was seen to accept for a module (docs/jobs.md, anti-rollback).
 */
struct module_seq {
	char	 module[OTA_ID_MAX + 1];
	uint32_t seq;
};

/* A provisioned device. */
struct device_rec {
	char	id[OTA_ID_MAX + 1];
	char	product[OTA_ID_MAX + 1];
	int	has_secret;		/* HTTPS bearer secret set */
	uint8_t	secret_salt[16];
	uint8_t	secret_hash[32];	/* SHA-256(salt || secret) */
	size_t	psk_len;		/* 0: no DTLS key */
	uint8_t	psk[OTA_PSK_MAX];
	unsigned nversions;
	struct module_version versions[OTA_MODULES_MAX];
	int64_t	created;
	int64_t	updated;		/* provisioning change */
	int64_t	last_seen;		/* last check or progress */
	int64_t	versions_at;		/* last version report */
	unsigned nseqs;			/* accepted seqs, per module */
	struct module_seq seqs[OTA_MODULES_MAX];
};

enum sign_method {
	SIGN_SHA256 = 0,
	SIGN_MD5 = 1,
};

enum fw_state {
	FW_UNVERIFIED = 0,
	FW_VERIFIED = 1,
	FW_VERIFY_FAILED = 2,
};

/* Firmware metadata; the image itself is a file owned by the store. */
struct firmware_rec {
	char	id[OTA_ID_MAX + 1];
	char	product[OTA_ID_MAX + 1];
	char	module[OTA_ID_MAX + 1];
	char	version[OTA_ID_MAX + 1];
	char	name[OTA_UTF8_SIZE(OTA_NAME_MAX)];
	char	description[OTA_UTF8_SIZE(OTA_DESC_MAX)];
	int	sign_method;		/* enum sign_method */
	int	state;			/* enum fw_state */
	uint8_t	md5[16];
	uint8_t	sha256[32];
	uint64_t size;
	int64_t	created;
	/*
	 * Security sequence number, increasing per product and module
	 * (docs/jobs.md); 0 for firmware stored before it existed, which
	 * the anti-rollback rules never hold back.
	 */
	uint32_t seq;
	/* The author's DER ECDSA signature of sha256 (0: none). */
	size_t	author_sig_len;
	uint8_t	author_sig[OTA_SIG_MAX];
	/*
	 * The image's SHA-1, for hawkBit clients (docs/hawkbit.md), and the
	 * name of the file it was added from ([A-Za-z0-9._-]{1,128}; "":
	 * none): firmware stored before issue 16 has neither.
	 */
	int	has_sha1;
	uint8_t	sha1[20];
	char	filename[OTA_FILENAME_MAX + 1];
};

/* What the store keeps of a product: its author key (docs/images.md). */
struct product_rec {
	char	id[OTA_ID_MAX + 1];
	size_t	author_key_len;			/* 0: none */
	char	author_key[OTA_PEM_MAX + 1];	/* PEM, NUL-terminated */
	int64_t	updated;
};

/*
 * A patch (delta package) that turns one firmware's image into another's,
 * of the same product and module (docs/delta.md).  The patch is a file
 * owned by the store, like an image, under its own id ("dp-N"); devices
 * download it by that id as they download a firmware.  to_sha256 and
 * to_size are what applying it must give: the target firmware's.
 */
#define OTA_FORMAT_MAX	32	/* [A-Za-z0-9._-]{1,32}: "bsdiff4", ... */
struct delta_rec {
	char	id[OTA_ID_MAX + 1];
	char	product[OTA_ID_MAX + 1];
	char	module[OTA_ID_MAX + 1];
	char	from[OTA_ID_MAX + 1];		/* source firmware id */
	char	from_version[OTA_ID_MAX + 1];
	char	to[OTA_ID_MAX + 1];		/* target firmware id */
	char	to_version[OTA_ID_MAX + 1];
	char	format[OTA_FORMAT_MAX + 1];
	uint8_t	md5[16];			/* of the patch */
	uint8_t	sha256[32];
	uint64_t size;
	uint8_t	to_sha256[32];			/* of the image it makes */
	uint64_t to_size;
	int64_t	created;
};

enum job_kind {
	JOB_KIND_BATCH = 0,
	JOB_KIND_VERIFY = 1,
};

enum job_state {
	JOB_SCHEDULED = 0,
	JOB_RUNNING = 1,
	JOB_PAUSED = 2,
	JOB_COMPLETED = 3,
	JOB_TERMINATED = 4,
	/*
	 * Its rows are being written, in transactions of their own: devices
	 * see nothing of it (no notice, no rule runs on its rows) until the
	 * creator's last transaction makes it SCHEDULED or RUNNING.  Open,
	 * for the operator's conflict rules.
	 */
	JOB_CREATING = 5,
};

enum job_scope {
	JOB_SCOPE_ALL = 0,
	JOB_SCOPE_DEVICES = 1,
	JOB_SCOPE_GRAY = 2,
};

/* An upgrade job (campaign).  Parameters follow CONTRACT §4. */
struct job_rec {
	char	id[OTA_ID_MAX + 1];
	char	firmware[OTA_ID_MAX + 1];
	/* copied from the firmware at creation, so rules need no lookup */
	char	product[OTA_ID_MAX + 1];
	char	module[OTA_ID_MAX + 1];
	char	version[OTA_ID_MAX + 1];	/* target version */
	int	kind;			/* enum job_kind */
	int	state;			/* enum job_state */
	int	scope;			/* enum job_scope */
	int	gray_percent;
	int	dynamic;		/* strategy "dynamic" */
	int	only_new_reports;
	int	confirm;		/* confirm "user" */
	int	force;
	int	override;
	/* may offer firmware of a lower seq than a device accepted */
	int	allow_downgrade;
	uint32_t seq;			/* the firmware's, at creation */
	unsigned nsrc;			/* 0: any version but the target */
	char	src_versions[OTA_SRCVER_MAX][OTA_ID_MAX + 1];
	int64_t	start;			/* window; 0 = none */
	int64_t	end;
	unsigned rate_per_minute;	/* 0 = unlimited */
	unsigned retry_count;
	unsigned retry_interval_min;
	unsigned timeout_min;
	int	abort_percent;		/* < 0: no abort rule */
	unsigned abort_min_devices;
	int64_t	created;
	int64_t	started;		/* first RUNNING */
	int64_t	finished;		/* COMPLETED or TERMINATED */
	/*
	 * rate limiter state: notices handed out in the current minute.
	 * While the job is CREATING, rate_window is instead the time of the
	 * creator's last transaction (its heartbeat): a creation that has not
	 * moved for a minute was interrupted (ops/job.c, core_tick).
	 */
	int64_t	rate_window;
	unsigned rate_used;
};

/* State of one device in one job (CONTRACT §3). */
enum jd_state {
	JD_WAIT_CONFIRM = 0,
	JD_QUEUED = 1,
	JD_NOTIFIED = 2,
	JD_UPGRADING = 3,
	JD_SUCCEEDED = 4,
	JD_FAILED = 5,
	JD_RETRY_WAIT = 6,
	JD_CANCELED = 7,
};
#define JD_NSTATES 8

struct jobdev_rec {
	char	job[OTA_ID_MAX + 1];
	char	device[OTA_ID_MAX + 1];
	int	state;			/* enum jd_state */
	char	reason[OTA_REASON_MAX + 1];	/* wait/failure reason */
	char	desc[OTA_UTF8_SIZE(OTA_PDESC_MAX)];	/* last progress desc */
	int	step;			/* last progress step, -4..100 */
	int	step100;		/* step 100 seen, waiting for version */
	unsigned retries;
	char	last_version[OTA_ID_MAX + 1];	/* last reported version */
	/* the device's version when the notice went out ("": not known) */
	char	from_version[OTA_ID_MAX + 1];
	/*
	 * The patch the notice of this attempt offers beside the full image
	 * ("": none), and the bytes it saves (target size - patch size).
	 * delta_fail: 1 after the device reported a failure on a patch (its
	 * next attempt comes at once, with the full image only, and is not
	 * counted as a retry), 2 once that attempt has begun.
	 */
	char	delta[OTA_ID_MAX + 1];
	uint64_t delta_saved;
	int	delta_fail;
	/*
	 * CANCELED rows: the device acknowledged the cancel of the action
	 * it had been offered (hawkBit's cancelAction feedback), or there
	 * was none to acknowledge (the row was not NOTIFIED or UPGRADING).
	 */
	int	cancel_acked;
	int64_t	created;
	int64_t	notified;		/* first notice handed out */
	int64_t	started;		/* first progress report */
	int64_t	updated;		/* last change */
	int64_t	next_at;		/* RETRY_WAIT: when to queue again */
	/*
	 * Not stored with the row: what the gateway has delivered of the
	 * job's firmware to the device (struct xfer_rec), filled in by the
	 * operator views.  size 0: nothing yet.
	 */
	uint64_t delivered;
	uint64_t size;
};

/*
 * One attempt of a device in a job that ended, kept in the device's
 * upgrade history: written when a row enters SUCCEEDED, FAILED (also on
 * its way to RETRY_WAIT, so that a retry does not erase the attempt) or
 * CANCELED, in the transaction of that change (src/events).  The store
 * numbers a device's entries (seq, from 1, in the order they were
 * written) and keeps the last history_max_per_device of them.
 */
struct history_rec {
	char	device[OTA_ID_MAX + 1];
	uint64_t seq;
	char	job[OTA_ID_MAX + 1];
	char	firmware[OTA_ID_MAX + 1];
	char	module[OTA_ID_MAX + 1];
	char	from_version[OTA_ID_MAX + 1];	/* "": not known */
	char	to_version[OTA_ID_MAX + 1];	/* the job's target */
	int	state;			/* enum jd_state: the final one */
	char	reason[OTA_REASON_MAX + 1];
	char	desc[OTA_UTF8_SIZE(OTA_PDESC_MAX)];	/* last progress desc */
	unsigned retries;		/* retries before this attempt */
	int64_t	notified;		/* the attempt's notice, or 0 */
	int64_t	started;		/* its first progress report, or 0 */
	int64_t	finished;		/* when it ended */
};

/* Devices on one version of a module (otactl product versions). */
struct version_count {
	char	version[OTA_ID_MAX + 1];
	size_t	devices;
};

/*
 * Per-state device counts of one job: how many of its rows are in each
 * enum jd_state.  The job rules keep them (jobs_counts_add,
 * jobs_counts_apply); the operator views show them.
 */
struct jobs_counts {
	size_t	n[JD_NSTATES];
	size_t	total;
	/*
	 * Operator views only: the SUCCEEDED rows that took a patch, and
	 * the bytes the patches saved them (docs/delta.md).
	 */
	size_t	patch_devices;
	uint64_t patch_saved;
};

/*
 * The public half of a notice-signing key, as operators see it
 * (otactl key, the admin API; docs/signing.md).
 */
#define OTA_KID_LEN	12
#define OTA_KEY_PEM_MAX	200
#define OTA_KEY_RAW_MAX	65
struct sign_key_info {
	char	 kid[OTA_KID_LEN + 1];
	int	 alg;			/* enum sig_alg (crypto/sigkey.h) */
	int	 current;		/* signs the notices */
	int64_t	 created;
	char	 pem[OTA_KEY_PEM_MAX];	/* SubjectPublicKeyInfo, PEM */
	uint8_t	 raw[OTA_KEY_RAW_MAX];	/* the raw public key */
	size_t	 rawlen;
};

/* Upstream events (CONTRACT §5). */
enum event_type {
	EV_INFORM = 0,
	EV_STATE = 1,
	EV_PROGRESS = 2,
	EV_TRANSFER = 3,	/* like progress, dropped first at the limit */
};

struct event {
	int	type;			/* enum event_type */
	int64_t	ts;
	const char *device;
	const char *job;		/* NULL for inform */
	const char *firmware;
	const char *module;
	const char *state;		/* state name, or NULL */
	const char *reason;		/* or NULL */
	int	has_step;
	int	step;
	const char *desc;		/* or NULL */
	/* progress of a hawkBit device: all its details, a JSON array */
	const char *details;		/* or NULL */
	const char *version;		/* or NULL */
	int	downgrade;		/* the row's job allows a downgrade */
	/* inform: every module's version */
	unsigned nversions;
	const struct module_version *versions;
	/* transfer: bytes delivered of size */
	int	has_bytes;
	uint64_t bytes;
	uint64_t size;
};

#endif
