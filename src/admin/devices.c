/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * devices.c: the admin API's device calls, each one ops operation:
 *
 *   GET    /api/v1/devices?product=&module=&version=&after=&limit=
 *   POST   /api/v1/devices/import?product= (text/csv; a 400 lists every
 *                                            bad line)
 *   GET    /api/v1/devices/{id}
 *   PUT    /api/v1/devices/{id}            (JSON: product, secret, psk,
 *                                            versions)
 *   DELETE /api/v1/devices/{id}
 *   GET    /api/v1/devices/{id}/history?after=&limit=
 *   GET    /api/v1/products/{id}/versions?module=
 *   GET, PUT, DELETE /api/v1/products/{id}/author-key  (PUT body: PEM)
 *
 * Secrets and PSKs go in and never come back: the device view says only
 * whether there is one, and the decoded body is wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/admin_priv.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "store/store.h"

int
admin_device_put(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct codec_device_put body;
	struct ops_device_params p;
	struct device_rec dev;
	struct ops_err err;
	char	 vstr[OTA_MODULES_MAX][2 * OTA_ID_MAX + 2];
	const char *versions[OTA_MODULES_MAX];
	const uint8_t *b;
	char	 msg[200];
	size_t	 len;
	unsigned i;
	int	 created = 0, status;

	b = http_req_body(req, &len);
	if (codec_device_put_decode(b, len, &body, msg, sizeof(msg)) != 0)
		return admin_bad(resp, msg);
	if (body.has_id && strcmp(body.id, ar->id) != 0) {
		snprintf(msg, sizeof(msg), "\"id\" is %s but the path names "
		    "%s: leave it out, or match them", body.id, ar->id);
		crypto_wipe(&body, sizeof(body));
		return admin_bad(resp, msg);
	}
	memset(&p, 0, sizeof(p));
	p.id = ar->id;
	p.product = body.has_product ? body.product : NULL;
	p.secret = body.has_secret ? body.secret : NULL;
	p.psk_hex = body.has_psk ? body.psk_hex : NULL;
	for (i = 0; i < body.nversions; i++) {
		snprintf(vstr[i], sizeof(vstr[i]), "%s=%s",
		    body.versions[i].module, body.versions[i].version);
		versions[i] = vstr[i];
	}
	p.nversions = body.nversions;
	p.versions = versions;
	if (ops_device_put(&a->ops, &p, &dev, &created, &err) != OPS_OK)
		status = admin_ops_error(resp, &err);
	else
		status = admin_json(resp, created ? 201 : 200,
		    codec_device_encode_api(&dev, NULL));
	crypto_wipe(&body, sizeof(body));
	crypto_wipe(&dev, sizeof(dev));
	return status;
}

/*
 * A refused import with bad lines: 400 with every one of them (the first
 * OPS_IMPORT_BAD_MAX, and "more") beside the usual error members.
 */
static int
import_refused(struct http_resp *resp, const struct ops_import_result *res,
    const struct ops_err *err)
{
	struct codec_bad_line lines[OPS_IMPORT_BAD_MAX];
	size_t	 i;

	for (i = 0; i < res->nlisted && i < OPS_IMPORT_BAD_MAX; i++) {
		lines[i].line = res->bad[i].line;
		lines[i].message = res->bad[i].msg;
	}
	return admin_json(resp, ops_status_http(err->status),
	    codec_import_error_encode(err->msg, lines, i, res->nbad - i,
	    NULL));
}

/* An import, on a thread (work.c): the body is copied, it may outlive req. */
struct import_work {
	char	*csv;
	size_t	 len;
	int	 has_product;
	char	 product[OTA_ID_MAX + 1];
	int	 rc;
	struct ops_err err;
	struct ops_import_result res;
};

static void
import_free(void *arg)
{
	struct import_work *w = arg;

	if (w->csv != NULL)
		crypto_wipe(w->csv, w->len);	/* secrets and keys */
	free(w->csv);
	free(w);
}

static void
import_run(struct ops *ops, void *arg)
{
	struct import_work *w = arg;

	w->rc = ops_device_import(ops, w->csv, w->len,
	    w->has_product ? w->product : NULL, &w->res, &w->err);
}

static int
import_answer(void *arg, struct http_resp *resp)
{
	struct import_work *w = arg;
	char	 out[128];

	if (w->rc != OPS_OK)
		return w->res.nbad > 0 ? import_refused(resp, &w->res,
		    &w->err) : admin_ops_error(resp, &w->err);
	snprintf(out, sizeof(out), "{\"lines\":%zu,\"created\":%zu,"
	    "\"updated\":%zu}", w->res.lines, w->res.created,
	    w->res.updated);
	return admin_json(resp, 200, strdup(out));
}

int
admin_device_import(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct import_work *w;
	const char *ct = http_req_header(req, "content-type");
	const uint8_t *b;
	int	 rp;

	if (ct == NULL || strncasecmp(ct, "text/csv", 8) != 0 ||
	    (ct[8] != '\0' && ct[8] != ';' && ct[8] != ' '))
		return admin_bad(resp, "the import wants Content-Type: "
		    "text/csv (product,device,secret,psk per line)");
	/* with its bad lines some 16 KiB: on the heap */
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	if ((rp = admin_query_get(http_req_query(req), "product", w->product,
	    sizeof(w->product))) == -1) {
		import_free(w);
		return admin_bad(resp, "bad query: product (at most once, "
		    "percent-encoded)");
	}
	w->has_product = rp;
	b = http_req_body(req, &w->len);
	if ((w->csv = malloc(w->len + 1)) == NULL) {
		import_free(w);
		return admin_error(resp, 500, "internal", "out of memory");
	}
	if (w->len > 0)
		memcpy(w->csv, b, w->len);
	w->csv[w->len] = '\0';
	return admin_work_start(a, ar, req, resp, import_run, import_answer,
	    w, import_free);
}

static int
devlist_cb(const struct device_rec *d, void *arg)
{
	struct admin_list *l = arg;

	admin_list_item(l, codec_device_encode_api(d, NULL));
	return l->failed;
}

int
admin_device_list(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	const char *q = http_req_query(req);
	char	 product[OTA_ID_MAX + 1], module[OTA_ID_MAX + 1];
	char	 version[OTA_ID_MAX + 1], after[OTA_ID_MAX + 1];
	char	 next[OTA_ID_MAX + 1];
	struct ops_device_filter f;
	struct admin_list l;
	struct ops_err err;
	int	 rp, rm, rv, ra;

	memset(&f, 0, sizeof(f));
	rp = admin_query_get(q, "product", product, sizeof(product));
	rm = admin_query_get(q, "module", module, sizeof(module));
	rv = admin_query_get(q, "version", version, sizeof(version));
	ra = admin_query_get(q, "after", after, sizeof(after));
	if (rp == -1 || rm == -1 || rv == -1 || ra == -1)
		return admin_bad(resp, "bad query: product, module, version, "
		    "after (each at most once, percent-encoded)");
	if (admin_query_limit(q, &f.limit) == -1)
		return admin_bad(resp, "limit must be a number from 1");
	f.product = rp ? product : NULL;
	f.module = rm ? module : NULL;
	f.version = rv ? version : NULL;
	f.after = ra ? after : NULL;
	admin_list_init(&l);
	if (ops_device_list(&a->ops, &f, devlist_cb, &l, next, &err) !=
	    OPS_OK) {
		admin_list_free(&l);
		return admin_ops_error(resp, &err);
	}
	return admin_list_send(resp, &l, next);
}

int
admin_device_rm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_err err;

	if (ops_device_rm(&a->ops, ar->id, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	http_resp_status(resp, 204);
	return 204;
}

int
admin_device_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct device_rec d;
	struct ops_err err;
	char	*attrs;
	int	 status;

	if ((attrs = malloc(STORE_ATTRS_MAX + 1)) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	if (ops_device_show(&a->ops, ar->id, &d, &err) != OPS_OK ||
	    ops_device_attrs(&a->ops, ar->id, attrs, STORE_ATTRS_MAX + 1,
	    &err) != OPS_OK) {
		free(attrs);
		return admin_ops_error(resp, &err);
	}
	status = admin_json(resp, 200, codec_device_attrs_add(
	    codec_device_encode_api(&d, NULL), NULL, attrs));
	crypto_wipe(&d, sizeof(d));
	free(attrs);
	return status;
}


static int
histlist_cb(const struct history_rec *h, void *arg)
{
	struct admin_list *l = arg;

	admin_list_item(l, codec_history_encode(h, NULL));
	return l->failed;
}

/* A device's upgrade history, newest first; after= an entry's number. */
int
admin_device_history(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	char	 after[OTA_ID_MAX + 1], next[OTA_ID_MAX + 1];
	struct admin_list l;
	struct ops_page pg;
	struct ops_err err;
	int	 status;

	if ((status = admin_query_page(http_req_query(req), &pg, after,
	    resp)) != 0)
		return status;
	admin_list_init(&l);
	if (ops_device_history(&a->ops, ar->id, &pg, histlist_cb, &l, next,
	    &err) != OPS_OK) {
		admin_list_free(&l);
		return admin_ops_error(resp, &err);
	}
	return admin_list_send(resp, &l, next);
}

/* The version distribution of a product's devices (module= or default). */
int
admin_product_versions(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	char	 module[OTA_ID_MAX + 1];
	struct codec_versions cv;
	struct ops_versions vs;
	struct ops_err err;
	int	 rm, status;

	if ((rm = admin_query_get(http_req_query(req), "module", module,
	    sizeof(module))) == -1)
		return admin_bad(resp, "bad query: module (at most once, "
		    "percent-encoded)");
	if (ops_product_versions(&a->ops, ar->id, rm ? module : NULL, &vs,
	    &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	memset(&cv, 0, sizeof(cv));
	snprintf(cv.product, sizeof(cv.product), "%s", vs.product);
	snprintf(cv.module, sizeof(cv.module), "%s", vs.module);
	cv.items = vs.items;
	cv.n = vs.n;
	cv.unreported = vs.unreported;
	cv.total = vs.total;
	status = admin_json(resp, 200, codec_versions_encode(&cv, NULL));
	ops_versions_free(&vs);
	return status;
}

/*
 * A product's author key (docs/images.md):
 *   GET    /api/v1/products/{id}/author-key   the product's settings
 *   PUT    /api/v1/products/{id}/author-key   body: the public key, PEM
 *   DELETE /api/v1/products/{id}/author-key
 * Each answers {"product","authorKey","updated"}.
 */
static int
product_send(struct http_resp *resp, const struct product_rec *p)
{
	return admin_json(resp, 200, codec_product_encode(p, NULL));
}

int
admin_product_key_show(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct product_rec p;
	struct ops_err err;

	(void)req;
	if (ops_product_get(&a->ops, ar->id, &p, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return product_send(resp, &p);
}

int
admin_product_key_set(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct product_rec p;
	struct ops_err err;
	const uint8_t *b;
	size_t	 len;

	b = http_req_body(req, &len);
	if (b == NULL || len == 0)
		return admin_bad(resp, "the body must be the author's public "
		    "key in PEM");
	if (ops_product_author_key(&a->ops, ar->id, (const char *)b, len, &p,
	    &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return product_send(resp, &p);
}

int
admin_product_key_clear(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct product_rec p;
	struct ops_err err;

	(void)req;
	if (ops_product_author_key(&a->ops, ar->id, NULL, 0, &p, &err) !=
	    OPS_OK)
		return admin_ops_error(resp, &err);
	return product_send(resp, &p);
}
