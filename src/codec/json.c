/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * json.c: the cJSON helpers that the device wire format (wire.c) and the
 * operator views (views.c) share; declared in json.h, private to
 * src/codec.
 *
 * Reading is strict, because every document comes from the network: the
 * whole text must be UTF-8, nesting is counted before cJSON sees the text
 * (so a hostile body cannot make the parser recurse), raw control
 * characters and \u0000 in strings are refused, nothing may follow the
 * value, a member we read must have its exact type and pass the name rules
 * of CONTRACT, and a member we read may not appear twice.
 *
 * Writing builds a cJSON tree member by member and prints it compactly; a
 * failed allocation anywhere is remembered, so that a document is never
 * printed with a member silently missing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/codec.h"
#include "codec/json.h"
#include "util/validate.h"

/*
 * Names.
 */

const char *
json_name_of(const char *const *names, size_t n, int i)
{
	if (i < 0 || (size_t)i >= n)
		return "UNKNOWN";
	return names[i];
}

int
json_index_of(const char *const *names, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

const char *
json_sign_method_name(int m)
{
	return m == SIGN_MD5 ? "MD5" : "SHA256";
}

/*
 * Reading.
 */

int
json_fail(char *err, size_t errlen, const char *fmt, ...)
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

int
json_is_blank(const char *buf, size_t len)
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
					return json_fail(err, errlen,
					    "\\u0000 in a string");
				i++;
			} else if (c == '"')
				in_str = 0;
			else if (c < 0x20)
				return json_fail(err, errlen,
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
				return json_fail(err, errlen,
				    "nesting deeper than %d", CODEC_MAX_DEPTH);
			break;
		case ']':
		case '}':
			depth--;
			break;
		case '\0':
			return json_fail(err, errlen, "NUL byte at %zu", i);
		}
	}
	return 0;
}

cJSON *
json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON	*root;
	size_t	 i;

	if (utf8_length(buf, len) < 0) {
		json_fail(err, errlen, "the body is not UTF-8");
		return NULL;
	}
	if (json_prescan(buf, len, err, errlen) != 0)
		return NULL;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		if (end != NULL && end >= buf && end <= buf + len)
			json_fail(err, errlen, "malformed JSON at byte %zu",
			    (size_t)(end - buf));
		else
			json_fail(err, errlen, "malformed JSON");
		return NULL;
	}
	i = end != NULL && end >= buf && end <= buf + len ?
	    (size_t)(end - buf) : len;
	for (; i < len; i++) {
		if (!is_ws(buf[i])) {
			cJSON_Delete(root);
			json_fail(err, errlen,
			    "data after the JSON value at byte %zu", i);
			return NULL;
		}
	}
	return root;
}

int
json_member(const cJSON *obj, const char *name, const cJSON **out, char *err,
    size_t errlen)
{
	const cJSON *c;

	*out = NULL;
	cJSON_ArrayForEach(c, obj) {
		if (c->string == NULL || strcmp(c->string, name) != 0)
			continue;
		if (*out != NULL)
			return json_fail(err, errlen, "repeated member \"%s\"",
			    name);
		*out = c;
	}
	return 0;
}

int
json_string_member(const cJSON *obj, const char *name, int required,
    int (*valid)(const char *), char *dst, size_t dstsize, int *present,
    char *err, size_t errlen)
{
	const cJSON *m;

	if (present != NULL)
		*present = 0;
	if (json_member(obj, name, &m, err, errlen) != 0)
		return -1;
	if (m == NULL || (!required && cJSON_IsNull(m))) {
		if (required)
			return json_fail(err, errlen, "missing \"%s\"", name);
		return 0;
	}
	if (!cJSON_IsString(m) || m->valuestring == NULL)
		return json_fail(err, errlen, "\"%s\" must be a string", name);
	if (!valid(m->valuestring) || strlen(m->valuestring) >= dstsize)
		return json_fail(err, errlen, "invalid \"%s\"", name);
	memcpy(dst, m->valuestring, strlen(m->valuestring) + 1);
	if (present != NULL)
		*present = 1;
	return 0;
}

/*
 * Writing.
 */

void
json_put_item(cJSON *obj, const char *key, cJSON *item, int *oom)
{
	if (item == NULL || obj == NULL ||
	    !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		*oom = 1;
	}
}

void
json_put_str(cJSON *obj, const char *key, const char *val, int *oom)
{
	json_put_item(obj, key, val != NULL ? cJSON_CreateString(val) :
	    cJSON_CreateNull(), oom);
}

void
json_put_num(cJSON *obj, const char *key, double val, int *oom)
{
	json_put_item(obj, key, cJSON_CreateNumber(val), oom);
}

void
json_put_bool(cJSON *obj, const char *key, int val, int *oom)
{
	json_put_item(obj, key, cJSON_CreateBool(val != 0), oom);
}

void
json_put_hex(cJSON *obj, const char *key, const uint8_t *p, size_t n, int *oom)
{
	char	 buf[2 * 80 + 1];

	if (n > 80) {
		*oom = 1;
		return;
	}
	hex_encode(p, n, buf);
	json_put_str(obj, key, buf, oom);
}

cJSON *
json_put_obj(cJSON *obj, const char *key, int *oom)
{
	cJSON	*o = cJSON_CreateObject();

	json_put_item(obj, key, o, oom);
	return *oom ? NULL : o;
}

void
json_put_versions(cJSON *obj, const char *key, const struct module_version *v,
    unsigned n, int *oom)
{
	cJSON	*o = json_put_obj(obj, key, oom);
	unsigned i;

	for (i = 0; o != NULL && i < n && i < OTA_MODULES_MAX; i++)
		json_put_str(o, v[i].module, v[i].version, oom);
}

char *
json_finish(cJSON *root, int oom, size_t *len)
{
	char	*s = NULL;

	if (root != NULL && !oom)
		s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (len != NULL)
		*len = s != NULL ? strlen(s) : 0;
	return s;
}
