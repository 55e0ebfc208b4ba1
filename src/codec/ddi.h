/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ddi.h: the JSON of hawkBit's Direct Device Integration API (DDI), as
 * SWUpdate and rauc-hawkbit-updater speak it (docs/hawkbit.md).
 *
 * Field names, value spellings and shapes are hawkBit's: the controller
 * base with its HAL "_links", a deployment with one chunk and one
 * artifact, a cancel action, hawkBit's error body (ExceptionInfo), and
 * the two bodies devices send: action feedback and configData.
 */
#ifndef OTAGW_CODEC_DDI_H
#define OTAGW_CODEC_DDI_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* status.execution of a feedback. */
enum ddi_execution {
	DDI_EXEC_CLOSED = 0,
	DDI_EXEC_PROCEEDING,
	DDI_EXEC_CANCELED,
	DDI_EXEC_SCHEDULED,
	DDI_EXEC_REJECTED,
	DDI_EXEC_RESUMED,
	DDI_EXEC_DOWNLOADED,
	DDI_EXEC_DOWNLOAD,
};

/* status.result.finished of a feedback. */
enum ddi_finished {
	DDI_FIN_SUCCESS = 0,
	DDI_FIN_FAILURE,
	DDI_FIN_NONE,
};

#define DDI_DETAILS_MAX	8192

/*
 * A feedback body: {"time":..,"status":{"execution":..,"result":
 * {"finished":..,"progress":{"cnt":N,"of":N}},"code":N,"details":[..]}}.
 * Unknown members are ignored, as hawkBit does; "id" too (the path's
 * action counts).  details holds the details joined by " | ", cut at
 * OTA_PDESC_MAX characters (a progress desc).
 */
struct ddi_feedback {
	int	 execution;		/* enum ddi_execution */
	int	 finished;		/* enum ddi_finished */
	int	 has_progress;
	long long cnt, of;
	char	 details[OTA_UTF8_SIZE(OTA_PDESC_MAX)];
	/*
	 * All the details as a JSON array of strings, for the upstream
	 * (control characters as they came, escaped): the lines that fit in
	 * DDI_DETAILS_MAX bytes, "" when there are none.
	 */
	char	 all[DDI_DETAILS_MAX];
};
int	 codec_ddi_feedback_decode(const void *buf, size_t len,
	    struct ddi_feedback *, char *err, size_t errlen);

/*
 * A configData body ({"mode":"merge|replace|remove","data":{"k":"v"}})
 * applied to the attributes held (old: a JSON object as this function
 * writes it, or NULL): *out gets the new attributes (malloc'd JSON, or
 * NULL when none are left).  Keys and values are strings of 1-128 and
 * 0-128 characters, at most DDI_ATTRS_MAX of them.  0; -1 with err for a
 * body that is not such JSON; -2 with err for attributes out of bounds.
 */
#define DDI_ATTRS_MAX	100
int	 codec_ddi_config_apply(const void *buf, size_t len, const char *old,
	    char **out, size_t *outlen, char *err, size_t errlen);

/* What the controller base links to. */
enum ddi_link {
	DDI_LINK_NONE = 0,
	DDI_LINK_DEPLOY,	/* deploymentBase/{action} */
	DDI_LINK_CANCEL,	/* cancelAction/{action} */
};

/*
 * href: the controller's absolute URL without a trailing slash,
 * "https://host:port/{tenant}/controller/v1/{device}".
 */
struct ddi_base_out {
	const char *href;
	unsigned sleep_s;		/* clamped to 00:00:01..23:59:59 */
	int	 link;			/* enum ddi_link */
	uint32_t action;
	int	 config;		/* link configData */
};
char	*codec_ddi_base_encode(const struct ddi_base_out *, size_t *len);

/*
 * A deployment: one chunk (part = module, version, name) with the
 * firmware as its one artifact (filename, size, sha1/md5/sha256,
 * download and md5sum links under href's softwaremodules/{fw id}).
 */
struct ddi_deploy_out {
	const char *href;
	uint32_t action;
	int	 forced;		/* "forced", else "attempt" */
	const struct firmware_rec *fw;
	const char *filename;
};
char	*codec_ddi_deployment_encode(const struct ddi_deploy_out *,
	    size_t *len);
/* {"id":"N","cancelAction":{"stopId":"N"}} */
char	*codec_ddi_cancel_encode(uint32_t action, size_t *len);
/* hawkBit's ExceptionInfo: {"exceptionClass","errorCode","message"}. */
char	*codec_ddi_error_encode(const char *exception_class,
	    const char *error_code, const char *message, size_t *len);

#endif
