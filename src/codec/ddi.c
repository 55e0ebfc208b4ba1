/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ddi.c: hawkBit DDI bodies (see ddi.h).
 *
 * The spellings follow hawkBit's DDI model classes: an action id is a
 * JSON string ("id":"7"), "sleep" is HH:MM:SS, hash names are sha1, md5
 * and sha256, the artifact links are download, download-http, md5sum and
 * md5sum-http.  Devices send the action id as a number (SWUpdate) or a
 * string (rauc-hawkbit-updater); hawkBit ignores it, and so do we.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ddi.h"
#include "codec/json.h"
#include "util/validate.h"

#define DDI_ATTR_KEY_MAX	128	/* characters */
#define DDI_ATTR_VALUE_MAX	128

static const char *const ddi_executions[] = {
	"closed", "proceeding", "canceled", "scheduled", "rejected",
	"resumed", "downloaded", "download",
};

static const char *const ddi_finisheds[] = {
	"success", "failure", "none",
};

/* obj's member name as an object; NULL with err when it is not one. */
static const cJSON *
ddi_object(const cJSON *obj, const char *name, int required, char *err,
    size_t errlen)
{
	const cJSON *m;

	if (json_member(obj, name, &m, err, errlen) != 0)
		return NULL;
	if (m == NULL || cJSON_IsNull(m)) {
		if (required)
			json_fail(err, errlen, "missing \"%s\"", name);
		else
			err[0] = '\0';
		return NULL;
	}
	if (!cJSON_IsObject(m)) {
		json_fail(err, errlen, "\"%s\" must be an object", name);
		return NULL;
	}
	return m;
}

/* A required member that is one of names: its index, or -1 with err. */
static int
ddi_enum_member(const cJSON *obj, const char *name,
    const char *const *names, size_t n, char *err, size_t errlen)
{
	const cJSON *m;
	int	 i;

	if (json_member(obj, name, &m, err, errlen) != 0)
		return -1;
	if (m == NULL)
		return json_fail(err, errlen, "missing \"%s\"", name);
	if (!cJSON_IsString(m) || m->valuestring == NULL ||
	    (i = json_index_of(names, n, m->valuestring)) < 0)
		return json_fail(err, errlen, "bad \"%s\"", name);
	return i;
}

/*
 * Appends s to dst (a desc of at most OTA_PDESC_MAX characters, size
 * bytes), cut at a character boundary; returns -1 once dst is full.
 */
static int
ddi_append(char *dst, size_t size, long *chars, const char *s)
{
	size_t	 len = strlen(dst), n;
	unsigned char c;

	while (*s != '\0') {
		c = (unsigned char)*s;
		n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (*chars >= OTA_PDESC_MAX || len + n >= size ||
		    strnlen(s, n) < n)
			return -1;
		/* control characters would only garble a log line */
		dst[len] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		memcpy(dst + len + 1, s + 1, n - 1);
		len += n;
		s += n;
		(*chars)++;
	}
	dst[len] = '\0';
	return 0;
}

/*
 * The details d (an array of strings) as a JSON array in all (size
 * bytes): as many as fit, each escaped once, so the cost stays linear.
 */
static void
ddi_details_all(const cJSON *d, char *all, size_t size)
{
	const cJSON *it;
	cJSON	*s;
	char	*text;
	size_t	 len = 1, n;

	all[0] = '\0';
	if (size < 3 || d->child == NULL)
		return;
	all[0] = '[';
	cJSON_ArrayForEach(it, d) {
		if ((s = cJSON_CreateString(it->valuestring)) == NULL)
			break;
		text = cJSON_PrintUnformatted(s);
		cJSON_Delete(s);
		if (text == NULL)
			break;
		n = strlen(text);
		if (len + n + 3 > size) {
			free(text);
			break;
		}
		if (len > 1)
			all[len++] = ',';
		memcpy(all + len, text, n);
		len += n;
		free(text);
	}
	all[len++] = ']';
	all[len] = '\0';
}

/* "details": strings, joined into fb->details. */
static int
ddi_details(const cJSON *status, struct ddi_feedback *fb, char *err,
    size_t errlen)
{
	const cJSON *d, *it;
	long	 chars = 0;
	int	 first = 1, full = 0;

	if (json_member(status, "details", &d, err, errlen) != 0)
		return -1;
	if (d == NULL || cJSON_IsNull(d))
		return 0;
	if (!cJSON_IsArray(d))
		return json_fail(err, errlen, "\"details\" must be an array");
	cJSON_ArrayForEach(it, d) {
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			return json_fail(err, errlen, "\"details\" must hold "
			    "strings");
		if (full || it->valuestring[0] == '\0')
			continue;
		if ((!first && ddi_append(fb->details, sizeof(fb->details),
		    &chars, " | ") != 0) || ddi_append(fb->details,
		    sizeof(fb->details), &chars, it->valuestring) != 0)
			full = 1;
		first = 0;
	}
	ddi_details_all(d, fb->all, sizeof(fb->all));
	return 0;
}

/* result.progress {"cnt":N,"of":N}: cnt required, both 0..2^53. */
static int
ddi_progress(const cJSON *result, struct ddi_feedback *fb, char *err,
    size_t errlen)
{
	const cJSON *p, *cnt, *of;

	if ((p = ddi_object(result, "progress", 0, err, errlen)) == NULL)
		return err[0] != '\0' ? -1 : 0;
	if (json_member(p, "cnt", &cnt, err, errlen) != 0 ||
	    json_member(p, "of", &of, err, errlen) != 0)
		return -1;
	if (cnt == NULL || !cJSON_IsNumber(cnt) || cnt->valuedouble < 0 ||
	    cnt->valuedouble > 9007199254740992.0)
		return json_fail(err, errlen, "bad \"progress\".\"cnt\"");
	if (of != NULL && !cJSON_IsNull(of) && (!cJSON_IsNumber(of) ||
	    of->valuedouble < 0 || of->valuedouble > 9007199254740992.0))
		return json_fail(err, errlen, "bad \"progress\".\"of\"");
	fb->has_progress = 1;
	fb->cnt = (long long)cnt->valuedouble;
	fb->of = of != NULL && cJSON_IsNumber(of) ?
	    (long long)of->valuedouble : 0;
	return 0;
}

int
codec_ddi_feedback_decode(const void *buf, size_t len,
    struct ddi_feedback *fb, char *err, size_t errlen)
{
	const cJSON *status, *result;
	cJSON	*root;
	int	 rc = -1;

	memset(fb, 0, sizeof(*fb));
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if (!cJSON_IsObject(root)) {
		json_fail(err, errlen, "the body must be a JSON object");
		goto out;
	}
	if ((status = ddi_object(root, "status", 1, err, errlen)) == NULL ||
	    (result = ddi_object(status, "result", 1, err, errlen)) == NULL)
		goto out;
	if ((fb->execution = ddi_enum_member(status, "execution",
	    ddi_executions, 8, err, errlen)) < 0 ||
	    (fb->finished = ddi_enum_member(result, "finished",
	    ddi_finisheds, 3, err, errlen)) < 0)
		goto out;
	if (ddi_progress(result, fb, err, errlen) != 0 ||
	    ddi_details(status, fb, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/* 1 when s holds a control character (C0 or DEL). */
static int
ddi_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * One attribute: key 1-128, value 0-128 characters of UTF-8, neither
 * with a control character (the attributes are printed on operators'
 * terminals by otactl device show).
 */
static int
ddi_attr_ok(const cJSON *it)
{
	long	 k, v;

	if (it->string == NULL || !cJSON_IsString(it) ||
	    it->valuestring == NULL || ddi_has_control(it->string) ||
	    ddi_has_control(it->valuestring))
		return 0;
	k = utf8_length(it->string, strlen(it->string));
	v = utf8_length(it->valuestring, strlen(it->valuestring));
	return k >= 1 && k <= DDI_ATTR_KEY_MAX && v >= 0 &&
	    v <= DDI_ATTR_VALUE_MAX;
}

/* Applies data to attrs (an object) by mode; 0 or -1 (out of memory). */
static int
ddi_attrs_apply(cJSON *attrs, const cJSON *data, const char *mode)
{
	const cJSON *it;
	cJSON	*dup;

	if (strcmp(mode, "replace") == 0)
		while (attrs->child != NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(attrs,
			    attrs->child->string);
	cJSON_ArrayForEach(it, data) {
		cJSON_DeleteItemFromObjectCaseSensitive(attrs, it->string);
		if (strcmp(mode, "remove") == 0)
			continue;
		if ((dup = cJSON_CreateString(it->valuestring)) == NULL)
			return -1;
		cJSON_AddItemToObject(attrs, it->string, dup);
	}
	return 0;
}

/* The request's "mode" (default merge) and "data"; -1 with err. */
static int
ddi_config_read(const cJSON *root, const char **mode, const cJSON **data,
    char *err, size_t errlen)
{
	static const char *const modes[] = { "merge", "replace", "remove" };
	const cJSON *m, *it;
	int	 n = 0;

	if (!cJSON_IsObject(root))
		return json_fail(err, errlen, "the body must be a JSON object");
	if (json_member(root, "mode", &m, err, errlen) != 0)
		return -1;
	*mode = "merge";
	if (m != NULL && !cJSON_IsNull(m)) {
		if (!cJSON_IsString(m) || m->valuestring == NULL ||
		    json_index_of(modes, 3, m->valuestring) < 0)
			return json_fail(err, errlen, "\"mode\" must be merge, "
			    "replace or remove");
		*mode = m->valuestring;
	}
	if ((*data = ddi_object(root, "data", 1, err, errlen)) == NULL)
		return -1;
	cJSON_ArrayForEach(it, *data) {
		if (!ddi_attr_ok(it)) {
			json_fail(err, errlen, "attributes are strings: keys "
			    "of 1-%d, values of at most %d characters",
			    DDI_ATTR_KEY_MAX, DDI_ATTR_VALUE_MAX);
			return -2;
		}
		n++;
	}
	if (n == 0)
		return json_fail(err, errlen, "\"data\" must not be empty");
	return 0;
}

int
codec_ddi_config_apply(const void *buf, size_t len, const char *old,
    char **out, size_t *outlen, char *err, size_t errlen)
{
	const cJSON *data = NULL;
	const char *mode = "merge";
	cJSON	*root, *attrs = NULL;
	int	 rc = -1;

	*out = NULL;
	*outlen = 0;
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if ((rc = ddi_config_read(root, &mode, &data, err, errlen)) != 0)
		goto done;
	rc = -1;
	attrs = old != NULL && old[0] != '\0' ? cJSON_Parse(old) :
	    cJSON_CreateObject();
	if (attrs == NULL || !cJSON_IsObject(attrs) ||
	    ddi_attrs_apply(attrs, data, mode) != 0) {
		json_fail(err, errlen, "out of memory or bad attributes held");
		goto done;
	}
	if (cJSON_GetArraySize(attrs) > DDI_ATTRS_MAX) {
		json_fail(err, errlen, "more than %d attributes",
		    DDI_ATTRS_MAX);
		rc = -2;
		goto done;
	}
	rc = 0;
	if (attrs->child == NULL)
		goto done;		/* none left */
	if ((*out = cJSON_PrintUnformatted(attrs)) == NULL) {
		rc = json_fail(err, errlen, "out of memory");
		goto done;
	}
	*outlen = strlen(*out);
done:
	cJSON_Delete(attrs);
	cJSON_Delete(root);
	return rc;
}

/* {"href":"<base><suffix>"} under links as name. */
static void
ddi_link(cJSON *links, const char *name, const char *base,
    const char *suffix, int *oom)
{
	cJSON	*l;
	char	*href;
	size_t	 n = strlen(base) + strlen(suffix) + 1;

	if ((href = malloc(n)) == NULL) {
		*oom = 1;
		return;
	}
	snprintf(href, n, "%s%s", base, suffix);
	if ((l = json_put_obj(links, name, oom)) != NULL)
		json_put_str(l, "href", href, oom);
	free(href);
}

char *
codec_ddi_base_encode(const struct ddi_base_out *b, size_t *len)
{
	cJSON	*root = cJSON_CreateObject(), *o, *links;
	char	 sleep[16], suffix[48];
	unsigned s = b->sleep_s;
	int	 oom = root == NULL;

	s = s < 1 ? 1 : s > 86399 ? 86399 : s;
	snprintf(sleep, sizeof(sleep), "%02u:%02u:%02u", s / 3600,
	    s / 60 % 60, s % 60);
	if ((o = json_put_obj(root, "config", &oom)) != NULL &&
	    (o = json_put_obj(o, "polling", &oom)) != NULL)
		json_put_str(o, "sleep", sleep, &oom);
	links = json_put_obj(root, "_links", &oom);
	if (links != NULL && b->link != DDI_LINK_NONE) {
		snprintf(suffix, sizeof(suffix), "/%s/%lu",
		    b->link == DDI_LINK_DEPLOY ? "deploymentBase" :
		    "cancelAction", (unsigned long)b->action);
		ddi_link(links, b->link == DDI_LINK_DEPLOY ?
		    "deploymentBase" : "cancelAction", b->href, suffix, &oom);
	}
	if (links != NULL && b->config)
		ddi_link(links, "configData", b->href, "/configData", &oom);
	return json_finish(root, oom, len);
}

/* The chunk's one artifact. */
static void
ddi_artifact(cJSON *arts, const struct ddi_deploy_out *d, int *oom)
{
	cJSON	*a, *h, *links;
	char	*path;
	size_t	 n;

	if ((a = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToArray(arts, a)) {
		cJSON_Delete(a);
		*oom = 1;
		return;
	}
	json_put_str(a, "filename", d->filename, oom);
	if ((h = json_put_obj(a, "hashes", oom)) != NULL) {
		if (d->fw->has_sha1)
			json_put_hex(h, "sha1", d->fw->sha1,
			    sizeof(d->fw->sha1), oom);
		json_put_hex(h, "md5", d->fw->md5, sizeof(d->fw->md5), oom);
		json_put_hex(h, "sha256", d->fw->sha256,
		    sizeof(d->fw->sha256), oom);
	}
	json_put_num(a, "size", (double)d->fw->size, oom);
	n = strlen("/softwaremodules//artifacts/.MD5SUM") +
	    strlen(d->fw->id) + strlen(d->filename) + 1;
	if ((links = json_put_obj(a, "_links", oom)) == NULL ||
	    (path = malloc(n)) == NULL) {
		*oom = 1;
		return;
	}
	snprintf(path, n, "/softwaremodules/%s/artifacts/%s", d->fw->id,
	    d->filename);
	ddi_link(links, "download", d->href, path, oom);
	ddi_link(links, "download-http", d->href, path, oom);
	snprintf(path, n, "/softwaremodules/%s/artifacts/%s.MD5SUM",
	    d->fw->id, d->filename);
	ddi_link(links, "md5sum", d->href, path, oom);
	ddi_link(links, "md5sum-http", d->href, path, oom);
	free(path);
}

char *
codec_ddi_deployment_encode(const struct ddi_deploy_out *d, size_t *len)
{
	cJSON	*root = cJSON_CreateObject(), *dep, *chunks, *c, *arts;
	char	 id[16];
	const char *how = d->forced ? "forced" : "attempt";
	int	 oom = root == NULL;

	snprintf(id, sizeof(id), "%lu", (unsigned long)d->action);
	json_put_str(root, "id", id, &oom);
	if ((dep = json_put_obj(root, "deployment", &oom)) == NULL)
		return json_finish(root, 1, len);
	json_put_str(dep, "download", how, &oom);
	json_put_str(dep, "update", how, &oom);
	chunks = cJSON_CreateArray();
	c = cJSON_CreateObject();
	arts = cJSON_CreateArray();
	if (chunks == NULL || c == NULL || arts == NULL) {
		cJSON_Delete(chunks);
		cJSON_Delete(c);
		cJSON_Delete(arts);
		return json_finish(root, 1, len);
	}
	json_put_item(dep, "chunks", chunks, &oom);	/* frees on failure */
	if (oom || !cJSON_AddItemToArray(chunks, c)) {
		cJSON_Delete(c);
		cJSON_Delete(arts);
		return json_finish(root, 1, len);
	}
	json_put_str(c, "part", d->fw->module, &oom);
	json_put_str(c, "version", d->fw->version, &oom);
	json_put_str(c, "name", d->fw->name, &oom);
	json_put_item(c, "artifacts", arts, &oom);	/* frees on failure */
	if (oom)
		return json_finish(root, 1, len);
	ddi_artifact(arts, d, &oom);
	return json_finish(root, oom, len);
}

char *
codec_ddi_cancel_encode(uint32_t action, size_t *len)
{
	cJSON	*root = cJSON_CreateObject(), *o;
	char	 id[16];
	int	 oom = root == NULL;

	snprintf(id, sizeof(id), "%lu", (unsigned long)action);
	json_put_str(root, "id", id, &oom);
	if ((o = json_put_obj(root, "cancelAction", &oom)) != NULL)
		json_put_str(o, "stopId", id, &oom);
	return json_finish(root, oom, len);
}

char *
codec_ddi_error_encode(const char *exception_class, const char *error_code,
    const char *message, size_t *len)
{
	cJSON	*root = cJSON_CreateObject();
	int	 oom = root == NULL;

	json_put_str(root, "exceptionClass", exception_class, &oom);
	json_put_str(root, "errorCode", error_code, &oom);
	json_put_str(root, "message", message, &oom);
	return json_finish(root, oom, len);
}
