/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend_api.c: otactl's backend for the admin API (--url URL
 * --token-file F).  The daemon runs the same src/ops functions that
 * backend_state.c calls, and src/ctl/apiclient.c decodes its answers into
 * the same records and errors, so the commands print the same bytes.
 * Each member of ctl_backend_api is a thin adapter over apiclient.
 */
#include <stdint.h>
#include <stdio.h>

#include "ctl/apiclient.h"
#include "ctl/otactl.h"

static int
api_open(struct ctl *ctl)
{
	char	 msg[256];

	if ((ctl->api = api_new(ctl->url, ctl->token_file, ctl->ca, msg,
	    sizeof(msg))) == NULL) {
		ctl_err("%s", msg);
		return -1;
	}
	return 0;
}

static void
api_close(struct ctl *ctl)
{
	api_free(ctl->api);
	ctl->api = NULL;
}

static int
api_be_device_put(struct ctl *ctl, const struct ops_device_params *p,
    struct device_rec *out, int *created, struct ops_err *err)
{
	return api_device_put(ctl->api, p, out, created, err);
}

static int
api_be_device_import(struct ctl *ctl, const char *csv, size_t len,
    const char *product, struct ops_import_result *res, struct ops_err *err)
{
	return api_device_import(ctl->api, csv, len, product, res, err);
}

static int
api_be_device_list(struct ctl *ctl, const struct ops_device_filter *f,
    int (*cb)(const struct device_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return api_device_list(ctl->api, f, cb, arg, next, err);
}

static int
api_be_device_show(struct ctl *ctl, const char *id, struct device_rec *d,
    struct ops_err *err)
{
	return api_device_show(ctl->api, id, d, err);
}

static int
api_be_device_attrs(struct ctl *ctl, const char *id, char *buf, size_t size,
    struct ops_err *err)
{
	return api_device_attrs(ctl->api, id, buf, size, err);
}

static int
api_be_device_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return api_device_rm(ctl->api, id, err);
}

static int
api_be_device_history(struct ctl *ctl, const char *id,
    const struct ops_page *pg, int (*cb)(const struct history_rec *, void *),
    void *arg, char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return api_device_history(ctl->api, id, pg, cb, arg, next, err);
}

static int
api_be_product_author_key(struct ctl *ctl, const char *product, int op,
    const char *pem, size_t len, struct product_rec *out,
    struct ops_err *err)
{
	return api_product_author_key(ctl->api, product, op, pem, len, out,
	    err);
}

static int
api_be_product_versions(struct ctl *ctl, const char *product,
    const char *module, struct ops_versions *vs, struct ops_err *err)
{
	return api_product_versions(ctl->api, product, module, vs, err);
}

static int
api_be_firmware_add_fd(struct ctl *ctl, const struct ops_fw_params *p, int fd,
    struct firmware_rec *out, struct ops_err *err)
{
	return api_firmware_add_fd(ctl->api, p, fd, out, err);
}

/* The daemon fetches the image, with its own upstream_ca: ca is unused. */
static int
api_be_firmware_fetch(struct ctl *ctl, const struct ops_fw_params *p,
    const char *url, const char *sha256_hex, const char *ca,
    void (*progress)(void *, uint64_t, uint64_t), void *arg,
    struct firmware_rec *fw, struct ops_err *err)
{
	(void)ca;
	return api_firmware_fetch(ctl->api, p, url, sha256_hex, progress, arg,
	    fw, err);
}

static int
api_be_firmware_list(struct ctl *ctl, const struct ops_page *pg,
    struct ops_fw_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	return api_firmware_list(ctl->api, pg, items, n, next, err);
}

static int
api_be_firmware_show(struct ctl *ctl, const char *id, struct ops_fw_item *it,
    struct ops_err *err)
{
	return api_firmware_show(ctl->api, id, it, err);
}

static int
api_be_firmware_edit(struct ctl *ctl, const char *id, const char *name,
    const char *desc, struct firmware_rec *out, struct ops_err *err)
{
	return api_firmware_edit(ctl->api, id, name, desc, out, err);
}

static int
api_be_firmware_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return api_firmware_rm(ctl->api, id, err);
}

static int
api_be_job_create(struct ctl *ctl, const struct job_rec *job,
    const char *const *devs, size_t n, struct ops_job_item *out,
    struct ops_job_result *res, struct ops_err *err)
{
	return api_job_create(ctl->api, job, devs, n, out, res, err);
}

static int
api_be_job_list(struct ctl *ctl, const struct ops_page *pg,
    struct ops_job_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	return api_job_list(ctl->api, pg, items, n, next, err);
}

static int
api_be_job_show(struct ctl *ctl, const char *id, struct ops_job_item *it,
    struct ops_err *err)
{
	return api_job_show(ctl->api, id, it, err);
}

static int
api_be_job_devices(struct ctl *ctl, const char *id,
    const struct ops_jobdev_filter *f,
    int (*cb)(const struct jobdev_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return api_job_devices(ctl->api, id, f, cb, arg, next, err);
}

static int
api_be_job_terminate(struct ctl *ctl, const char *id, struct ops_job_item *out,
    struct ops_err *err)
{
	return api_job_terminate(ctl->api, id, out, err);
}

static int
api_be_job_cancel(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return api_job_rowop(ctl->api, "cancel", job, dev, out, err);
}

static int
api_be_job_retry(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return api_job_rowop(ctl->api, "retry", job, dev, out, err);
}

static int
api_be_job_confirm(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return api_job_rowop(ctl->api, "confirm", job, dev, out, err);
}

static int
api_be_url_key_rotate(struct ctl *ctl, int drop, int64_t *rotated,
    int *previous, struct ops_err *err)
{
	return api_url_key_rotate(ctl->api, drop, rotated, previous, err);
}

static int
api_be_relay_status(struct ctl *ctl, struct outbox_stats *s,
    struct ops_err *err)
{
	return api_relay_status(ctl->api, s, err);
}

static int
api_be_patch_add_fd(struct ctl *ctl, const struct ops_delta_params *p,
    int fd, struct delta_rec *out, struct ops_err *err)
{
	return api_patch_add_fd(ctl->api, p, fd, out, err);
}

static int
api_be_patch_list(struct ctl *ctl, const char *fw, struct delta_rec **items,
    size_t *n, struct ops_err *err)
{
	return api_patch_list(ctl->api, fw, items, n, err);
}

static int
api_be_patch_show(struct ctl *ctl, const char *id, struct delta_rec *out,
    struct ops_err *err)
{
	return api_patch_show(ctl->api, id, out, err);
}

static int
api_be_patch_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return api_patch_rm(ctl->api, id, err);
}

static int
api_be_patch_make(struct ctl *ctl, const struct ops_delta_make *m,
    struct delta_rec *out, struct ops_err *err)
{
	return api_patch_make(ctl->api, m, out, err);
}

static int
api_be_sign_key_create(struct ctl *ctl, int alg, int activate,
    struct sign_key_info *out, struct ops_err *err)
{
	return api_sign_key_create(ctl->api, alg, activate, out, err);
}

static int
api_be_sign_key_list(struct ctl *ctl, struct sign_key_info *out, size_t *n,
    struct ops_err *err)
{
	return api_sign_key_list(ctl->api, out, n, err);
}

static int
api_be_sign_key_activate(struct ctl *ctl, const char *kid,
    struct ops_err *err)
{
	return api_sign_key_activate(ctl->api, kid, err);
}

static int
api_be_sign_key_delete(struct ctl *ctl, const char *kid, int force,
    struct ops_err *err)
{
	return api_sign_key_delete(ctl->api, kid, force, err);
}

const struct ctl_backend ctl_backend_api = {
	.open = api_open,
	.close = api_close,
	.device_put = api_be_device_put,
	.device_import = api_be_device_import,
	.device_list = api_be_device_list,
	.device_show = api_be_device_show,
	.device_attrs = api_be_device_attrs,
	.device_rm = api_be_device_rm,
	.device_history = api_be_device_history,
	.product_versions = api_be_product_versions,
	.product_author_key = api_be_product_author_key,
	.firmware_add_fd = api_be_firmware_add_fd,
	.firmware_fetch = api_be_firmware_fetch,
	.firmware_list = api_be_firmware_list,
	.firmware_show = api_be_firmware_show,
	.firmware_edit = api_be_firmware_edit,
	.firmware_rm = api_be_firmware_rm,
	.job_create = api_be_job_create,
	.job_list = api_be_job_list,
	.job_show = api_be_job_show,
	.job_devices = api_be_job_devices,
	.job_terminate = api_be_job_terminate,
	.job_cancel = api_be_job_cancel,
	.job_retry = api_be_job_retry,
	.job_confirm = api_be_job_confirm,
	.relay_status = api_be_relay_status,
	.url_key_rotate = api_be_url_key_rotate,
	.patch_add_fd = api_be_patch_add_fd,
	.patch_list = api_be_patch_list,
	.patch_show = api_be_patch_show,
	.patch_rm = api_be_patch_rm,
	.patch_make = api_be_patch_make,
	.sign_key_create = api_be_sign_key_create,
	.sign_key_list = api_be_sign_key_list,
	.sign_key_activate = api_be_sign_key_activate,
	.sign_key_delete = api_be_sign_key_delete,
};
