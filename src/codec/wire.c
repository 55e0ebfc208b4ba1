/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * wire.c: the device wire format, in JSON: the check and progress bodies
 * devices send, the notice they get back (CONTRACT §1), the error body
 * that goes with a refused request (to a device, or to an admin API
 * client), and the events that go upstream (CONTRACT §5), with the
 * sequence number and gateway name the relay stamps on them.
 *
 * The decoders read what any device on the network may send, through the
 * strict reader of json.c.  Members we do not know are ignored, so devices
 * may send more than we ask for.  The encoders write members in the order
 * the contract shows.  Every encoder returns a malloc'd string (free()) or
 * NULL when memory ran out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/wire.h"
#include "crypto/crypto.h"
#include "codec/json.h"
#include "util/validate.h"

/*
 * What devices send: check and progress bodies.
 */

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
	if (len == 0 || json_is_blank(buf, len))
		return 0;
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		goto out;
	if (!cJSON_IsObject(root)) {
		json_fail(err, errlen, "the body must be a JSON object");
		goto out;
	}
	if (json_member(root, "versions", &versions, err, errlen) != 0 ||
	    json_member(root, "version", &version, err, errlen) != 0 ||
	    json_member(root, "module", &module, err, errlen) != 0)
		goto out;

	if (versions != NULL) {
		if (version != NULL || module != NULL) {
			json_fail(err, errlen, "use either \"versions\" or "
			    "\"version\" and \"module\"");
			goto out;
		}
		if (!cJSON_IsObject(versions)) {
			json_fail(err, errlen,
			    "\"versions\" must be an object");
			goto out;
		}
		cJSON_ArrayForEach(c, versions) {
			if (out->nversions == OTA_MODULES_MAX) {
				json_fail(err, errlen, "more than %d modules",
				    OTA_MODULES_MAX);
				goto out;
			}
			if (c->string == NULL || !valid_module(c->string)) {
				json_fail(err, errlen, "invalid module name");
				goto out;
			}
			if (!cJSON_IsString(c) || c->valuestring == NULL ||
			    !valid_version(c->valuestring)) {
				json_fail(err, errlen, "invalid version of "
				    "module \"%s\"", c->string);
				goto out;
			}
			for (i = 0; i < out->nversions; i++) {
				if (strcmp(out->versions[i].module,
				    c->string) == 0) {
					json_fail(err, errlen, "repeated "
					    "module \"%s\"", c->string);
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
		if (json_string_member(root, "version", 1, valid_version,
		    mv->version, sizeof(mv->version), NULL, err, errlen) != 0)
			goto out;
		if (json_string_member(root, "module", 0, valid_module,
		    mv->module, sizeof(mv->module), &has_module, err,
		    errlen) != 0)
			goto out;
		if (!has_module)
			snprintf(mv->module, sizeof(mv->module), "default");
		out->nversions = 1;
	} else if (module != NULL && !cJSON_IsNull(module)) {
		json_fail(err, errlen, "\"module\" without \"version\"");
		goto out;
	}
	if (json_string_member(root, "requestVersion", 0, valid_version,
	    out->request_version, sizeof(out->request_version), NULL, err,
	    errlen) != 0)
		goto out;
	if (json_string_member(root, "nonce", 0, valid_id, out->nonce,
	    sizeof(out->nonce), NULL, err, errlen) != 0)
		goto out;
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
	if (len == 0 || json_is_blank(buf, len)) {
		json_fail(err, errlen, "empty body");
		goto out;
	}
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		goto out;
	if (!cJSON_IsObject(root)) {
		json_fail(err, errlen, "the body must be a JSON object");
		goto out;
	}
	if (json_string_member(root, "job", 1, valid_id, out->job,
	    sizeof(out->job), NULL, err, errlen) != 0)
		goto out;
	if (json_member(root, "step", &step, err, errlen) != 0)
		goto out;
	if (step == NULL) {
		json_fail(err, errlen, "missing \"step\"");
		goto out;
	}
	if (!cJSON_IsNumber(step)) {
		json_fail(err, errlen, "\"step\" must be a number");
		goto out;
	}
	d = step->valuedouble;
	/* NaN fails both comparisons; the cast is exact once in range */
	if (!(d >= -4 && d <= 100) || (double)(int)d != d) {
		json_fail(err, errlen,
		    "\"step\" must be an integer from -4 to 100");
		goto out;
	}
	out->step = (int)d;
	if (json_string_member(root, "desc", 0, valid_progress_desc, out->desc,
	    sizeof(out->desc), &out->has_desc, err, errlen) != 0)
		goto out;
	if (json_string_member(root, "version", 0, valid_version, out->version,
	    sizeof(out->version), &out->has_version, err, errlen) != 0)
		goto out;
	if (json_string_member(root, "module", 0, valid_module, out->module,
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
 * What devices and the upstream receive: notices, events, error bodies.
 */

/* "<base>/fw/<id>[?<query>]" (base without its trailing slashes). */
static char *
notice_url(const char *base, const char *path, const char *query)
{
	size_t	 n = strlen(base), qlen = query != NULL ? strlen(query) : 0;
	char	*url;

	while (n > 0 && base[n - 1] == '/')
		n--;
	if ((url = malloc(n + strlen(path) + 1 + qlen + 1)) == NULL)
		return NULL;
	memcpy(url, base, n);
	memcpy(url + n, path, strlen(path) + 1);
	if (qlen > 0) {
		strcat(url, "?");
		strcat(url, query);
	}
	return url;
}

/* The "delta" member of a notice. */
static void
notice_delta(cJSON *root, const struct notice_in *in, int *oom)
{
	const struct delta_rec *d = in->delta;
	char	 path[sizeof("/fw/") + OTA_ID_MAX], *url;
	cJSON	*o;

	if ((o = json_put_obj(root, "delta", oom)) == NULL)
		return;
	snprintf(path, sizeof(path), "/fw/%s", d->id);
	json_put_str(o, "firmware", d->id, oom);
	json_put_str(o, "format", d->format, oom);
	json_put_str(o, "from", d->from_version, oom);
	json_put_num(o, "size", (double)d->size, oom);
	json_put_hex(o, "sha256", d->sha256, sizeof(d->sha256), oom);
	json_put_str(o, "path", path, oom);
	if (in->url_base == NULL)
		return;
	if ((url = notice_url(in->url_base, path, in->delta_query)) == NULL)
		*oom = 1;
	else
		json_put_str(o, "url", url, oom);
	free(url);
}

char *
codec_notice_encode(const struct notice_in *in, size_t *len)
{
	const struct job_rec *job = in->job;
	const struct firmware_rec *fw = in->fw;
	char	 path[sizeof("/fw/") + OTA_ID_MAX], *url = NULL, *s;
	char	 sig[4 * ((OTA_SIG_MAX + 2) / 3) + 1];
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	snprintf(path, sizeof(path), "/fw/%s", fw->id);
	json_put_str(root, "job", job->id, &oom);
	json_put_str(root, "firmware", fw->id, &oom);
	json_put_str(root, "module", fw->module, &oom);
	json_put_str(root, "version", fw->version, &oom);
	json_put_num(root, "size", (double)fw->size, &oom);
	if (fw->sign_method == SIGN_MD5)
		json_put_hex(root, "sign", fw->md5, sizeof(fw->md5), &oom);
	else
		json_put_hex(root, "sign", fw->sha256, sizeof(fw->sha256),
		    &oom);
	json_put_str(root, "signMethod",
	    json_sign_method_name(fw->sign_method), &oom);
	json_put_str(root, "path", path, &oom);
	if (in->url_base != NULL) {
		if ((url = notice_url(in->url_base, path, in->url_query)) ==
		    NULL)
			oom = 1;
		else
			json_put_str(root, "url", url, &oom);
	}
	if (in->delta != NULL)
		notice_delta(root, in, &oom);
	json_put_bool(root, "confirm", job->confirm, &oom);
	json_put_num(root, "timeout", (double)job->timeout_min * 60, &oom);
	json_put_num(root, "seq", (double)fw->seq, &oom);
	if (job->allow_downgrade)
		json_put_bool(root, "downgrade", 1, &oom);
	if (fw->author_sig_len > 0 && fw->author_sig_len <= OTA_SIG_MAX) {
		crypto_base64(fw->author_sig, fw->author_sig_len, sig);
		json_put_str(root, "authorSig", sig, &oom);
	}
	if (in->device != NULL)
		json_put_str(root, "device", in->device, &oom);
	if (in->nonce != NULL && in->nonce[0] != '\0')
		json_put_str(root, "nonce", in->nonce, &oom);
	s = json_finish(root, oom, len);
	free(url);
	return s;
}

char *
codec_event_encode(const struct event *ev, size_t *len)
{
	static const char *const types[] = { "inform", "state", "progress",
	    "transfer" };
	cJSON	*root = cJSON_CreateObject();
	char	 ts[32];
	int	 oom = root == NULL;


	/* always a string: codec_event_stamp relies on {"ts":"...", */
	time_format_rfc3339(ev->ts, ts);
	json_put_str(root, "ts", ts, &oom);
	json_put_str(root, "device", ev->device != NULL ? ev->device : "",
	    &oom);
	json_put_str(root, "type", json_name_of(types, 4, ev->type), &oom);
	if (ev->job != NULL)
		json_put_str(root, "job", ev->job, &oom);
	if (ev->firmware != NULL)
		json_put_str(root, "firmware", ev->firmware, &oom);
	if (ev->module != NULL)
		json_put_str(root, "module", ev->module, &oom);
	if (ev->state != NULL)
		json_put_str(root, "state", ev->state, &oom);
	if (ev->reason != NULL && *ev->reason != '\0')
		json_put_str(root, "reason", ev->reason, &oom);
	if (ev->has_step)
		json_put_num(root, "step", ev->step, &oom);
	if (ev->desc != NULL)
		json_put_str(root, "desc", ev->desc, &oom);
	if (ev->details != NULL)
		json_put_item(root, "details", cJSON_Parse(ev->details), &oom);
	if (ev->version != NULL)
		json_put_str(root, "version", ev->version, &oom);
	if (ev->downgrade)
		json_put_bool(root, "downgrade", 1, &oom);
	if (ev->versions != NULL && ev->nversions > 0)
		json_put_versions(root, "versions", ev->versions, ev->nversions,
		    &oom);
	if (ev->has_bytes) {
		json_put_num(root, "bytes", (double)ev->bytes, &oom);
		json_put_num(root, "size", (double)ev->size, &oom);
	}
	return json_finish(root, oom, len);
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

	json_put_str(root, "error", code != NULL ? code : "error", &oom);
	json_put_str(root, "message", message != NULL ? message : "", &oom);
	return json_finish(root, oom, len);
}
