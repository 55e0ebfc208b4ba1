/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * device_int.h: what the device listener's two front ends share, private
 * to src/http: device.c (otagw's own device API, CONTRACT §2) and ddi.c
 * (hawkBit's DDI API, docs/hawkbit.md), which device.c hands every
 * request under /{ddi_tenant}/controller/v1/.
 */
#ifndef OTAGW_HTTP_DEVICE_INT_H
#define OTAGW_HTTP_DEVICE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct config;
struct core;
struct http_req;
struct http_resp;
struct httpdev;
struct store_image;

/*
 * What hangs on a request (http_req_set_user) begins with one of these,
 * so that on_request and on_close know whose it is whatever the path
 * means by then (SIGHUP may change ddi_tenant while a body arrives).
 */
enum httpdev_user {
	HTTPDEV_USER_POLL = 1,		/* device.c: a long poll */
	HTTPDEV_USER_DDI,		/* ddi.c: a body being read */
};

/* device.c */
struct core *httpdev_core(struct httpdev *);
const struct config *httpdev_cfg(struct httpdev *);
/*
 * The credentials of "Authorization: <scheme> <token>" (Bearer,
 * hawkBit's TargetToken): a pointer into the header and its length; NULL
 * when there is no such header; "" (length 0) for another scheme, an
 * empty or a malformed value, or one over 512 bytes.
 */
const char *httpdev_auth_param(const struct http_req *, const char *scheme,
	    size_t *len);
/* A response status, counted for /metrics. */
void	 httpdev_count(struct httpdev *, int status);
/*
 * "https://host[:port]" as the device reached the gateway (its Host, else
 * the local address); 0, or -1.
 */
int	 httpdev_origin(struct http_req *, char *buf, size_t size);
/*
 * The answer to an authorized download of fw's image img by device:
 * HEAD, ranges, conditionals, as GET /fw/{id}.  Takes img's reference.
 * Returns the status; extra (esize bytes) gets words for the log.
 */
int	 httpdev_send_image(struct httpdev *, struct http_req *,
	    struct http_resp *, const char *device,
	    const struct store_image *img, const struct firmware_rec *fw,
	    char *extra, size_t esize);

/* ddi.c: the server callbacks of requests under ddi_match's paths. */
int	 ddi_match(const struct config *, const char *path);
int	 ddi_on_headers(struct httpdev *, struct http_req *,
	    struct http_resp *);
int	 ddi_on_body(struct httpdev *, struct http_req *, const uint8_t *,
	    size_t);
void	 ddi_on_request(struct httpdev *, struct http_req *,
	    struct http_resp *);
void	 ddi_on_close(struct httpdev *, struct http_req *);

#endif
