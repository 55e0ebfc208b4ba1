/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend_state.c: otactl's backend for a state directory (--state DIR,
 * or the state_dir of the daemon's configuration).  It opens the LMDB
 * store itself, which is safe while the daemon runs, and calls src/ops:
 * the very functions the admin API calls, so both backends answer alike.
 * Each member of ctl_backend_state is a thin adapter; firmware add --url
 * fetches the image here, with --ca or the configuration's upstream_ca.
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl/otactl.h"
#include "ops/ops.h"
#include "ops/fetch.h"
#include "store/store.h"
#include "util/validate.h"

/*
 * The store of --state DIR, or of the configuration's state_dir, with
 * the configuration's map_size when it was read.
 */
static int
state_open(struct ctl *ctl)
{
	const char *dir;
	struct stat sb;
	size_t	 map = 0;
	int	 rc;

	if (ctl->state != NULL)
		dir = ctl->state;
	else {
		dir = ctl->cfg.state_dir;
		map = (size_t)ctl->cfg.map_size;
	}
	if (ctl->cfg_loaded)
		map = (size_t)ctl->cfg.map_size;
	/* otactl never makes a state directory: a typo must not make one */
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		if (ctl->state != NULL)
			ctl_err("no state directory %s", dir);
		else
			ctl_err("no state directory %s (the state_dir of %s; "
			    "otagw makes it when it first starts)", dir,
			    ctl->conf_path);
		return -1;
	}
	if ((rc = store_open(dir, map, &ctl->st)) != 0) {
		ctl_err("cannot open the state directory %s: %s", dir,
		    store_strerror(rc));
		return -1;
	}
	ops_init(&ctl->ops, ctl->st, ctl->cfg_loaded ? &ctl->cfg : NULL);
	if (ctl->progress || isatty(STDERR_FILENO)) {
		ctl->ops.progress = ctl_progress;
		ctl->ops.progress_arg = ctl;
	}
	return 0;
}

static void
state_close(struct ctl *ctl)
{
	store_close(ctl->st);
	ctl->st = NULL;
}

static int
state_device_put(struct ctl *ctl, const struct ops_device_params *p,
    struct device_rec *out, int *created, struct ops_err *err)
{
	return ops_device_put(&ctl->ops, p, out, created, err);
}

static int
state_device_import(struct ctl *ctl, const char *csv, size_t len,
    const char *product, struct ops_import_result *res, struct ops_err *err)
{
	return ops_device_import(&ctl->ops, csv, len, product, res, err);
}

static int
state_device_list(struct ctl *ctl, const struct ops_device_filter *f,
    int (*cb)(const struct device_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return ops_device_list(&ctl->ops, f, cb, arg, next, err);
}

static int
state_device_show(struct ctl *ctl, const char *id, struct device_rec *d,
    struct ops_err *err)
{
	return ops_device_show(&ctl->ops, id, d, err);
}

static int
state_device_attrs(struct ctl *ctl, const char *id, char *buf, size_t size,
    struct ops_err *err)
{
	return ops_device_attrs(&ctl->ops, id, buf, size, err);
}

static int
state_device_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return ops_device_rm(&ctl->ops, id, err);
}

static int
state_device_history(struct ctl *ctl, const char *id,
    const struct ops_page *pg, int (*cb)(const struct history_rec *, void *),
    void *arg, char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return ops_device_history(&ctl->ops, id, pg, cb, arg, next, err);
}

static int
state_product_author_key(struct ctl *ctl, const char *product, int op,
    const char *pem, size_t len, struct product_rec *out,
    struct ops_err *err)
{
	if (op == 0)
		return ops_product_get(&ctl->ops, product, out, err);
	return ops_product_author_key(&ctl->ops, product, op == 1 ? pem :
	    NULL, len, out, err);
}

static int
state_product_versions(struct ctl *ctl, const char *product,
    const char *module, struct ops_versions *vs, struct ops_err *err)
{
	return ops_product_versions(&ctl->ops, product, module, vs, err);
}

static int
state_firmware_add_fd(struct ctl *ctl, const struct ops_fw_params *p, int fd,
    struct firmware_rec *out, struct ops_err *err)
{
	return ops_firmware_add_fd(&ctl->ops, p, fd, out, err);
}

/* otactl fetches the image itself, with --ca or the upstream_ca. */
static int
state_firmware_fetch(struct ctl *ctl, const struct ops_fw_params *p,
    const char *url, const char *sha256_hex, const char *ca,
    void (*progress)(void *, uint64_t, uint64_t), void *arg,
    struct firmware_rec *fw, struct ops_err *err)
{
	struct fetch_opts fo;
	uint8_t	 sha[32];
	size_t	 len;

	if (hex_decode(sha256_hex, sha, sizeof(sha), &len) == -1 ||
	    len != sizeof(sha)) {
		err->status = OPS_EINVAL;
		snprintf(err->msg, sizeof(err->msg), "--sha256 needs 64 hex"
		    " digits");
		return OPS_EINVAL;
	}
	memset(&fo, 0, sizeof(fo));
	fo.ca_file = ca != NULL ? ca : ctl->cfg_loaded ? ctl->cfg.upstream_ca :
	    NULL;
	fo.deadline_s = ctl->cfg_loaded ? ctl->cfg.firmware_fetch_timeout :
	    0;
	fo.progress = progress;
	fo.arg = arg;
	return fetch_firmware(&ctl->ops, p, url, sha, &fo, fw, err);
}

static int
state_firmware_list(struct ctl *ctl, const struct ops_page *pg,
    struct ops_fw_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	return ops_firmware_list(&ctl->ops, pg, items, n, next, err);
}

static int
state_firmware_show(struct ctl *ctl, const char *id, struct ops_fw_item *it,
    struct ops_err *err)
{
	return ops_firmware_show(&ctl->ops, id, it, err);
}

static int
state_firmware_edit(struct ctl *ctl, const char *id, const char *name,
    const char *desc, struct firmware_rec *out, struct ops_err *err)
{
	return ops_firmware_edit(&ctl->ops, id, name, desc, out, err);
}

static int
state_firmware_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return ops_firmware_rm(&ctl->ops, id, err);
}

static int
state_job_create(struct ctl *ctl, const struct job_rec *job,
    const char *const *devs, size_t n, struct ops_job_item *out,
    struct ops_job_result *res, struct ops_err *err)
{
	return ops_job_create(&ctl->ops, job, devs, n, out, res, err);
}

static int
state_job_list(struct ctl *ctl, const struct ops_page *pg,
    struct ops_job_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	return ops_job_list(&ctl->ops, pg, items, n, next, err);
}

static int
state_job_show(struct ctl *ctl, const char *id, struct ops_job_item *it,
    struct ops_err *err)
{
	return ops_job_show(&ctl->ops, id, it, err);
}

static int
state_job_devices(struct ctl *ctl, const char *id,
    const struct ops_jobdev_filter *f,
    int (*cb)(const struct jobdev_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return ops_job_devices(&ctl->ops, id, f, cb, arg, next, err);
}

static int
state_job_terminate(struct ctl *ctl, const char *id, struct ops_job_item *out,
    struct ops_err *err)
{
	return ops_job_terminate(&ctl->ops, id, out, err);
}

static int
state_job_cancel(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return ops_job_cancel(&ctl->ops, job, dev, out, err);
}

static int
state_job_retry(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return ops_job_retry(&ctl->ops, job, dev, out, err);
}

static int
state_job_confirm(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return ops_job_confirm(&ctl->ops, job, dev, out, err);
}

static int
state_url_key_rotate(struct ctl *ctl, int drop, int64_t *rotated,
    int *previous, struct ops_err *err)
{
	return ops_url_key_rotate(&ctl->ops, drop, rotated, previous, err);
}

static int
state_relay_status(struct ctl *ctl, struct outbox_stats *s,
    struct ops_err *err)
{
	return ops_relay_status(&ctl->ops, s, err);
}

static int
state_patch_add_fd(struct ctl *ctl, const struct ops_delta_params *p, int fd,
    struct delta_rec *out, struct ops_err *err)
{
	return ops_delta_add_fd(&ctl->ops, p, fd, out, err);
}

static int
state_patch_list(struct ctl *ctl, const char *fw, struct delta_rec **items,
    size_t *n, struct ops_err *err)
{
	return ops_delta_list(&ctl->ops, fw, items, n, err);
}

static int
state_patch_show(struct ctl *ctl, const char *id, struct delta_rec *out,
    struct ops_err *err)
{
	return ops_delta_show(&ctl->ops, id, out, err);
}

static int
state_patch_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return ops_delta_rm(&ctl->ops, id, err);
}

static int
state_patch_make(struct ctl *ctl, const struct ops_delta_make *m,
    struct delta_rec *out, struct ops_err *err)
{
	return ops_delta_make(&ctl->ops, m, out, err);
}

static int
state_sign_key_create(struct ctl *ctl, int alg, int activate,
    struct sign_key_info *out, struct ops_err *err)
{
	return ops_sign_key_create(&ctl->ops, alg, activate, out, err);
}

static int
state_sign_key_list(struct ctl *ctl, struct sign_key_info *out, size_t *n,
    struct ops_err *err)
{
	return ops_sign_key_list(&ctl->ops, out, n, err);
}

static int
state_sign_key_activate(struct ctl *ctl, const char *kid,
    struct ops_err *err)
{
	return ops_sign_key_activate(&ctl->ops, kid, err);
}

static int
state_sign_key_delete(struct ctl *ctl, const char *kid, int force,
    struct ops_err *err)
{
	return ops_sign_key_delete(&ctl->ops, kid, force, err);
}

const struct ctl_backend ctl_backend_state = {
	.open = state_open,
	.close = state_close,
	.device_put = state_device_put,
	.device_import = state_device_import,
	.device_list = state_device_list,
	.device_show = state_device_show,
	.device_attrs = state_device_attrs,
	.device_rm = state_device_rm,
	.device_history = state_device_history,
	.product_versions = state_product_versions,
	.product_author_key = state_product_author_key,
	.firmware_add_fd = state_firmware_add_fd,
	.firmware_fetch = state_firmware_fetch,
	.firmware_list = state_firmware_list,
	.firmware_show = state_firmware_show,
	.firmware_edit = state_firmware_edit,
	.firmware_rm = state_firmware_rm,
	.job_create = state_job_create,
	.job_list = state_job_list,
	.job_show = state_job_show,
	.job_devices = state_job_devices,
	.job_terminate = state_job_terminate,
	.job_cancel = state_job_cancel,
	.job_retry = state_job_retry,
	.job_confirm = state_job_confirm,
	.relay_status = state_relay_status,
	.url_key_rotate = state_url_key_rotate,
	.patch_add_fd = state_patch_add_fd,
	.patch_list = state_patch_list,
	.patch_show = state_patch_show,
	.patch_rm = state_patch_rm,
	.patch_make = state_patch_make,
	.sign_key_create = state_sign_key_create,
	.sign_key_list = state_sign_key_list,
	.sign_key_activate = state_sign_key_activate,
	.sign_key_delete = state_sign_key_delete,
};

