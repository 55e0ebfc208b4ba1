/*
 * json.c: every JSON document otagw reads or writes, and the only file that
 * includes <cjson/cJSON.h>.
 *
 * Decoders are strict, because their input comes from devices on the
 * network: the whole body must be UTF-8, nesting is counted before cJSON
 * sees the text (so a hostile body cannot make the parser recurse), raw
 * control characters and \u0000 in strings are refused, every member we
 * read must have its exact type and pass the name rules of CONTRACT, and a
 * member we read may not appear twice.  Members we do not know are
 * ignored, so devices may send more than we ask for.
 *
 * Encoders build a cJSON tree in the order the contract shows and print it
 * compactly.  Times go out as RFC 3339 UTC strings with milliseconds, or
 * null when unset.  Every encoder returns a malloc'd string (free()) or
 * NULL when memory ran out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/codec.h"
#include "jobs/jobs.h"
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
name_of(const char *const *names, size_t n, int i)
{
	if (i < 0 || (size_t)i >= n)
		return "UNKNOWN";
	return names[i];
}

static const char *
jd_state_name(int s)
{
	return name_of(jd_state_names, JD_NSTATES, s);
}

static const char *
job_state_name(int s)
{
	static const char *const names[] = {
		"SCHEDULED", "RUNNING", "PAUSED", "COMPLETED", "TERMINATED",
	};

	return name_of(names, sizeof(names) / sizeof(names[0]), s);
}

static const char *
fw_state_name(int s)
{
	static const char *const names[] = {
		"UNVERIFIED", "VERIFIED", "VERIFY_FAILED",
	};

	return name_of(names, sizeof(names) / sizeof(names[0]), s);
}

static const char *
sign_method_name(int m)
{
	return m == SIGN_MD5 ? "MD5" : "SHA256";
}

/*
 * Decoding.
 */

static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_blank(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!is_ws(buf[i]))
			return 0;
	return 1;
}

/*
 * A pass over the raw text before the parser runs: nesting depth, NUL
 * bytes, raw control characters and \u0000 inside strings.
 */
static int
json_prescan(const char *buf, size_t len, char *err, size_t errlen)
{
	size_t	 i;
	int	 depth = 0, in_str = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)buf[i];
		if (in_str) {
			if (c == '\\') {
				if (i + 5 < len && buf[i + 1] == 'u' &&
				    memcmp(buf + i + 2, "0000", 4) == 0)
					return fail(err, errlen,
					    "\\u0000 in a string");
				i++;
			} else if (c == '"')
				in_str = 0;
			else if (c < 0x20)
				return fail(err, errlen,
				    "control character in a string at byte %zu",
				    i);
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > CODEC_MAX_DEPTH)
				return fail(err, errlen,
				    "nesting deeper than %d", CODEC_MAX_DEPTH);
			break;
		case ']':
		case '}':
			depth--;
			break;
		case '\0':
			return fail(err, errlen, "NUL byte at %zu", i);
		}
	}
	return 0;
}

static cJSON *
json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON	*root;
	size_t	 i;

	if (utf8_length(buf, len) < 0) {
		fail(err, errlen, "the body is not UTF-8");
		return NULL;
	}
	if (json_prescan(buf, len, err, errlen) != 0)
		return NULL;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		if (end != NULL && end >= buf && end <= buf + len)
			fail(err, errlen, "malformed JSON at byte %zu",
			    (size_t)(end - buf));
		else
			fail(err, errlen, "malformed JSON");
		return NULL;
	}
	i = end != NULL && end >= buf && end <= buf + len ?
	    (size_t)(end - buf) : len;
	for (; i < len; i++) {
		if (!is_ws(buf[i])) {
			cJSON_Delete(root);
			fail(err, errlen, "data after the JSON value at byte %zu",
			    i);
			return NULL;
		}
	}
	return root;
}

/* The member called name, or NULL; a repeated one is an error. */
static int
member(const cJSON *obj, const char *name, const cJSON **out, char *err,
    size_t errlen)
{
	const cJSON *c;

	*out = NULL;
	cJSON_ArrayForEach(c, obj) {
		if (c->string == NULL || strcmp(c->string, name) != 0)
			continue;
		if (*out != NULL)
			return fail(err, errlen, "repeated member \"%s\"",
			    name);
		*out = c;
	}
	return 0;
}

/*
 * A string member that must pass `valid' and fit dst.  A missing member
 * (or null when optional) leaves *present 0.
 */
static int
string_member(const cJSON *obj, const char *name, int required,
    int (*valid)(const char *), char *dst, size_t dstsize, int *present,
    char *err, size_t errlen)
{
	const cJSON *m;

	if (present != NULL)
		*present = 0;
	if (member(obj, name, &m, err, errlen) != 0)
		return -1;
	if (m == NULL || (!required && cJSON_IsNull(m))) {
		if (required)
			return fail(err, errlen, "missing \"%s\"", name);
		return 0;
	}
	if (!cJSON_IsString(m) || m->valuestring == NULL)
		return fail(err, errlen, "\"%s\" must be a string", name);
	if (!valid(m->valuestring) || strlen(m->valuestring) >= dstsize)
		return fail(err, errlen, "invalid \"%s\"", name);
	memcpy(dst, m->valuestring, strlen(m->valuestring) + 1);
	if (present != NULL)
		*present = 1;
	return 0;
}

int
codec_check_decode(const void *vbuf, size_t len, struct check_body *out,
    char *err, size_t errlen)
{
	const char *buf = vbuf;
	const cJSON *versions, *version, *module, *c;
	struct module_version *mv;
	cJSON	*root = NULL;
	unsigned i;
	int	 rc = -1, has_module;

	memset(out, 0, sizeof(*out));
	if (len == 0 || is_blank(buf, len))
		return 0;
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		goto out;
	if (!cJSON_IsObject(root)) {
		fail(err, errlen, "the body must be a JSON object");
		goto out;
	}
	if (member(root, "versions", &versions, err, errlen) != 0 ||
	    member(root, "version", &version, err, errlen) != 0 ||
	    member(root, "module", &module, err, errlen) != 0)
		goto out;

	if (versions != NULL) {
		if (version != NULL || module != NULL) {
			fail(err, errlen, "use either \"versions\" or "
			    "\"version\" and \"module\"");
			goto out;
		}
		if (!cJSON_IsObject(versions)) {
			fail(err, errlen, "\"versions\" must be an object");
			goto out;
		}
		cJSON_ArrayForEach(c, versions) {
			if (out->nversions == OTA_MODULES_MAX) {
				fail(err, errlen, "more than %d modules",
				    OTA_MODULES_MAX);
				goto out;
			}
			if (c->string == NULL || !valid_module(c->string)) {
				fail(err, errlen, "invalid module name");
				goto out;
			}
			if (!cJSON_IsString(c) || c->valuestring == NULL ||
			    !valid_version(c->valuestring)) {
				fail(err, errlen, "invalid version of module "
				    "\"%s\"", c->string);
				goto out;
			}
			for (i = 0; i < out->nversions; i++) {
				if (strcmp(out->versions[i].module,
				    c->string) == 0) {
					fail(err, errlen, "repeated module "
					    "\"%s\"", c->string);
					goto out;
				}
			}
			mv = &out->versions[out->nversions++];
			snprintf(mv->module, sizeof(mv->module), "%s",
			    c->string);
			snprintf(mv->version, sizeof(mv->version), "%s",
			    c->valuestring);
		}
	} else if (version != NULL) {
		mv = &out->versions[0];
		if (string_member(root, "version", 1, valid_version,
		    mv->version, sizeof(mv->version), NULL, err, errlen) != 0)
			goto out;
		if (string_member(root, "module", 0, valid_module, mv->module,
		    sizeof(mv->module), &has_module, err, errlen) != 0)
			goto out;
		if (!has_module)
			snprintf(mv->module, sizeof(mv->module), "default");
		out->nversions = 1;
	} else if (module != NULL && !cJSON_IsNull(module)) {
		fail(err, errlen, "\"module\" without \"version\"");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
codec_progress_decode(const void *vbuf, size_t len, struct progress_body *out,
    char *err, size_t errlen)
{
	const char *buf = vbuf;
	const cJSON *step;
	cJSON	*root = NULL;
	double	 d;
	int	 rc = -1;

	memset(out, 0, sizeof(*out));
	if (len == 0 || is_blank(buf, len)) {
		fail(err, errlen, "empty body");
		goto out;
	}
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		goto out;
	if (!cJSON_IsObject(root)) {
		fail(err, errlen, "the body must be a JSON object");
		goto out;
	}
	if (string_member(root, "job", 1, valid_id, out->job, sizeof(out->job),
	    NULL, err, errlen) != 0)
		goto out;
	if (member(root, "step", &step, err, errlen) != 0)
		goto out;
	if (step == NULL) {
		fail(err, errlen, "missing \"step\"");
		goto out;
	}
	if (!cJSON_IsNumber(step)) {
		fail(err, errlen, "\"step\" must be a number");
		goto out;
	}
	d = step->valuedouble;
	/* NaN fails both comparisons; the cast is exact once in range */
	if (!(d >= -4 && d <= 100) || (double)(int)d != d) {
		fail(err, errlen, "\"step\" must be an integer from -4 to 100");
		goto out;
	}
	out->step = (int)d;
	if (string_member(root, "desc", 0, valid_progress_desc, out->desc,
	    sizeof(out->desc), &out->has_desc, err, errlen) != 0)
		goto out;
	if (string_member(root, "version", 0, valid_version, out->version,
	    sizeof(out->version), &out->has_version, err, errlen) != 0)
		goto out;
	if (string_member(root, "module", 0, valid_module, out->module,
	    sizeof(out->module), NULL, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/*
 * Encoding.  The put_* helpers record a failed allocation in *oom, so that
 * a document is never printed with a member silently missing.
 */

static void
put_item(cJSON *obj, const char *key, cJSON *item, int *oom)
{
	if (item == NULL || obj == NULL ||
	    !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		*oom = 1;
	}
}

static void
put_str(cJSON *obj, const char *key, const char *val, int *oom)
{
	put_item(obj, key, val != NULL ? cJSON_CreateString(val) :
	    cJSON_CreateNull(), oom);
}

/* A string, or null when empty. */
static void
put_str_or_null(cJSON *obj, const char *key, const char *val, int *oom)
{
	put_str(obj, key, val != NULL && *val != '\0' ? val : NULL, oom);
}

static void
put_num(cJSON *obj, const char *key, double val, int *oom)
{
	put_item(obj, key, cJSON_CreateNumber(val), oom);
}

static void
put_bool(cJSON *obj, const char *key, int val, int *oom)
{
	put_item(obj, key, cJSON_CreateBool(val != 0), oom);
}

static void
put_time(cJSON *obj, const char *key, int64_t ms, int *oom)
{
	char	 buf[32];

	if (ms == 0) {
		put_str(obj, key, NULL, oom);
		return;
	}
	time_format_rfc3339(ms, buf);
	put_str(obj, key, buf, oom);
}

static void
put_hex(cJSON *obj, const char *key, const uint8_t *p, size_t n, int *oom)
{
	char	 buf[2 * 32 + 1];

	if (n > 32) {
		*oom = 1;
		return;
	}
	hex_encode(p, n, buf);
	put_str(obj, key, buf, oom);
}

static cJSON *
put_obj(cJSON *obj, const char *key, int *oom)
{
	cJSON	*o = cJSON_CreateObject();

	put_item(obj, key, o, oom);
	return *oom ? NULL : o;
}

static void
put_versions(cJSON *obj, const char *key, const struct module_version *v,
    unsigned n, int *oom)
{
	cJSON	*o = put_obj(obj, key, oom);
	unsigned i;

	for (i = 0; o != NULL && i < n && i < OTA_MODULES_MAX; i++)
		put_str(o, v[i].module, v[i].version, oom);
}

static void
put_counts(cJSON *obj, const struct jobs_counts *c, int *oom)
{
	cJSON	*o = put_obj(obj, "counts", oom);
	int	 s;

	if (o == NULL)
		return;
	for (s = 0; s < JD_NSTATES; s++)
		put_num(o, jd_state_names[s], (double)c->n[s], oom);
	put_num(o, "total", (double)c->total, oom);
}

/* Prints and frees the tree; NULL when anything failed. */
static char *
finish(cJSON *root, int oom, size_t *len)
{
	char	*s = NULL;

	if (root != NULL && !oom)
		s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (len != NULL)
		*len = s != NULL ? strlen(s) : 0;
	return s;
}

char *
codec_notice_encode(const struct job_rec *job, const struct firmware_rec *fw,
    const char *url_base, size_t *len)
{
	char	 path[sizeof("/fw/") + OTA_ID_MAX], *url = NULL, *s;
	cJSON	*root = cJSON_CreateObject();
	size_t	 n;
	int	 oom = root == NULL;

	snprintf(path, sizeof(path), "/fw/%s", fw->id);
	put_str(root, "job", job->id, &oom);
	put_str(root, "firmware", fw->id, &oom);
	put_str(root, "module", fw->module, &oom);
	put_str(root, "version", fw->version, &oom);
	put_num(root, "size", (double)fw->size, &oom);
	if (fw->sign_method == SIGN_MD5)
		put_hex(root, "sign", fw->md5, sizeof(fw->md5), &oom);
	else
		put_hex(root, "sign", fw->sha256, sizeof(fw->sha256), &oom);
	put_str(root, "signMethod", sign_method_name(fw->sign_method), &oom);
	put_str(root, "path", path, &oom);
	if (url_base != NULL) {
		n = strlen(url_base);
		while (n > 0 && url_base[n - 1] == '/')
			n--;
		if ((url = malloc(n + strlen(path) + 1)) == NULL)
			oom = 1;
		else {
			memcpy(url, url_base, n);
			memcpy(url + n, path, strlen(path) + 1);
			put_str(root, "url", url, &oom);
		}
	}
	put_bool(root, "confirm", job->confirm, &oom);
	put_num(root, "timeout", (double)job->timeout_min * 60, &oom);
	s = finish(root, oom, len);
	free(url);
	return s;
}

char *
codec_event_encode(const struct event *ev, size_t *len)
{
	static const char *const types[] = { "inform", "state", "progress" };
	cJSON	*root = cJSON_CreateObject();
	char	 ts[32];
	int	 oom = root == NULL;


	/* always a string: codec_event_stamp relies on {"ts":"...", */
	time_format_rfc3339(ev->ts, ts);
	put_str(root, "ts", ts, &oom);
	put_str(root, "device", ev->device != NULL ? ev->device : "", &oom);
	put_str(root, "type", name_of(types, 3, ev->type), &oom);
	if (ev->job != NULL)
		put_str(root, "job", ev->job, &oom);
	if (ev->firmware != NULL)
		put_str(root, "firmware", ev->firmware, &oom);
	if (ev->module != NULL)
		put_str(root, "module", ev->module, &oom);
	if (ev->state != NULL)
		put_str(root, "state", ev->state, &oom);
	if (ev->reason != NULL && *ev->reason != '\0')
		put_str(root, "reason", ev->reason, &oom);
	if (ev->has_step)
		put_num(root, "step", ev->step, &oom);
	if (ev->desc != NULL)
		put_str(root, "desc", ev->desc, &oom);
	if (ev->version != NULL)
		put_str(root, "version", ev->version, &oom);
	if (ev->versions != NULL && ev->nversions > 0)
		put_versions(root, "versions", ev->versions, ev->nversions,
		    &oom);
	return finish(root, oom, len);
}

/* Appends s as a JSON string; returns the bytes written (n must be big). */
static size_t
escape_into(char *dst, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 o = 0;
	unsigned char c;

	dst[o++] = '"';
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20) {
			memcpy(dst + o, "\\u00", 4);
			o += 4;
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else
			dst[o++] = (char)c;
	}
	dst[o++] = '"';
	return o;
}

char *
codec_event_stamp(const char *data, size_t len, uint64_t seq,
    const char *gateway, size_t *outlen)
{
	const char *q = NULL, *rest;
	char	 head[48], *out;
	size_t	 hn, cap, o, tslen = 0;

	if (len < 2 || data[0] != '{' || data[len - 1] != '}')
		return NULL;
	if (gateway == NULL)
		gateway = "";
	if (len > 7 && memcmp(data, "{\"ts\":\"", 7) == 0)
		q = memchr(data + 7, '"', len - 7);
	if (q != NULL && (size_t)(q - data) + 2 < len && q[1] == ',') {
		tslen = (size_t)(q + 1 - (data + 1));	/* "ts":"..." */
		rest = q + 2;
	} else
		rest = data + 1;
	hn = (size_t)snprintf(head, sizeof(head), "{\"seq\":%llu,",
	    (unsigned long long)seq);
	cap = hn + len + sizeof(",\"gateway\":,") + 6 * strlen(gateway) + 2;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	memcpy(out, head, hn);
	o = hn;
	if (tslen > 0) {
		memcpy(out + o, data + 1, tslen);
		o += tslen;
		out[o++] = ',';
	}
	memcpy(out + o, "\"gateway\":", 10);
	o += 10;
	o += escape_into(out + o, gateway);
	if (*rest != '}')
		out[o++] = ',';
	memcpy(out + o, rest, (size_t)(data + len - rest));
	o += (size_t)(data + len - rest);
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return out;
}

char *
codec_error_encode(const char *code, const char *message, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	put_str(root, "error", code != NULL ? code : "error", &oom);
	put_str(root, "message", message != NULL ? message : "", &oom);
	return finish(root, oom, len);
}

char *
codec_device_encode(const struct device_rec *d, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	put_str(root, "id", d->id, &oom);
	put_str(root, "product", d->product, &oom);
	put_versions(root, "versions", d->versions, d->nversions, &oom);
	put_bool(root, "psk", d->psk_len > 0, &oom);
	put_bool(root, "secret", d->has_secret, &oom);
	put_time(root, "created", d->created, &oom);
	put_time(root, "lastSeen", d->last_seen, &oom);
	return finish(root, oom, len);
}

char *
codec_firmware_encode(const struct firmware_rec *fw,
    const struct jobs_counts *counts, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	put_str(root, "id", fw->id, &oom);
	put_str(root, "product", fw->product, &oom);
	put_str(root, "module", fw->module, &oom);
	put_str(root, "version", fw->version, &oom);
	put_str(root, "name", fw->name, &oom);
	put_str(root, "description", fw->description, &oom);
	put_str(root, "signMethod", sign_method_name(fw->sign_method), &oom);
	put_num(root, "size", (double)fw->size, &oom);
	put_hex(root, "md5", fw->md5, sizeof(fw->md5), &oom);
	put_hex(root, "sha256", fw->sha256, sizeof(fw->sha256), &oom);
	put_str(root, "state", fw_state_name(fw->state), &oom);
	put_time(root, "created", fw->created, &oom);
	if (counts != NULL)
		put_counts(root, counts, &oom);
	return finish(root, oom, len);
}

char *
codec_job_encode(const struct job_rec *job, const struct jobs_counts *counts,
    size_t *len)
{
	static const char *const scopes[] = { "all", "devices", "gray" };
	cJSON	*root = cJSON_CreateObject(), *arr, *o;
	unsigned i;
	int	 oom = root == NULL;

	put_str(root, "id", job->id, &oom);
	put_str(root, "firmware", job->firmware, &oom);
	put_str(root, "product", job->product, &oom);
	put_str(root, "module", job->module, &oom);
	put_str(root, "version", job->version, &oom);
	put_str(root, "kind", job->kind == JOB_KIND_VERIFY ? "verify" :
	    "batch", &oom);
	put_str(root, "state", job_state_name(job->state), &oom);
	put_str(root, "scope", name_of(scopes, 3, job->scope), &oom);
	put_str(root, "strategy", job->dynamic ? "dynamic" : "static", &oom);
	put_str(root, "confirm", job->confirm ? "user" : "silent", &oom);
	arr = cJSON_CreateArray();
	put_item(root, "srcVersions", arr, &oom);
	for (i = 0; !oom && i < job->nsrc && i < OTA_SRCVER_MAX; i++) {
		cJSON	*v = cJSON_CreateString(job->src_versions[i]);

		if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
			cJSON_Delete(v);
			oom = 1;
		}
	}
	put_num(root, "ratePerMinute", job->rate_per_minute, &oom);
	if ((o = put_obj(root, "retry", &oom)) != NULL) {
		put_num(o, "count", job->retry_count, &oom);
		put_num(o, "intervalMinutes", job->retry_interval_min, &oom);
	}
	put_num(root, "timeoutMinutes", job->timeout_min, &oom);
	put_time(root, "start", job->start, &oom);
	put_time(root, "end", job->end, &oom);
	put_time(root, "created", job->created, &oom);
	put_time(root, "started", job->started, &oom);
	put_time(root, "finished", job->finished, &oom);
	/* beyond the common shape: the rules an operator wants to see */
	if (job->scope == JOB_SCOPE_GRAY)
		put_num(root, "grayPercent", job->gray_percent, &oom);
	else
		put_str(root, "grayPercent", NULL, &oom);
	if (job->abort_percent < 0)
		put_str(root, "abort", NULL, &oom);
	else if ((o = put_obj(root, "abort", &oom)) != NULL) {
		put_num(o, "failurePercent", job->abort_percent, &oom);
		put_num(o, "minDevices", job->abort_min_devices, &oom);
	}
	if (counts != NULL)
		put_counts(root, counts, &oom);
	return finish(root, oom, len);
}

char *
codec_jobdev_encode(const struct jobdev_rec *jd, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	put_str(root, "job", jd->job, &oom);
	put_str(root, "device", jd->device, &oom);
	put_str(root, "state", jd_state_name(jd->state), &oom);
	put_str_or_null(root, "reason", jd->reason, &oom);
	put_num(root, "step", jd->step, &oom);
	put_str_or_null(root, "desc", jd->desc, &oom);
	put_num(root, "retries", jd->retries, &oom);
	put_str_or_null(root, "version", jd->last_version, &oom);
	put_time(root, "created", jd->created, &oom);
	put_time(root, "notified", jd->notified, &oom);
	put_time(root, "started", jd->started, &oom);
	put_time(root, "updated", jd->updated, &oom);
	return finish(root, oom, len);
}
