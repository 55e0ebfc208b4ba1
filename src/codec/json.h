/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * json.h: the cJSON helpers (json.c) that the device wire format (wire.c)
 * and the operator views (views.c) share.  Private to src/codec: nothing
 * outside it includes this header or sees a cJSON pointer.
 *
 * Readers return 0, or -1 with a short diagnostic in err (err may be NULL,
 * errlen 0).  Writers add one member to an object; a failed allocation
 * sets *oom and is never undone, so that json_finish refuses to print a
 * document with a member silently missing.
 */
#ifndef OTAGW_CODEC_JSON_H
#define OTAGW_CODEC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "model.h"

/* names[i], or "UNKNOWN" when i is out of range. */
const char *json_name_of(const char *const *names, size_t n, int i);
/* The other way: the index of s in names, or -1 (s NULL: -1). */
int	 json_index_of(const char *const *names, size_t n, const char *s);
/* "SHA256" or "MD5" (enum sign_method), as notices and views spell it. */
const char *json_sign_method_name(int sign_method);

/*
 * Reading.
 */

/* Formats into err (when given) and returns -1. */
int	 json_fail(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Whether buf holds only JSON white space (an empty body is blank). */
int	 json_is_blank(const char *buf, size_t len);
/*
 * The strict front door: the whole of buf[0..len) must be UTF-8 and one
 * JSON value with white space around it, nested at most CODEC_MAX_DEPTH
 * deep, with no NUL byte, raw control character or \u0000 in a string
 * (checked before cJSON sees the text).  The tree (cJSON_Delete), or NULL
 * with err.
 */
cJSON	*json_parse(const char *buf, size_t len, char *err, size_t errlen);
/* The member called name into *out (NULL when absent); twice is an error. */
int	 json_member(const cJSON *obj, const char *name, const cJSON **out,
	    char *err, size_t errlen);
/*
 * A string member that must pass `valid' and fit dst (dstsize bytes with
 * its NUL).  Missing is an error when required; a missing member, or null
 * when optional, leaves dst alone and *present (may be NULL) 0.
 */
int	 json_string_member(const cJSON *obj, const char *name, int required,
	    int (*valid)(const char *), char *dst, size_t dstsize,
	    int *present, char *err, size_t errlen);

/*
 * Writing.  obj may be NULL (after a failed allocation): then *oom is set.
 */

/* Adds item (which may be NULL) as key; frees it when it cannot. */
void	 json_put_item(cJSON *obj, const char *key, cJSON *item, int *oom);
/* A string, or null when val is NULL. */
void	 json_put_str(cJSON *obj, const char *key, const char *val, int *oom);
void	 json_put_num(cJSON *obj, const char *key, double val, int *oom);
void	 json_put_bool(cJSON *obj, const char *key, int val, int *oom);
/* n bytes (at most 80) as lower-case hex digits. */
void	 json_put_hex(cJSON *obj, const char *key, const uint8_t *p, size_t n,
	    int *oom);
/* A new empty object under key, or NULL once *oom is set. */
cJSON	*json_put_obj(cJSON *obj, const char *key, int *oom);
/* {"<module>":"<version>",...} from the first n (<= OTA_MODULES_MAX). */
void	 json_put_versions(cJSON *obj, const char *key,
	    const struct module_version *v, unsigned n, int *oom);
/*
 * Prints the tree compactly and frees it: a malloc'd string and its length
 * in *len (may be NULL), or NULL when root is NULL, oom is set or printing
 * ran out of memory.
 */
char	*json_finish(cJSON *root, int oom, size_t *len);

#endif
