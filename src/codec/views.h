/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * views.h: the operator's JSON (views.c): the views of devices, firmware,
 * jobs and job rows that otactl --json prints and the admin API sends, the
 * admin API's request bodies, and otactl --url reading the views back.
 * Included by codec.h, whose conventions these calls follow.
 */
#ifndef OTAGW_CODEC_VIEWS_H
#define OTAGW_CODEC_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/*
 * Operator views, for otactl --json and the admin API.  A firmware's
 * counts are its devices by state: "devices", and the same again as
 * "counts", the member's name before it counted devices once.
 */
char	*codec_device_encode(const struct device_rec *, size_t *len);
char	*codec_firmware_encode(const struct firmware_rec *,
	    const struct jobs_counts *devices /* or NULL */, size_t *len);
char	*codec_job_encode(const struct job_rec *,
	    const struct jobs_counts *counts /* or NULL */, size_t *len);
char	*codec_jobdev_encode(const struct jobdev_rec *, size_t *len);
/*
 * One entry of a device's upgrade history: {"seq","device","job",
 * "firmware","module","from","to","state","reason","desc","retries",
 * "notified","started","finished"} ("from", "reason", "desc" and the
 * times null when unset).
 */
char	*codec_history_encode(const struct history_rec *, size_t *len);
/* otactl device show: the device and "history":[its entries given]. */
char	*codec_device_show_encode(const struct device_rec *,
	    const struct history_rec *, size_t n, size_t *len);
/*
 * A device's attributes (hawkBit configData, docs/hawkbit.md) added to
 * its view as "attributes": attrs is the JSON object the store keeps, or
 * "" for none ({}).  Takes json; NULL when out of memory.
 */
char	*codec_device_attrs_add(char *json, size_t *len, const char *attrs);
/* The "attributes" of a device view into buf (size bytes); 0 or -1. */
int	 codec_device_attrs_get(const char *json, size_t len, char *buf,
	    size_t size);
/* attrs as "k=v, k2=v2" for a terminal ("" for none); 0 or -1. */
int	 codec_device_attrs_text(const char *attrs, char *buf, size_t size);
/*
 * A patch: {"id","product","module","from","fromVersion","to","toVersion",
 * "format","size","md5","sha256","toSize","toSha256","created"}; read
 * back one, or each of a list {"items":[...]} (cb: 0 to go on).
 */
char	*codec_delta_encode(const struct delta_rec *, size_t *len);
int	 codec_delta_view_decode(const void *buf, size_t len,
	    struct delta_rec *, char *err, size_t errlen);
int	 codec_delta_list_decode(const void *buf, size_t len,
	    int (*cb)(const struct delta_rec *, void *), void *arg, char *err,
	    size_t errlen);

/*
 * A notice-signing key: {"kid","alg","current","created","publicKeyPem",
 * "publicKeyRaw" (hex)}; a list of them: {"keys":[...]}.  The decoder
 * reads either: an object is one key (*n 1), a list up to max.
 */
char	*codec_sign_key_encode(const struct sign_key_info *, size_t *len);
char	*codec_sign_keys_encode(const struct sign_key_info *, size_t n,
	    size_t *len);
int	 codec_sign_keys_decode(const void *buf, size_t len,
	    struct sign_key_info *, size_t max, size_t *n, char *err,
	    size_t errlen);

/*
 * A product's version distribution: {"product","module","versions":
 * [{"version","devices"},...],"unreported","total"}, versions in the
 * order given.
 */
struct codec_versions {
	char	 product[OTA_ID_MAX + 1];
	char	 module[OTA_ID_MAX + 1];
	struct version_count *items;	/* decode: malloc'd (free()) */
	size_t	 n;
	size_t	 unreported;
	size_t	 total;
};
char	*codec_versions_encode(const struct codec_versions *, size_t *len);
int	 codec_versions_decode(const void *buf, size_t len,
	    struct codec_versions *, char *err, size_t errlen);

/*
 * The admin API (src/admin) and its client (otactl --url).  The API sends
 * the operator views above, with a few members beyond the shared shapes so
 * that a client can print everything otactl prints: a device's "updated",
 * a job's "onlyNewReports", and after a job is created its "selection".
 * The *_view_decode calls read those views back into records (members a
 * view does not carry are left zero); otactl --url decodes and then prints
 * with the same formatters and encoders as otactl --state.
 */
#define CODEC_SECRET_MAX	256	/* device secret, bytes */

/* PUT /api/v1/devices/{id}: {"product","secret","psk","versions":{...}}. */
struct codec_device_put {
	int	 has_id;		/* must then be the path's */
	char	 id[OTA_ID_MAX + 1];
	int	 has_product;
	char	 product[OTA_ID_MAX + 1];
	int	 has_secret;		/* "" removes the secret */
	char	 secret[CODEC_SECRET_MAX + 1];
	int	 has_psk;		/* "" removes the key */
	char	 psk_hex[OTA_PSK_MAX * 2 + 1];
	unsigned nversions;
	struct module_version versions[OTA_MODULES_MAX];
};
/* Unknown members are refused.  The caller wipes secret and psk_hex. */
int	 codec_device_put_decode(const void *buf, size_t len,
	    struct codec_device_put *, char *err, size_t errlen);
char	*codec_device_put_encode(const struct codec_device_put *, size_t *len);

/*
 * POST /api/v1/jobs (CONTRACT §4): job must hold jobs_job_defaults; the
 * members given replace them.  The device list ("devices") is malloc'd
 * into *devices (free with free(); NULL when absent), at most
 * CODEC_JOB_DEVICES_MAX ids.  Unknown members, wrong types and values
 * outside a member's domain are refused; ranges are left to
 * jobs_job_validate.
 */
#define CODEC_JOB_DEVICES_MAX	10000
typedef char codec_id[OTA_ID_MAX + 1];
int	 codec_job_body_decode(const void *buf, size_t len, struct job_rec *job,
	    codec_id **devices, size_t *ndevices, char *err, size_t errlen);
char	*codec_job_body_encode(const struct job_rec *,
	    const char *const *devices, size_t ndevices, size_t *len);

/* PATCH /api/v1/firmware/{id}: {"name":"...","description":"..."}. */
struct codec_fw_edit {
	int	 has_name;
	char	 name[OTA_UTF8_SIZE(OTA_NAME_MAX)];
	int	 has_description;
	char	 description[OTA_UTF8_SIZE(OTA_DESC_MAX)];
};
int	 codec_fw_edit_decode(const void *buf, size_t len,
	    struct codec_fw_edit *, char *err, size_t errlen);
char	*codec_fw_edit_encode(const struct codec_fw_edit *, size_t *len);

/* What a job creation selected (ops_job_result), in "selection". */
struct codec_job_sel {
	size_t	 added;
	size_t	 skipped;
	size_t	 left_out;
	size_t	 superseded;
};

/* The API's views: the shared shapes plus the members named above. */
char	*codec_device_encode_api(const struct device_rec *, size_t *len);
char	*codec_job_encode_api(const struct job_rec *,
	    const struct jobs_counts *counts, const struct codec_job_sel *sel,
	    size_t *len);

/*
 * A product's settings: {"product","authorKey" (PEM, or null),
 * "updated"}, and back.
 */
char	*codec_product_encode(const struct product_rec *, size_t *len);
int	 codec_product_view_decode(const void *buf, size_t len,
	    struct product_rec *, char *err, size_t errlen);

/* Views back into records; counts and sel may be NULL. 0, or -1 with err. */
int	 codec_device_view_decode(const void *buf, size_t len,
	    struct device_rec *, char *err, size_t errlen);
int	 codec_firmware_view_decode(const void *buf, size_t len,
	    struct firmware_rec *, struct jobs_counts *counts, char *err,
	    size_t errlen);
int	 codec_job_view_decode(const void *buf, size_t len, struct job_rec *,
	    struct jobs_counts *counts, struct codec_job_sel *sel, char *err,
	    size_t errlen);
int	 codec_jobdev_view_decode(const void *buf, size_t len,
	    struct jobdev_rec *, char *err, size_t errlen);
int	 codec_history_view_decode(const void *buf, size_t len,
	    struct history_rec *, char *err, size_t errlen);

/*
 * A list answer {"items":[view,...],"next":"<id>"|null}: cb gets each
 * item decoded (a struct device_rec, firmware_rec, job_rec, jobdev_rec
 * or history_rec as the view says, with its counts, a firmware's devices
 * by state, or NULL); a non-zero return stops.  next (may be NULL)
 * receives "next", or "".  0, 1 when cb stopped, -1.
 */
enum codec_view {
	CODEC_VIEW_DEVICE = 0,
	CODEC_VIEW_FIRMWARE,
	CODEC_VIEW_JOB,
	CODEC_VIEW_JOBDEV,
	CODEC_VIEW_HISTORY,
};
int	 codec_list_decode(const void *buf, size_t len, int view,
	    int (*cb)(const void *rec, const struct jobs_counts *, void *),
	    void *arg, char next[OTA_ID_MAX + 1], char *err, size_t errlen);

/*
 * A flat object of numbers (import results, relay status): vals[i] gets
 * member names[i], present[i] 1; a missing or null member leaves it 0.
 */
int	 codec_numbers_decode(const void *buf, size_t len,
	    const char *const *names, size_t n, int64_t *vals, int *present,
	    char *err, size_t errlen);
/*
 * A refused CSV import (400): {"error":"bad_request","message":"...",
 * "lines":[{"line":n,"message":"..."},...],"more":n}, the bad lines in
 * order ("more": those not listed).  decode calls cb for each listed line
 * (a non-zero return stops) and sets *more: 0, or -1 when buf is not
 * such an answer (an error without "lines" is not).
 */
struct codec_bad_line {
	unsigned line;
	const char *message;
};
char	*codec_import_error_encode(const char *message,
	    const struct codec_bad_line *lines, size_t n, size_t more,
	    size_t *len);
int	 codec_import_error_decode(const void *buf, size_t len,
	    int (*cb)(unsigned line, const char *message, void *), void *arg,
	    size_t *more, char *err, size_t errlen);

/* {"error":"<code>","message":"..."}: 0, or -1 when buf is not one. */
int	 codec_error_decode(const void *buf, size_t len, char *code,
	    size_t codelen, char *message, size_t msglen);

#endif
