/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reply.c: how the admin API answers (all but /metrics, which is text).
 * Answers are JSON with Cache-Control: no-store; errors are
 * {"error":<code>,"message":<one line>}, an ops failure with the status
 * and the message ops gave (ops_status_http, ops_status_name), so the API
 * says what otactl --state says.  Lists are built in a buffer capped at
 * ADMIN_LIST_MAX and sent as {"items":[...],"next":...}.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "codec/codec.h"

#define ADMIN_CTYPE_JSON	"application/json"
#define ADMIN_LIST_MAX		(256u << 20)	/* one list answer, bytes */

/* Sends a malloc'd JSON text (taken) with status; 500 when json is NULL. */
int
admin_json(struct http_resp *resp, int status, char *json)
{
	size_t	 len;

	if (json == NULL) {
		http_resp_status(resp, 500);
		return 500;
	}
	len = strlen(json);
	http_resp_status(resp, status);
	if (http_resp_header(resp, "Content-Type", ADMIN_CTYPE_JSON) == -1 ||
	    http_resp_header(resp, "Cache-Control", "no-store") == -1) {
		free(json);
		http_resp_status(resp, 500);
		return 500;
	}
	if (http_resp_body_take(resp, json, len) == -1) {	/* freed */
		http_resp_status(resp, 500);
		return 500;
	}
	return status;
}

/* {"error":code,"message":...} with status. */
int
admin_error(struct http_resp *resp, int status, const char *code,
    const char *fmt, ...)
{
	char	 msg[OPS_ERR_MAX + 64];
	char	*json;
	size_t	 len;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json = codec_error_encode(code, msg, &len);
	return admin_json(resp, status, json);
}

int
admin_ops_error(struct http_resp *resp, const struct ops_err *err)
{
	return admin_error(resp, ops_status_http(err->status),
	    ops_status_name(err->status), "%s", err->msg[0] != '\0' ?
	    err->msg : "operation failed");
}

int
admin_bad(struct http_resp *resp, const char *msg)
{
	return admin_error(resp, 400, "bad_request", "%s", msg);
}

/* Appends n bytes, unless the list has failed or would pass its cap. */
static void
list_add(struct admin_list *l, const char *s, size_t n)
{
	size_t	 ncap;
	char	*np;

	if (l->failed)
		return;
	if (n > ADMIN_LIST_MAX || l->len + n + 1 > ADMIN_LIST_MAX) {
		l->failed = 1;
		return;
	}
	if (l->len + n + 1 > l->cap) {
		ncap = l->cap ? l->cap : 4096;
		while (ncap < l->len + n + 1)
			ncap *= 2;
		if ((np = realloc(l->p, ncap)) == NULL) {
			l->failed = 1;
			return;
		}
		l->p = np;
		l->cap = ncap;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = '\0';
}

static void
list_str(struct admin_list *l, const char *s)
{
	list_add(l, s, strlen(s));
}

void
admin_list_init(struct admin_list *l)
{
	memset(l, 0, sizeof(*l));
	list_str(l, "{\"items\":[");
}

void
admin_list_item(struct admin_list *l, char *json)
{
	if (json == NULL) {
		l->failed = 1;
		return;
	}
	if (l->n++ > 0)
		list_add(l, ",", 1);
	list_str(l, json);
	free(json);
}

int
admin_list_send(struct http_resp *resp, struct admin_list *l,
    const char *next)
{
	list_str(l, "],\"next\":");
	if (next != NULL && next[0] != '\0') {
		list_str(l, "\"");
		list_str(l, next);
		list_str(l, "\"}");
	} else
		list_str(l, "null}");
	if (l->failed) {
		admin_list_free(l);
		return admin_error(resp, 500, "internal", "the list is too "
		    "large or memory ran out; page it with limit");
	}
	return admin_json(resp, 200, l->p);
}

void
admin_list_free(struct admin_list *l)
{
	free(l->p);
	memset(l, 0, sizeof(*l));
}
