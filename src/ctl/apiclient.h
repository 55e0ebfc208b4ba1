/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * apiclient.h: otactl's client of the admin API (otactl --url).
 *
 * Each call mirrors the src/ops function of the same name and fills the
 * same records, so otactl prints what it gets the same way whether it
 * works on a state directory or over the API.  Failures come back as an
 * enum ops_status with the daemon's message (the JSON error body), or
 * OPS_EIO with what went wrong on the way (connection, TLS, protocol).
 *
 * Blocking HTTP/1.1 over TLS (src/tls, ALPN http/1.1), one connection per
 * request, bodies with Content-Length; firmware images are streamed from
 * their file.
 */
#ifndef OTAGW_CTL_APICLIENT_H
#define OTAGW_CTL_APICLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

struct api;

/*
 * url "https://host[:port][/prefix]"; token_file holds the bearer token;
 * ca: PEM file to verify the server with (NULL or "": the system's).
 * NULL with the reason in err.
 */
struct api *api_new(const char *url, const char *token_file, const char *ca,
	    char *err, size_t errlen);
void	 api_free(struct api *);	/* NULL ok */

int	 api_device_put(struct api *, const struct ops_device_params *,
	    struct device_rec *out, int *created, struct ops_err *);
int	 api_device_show(struct api *, const char *id, struct device_rec *,
	    struct ops_err *);
int	 api_device_rm(struct api *, const char *id, struct ops_err *);
/* The "attributes" of its view (JSON object, "" for none). */
int	 api_device_attrs(struct api *, const char *id, char *buf,
	    size_t size, struct ops_err *);
int	 api_device_list(struct api *, const struct ops_device_filter *,
	    int (*cb)(const struct device_rec *, void *), void *arg,
	    char next[OTA_ID_MAX + 1], struct ops_err *);
int	 api_device_history(struct api *, const char *id,
	    const struct ops_page *,
	    int (*cb)(const struct history_rec *, void *), void *arg,
	    char next[OTA_ID_MAX + 1], struct ops_err *);
int	 api_product_versions(struct api *, const char *product,
	    const char *module, struct ops_versions *, struct ops_err *);
/* op 0: GET, 1: PUT pem, 2: DELETE the product's author key. */
int	 api_product_author_key(struct api *, const char *product, int op,
	    const char *pem, size_t len, struct product_rec *,
	    struct ops_err *);
/* ?product=; a 400 with "lines" fills the result's bad lines. */
int	 api_device_import(struct api *, const char *csv, size_t len,
	    const char *product, struct ops_import_result *,
	    struct ops_err *);

int	 api_firmware_add_fd(struct api *, const struct ops_fw_params *,
	    int fd, struct firmware_rec *, struct ops_err *);
/* The daemon fetches url (202, then polled until it ends). */
int	 api_firmware_fetch(struct api *, const struct ops_fw_params *,
	    const char *url, const char *sha256_hex,
	    void (*progress)(void *, uint64_t, uint64_t), void *arg,
	    struct firmware_rec *, struct ops_err *);
int	 api_firmware_show(struct api *, const char *id, struct ops_fw_item *,
	    struct ops_err *);
int	 api_firmware_list(struct api *, const struct ops_page *,
	    struct ops_fw_item **items, size_t *n, char next[OTA_ID_MAX + 1],
	    struct ops_err *);
int	 api_firmware_edit(struct api *, const char *id, const char *name,
	    const char *description, struct firmware_rec *out,
	    struct ops_err *);
int	 api_firmware_rm(struct api *, const char *id, struct ops_err *);

int	 api_job_create(struct api *, const struct job_rec *params,
	    const char *const *devices, size_t ndevices,
	    struct ops_job_item *out, struct ops_job_result *res,
	    struct ops_err *);
int	 api_job_show(struct api *, const char *id, struct ops_job_item *,
	    struct ops_err *);
int	 api_job_list(struct api *, const struct ops_page *,
	    struct ops_job_item **items, size_t *n, char next[OTA_ID_MAX + 1],
	    struct ops_err *);
int	 api_job_devices(struct api *, const char *id,
	    const struct ops_jobdev_filter *,
	    int (*cb)(const struct jobdev_rec *, void *), void *arg,
	    char next[OTA_ID_MAX + 1], struct ops_err *);
int	 api_job_terminate(struct api *, const char *id,
	    struct ops_job_item *out, struct ops_err *);
/* op: "cancel", "retry" or "confirm". */
int	 api_job_rowop(struct api *, const char *op, const char *job,
	    const char *device, struct jobdev_rec *out, struct ops_err *);

int	 api_url_key_rotate(struct api *, int drop_previous, int64_t *rotated,
	    int *previous, struct ops_err *);
int	 api_relay_status(struct api *, struct outbox_stats *,
	    struct ops_err *);
int	 api_patch_add_fd(struct api *, const struct ops_delta_params *,
	    int fd, struct delta_rec *, struct ops_err *);
int	 api_patch_list(struct api *, const char *firmware,
	    struct delta_rec **items, size_t *n, struct ops_err *);
int	 api_patch_show(struct api *, const char *id, struct delta_rec *,
	    struct ops_err *);
int	 api_patch_rm(struct api *, const char *id, struct ops_err *);
int	 api_patch_make(struct api *, const struct ops_delta_make *,
	    struct delta_rec *, struct ops_err *);
int	 api_sign_key_create(struct api *, int alg, int activate,
	    struct sign_key_info *, struct ops_err *);
int	 api_sign_key_list(struct api *, struct sign_key_info *, size_t *n,
	    struct ops_err *);
int	 api_sign_key_activate(struct api *, const char *kid,
	    struct ops_err *);
int	 api_sign_key_delete(struct api *, const char *kid, int force,
	    struct ops_err *);

#endif
