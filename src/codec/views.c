/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * views.c: the operator's JSON, in three parts:
 *
 * 1. the views of a device, a firmware, a job, a job's row for one
 *    device, an entry of a device's upgrade history and a product's
 *    version distribution, which otactl --json prints and the admin API
 *    sends;
 * 2. the admin API's request bodies, which the API decodes and
 *    otactl --url encodes, and the API's views (the shared ones with a few
 *    more members);
 * 3. the client side of otactl --url reading the views back into records,
 *    with lists, flat objects of numbers and error bodies.
 *
 * Everything is read through the strict reader of json.c.  Times go out
 * as RFC 3339 UTC strings with milliseconds, or null when unset.  Every
 * encoder returns a malloc'd string (free()) or NULL when memory ran out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/views.h"
#include "codec/json.h"
#include "crypto/sigkey.h"
#include "crypto/crypto.h"
#include "util/validate.h"

/*
 * Names, kept here rather than taken from jobs.c so that the codec links
 * on its own (it comes after the job module in the link order).
 */
static const char *const jd_state_names[JD_NSTATES] = {
	"WAIT_CONFIRM", "QUEUED", "NOTIFIED", "UPGRADING",
	"SUCCEEDED", "FAILED", "RETRY_WAIT", "CANCELED",
};

static const char *
jd_state_name(int s)
{
	return json_name_of(jd_state_names, JD_NSTATES, s);
}

static const char *
job_state_name(int s)
{
	static const char *const names[] = {
		"SCHEDULED", "RUNNING", "PAUSED", "COMPLETED", "TERMINATED",
		"CREATING",
	};

	return json_name_of(names, sizeof(names) / sizeof(names[0]), s);
}

static const char *
fw_state_name(int s)
{
	static const char *const names[] = {
		"UNVERIFIED", "VERIFIED", "VERIFY_FAILED",
	};

	return json_name_of(names, sizeof(names) / sizeof(names[0]), s);
}

/*
 * The views.
 */

/* A string, or null when empty. */
static void
put_str_or_null(cJSON *obj, const char *key, const char *val, int *oom)
{
	json_put_str(obj, key, val != NULL && *val != '\0' ? val : NULL, oom);
}

static void
put_time(cJSON *obj, const char *key, int64_t ms, int *oom)
{
	char	 buf[32];

	if (ms == 0) {
		json_put_str(obj, key, NULL, oom);
		return;
	}
	time_format_rfc3339(ms, buf);
	json_put_str(obj, key, buf, oom);
}

static void
put_counts(cJSON *obj, const char *key, const struct jobs_counts *c, int *oom)
{
	cJSON	*o = json_put_obj(obj, key, oom);
	int	 s;

	if (o == NULL)
		return;
	for (s = 0; s < JD_NSTATES; s++)
		json_put_num(o, jd_state_names[s], (double)c->n[s], oom);
	json_put_num(o, "total", (double)c->total, oom);
}

/* "seqs": {"<module>": <accepted seq>, ...}, {} when none. */
static void
put_seqs(cJSON *root, const struct device_rec *d, int *oom)
{
	cJSON	*o;
	unsigned i;

	if ((o = json_put_obj(root, "seqs", oom)) == NULL)
		return;
	for (i = 0; i < d->nseqs && i < OTA_MODULES_MAX; i++)
		json_put_num(o, d->seqs[i].module, d->seqs[i].seq, oom);
}

/* "authorSig": the DER signature in base64, or null. */
static void
put_sig(cJSON *root, const struct firmware_rec *fw, int *oom)
{
	char	 b64[4 * ((OTA_SIG_MAX + 2) / 3) + 1];

	if (fw->author_sig_len == 0 || fw->author_sig_len > OTA_SIG_MAX) {
		json_put_str(root, "authorSig", NULL, oom);
		return;
	}
	crypto_base64(fw->author_sig, fw->author_sig_len, b64);
	json_put_str(root, "authorSig", b64, oom);
}

char *
codec_device_encode(const struct device_rec *d, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	json_put_str(root, "id", d->id, &oom);
	json_put_str(root, "product", d->product, &oom);
	json_put_versions(root, "versions", d->versions, d->nversions, &oom);
	json_put_bool(root, "psk", d->psk_len > 0, &oom);
	json_put_bool(root, "secret", d->has_secret, &oom);
	put_time(root, "created", d->created, &oom);
	put_time(root, "lastSeen", d->last_seen, &oom);
	put_seqs(root, d, &oom);
	return json_finish(root, oom, len);
}

char *
codec_firmware_encode(const struct firmware_rec *fw,
    const struct jobs_counts *counts, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	json_put_str(root, "id", fw->id, &oom);
	json_put_str(root, "product", fw->product, &oom);
	json_put_str(root, "module", fw->module, &oom);
	json_put_str(root, "version", fw->version, &oom);
	json_put_str(root, "name", fw->name, &oom);
	json_put_str(root, "description", fw->description, &oom);
	json_put_str(root, "signMethod",
	    json_sign_method_name(fw->sign_method), &oom);
	json_put_num(root, "size", (double)fw->size, &oom);
	json_put_hex(root, "md5", fw->md5, sizeof(fw->md5), &oom);
	json_put_hex(root, "sha256", fw->sha256, sizeof(fw->sha256), &oom);
	json_put_str(root, "state", fw_state_name(fw->state), &oom);
	put_time(root, "created", fw->created, &oom);
	json_put_num(root, "seq", fw->seq, &oom);
	put_sig(root, fw, &oom);
	json_put_str(root, "filename", fw->filename[0] != '\0' ?
	    fw->filename : NULL, &oom);
	if (fw->has_sha1)
		json_put_hex(root, "sha1", fw->sha1, sizeof(fw->sha1), &oom);
	if (counts != NULL) {
		put_counts(root, "devices", counts, &oom);
		/* their name before: kept for the scripts that read it */
		put_counts(root, "counts", counts, &oom);
	}
	return json_finish(root, oom, len);
}

char *
codec_delta_encode(const struct delta_rec *d, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	json_put_str(root, "id", d->id, &oom);
	json_put_str(root, "product", d->product, &oom);
	json_put_str(root, "module", d->module, &oom);
	json_put_str(root, "from", d->from, &oom);
	json_put_str(root, "fromVersion", d->from_version, &oom);
	json_put_str(root, "to", d->to, &oom);
	json_put_str(root, "toVersion", d->to_version, &oom);
	json_put_str(root, "format", d->format, &oom);
	json_put_num(root, "size", (double)d->size, &oom);
	json_put_hex(root, "md5", d->md5, sizeof(d->md5), &oom);
	json_put_hex(root, "sha256", d->sha256, sizeof(d->sha256), &oom);
	json_put_num(root, "toSize", (double)d->to_size, &oom);
	json_put_hex(root, "toSha256", d->to_sha256, sizeof(d->to_sha256),
	    &oom);
	put_time(root, "created", d->created, &oom);
	return json_finish(root, oom, len);
}

char *
codec_job_encode(const struct job_rec *job, const struct jobs_counts *counts,
    size_t *len)
{
	static const char *const scopes[] = { "all", "devices", "gray" };
	cJSON	*root = cJSON_CreateObject(), *arr, *o;
	unsigned i;
	int	 oom = root == NULL;

	json_put_str(root, "id", job->id, &oom);
	json_put_str(root, "firmware", job->firmware, &oom);
	json_put_str(root, "product", job->product, &oom);
	json_put_str(root, "module", job->module, &oom);
	json_put_str(root, "version", job->version, &oom);
	json_put_str(root, "kind", job->kind == JOB_KIND_VERIFY ? "verify" :
	    "batch", &oom);
	json_put_str(root, "state", job_state_name(job->state), &oom);
	json_put_str(root, "scope", json_name_of(scopes, 3, job->scope), &oom);
	json_put_str(root, "strategy", job->dynamic ? "dynamic" : "static",
	    &oom);
	json_put_str(root, "confirm", job->confirm ? "user" : "silent", &oom);
	json_put_num(root, "seq", job->seq, &oom);
	json_put_bool(root, "allowDowngrade", job->allow_downgrade, &oom);
	arr = cJSON_CreateArray();
	json_put_item(root, "srcVersions", arr, &oom);
	for (i = 0; !oom && i < job->nsrc && i < OTA_SRCVER_MAX; i++) {
		cJSON	*v = cJSON_CreateString(job->src_versions[i]);

		if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
			cJSON_Delete(v);
			oom = 1;
		}
	}
	json_put_num(root, "ratePerMinute", job->rate_per_minute, &oom);
	if ((o = json_put_obj(root, "retry", &oom)) != NULL) {
		json_put_num(o, "count", job->retry_count, &oom);
		json_put_num(o, "intervalMinutes", job->retry_interval_min,
		    &oom);
	}
	json_put_num(root, "timeoutMinutes", job->timeout_min, &oom);
	put_time(root, "start", job->start, &oom);
	put_time(root, "end", job->end, &oom);
	put_time(root, "created", job->created, &oom);
	put_time(root, "started", job->started, &oom);
	put_time(root, "finished", job->finished, &oom);
	/* beyond the common shape: the rules an operator wants to see */
	if (job->scope == JOB_SCOPE_GRAY)
		json_put_num(root, "grayPercent", job->gray_percent, &oom);
	else
		json_put_str(root, "grayPercent", NULL, &oom);
	if (job->abort_percent < 0)
		json_put_str(root, "abort", NULL, &oom);
	else if ((o = json_put_obj(root, "abort", &oom)) != NULL) {
		json_put_num(o, "failurePercent", job->abort_percent, &oom);
		json_put_num(o, "minDevices", job->abort_min_devices, &oom);
	}
	if (counts != NULL) {
		put_counts(root, "counts", counts, &oom);
		if ((o = json_put_obj(root, "patches", &oom)) != NULL) {
			json_put_num(o, "devices",
			    (double)counts->patch_devices, &oom);
			json_put_num(o, "bytesSaved",
			    (double)counts->patch_saved, &oom);
		}
	}
	return json_finish(root, oom, len);
}

char *
codec_jobdev_encode(const struct jobdev_rec *jd, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	json_put_str(root, "job", jd->job, &oom);
	json_put_str(root, "device", jd->device, &oom);
	json_put_str(root, "state", jd_state_name(jd->state), &oom);
	put_str_or_null(root, "reason", jd->reason, &oom);
	json_put_num(root, "step", jd->step, &oom);
	put_str_or_null(root, "desc", jd->desc, &oom);
	json_put_num(root, "retries", jd->retries, &oom);
	put_str_or_null(root, "version", jd->last_version, &oom);
	put_time(root, "created", jd->created, &oom);
	put_time(root, "notified", jd->notified, &oom);
	put_time(root, "started", jd->started, &oom);
	put_time(root, "updated", jd->updated, &oom);
	put_str_or_null(root, "patch", jd->delta, &oom);
	if (jd->size > 0) {
		json_put_num(root, "delivered", (double)jd->delivered, &oom);
		json_put_num(root, "size", (double)jd->size, &oom);
	}
	return json_finish(root, oom, len);
}

static void
history_members(cJSON *root, const struct history_rec *h, int *oom)
{
	json_put_num(root, "seq", (double)h->seq, oom);
	json_put_str(root, "device", h->device, oom);
	json_put_str(root, "job", h->job, oom);
	json_put_str(root, "firmware", h->firmware, oom);
	json_put_str(root, "module", h->module, oom);
	put_str_or_null(root, "from", h->from_version, oom);
	json_put_str(root, "to", h->to_version, oom);
	json_put_str(root, "state", jd_state_name(h->state), oom);
	put_str_or_null(root, "reason", h->reason, oom);
	put_str_or_null(root, "desc", h->desc, oom);
	json_put_num(root, "retries", h->retries, oom);
	put_time(root, "notified", h->notified, oom);
	put_time(root, "started", h->started, oom);
	put_time(root, "finished", h->finished, oom);
}

char *
codec_history_encode(const struct history_rec *h, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	history_members(root, h, &oom);
	return json_finish(root, oom, len);
}

static char	*splice_member(char *, size_t *, cJSON *, const char *);

char *
codec_device_show_encode(const struct device_rec *d,
    const struct history_rec *h, size_t n, size_t *len)
{
	cJSON	*arr = cJSON_CreateArray(), *o;
	int	 oom = arr == NULL;
	size_t	 i;

	for (i = 0; !oom && i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			oom = 1;
			break;
		}
		history_members(o, &h[i], &oom);
	}
	if (oom) {
		cJSON_Delete(arr);
		return NULL;
	}
	return splice_member(codec_device_encode(d, NULL), len, arr,
	    "history");
}

char *
codec_device_attrs_add(char *json, size_t *len, const char *attrs)
{
	cJSON	*o;

	o = attrs != NULL && attrs[0] != '\0' ? cJSON_Parse(attrs) :
	    cJSON_CreateObject();
	if (o != NULL && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = cJSON_CreateObject();
	}
	return splice_member(json, len, o, "attributes");
}

int
codec_device_attrs_get(const char *json, size_t len, char *buf, size_t size)
{
	const cJSON *a;
	cJSON	*root;
	char	*s = NULL;
	int	 rc = -1;

	buf[0] = '\0';
	if ((root = cJSON_ParseWithLength(json, len)) == NULL)
		return -1;
	a = cJSON_GetObjectItemCaseSensitive(root, "attributes");
	if (a == NULL || (cJSON_IsObject(a) && a->child == NULL))
		rc = 0;
	else if (cJSON_IsObject(a) && (s = cJSON_PrintUnformatted(a)) !=
	    NULL && str_copy(buf, size, s) == 0)
		rc = 0;
	free(s);
	cJSON_Delete(root);
	return rc;
}

/*
 * One key or value of the attributes line, as it is when that cannot be
 * misread; else in double quotes, with '"' and '\\' escaped and control
 * characters as \xNN (a store from before they were refused may hold
 * them): a key holding "=" or ", " cannot fake another attribute, and
 * nothing reaches the terminal as an escape sequence.
 */
static void
attr_word(const char *s, char *out, size_t size)
{
	const unsigned char *p;
	size_t	 o = 0;
	int	 plain = s[0] != '\0' && s[0] != ' ';

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\' ||
		    *p == '=' || *p == ',' || (*p == ' ' && p[1] == '\0'))
			plain = 0;
	if (plain) {
		snprintf(out, size, "%s", s);
		return;
	}
	out[o++] = '"';
	for (p = (const unsigned char *)s; *p != '\0' && o + 6 < size; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
		else {
			if (*p == '"' || *p == '\\')
				out[o++] = '\\';
			out[o++] = (char)*p;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

int
codec_device_attrs_text(const char *attrs, char *buf, size_t size)
{
	const cJSON *it;
	cJSON	*root;
	char	 k[2 * 4 * 128 + 3], v[2 * 4 * 128 + 3];
	size_t	 o = 0;
	int	 n;

	buf[0] = '\0';
	if (attrs == NULL || attrs[0] == '\0')
		return 0;
	if ((root = cJSON_Parse(attrs)) == NULL)
		return -1;
	cJSON_ArrayForEach(it, root) {
		if (!cJSON_IsString(it))
			continue;
		attr_word(it->string, k, sizeof(k));
		attr_word(it->valuestring, v, sizeof(v));
		n = snprintf(buf + o, size - o, "%s%s=%s", o > 0 ? ", " : "",
		    k, v);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	cJSON_Delete(root);
	return 0;
}

char *
codec_versions_encode(const struct codec_versions *vs, size_t *len)
{
	cJSON	*root = cJSON_CreateObject(), *arr, *o;
	int	 oom = root == NULL;
	size_t	 i;

	json_put_str(root, "product", vs->product, &oom);
	json_put_str(root, "module", vs->module, &oom);
	if ((arr = cJSON_CreateArray()) == NULL)
		oom = 1;
	json_put_item(root, "versions", arr, &oom);
	for (i = 0; !oom && i < vs->n; i++) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			oom = 1;
			break;
		}
		json_put_str(o, "version", vs->items[i].version, &oom);
		json_put_num(o, "devices", (double)vs->items[i].devices, &oom);
	}
	json_put_num(root, "unreported", (double)vs->unreported, &oom);
	json_put_num(root, "total", (double)vs->total, &oom);
	return json_finish(root, oom, len);
}

static void
sign_key_put(cJSON *o, const struct sign_key_info *k, int *oom)
{
	const char *alg = sigkey_alg_name(k->alg);

	json_put_str(o, "kid", k->kid, oom);
	json_put_str(o, "alg", alg != NULL ? alg : "?", oom);
	json_put_bool(o, "current", k->current, oom);
	put_time(o, "created", k->created, oom);
	json_put_str(o, "publicKeyPem", k->pem, oom);
	json_put_hex(o, "publicKeyRaw", k->raw, k->rawlen, oom);
}

char *
codec_sign_key_encode(const struct sign_key_info *k, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	sign_key_put(root, k, &oom);
	return json_finish(root, oom, len);
}

char *
codec_sign_keys_encode(const struct sign_key_info *k, size_t n, size_t *len)
{
	cJSON	*root = cJSON_CreateObject(), *arr, *o;
	int	 oom = root == NULL;
	size_t	 i;

	if ((arr = cJSON_CreateArray()) == NULL)
		oom = 1;
	json_put_item(root, "keys", arr, &oom);
	for (i = 0; !oom && i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			oom = 1;
			break;
		}
		sign_key_put(o, &k[i], &oom);
	}
	return json_finish(root, oom, len);
}

/*
 * The admin API: request bodies and the API's views.  Request bodies come
 * from the network, so they get the strict reading the device bodies get
 * and, beyond it, refuse members they do not know: an operator's typo
 * ("srcVersion") must not silently select every device.
 */

/* Every member of obj must be in allowed (NULL-terminated). */
static int
only_members(const cJSON *obj, const char *const *allowed, char *err,
    size_t errlen)
{
	const cJSON *c;
	size_t	 i;

	cJSON_ArrayForEach(c, obj) {
		for (i = 0; allowed[i] != NULL; i++)
			if (c->string != NULL &&
			    strcmp(c->string, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return json_fail(err, errlen, "unknown member \"%s\"",
			    c->string != NULL ? c->string : "");
	}
	return 0;
}

/* true/false; a missing or null member leaves *out. */
static int
bool_member(const cJSON *obj, const char *name, int *out, char *err,
    size_t errlen)
{
	const cJSON *m;

	if (json_member(obj, name, &m, err, errlen) != 0)
		return -1;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsBool(m))
		return json_fail(err, errlen, "\"%s\" must be true or false",
		    name);
	*out = cJSON_IsTrue(m) ? 1 : 0;
	return 0;
}

/* A whole number in [0, max]; a missing or null member leaves *out. */
static int
uint_value(const cJSON *m, const char *name, double max, double *out,
    char *err, size_t errlen)
{
	double	 d;

	if (!cJSON_IsNumber(m))
		return json_fail(err, errlen, "\"%s\" must be a number", name);
	d = m->valuedouble;
	if (!(d >= 0 && d <= max) || (double)(int64_t)d != d)
		return json_fail(err, errlen, "\"%s\" must be a whole number "
		    "from 0 to %.0f", name, max);
	*out = d;
	return 0;
}

static int
uint_member(const cJSON *obj, const char *name, unsigned *out, char *err,
    size_t errlen)
{
	const cJSON *m;
	double	 d;

	if (json_member(obj, name, &m, err, errlen) != 0)
		return -1;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (uint_value(m, name, 2147483647.0, &d, err, errlen) != 0)
		return -1;
	*out = (unsigned)d;
	return 0;
}

/* null or an RFC 3339 time; a missing member leaves *out. */
static int
time_member(const cJSON *obj, const char *name, int64_t *out, char *err,
    size_t errlen)
{
	const cJSON *m;

	if (json_member(obj, name, &m, err, errlen) != 0)
		return -1;
	if (m == NULL)
		return 0;
	if (cJSON_IsNull(m)) {
		*out = 0;
		return 0;
	}
	if (!cJSON_IsString(m) || m->valuestring == NULL ||
	    time_parse_rfc3339(m->valuestring, out) != 0 || *out <= 0)
		return json_fail(err, errlen, "\"%s\" must be null or an "
		    "RFC 3339 time, e.g. 2026-11-23T10:00:00Z", name);
	return 0;
}

/* One of names[], as its index; a missing or null member leaves *out. */
static int
enum_member(const cJSON *obj, const char *name, const char *const *names,
    size_t n, int *out, char *err, size_t errlen)
{
	const cJSON *m;
	int	 i;

	if (json_member(obj, name, &m, err, errlen) != 0)
		return -1;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsString(m) ||
	    (i = json_index_of(names, n, m->valuestring)) < 0)
		return json_fail(err, errlen, "\"%s\" must be \"%s\" or \"%s\"",
		    name, names[0], names[n - 1]);
	*out = i;
	return 0;
}

static int
any_string(const char *s)
{
	(void)s;
	return 1;
}

static cJSON *
object_parse(const void *buf, size_t len, char *err, size_t errlen)
{
	cJSON	*root;

	if (len == 0 || json_is_blank(buf, len)) {
		json_fail(err, errlen, "empty body: want a JSON object");
		return NULL;
	}
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		return NULL;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		json_fail(err, errlen, "the body must be a JSON object");
		return NULL;
	}
	return root;
}

/* {"<module>":"<version>",...} into v[] (at most OTA_MODULES_MAX). */
static int
versions_value(const cJSON *m, struct module_version *v, unsigned *n,
    char *err, size_t errlen)
{
	const cJSON *c;
	unsigned i;

	*n = 0;
	if (!cJSON_IsObject(m))
		return json_fail(err, errlen, "\"versions\" must be an object");
	cJSON_ArrayForEach(c, m) {
		if (*n == OTA_MODULES_MAX)
			return json_fail(err, errlen, "more than %d modules",
			    OTA_MODULES_MAX);
		if (c->string == NULL || !valid_module(c->string))
			return json_fail(err, errlen, "invalid module name");
		if (!cJSON_IsString(c) || c->valuestring == NULL ||
		    !valid_version(c->valuestring))
			return json_fail(err, errlen, "invalid version of "
			    "module \"%s\"", c->string);
		for (i = 0; i < *n; i++)
			if (strcmp(v[i].module, c->string) == 0)
				return json_fail(err, errlen, "repeated module "
				    "\"%s\"", c->string);
		snprintf(v[*n].module, sizeof(v[*n].module), "%s", c->string);
		snprintf(v[*n].version, sizeof(v[*n].version), "%s",
		    c->valuestring);
		(*n)++;
	}
	return 0;
}

int
codec_device_put_decode(const void *buf, size_t len,
    struct codec_device_put *out, char *err, size_t errlen)
{
	static const char *const allowed[] = { "product", "secret", "psk",
	    "versions", "id", NULL };
	const cJSON *m;
	cJSON	*root;
	int	 rc = -1;

	memset(out, 0, sizeof(*out));
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if (only_members(root, allowed, err, errlen) != 0)
		goto out;
	if (json_string_member(root, "id", 0, valid_device_id, out->id,
	    sizeof(out->id), &out->has_id, err, errlen) != 0)
		goto out;
	if (json_string_member(root, "product", 0, valid_product, out->product,
	    sizeof(out->product), &out->has_product, err, errlen) != 0)
		goto out;
	if (json_string_member(root, "secret", 0, any_string, out->secret,
	    sizeof(out->secret), &out->has_secret, err, errlen) != 0) {
		json_fail(err, errlen, "\"secret\" must be a string of at "
		    "most %d bytes", CODEC_SECRET_MAX);
		goto out;
	}
	if (json_string_member(root, "psk", 0, any_string, out->psk_hex,
	    sizeof(out->psk_hex), &out->has_psk, err, errlen) != 0) {
		json_fail(err, errlen, "\"psk\" must be a string of at most "
		    "%d hex digits", OTA_PSK_MAX * 2);
		goto out;
	}
	if (json_member(root, "versions", &m, err, errlen) != 0)
		goto out;
	if (m != NULL && !cJSON_IsNull(m) &&
	    versions_value(m, out->versions, &out->nversions, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	/* the tree holds the secret too: wipe its strings before freeing */
	if (root != NULL) {
		cJSON_ArrayForEach(m, root)
			if (cJSON_IsString(m) && m->valuestring != NULL)
				memset(m->valuestring, 0,
				    strlen(m->valuestring));
	}
	cJSON_Delete(root);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

char *
codec_device_put_encode(const struct codec_device_put *p, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	char	*s;
	int	 oom = root == NULL;

	if (p->has_id)
		json_put_str(root, "id", p->id, &oom);
	if (p->has_product)
		json_put_str(root, "product", p->product, &oom);
	if (p->has_secret)
		json_put_str(root, "secret", p->secret, &oom);
	if (p->has_psk)
		json_put_str(root, "psk", p->psk_hex, &oom);
	if (p->nversions > 0)
		json_put_versions(root, "versions", p->versions, p->nversions,
		    &oom);
	s = NULL;
	if (root != NULL && !oom)
		s = cJSON_PrintUnformatted(root);
	if (root != NULL) {
		const cJSON *m;

		cJSON_ArrayForEach(m, root)
			if (cJSON_IsString(m) && m->valuestring != NULL)
				memset(m->valuestring, 0,
				    strlen(m->valuestring));
	}
	cJSON_Delete(root);
	if (len != NULL)
		*len = s != NULL ? strlen(s) : 0;
	return s;
}

static const char *const kind_names[] = { "batch", "verify" };
static const char *const scope_names[] = { "all", "devices", "gray" };
static const char *const strategy_names[] = { "static", "dynamic" };
static const char *const confirm_names[] = { "silent", "user" };

static int
job_src_value(const cJSON *m, struct job_rec *job, char *err, size_t errlen)
{
	const cJSON *c;
	unsigned i;

	job->nsrc = 0;
	if (!cJSON_IsArray(m))
		return json_fail(err, errlen,
		    "\"srcVersions\" must be an array of versions");
	cJSON_ArrayForEach(c, m) {
		if (!cJSON_IsString(c) || c->valuestring == NULL ||
		    !valid_version(c->valuestring))
			return json_fail(err, errlen, "invalid version in "
			    "\"srcVersions\"");
		for (i = 0; i < job->nsrc; i++)
			if (strcmp(job->src_versions[i], c->valuestring) == 0)
				break;
		if (i < job->nsrc)
			continue;	/* a repeat changes nothing */
		if (job->nsrc == OTA_SRCVER_MAX)
			return json_fail(err, errlen,
			    "at most %d source versions", OTA_SRCVER_MAX);
		snprintf(job->src_versions[job->nsrc++],
		    sizeof(job->src_versions[0]), "%s", c->valuestring);
	}
	return 0;
}

/* "retry": {"count":N,"intervalMinutes":N}, each optional. */
static int
job_retry_value(const cJSON *m, struct job_rec *job, char *err, size_t errlen)
{
	static const char *const allowed[] = { "count", "intervalMinutes",
	    NULL };

	if (!cJSON_IsObject(m))
		return json_fail(err, errlen, "\"retry\" must be an object "
		    "{\"count\",\"intervalMinutes\"}");
	if (only_members(m, allowed, err, errlen) != 0 ||
	    uint_member(m, "count", &job->retry_count, err, errlen) != 0 ||
	    uint_member(m, "intervalMinutes", &job->retry_interval_min, err,
	    errlen) != 0)
		return -1;
	return 0;
}

/* "abort": {"failurePercent":N,"minDevices":N}, minDevices optional. */
static int
job_abort_value(const cJSON *m, struct job_rec *job, char *err, size_t errlen)
{
	static const char *const allowed[] = { "failurePercent",
	    "minDevices", NULL };
	const cJSON *g;
	unsigned u;
	double	 d;

	if (!cJSON_IsObject(m))
		return json_fail(err, errlen, "\"abort\" must be null or an "
		    "object {\"failurePercent\",\"minDevices\"}");
	if (only_members(m, allowed, err, errlen) != 0 ||
	    json_member(m, "failurePercent", &g, err, errlen) != 0)
		return -1;
	if (g == NULL)
		return json_fail(err, errlen,
		    "\"abort\" needs \"failurePercent\"");
	if (uint_value(g, "failurePercent", 100, &d, err, errlen) != 0)
		return -1;
	job->abort_percent = (int)d;
	u = 0;
	if (uint_member(m, "minDevices", &u, err, errlen) != 0)
		return -1;
	job->abort_min_devices = u;
	return 0;
}

static int
job_devices_value(const cJSON *m, codec_id **devices, size_t *n, char *err,
    size_t errlen)
{
	const cJSON *c;
	size_t	 count;

	if (!cJSON_IsArray(m))
		return json_fail(err, errlen, "\"devices\" must be an array of "
		    "device ids");
	count = (size_t)cJSON_GetArraySize(m);
	if (count > CODEC_JOB_DEVICES_MAX)
		return json_fail(err, errlen, "at most %d devices",
		    CODEC_JOB_DEVICES_MAX);
	if (count == 0)
		return 0;
	if ((*devices = calloc(count, sizeof(**devices))) == NULL)
		return json_fail(err, errlen, "out of memory");
	cJSON_ArrayForEach(c, m) {
		if (!cJSON_IsString(c) || c->valuestring == NULL ||
		    !valid_device_id(c->valuestring))
			return json_fail(err, errlen, "invalid device id in "
			    "\"devices\" (item %zu)", *n + 1);
		snprintf((*devices)[(*n)++], sizeof(codec_id), "%s",
		    c->valuestring);
	}
	return 0;
}

int
codec_job_body_decode(const void *buf, size_t len, struct job_rec *job,
    codec_id **devices, size_t *ndevices, char *err, size_t errlen)
{
	static const char *const allowed[] = { "firmware", "kind", "force",
	    "srcVersions", "scope", "devices", "grayPercent", "strategy",
	    "onlyNewReports", "confirm", "start", "end", "ratePerMinute",
	    "retry", "timeoutMinutes", "override", "abort", "allowDowngrade",
	    NULL };
	const cJSON *m;
	cJSON	*root;
	double	 d;
	int	 rc = -1;

	*devices = NULL;
	*ndevices = 0;
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if (only_members(root, allowed, err, errlen) != 0)
		goto out;
	if (json_string_member(root, "firmware", 1, valid_id, job->firmware,
	    sizeof(job->firmware), NULL, err, errlen) != 0)
		goto out;
	if (enum_member(root, "kind", kind_names, 2, &job->kind, err,
	    errlen) != 0 ||
	    bool_member(root, "force", &job->force, err, errlen) != 0 ||
	    enum_member(root, "scope", scope_names, 3, &job->scope, err,
	    errlen) != 0 ||
	    enum_member(root, "strategy", strategy_names, 2, &job->dynamic,
	    err, errlen) != 0 ||
	    bool_member(root, "onlyNewReports", &job->only_new_reports, err,
	    errlen) != 0 ||
	    enum_member(root, "confirm", confirm_names, 2, &job->confirm,
	    err, errlen) != 0 ||
	    time_member(root, "start", &job->start, err, errlen) != 0 ||
	    time_member(root, "end", &job->end, err, errlen) != 0 ||
	    uint_member(root, "ratePerMinute", &job->rate_per_minute, err,
	    errlen) != 0 ||
	    uint_member(root, "timeoutMinutes", &job->timeout_min, err,
	    errlen) != 0 ||
	    bool_member(root, "override", &job->override, err, errlen) != 0 ||
	    bool_member(root, "allowDowngrade", &job->allow_downgrade, err,
	    errlen) != 0)
		goto out;
	if (json_member(root, "srcVersions", &m, err, errlen) != 0)
		goto out;
	if (m != NULL && !cJSON_IsNull(m) &&
	    job_src_value(m, job, err, errlen) != 0)
		goto out;
	if (json_member(root, "grayPercent", &m, err, errlen) != 0)
		goto out;
	if (m != NULL && !cJSON_IsNull(m)) {
		if (uint_value(m, "grayPercent", 100, &d, err, errlen) != 0)
			goto out;
		job->gray_percent = (int)d;
	}
	if (json_member(root, "retry", &m, err, errlen) != 0)
		goto out;
	if (m != NULL && !cJSON_IsNull(m) &&
	    job_retry_value(m, job, err, errlen) != 0)
		goto out;
	if (json_member(root, "abort", &m, err, errlen) != 0)
		goto out;
	if (m != NULL && !cJSON_IsNull(m) &&
	    job_abort_value(m, job, err, errlen) != 0)
		goto out;
	if (json_member(root, "devices", &m, err, errlen) != 0)
		goto out;
	if (m != NULL && !cJSON_IsNull(m) &&
	    job_devices_value(m, devices, ndevices, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc != 0) {
		free(*devices);
		*devices = NULL;
		*ndevices = 0;
	}
	return rc;
}

char *
codec_job_body_encode(const struct job_rec *job, const char *const *devices,
    size_t ndevices, size_t *len)
{
	cJSON	*root = cJSON_CreateObject(), *arr, *o, *v;
	size_t	 i;
	int	 oom = root == NULL;

	json_put_str(root, "firmware", job->firmware, &oom);
	json_put_str(root, "kind", json_name_of(kind_names, 2, job->kind),
	    &oom);
	json_put_bool(root, "force", job->force, &oom);
	arr = cJSON_CreateArray();
	json_put_item(root, "srcVersions", arr, &oom);
	for (i = 0; !oom && i < job->nsrc && i < OTA_SRCVER_MAX; i++) {
		v = cJSON_CreateString(job->src_versions[i]);
		if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
			cJSON_Delete(v);
			oom = 1;
		}
	}
	json_put_str(root, "scope", json_name_of(scope_names, 3, job->scope),
	    &oom);
	if (job->scope == JOB_SCOPE_DEVICES || ndevices > 0) {
		arr = cJSON_CreateArray();
		json_put_item(root, "devices", arr, &oom);
		for (i = 0; !oom && i < ndevices; i++) {
			v = cJSON_CreateString(devices[i]);
			if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
				cJSON_Delete(v);
				oom = 1;
			}
		}
	}
	if (job->scope == JOB_SCOPE_GRAY)
		json_put_num(root, "grayPercent", job->gray_percent, &oom);
	json_put_str(root, "strategy", job->dynamic ? "dynamic" : "static",
	    &oom);
	json_put_bool(root, "onlyNewReports", job->only_new_reports, &oom);
	json_put_str(root, "confirm", job->confirm ? "user" : "silent", &oom);
	put_time(root, "start", job->start, &oom);
	put_time(root, "end", job->end, &oom);
	json_put_num(root, "ratePerMinute", job->rate_per_minute, &oom);
	if ((o = json_put_obj(root, "retry", &oom)) != NULL) {
		json_put_num(o, "count", job->retry_count, &oom);
		json_put_num(o, "intervalMinutes", job->retry_interval_min,
		    &oom);
	}
	json_put_num(root, "timeoutMinutes", job->timeout_min, &oom);
	json_put_bool(root, "override", job->override, &oom);
	/* only when set, so that a daemon before it takes the body */
	if (job->allow_downgrade)
		json_put_bool(root, "allowDowngrade", 1, &oom);
	if (job->abort_percent < 0)
		json_put_str(root, "abort", NULL, &oom);
	else if ((o = json_put_obj(root, "abort", &oom)) != NULL) {
		json_put_num(o, "failurePercent", job->abort_percent, &oom);
		json_put_num(o, "minDevices", job->abort_min_devices, &oom);
	}
	return json_finish(root, oom, len);
}

int
codec_fw_edit_decode(const void *buf, size_t len, struct codec_fw_edit *out,
    char *err, size_t errlen)
{
	static const char *const allowed[] = { "name", "description", NULL };
	cJSON	*root;
	int	 rc = -1;

	memset(out, 0, sizeof(*out));
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if (only_members(root, allowed, err, errlen) != 0)
		goto out;
	if (json_string_member(root, "name", 0, valid_fw_name, out->name,
	    sizeof(out->name), &out->has_name, err, errlen) != 0 ||
	    json_string_member(root, "description", 0, valid_fw_description,
	    out->description, sizeof(out->description), &out->has_description,
	    err, errlen) != 0)
		goto out;
	if (!out->has_name && !out->has_description) {
		json_fail(err, errlen, "give \"name\" or \"description\"");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

char *
codec_fw_edit_encode(const struct codec_fw_edit *e, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	if (e->has_name)
		json_put_str(root, "name", e->name, &oom);
	if (e->has_description)
		json_put_str(root, "description", e->description, &oom);
	return json_finish(root, oom, len);
}

/* Adds one member to an encoded object "{...}": a new string, or NULL. */
static char *
splice_member(char *json, size_t *len, cJSON *item, const char *key)
{
	char	*v, *out;
	size_t	 n, vn, kn;

	if (json == NULL || item == NULL) {
		cJSON_Delete(item);
		free(json);
		return NULL;
	}
	v = cJSON_PrintUnformatted(item);
	cJSON_Delete(item);
	n = strlen(json);
	if (v == NULL || n < 2 || json[n - 1] != '}') {
		free(v);
		free(json);
		return NULL;
	}
	vn = strlen(v);
	kn = strlen(key);
	if ((out = malloc(n + kn + vn + 8)) == NULL) {
		free(v);
		free(json);
		return NULL;
	}
	memcpy(out, json, n - 1);
	n--;
	if (n > 1)
		out[n++] = ',';
	out[n++] = '"';
	memcpy(out + n, key, kn);
	n += kn;
	out[n++] = '"';
	out[n++] = ':';
	memcpy(out + n, v, vn);
	n += vn;
	out[n++] = '}';
	out[n] = '\0';
	free(v);
	free(json);
	if (len != NULL)
		*len = n;
	return out;
}

char *
codec_device_encode_api(const struct device_rec *d, size_t *len)
{
	char	 buf[32];
	cJSON	*t;

	if (d->updated == 0)
		t = cJSON_CreateNull();
	else {
		time_format_rfc3339(d->updated, buf);
		t = cJSON_CreateString(buf);
	}
	return splice_member(codec_device_encode(d, NULL), len, t, "updated");
}

char *
codec_job_encode_api(const struct job_rec *job,
    const struct jobs_counts *counts, const struct codec_job_sel *sel,
    size_t *len)
{
	char	*s;
	cJSON	*o;
	int	 oom = 0;

	s = splice_member(codec_job_encode(job, counts, NULL), len,
	    cJSON_CreateBool(job->only_new_reports != 0), "onlyNewReports");
	if (sel == NULL || s == NULL)
		return s;
	if ((o = cJSON_CreateObject()) == NULL) {
		free(s);
		return NULL;
	}
	json_put_num(o, "added", (double)sel->added, &oom);
	json_put_num(o, "skipped", (double)sel->skipped, &oom);
	json_put_num(o, "leftOut", (double)sel->left_out, &oom);
	json_put_num(o, "superseded", (double)sel->superseded, &oom);
	if (oom) {
		cJSON_Delete(o);
		free(s);
		return NULL;
	}
	return splice_member(s, len, o, "selection");
}

/*
 * Reading views back (client side).  The daemon wrote them, but they still
 * crossed a network: every string must fit its field.
 */

/* A string or null (""); a missing member is an error when required. */
static int
view_str(const cJSON *obj, const char *name, char *dst, size_t size,
    int required, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

	dst[0] = '\0';
	if (m == NULL) {
		if (required)
			return json_fail(err, errlen, "missing \"%s\"", name);
		return 0;
	}
	if (cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsString(m) || m->valuestring == NULL ||
	    str_copy(dst, size, m->valuestring) == -1)
		return json_fail(err, errlen, "bad \"%s\"", name);
	return 0;
}

static int
view_time(const cJSON *obj, const char *name, int64_t *out, char *err,
    size_t errlen)
{
	*out = 0;
	return time_member(obj, name, out, err, errlen);
}

/*
 * The largest count or size a view carries.  cJSON writes a number with
 * 15 significant digits, so a larger whole number would not read back as
 * it was sent (found by fuzz/fuzz_admin_json.c); no count or size of a
 * gateway comes near it.
 */
#define VIEW_NUM_MAX	999999999999999.0

static int
view_num(const cJSON *obj, const char *name, double min, double max,
    double *out, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = 0;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsNumber(m) || !(m->valuedouble >= min &&
	    m->valuedouble <= max))
		return json_fail(err, errlen, "bad \"%s\"", name);
	*out = m->valuedouble;
	return 0;
}

static int
view_enum(const cJSON *obj, const char *name, const char *const *names,
    size_t n, int *out, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
	int	 i;

	if (m == NULL || !cJSON_IsString(m) ||
	    (i = json_index_of(names, n, m->valuestring)) < 0)
		return json_fail(err, errlen, "bad \"%s\"", name);
	*out = i;
	return 0;
}

static int
view_counts(const cJSON *obj, const char *key, struct jobs_counts *c,
    char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
	double	 d;
	int	 s;

	memset(c, 0, sizeof(*c));
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsObject(m))
		return json_fail(err, errlen, "bad \"%s\"", key);
	for (s = 0; s < JD_NSTATES; s++) {
		if (view_num(m, jd_state_names[s], 0, VIEW_NUM_MAX, &d, err,
		    errlen) != 0)
			return -1;
		c->n[s] = (size_t)d;
	}
	if (view_num(m, "total", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	c->total = (size_t)d;
	return 0;
}

/* What a job creation selected; absent (or not an object): left alone. */
static int
view_sel(const cJSON *obj, struct codec_job_sel *sel, char *err,
    size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "selection");
	double	 d;

	if (v == NULL || !cJSON_IsObject(v))
		return 0;
	if (view_num(v, "added", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	sel->added = (size_t)d;
	if (view_num(v, "skipped", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	sel->skipped = (size_t)d;
	if (view_num(v, "leftOut", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	sel->left_out = (size_t)d;
	if (view_num(v, "superseded", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	sel->superseded = (size_t)d;
	return 0;
}

static int
view_hex(const cJSON *obj, const char *name, uint8_t *out, size_t n,
    char *err, size_t errlen)
{
	char	 hex[2 * 32 + 1];
	size_t	 got;

	if (view_str(obj, name, hex, sizeof(hex), 1, err, errlen) != 0)
		return -1;
	if (hex_decode(hex, out, n, &got) != 0 || got != n)
		return json_fail(err, errlen, "bad \"%s\"", name);
	return 0;
}

/* A device's "seqs" object (absent or null: none). */
static int
view_seqs(const cJSON *o, struct device_rec *d, char *err, size_t errlen)
{
	const cJSON *m, *e;
	struct module_seq *ms;

	m = cJSON_GetObjectItemCaseSensitive(o, "seqs");
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsObject(m))
		return json_fail(err, errlen, "bad \"seqs\"");
	cJSON_ArrayForEach(e, m) {
		if (d->nseqs >= OTA_MODULES_MAX || e->string == NULL ||
		    !valid_module(e->string) || !cJSON_IsNumber(e) ||
		    !(e->valuedouble >= 0 && e->valuedouble <= 4294967295.0))
			return json_fail(err, errlen, "bad \"seqs\"");
		ms = &d->seqs[d->nseqs++];
		snprintf(ms->module, sizeof(ms->module), "%s", e->string);
		ms->seq = (uint32_t)e->valuedouble;
	}
	return 0;
}

static int
device_view(const cJSON *o, struct device_rec *d, char *err, size_t errlen)
{
	const cJSON *m;
	int	 b;

	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(o))
		return json_fail(err, errlen, "a device must be an object");
	if (view_str(o, "id", d->id, sizeof(d->id), 1, err, errlen) != 0 ||
	    view_str(o, "product", d->product, sizeof(d->product), 1, err,
	    errlen) != 0)
		return -1;
	m = cJSON_GetObjectItemCaseSensitive(o, "versions");
	if (m != NULL && !cJSON_IsNull(m) &&
	    versions_value(m, d->versions, &d->nversions, err, errlen) != 0)
		return -1;
	b = 0;
	if (bool_member(o, "psk", &b, err, errlen) != 0)
		return -1;
	d->psk_len = b ? 1 : 0;	/* the key itself never leaves the store */
	if (bool_member(o, "secret", &d->has_secret, err, errlen) != 0 ||
	    view_time(o, "created", &d->created, err, errlen) != 0 ||
	    view_time(o, "lastSeen", &d->last_seen, err, errlen) != 0 ||
	    view_time(o, "updated", &d->updated, err, errlen) != 0)
		return -1;
	return view_seqs(o, d, err, errlen);
}

static int
firmware_view(const cJSON *o, struct firmware_rec *fw, struct jobs_counts *c,
    char *err, size_t errlen)
{
	static const char *const fw_states[] = { "UNVERIFIED", "VERIFIED",
	    "VERIFY_FAILED" };
	static const char *const signs[] = { "SHA256", "MD5" };
	struct jobs_counts dummy;
	char	 b64[4 * ((OTA_SIG_MAX + 2) / 3) + 8];
	double	 d;
	int	 n;

	memset(fw, 0, sizeof(*fw));
	if (!cJSON_IsObject(o))
		return json_fail(err, errlen, "a firmware must be an object");
	if (view_str(o, "id", fw->id, sizeof(fw->id), 1, err, errlen) != 0 ||
	    view_str(o, "product", fw->product, sizeof(fw->product), 1, err,
	    errlen) != 0 ||
	    view_str(o, "module", fw->module, sizeof(fw->module), 1, err,
	    errlen) != 0 ||
	    view_str(o, "version", fw->version, sizeof(fw->version), 1, err,
	    errlen) != 0 ||
	    view_str(o, "name", fw->name, sizeof(fw->name), 1, err,
	    errlen) != 0 ||
	    view_str(o, "description", fw->description,
	    sizeof(fw->description), 0, err, errlen) != 0 ||
	    view_enum(o, "signMethod", signs, 2, &fw->sign_method, err,
	    errlen) != 0 ||
	    view_enum(o, "state", fw_states, 3, &fw->state, err,
	    errlen) != 0 ||
	    view_num(o, "size", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	fw->size = (uint64_t)d;
	if (view_hex(o, "md5", fw->md5, sizeof(fw->md5), err, errlen) != 0 ||
	    view_hex(o, "sha256", fw->sha256, sizeof(fw->sha256), err,
	    errlen) != 0 ||
	    view_time(o, "created", &fw->created, err, errlen) != 0 ||
	    view_num(o, "seq", 0, 4294967295.0, &d, err, errlen) != 0)
		return -1;
	fw->seq = (uint32_t)d;
	if (view_str(o, "authorSig", b64, sizeof(b64), 0, err, errlen) != 0)
		return -1;
	if (b64[0] != '\0') {
		n = crypto_base64_decode(b64, strlen(b64), fw->author_sig,
		    sizeof(fw->author_sig));
		if (n <= 0)
			return json_fail(err, errlen, "bad \"authorSig\"");
		fw->author_sig_len = (size_t)n;
	}
	if (view_str(o, "filename", fw->filename, sizeof(fw->filename), 0,
	    err, errlen) != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(o, "sha1") != NULL) {
		if (view_hex(o, "sha1", fw->sha1, sizeof(fw->sha1), err,
		    errlen) != 0)
			return -1;
		fw->has_sha1 = 1;
	}
	/* "devices"; from a daemon before it, "counts" */
	return view_counts(o, cJSON_GetObjectItemCaseSensitive(o,
	    "devices") != NULL ? "devices" : "counts", c != NULL ? c : &dummy,
	    err, errlen);
}

static int
delta_view(const cJSON *o, struct delta_rec *d, char *err, size_t errlen)
{
	double	 n, tn;

	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(o))
		return json_fail(err, errlen, "a patch must be an object");
	if (view_str(o, "id", d->id, sizeof(d->id), 1, err, errlen) != 0 ||
	    view_str(o, "product", d->product, sizeof(d->product), 1, err,
	    errlen) != 0 ||
	    view_str(o, "module", d->module, sizeof(d->module), 1, err,
	    errlen) != 0 ||
	    view_str(o, "from", d->from, sizeof(d->from), 1, err,
	    errlen) != 0 ||
	    view_str(o, "fromVersion", d->from_version,
	    sizeof(d->from_version), 1, err, errlen) != 0 ||
	    view_str(o, "to", d->to, sizeof(d->to), 1, err, errlen) != 0 ||
	    view_str(o, "toVersion", d->to_version, sizeof(d->to_version), 1,
	    err, errlen) != 0 ||
	    view_str(o, "format", d->format, sizeof(d->format), 1, err,
	    errlen) != 0 ||
	    view_num(o, "size", 0, VIEW_NUM_MAX, &n, err, errlen) != 0 ||
	    view_num(o, "toSize", 0, VIEW_NUM_MAX, &tn, err, errlen) != 0 ||
	    view_hex(o, "md5", d->md5, sizeof(d->md5), err, errlen) != 0 ||
	    view_hex(o, "sha256", d->sha256, sizeof(d->sha256), err,
	    errlen) != 0 ||
	    view_hex(o, "toSha256", d->to_sha256, sizeof(d->to_sha256), err,
	    errlen) != 0 ||
	    view_time(o, "created", &d->created, err, errlen) != 0)
		return -1;
	d->size = (uint64_t)n;
	d->to_size = (uint64_t)tn;
	return 0;
}

int
codec_delta_view_decode(const void *buf, size_t len, struct delta_rec *d,
    char *err, size_t errlen)
{
	cJSON	*root;
	int	 rc;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	rc = delta_view(root, d, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int
codec_delta_list_decode(const void *buf, size_t len,
    int (*cb)(const struct delta_rec *, void *), void *arg, char *err,
    size_t errlen)
{
	const cJSON *arr, *it;
	struct delta_rec d;
	cJSON	*root;
	int	 rc = 0;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	arr = cJSON_GetObjectItemCaseSensitive(root, "items");
	if (!cJSON_IsArray(arr))
		rc = json_fail(err, errlen, "missing \"items\"");
	else
		cJSON_ArrayForEach(it, arr) {
			if ((rc = delta_view(it, &d, err, errlen)) != 0)
				break;
			if (cb(&d, arg) != 0) {
				rc = json_fail(err, errlen, "out of memory");
				break;
			}
		}
	cJSON_Delete(root);
	return rc;
}

/* "patches":{"devices","bytesSaved"} into c (absent: none). */
static int
view_patches(const cJSON *obj, struct jobs_counts *c, char *err,
    size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "patches");
	double	 d;

	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsObject(m))
		return json_fail(err, errlen, "bad \"patches\"");
	if (view_num(m, "devices", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	c->patch_devices = (size_t)d;
	if (view_num(m, "bytesSaved", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	c->patch_saved = (uint64_t)d;
	return 0;
}

static int
job_view(const cJSON *o, struct job_rec *job, struct jobs_counts *c,
    struct codec_job_sel *sel, char *err, size_t errlen)
{
	static const char *const job_states[] = { "SCHEDULED", "RUNNING",
	    "PAUSED", "COMPLETED", "TERMINATED", "CREATING" };
	struct jobs_counts dummy;
	const cJSON *m;
	double	 d;

	memset(job, 0, sizeof(*job));
	if (sel != NULL)
		memset(sel, 0, sizeof(*sel));
	if (!cJSON_IsObject(o))
		return json_fail(err, errlen, "a job must be an object");
	if (view_str(o, "id", job->id, sizeof(job->id), 1, err, errlen) != 0 ||
	    view_str(o, "firmware", job->firmware, sizeof(job->firmware), 1,
	    err, errlen) != 0 ||
	    view_str(o, "product", job->product, sizeof(job->product), 1, err,
	    errlen) != 0 ||
	    view_str(o, "module", job->module, sizeof(job->module), 1, err,
	    errlen) != 0 ||
	    view_str(o, "version", job->version, sizeof(job->version), 1, err,
	    errlen) != 0 ||
	    view_enum(o, "kind", kind_names, 2, &job->kind, err, errlen) != 0 ||
	    view_enum(o, "state", job_states, 5, &job->state, err,
	    errlen) != 0 ||
	    view_enum(o, "scope", scope_names, 3, &job->scope, err,
	    errlen) != 0 ||
	    view_enum(o, "strategy", strategy_names, 2, &job->dynamic, err,
	    errlen) != 0 ||
	    view_enum(o, "confirm", confirm_names, 2, &job->confirm, err,
	    errlen) != 0)
		return -1;
	m = cJSON_GetObjectItemCaseSensitive(o, "srcVersions");
	if (m != NULL && job_src_value(m, job, err, errlen) != 0)
		return -1;
	if (view_num(o, "ratePerMinute", 0, 4294967295.0, &d, err,
	    errlen) != 0)
		return -1;
	job->rate_per_minute = (unsigned)d;
	m = cJSON_GetObjectItemCaseSensitive(o, "retry");
	if (m != NULL && cJSON_IsObject(m)) {
		if (view_num(m, "count", 0, 4294967295.0, &d, err, errlen) != 0)
			return -1;
		job->retry_count = (unsigned)d;
		if (view_num(m, "intervalMinutes", 0, 4294967295.0, &d, err,
		    errlen) != 0)
			return -1;
		job->retry_interval_min = (unsigned)d;
	}
	if (view_num(o, "timeoutMinutes", 0, 4294967295.0, &d, err,
	    errlen) != 0)
		return -1;
	job->timeout_min = (unsigned)d;
	if (view_time(o, "start", &job->start, err, errlen) != 0 ||
	    view_time(o, "end", &job->end, err, errlen) != 0 ||
	    view_time(o, "created", &job->created, err, errlen) != 0 ||
	    view_time(o, "started", &job->started, err, errlen) != 0 ||
	    view_time(o, "finished", &job->finished, err, errlen) != 0)
		return -1;
	if (view_num(o, "grayPercent", 0, 100, &d, err, errlen) != 0)
		return -1;
	job->gray_percent = (int)d;
	job->abort_percent = -1;
	m = cJSON_GetObjectItemCaseSensitive(o, "abort");
	if (m != NULL && cJSON_IsObject(m)) {
		if (view_num(m, "failurePercent", 0, 100, &d, err, errlen) != 0)
			return -1;
		job->abort_percent = (int)d;
		if (view_num(m, "minDevices", 0, 4294967295.0, &d, err,
		    errlen) != 0)
			return -1;
		job->abort_min_devices = (unsigned)d;
	}
	if (bool_member(o, "onlyNewReports", &job->only_new_reports, err,
	    errlen) != 0 ||
	    bool_member(o, "allowDowngrade", &job->allow_downgrade, err,
	    errlen) != 0 ||
	    view_num(o, "seq", 0, 4294967295.0, &d, err, errlen) != 0)
		return -1;
	job->seq = (uint32_t)d;
	if (view_counts(o, "counts", c != NULL ? c : &dummy, err, errlen) != 0)
		return -1;
	if (c != NULL && view_patches(o, c, err, errlen) != 0)
		return -1;
	if (sel != NULL && view_sel(o, sel, err, errlen) != 0)
		return -1;
	return 0;
}

static int
jobdev_view(const cJSON *o, struct jobdev_rec *jd, char *err, size_t errlen)
{
	double	 d;

	memset(jd, 0, sizeof(*jd));
	if (!cJSON_IsObject(o))
		return json_fail(err, errlen, "a job device must be an object");
	if (view_str(o, "job", jd->job, sizeof(jd->job), 1, err, errlen) != 0 ||
	    view_str(o, "device", jd->device, sizeof(jd->device), 1, err,
	    errlen) != 0 ||
	    view_enum(o, "state", jd_state_names, JD_NSTATES, &jd->state, err,
	    errlen) != 0 ||
	    view_str(o, "reason", jd->reason, sizeof(jd->reason), 0, err,
	    errlen) != 0 ||
	    view_str(o, "desc", jd->desc, sizeof(jd->desc), 0, err,
	    errlen) != 0 ||
	    view_str(o, "version", jd->last_version, sizeof(jd->last_version),
	    0, err, errlen) != 0 ||
	    view_str(o, "patch", jd->delta, sizeof(jd->delta), 0, err,
	    errlen) != 0 ||
	    view_num(o, "step", -4, 100, &d, err, errlen) != 0)
		return -1;
	jd->step = (int)d;
	if (view_num(o, "retries", 0, 4294967295.0, &d, err, errlen) != 0)
		return -1;
	jd->retries = (unsigned)d;
	if (view_time(o, "created", &jd->created, err, errlen) != 0 ||
	    view_time(o, "notified", &jd->notified, err, errlen) != 0 ||
	    view_time(o, "started", &jd->started, err, errlen) != 0 ||
	    view_time(o, "updated", &jd->updated, err, errlen) != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(o, "size") != NULL) {
		if (view_num(o, "size", 1, 9e15, &d, err, errlen) != 0)
			return -1;
		jd->size = (uint64_t)d;
		if (view_num(o, "delivered", 0, (double)jd->size, &d, err,
		    errlen) != 0)
			return -1;
		jd->delivered = (uint64_t)d;
	}
	return 0;
}

static int
history_view(const cJSON *o, struct history_rec *h, char *err, size_t errlen)
{
	double	 d;

	memset(h, 0, sizeof(*h));
	if (!cJSON_IsObject(o))
		return json_fail(err, errlen, "a history entry must be an "
		    "object");
	if (view_num(o, "seq", 1, VIEW_NUM_MAX, &d, err, errlen) != 0)
		return -1;
	h->seq = (uint64_t)d;
	if (h->seq == 0 || (double)h->seq != d)
		return json_fail(err, errlen, "bad \"seq\"");
	if (view_str(o, "device", h->device, sizeof(h->device), 1, err,
	    errlen) != 0 ||
	    view_str(o, "job", h->job, sizeof(h->job), 1, err, errlen) != 0 ||
	    view_str(o, "firmware", h->firmware, sizeof(h->firmware), 1, err,
	    errlen) != 0 ||
	    view_str(o, "module", h->module, sizeof(h->module), 1, err,
	    errlen) != 0 ||
	    view_str(o, "from", h->from_version, sizeof(h->from_version), 0,
	    err, errlen) != 0 ||
	    view_str(o, "to", h->to_version, sizeof(h->to_version), 1, err,
	    errlen) != 0 ||
	    view_enum(o, "state", jd_state_names, JD_NSTATES, &h->state, err,
	    errlen) != 0 ||
	    view_str(o, "reason", h->reason, sizeof(h->reason), 0, err,
	    errlen) != 0 ||
	    view_str(o, "desc", h->desc, sizeof(h->desc), 0, err,
	    errlen) != 0 ||
	    view_num(o, "retries", 0, 4294967295.0, &d, err, errlen) != 0)
		return -1;
	h->retries = (unsigned)d;
	if (view_time(o, "notified", &h->notified, err, errlen) != 0 ||
	    view_time(o, "started", &h->started, err, errlen) != 0 ||
	    view_time(o, "finished", &h->finished, err, errlen) != 0)
		return -1;
	return 0;
}

int
codec_history_view_decode(const void *buf, size_t len, struct history_rec *h,
    char *err, size_t errlen)
{
	cJSON	*root;
	int	 rc;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	rc = history_view(root, h, err, errlen);
	cJSON_Delete(root);
	return rc;
}

static int
sign_key_view(const cJSON *o, struct sign_key_info *k, char *err,
    size_t errlen)
{
	const cJSON *m;
	char	 alg[8], raw[2 * OTA_KEY_RAW_MAX + 1];
	size_t	 n;

	memset(k, 0, sizeof(*k));
	if (view_str(o, "kid", k->kid, sizeof(k->kid), 1, err, errlen) != 0 ||
	    view_str(o, "alg", alg, sizeof(alg), 1, err, errlen) != 0 ||
	    view_time(o, "created", &k->created, err, errlen) != 0 ||
	    view_str(o, "publicKeyPem", k->pem, sizeof(k->pem), 1, err,
	    errlen) != 0 ||
	    view_str(o, "publicKeyRaw", raw, sizeof(raw), 1, err, errlen) != 0)
		return -1;
	m = cJSON_GetObjectItemCaseSensitive(o, "current");
	if (sigkey_alg_parse(alg, &k->alg) != 0 || !cJSON_IsBool(m) ||
	    hex_decode(raw, k->raw, sizeof(k->raw), &n) != 0)
		return json_fail(err, errlen, "bad signing key");
	k->current = cJSON_IsTrue(m);
	k->rawlen = n;
	return 0;
}

int
codec_sign_keys_decode(const void *buf, size_t len, struct sign_key_info *k,
    size_t max, size_t *n, char *err, size_t errlen)
{
	const cJSON *arr, *it;
	cJSON	*root;
	int	 rc = 0;

	*n = 0;
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if ((arr = cJSON_GetObjectItemCaseSensitive(root, "keys")) == NULL) {
		if (max == 0 || (rc = sign_key_view(root, k, err, errlen)) == 0)
			*n = max > 0;
	} else if (!cJSON_IsArray(arr))
		rc = json_fail(err, errlen, "\"keys\" is not a list");
	else
		cJSON_ArrayForEach(it, arr) {
			if (*n >= max) {
				rc = json_fail(err, errlen, "too many keys");
				break;
			}
			if ((rc = sign_key_view(it, &k[*n], err, errlen)) != 0)
				break;
			(*n)++;
		}
	cJSON_Delete(root);
	return rc;
}

int
codec_versions_decode(const void *buf, size_t len, struct codec_versions *vs,
    char *err, size_t errlen)
{
	const cJSON *arr, *it;
	cJSON	*root;
	struct version_count *vc;
	double	 d;
	int	 n;

	memset(vs, 0, sizeof(*vs));
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if (view_str(root, "product", vs->product, sizeof(vs->product), 1,
	    err, errlen) != 0 ||
	    view_str(root, "module", vs->module, sizeof(vs->module), 1, err,
	    errlen) != 0 ||
	    view_num(root, "unreported", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		goto fail;
	vs->unreported = (size_t)d;
	if (view_num(root, "total", 0, VIEW_NUM_MAX, &d, err, errlen) != 0)
		goto fail;
	vs->total = (size_t)d;
	arr = cJSON_GetObjectItemCaseSensitive(root, "versions");
	if (!cJSON_IsArray(arr)) {
		json_fail(err, errlen, "missing \"versions\"");
		goto fail;
	}
	if ((n = cJSON_GetArraySize(arr)) > 0 &&
	    (vs->items = calloc((size_t)n, sizeof(*vs->items))) == NULL) {
		json_fail(err, errlen, "out of memory");
		goto fail;
	}
	cJSON_ArrayForEach(it, arr) {
		if (vs->n == (size_t)n)
			break;
		vc = &vs->items[vs->n];
		if (!cJSON_IsObject(it) ||
		    view_str(it, "version", vc->version, sizeof(vc->version),
		    1, err, errlen) != 0 ||
		    view_num(it, "devices", 0, VIEW_NUM_MAX, &d, err,
		    errlen) != 0) {
			json_fail(err, errlen, "bad member of \"versions\"");
			goto fail;
		}
		vc->devices = (size_t)d;
		vs->n++;
	}
	cJSON_Delete(root);
	return 0;
fail:
	free(vs->items);
	vs->items = NULL;
	vs->n = 0;
	cJSON_Delete(root);
	return -1;
}

int
codec_device_view_decode(const void *buf, size_t len, struct device_rec *d,
    char *err, size_t errlen)
{
	cJSON	*root;
	int	 rc;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	rc = device_view(root, d, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int
codec_firmware_view_decode(const void *buf, size_t len,
    struct firmware_rec *fw, struct jobs_counts *c, char *err, size_t errlen)
{
	cJSON	*root;
	int	 rc;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	rc = firmware_view(root, fw, c, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int
codec_job_view_decode(const void *buf, size_t len, struct job_rec *job,
    struct jobs_counts *c, struct codec_job_sel *sel, char *err,
    size_t errlen)
{
	cJSON	*root;
	int	 rc;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	rc = job_view(root, job, c, sel, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int
codec_jobdev_view_decode(const void *buf, size_t len, struct jobdev_rec *jd,
    char *err, size_t errlen)
{
	cJSON	*root;
	int	 rc;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	rc = jobdev_view(root, jd, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int
codec_list_decode(const void *buf, size_t len, int view,
    int (*cb)(const void *, const struct jobs_counts *, void *), void *arg,
    char next[OTA_ID_MAX + 1], char *err, size_t errlen)
{
	union {
		struct device_rec d;
		struct firmware_rec fw;
		struct job_rec job;
		struct jobdev_rec jd;
		struct history_rec h;
	} *rec = NULL;
	struct jobs_counts counts;
	const cJSON *items, *it;
	cJSON	*root;
	int	 rc = -1, r;

	if (next != NULL)
		next[0] = '\0';
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	if (!cJSON_IsArray(items)) {
		json_fail(err, errlen, "missing \"items\"");
		goto out;
	}
	if (next != NULL && view_str(root, "next", next, OTA_ID_MAX + 1, 0,
	    err, errlen) != 0)
		goto out;
	if ((rec = malloc(sizeof(*rec))) == NULL) {
		json_fail(err, errlen, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(it, items) {
		memset(&counts, 0, sizeof(counts));
		switch (view) {
		case CODEC_VIEW_DEVICE:
			r = device_view(it, &rec->d, err, errlen);
			break;
		case CODEC_VIEW_FIRMWARE:
			r = firmware_view(it, &rec->fw, &counts, err, errlen);
			break;
		case CODEC_VIEW_JOB:
			r = job_view(it, &rec->job, &counts, NULL, err, errlen);
			break;
		case CODEC_VIEW_JOBDEV:
			r = jobdev_view(it, &rec->jd, err, errlen);
			break;
		case CODEC_VIEW_HISTORY:
			r = history_view(it, &rec->h, err, errlen);
			break;
		default:
			r = json_fail(err, errlen, "unknown view");
			break;
		}
		if (r != 0)
			goto out;
		if (cb(rec, view == CODEC_VIEW_FIRMWARE || view ==
		    CODEC_VIEW_JOB ? &counts : NULL, arg) != 0) {
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	free(rec);
	cJSON_Delete(root);
	return rc;
}

int
codec_numbers_decode(const void *buf, size_t len, const char *const *names,
    size_t n, int64_t *vals, int *present, char *err, size_t errlen)
{
	const cJSON *m;
	cJSON	*root;
	size_t	 i;
	int	 rc = -1;

	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		vals[i] = 0;
		present[i] = 0;
		m = cJSON_GetObjectItemCaseSensitive(root, names[i]);
		if (m == NULL || cJSON_IsNull(m))
			continue;
		if (!cJSON_IsNumber(m) || !(m->valuedouble >= -9e15 &&
		    m->valuedouble <= 9e15)) {
			json_fail(err, errlen, "bad \"%s\"", names[i]);
			goto out;
		}
		vals[i] = (int64_t)m->valuedouble;
		present[i] = 1;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int
codec_error_decode(const void *buf, size_t len, char *code, size_t codelen,
    char *message, size_t msglen)
{
	const cJSON *e, *m;
	cJSON	*root;
	int	 rc = -1;

	if ((root = object_parse(buf, len, NULL, 0)) == NULL)
		return -1;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	m = cJSON_GetObjectItemCaseSensitive(root, "message");
	if (cJSON_IsString(e) && e->valuestring != NULL) {
		snprintf(code, codelen, "%s", e->valuestring);
		snprintf(message, msglen, "%s", cJSON_IsString(m) &&
		    m->valuestring != NULL ? m->valuestring : "");
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

char *
codec_import_error_encode(const char *message,
    const struct codec_bad_line *lines, size_t n, size_t more, size_t *len)
{
	cJSON	*root = cJSON_CreateObject(), *arr, *o;
	int	 oom = root == NULL;
	size_t	 i;

	json_put_str(root, "error", "bad_request", &oom);
	json_put_str(root, "message", message != NULL ? message : "", &oom);
	if ((arr = cJSON_CreateArray()) == NULL)
		oom = 1;
	for (i = 0; arr != NULL && i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			oom = 1;
			break;
		}
		json_put_num(o, "line", lines[i].line, &oom);
		json_put_str(o, "message", lines[i].message != NULL ?
		    lines[i].message : "", &oom);
	}
	json_put_item(root, "lines", arr, &oom);
	json_put_num(root, "more", (double)more, &oom);
	return json_finish(root, oom, len);
}

int
codec_import_error_decode(const void *buf, size_t len,
    int (*cb)(unsigned line, const char *message, void *), void *arg,
    size_t *more, char *err, size_t errlen)
{
	const cJSON *lines, *m, *e, *l, *t;
	cJSON	*root;
	double	 v;
	int	 rc = -1;

	*more = 0;
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	lines = cJSON_GetObjectItemCaseSensitive(root, "lines");
	m = cJSON_GetObjectItemCaseSensitive(root, "more");
	if (!cJSON_IsString(e) || !cJSON_IsArray(lines)) {
		json_fail(err, errlen, "not an import error");
		goto out;
	}
	if (m != NULL) {
		if (uint_value(m, "more", 1e9, &v, err, errlen) != 0)
			goto out;
		*more = (size_t)v;
	}
	cJSON_ArrayForEach(e, lines) {
		l = cJSON_GetObjectItemCaseSensitive(e, "line");
		t = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (!cJSON_IsObject(e) || uint_value(l, "line", 1e9, &v, err,
		    errlen) != 0 || !cJSON_IsString(t) ||
		    t->valuestring == NULL) {
			json_fail(err, errlen, "bad member of lines");
			goto out;
		}
		if (cb((unsigned)v, t->valuestring, arg) != 0)
			break;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

char *
codec_product_encode(const struct product_rec *p, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	json_put_str(root, "product", p->id, &oom);
	json_put_str(root, "authorKey", p->author_key_len > 0 ?
	    p->author_key : NULL, &oom);
	put_time(root, "updated", p->updated, &oom);
	return json_finish(root, oom, len);
}

int
codec_product_view_decode(const void *buf, size_t len, struct product_rec *p,
    char *err, size_t errlen)
{
	cJSON	*root;
	int	 rc;

	memset(p, 0, sizeof(*p));
	if ((root = object_parse(buf, len, err, errlen)) == NULL)
		return -1;
	rc = view_str(root, "product", p->id, sizeof(p->id), 1, err,
	    errlen) != 0 || view_str(root, "authorKey", p->author_key,
	    sizeof(p->author_key), 0, err, errlen) != 0 ||
	    view_time(root, "updated", &p->updated, err, errlen) != 0 ? -1 : 0;
	p->author_key_len = strlen(p->author_key);
	cJSON_Delete(root);
	return rc;
}
