/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_codec.c: the JSON codecs (src/codec): the device wire format
 * (wire.c) first, then the operator views and the admin API's bodies
 * (views.c), both over the shared helpers of json.c.
 *
 * Decoders get tables of good bodies and of hostile ones (wrong types,
 * names that break the rules, numbers out of range or not numbers at all,
 * bad UTF-8, deep nesting), every strict prefix of each good body, and
 * every single-byte mutation of them; each input is copied into a buffer of
 * exactly its length so that the sanitizers catch any read past the end.
 * Encoders are compared with their exact expected text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "jobs/jobs.h"
#include "util/validate.h"
#include "t.h"

#define TS1	((int64_t)1795428000123)	/* 2026-11-23T10:00:00.123Z */
#define TS2	((int64_t)1800001805007)	/* 2027-01-15T08:30:05.007Z */

/* Runs a decoder on an exact-length heap copy of s[0..len). */
static int
run_check(const char *s, size_t len, struct check_body *b, char *err,
    size_t errlen)
{
	char	*p = malloc(len > 0 ? len : 1);
	int	 r;

	memcpy(p, s, len);
	r = codec_check_decode(p, len, b, err, errlen);
	free(p);
	return r;
}

static int
run_progress(const char *s, size_t len, struct progress_body *b, char *err,
    size_t errlen)
{
	char	*p = malloc(len > 0 ? len : 1);
	int	 r;

	memcpy(p, s, len);
	r = codec_progress_decode(p, len, b, err, errlen);
	free(p);
	return r;
}

struct check_good {
	const char *body;
	unsigned n;
	const char *m0, *v0, *m1, *v1;
};

static const struct check_good check_good[] = {
	{ .body = "", 0 },
	{ .body = " \r\n\t ", 0 },
	{ .body = "{}", 0 },
	{ .body = " { } ", 0 },
	{ .body = "{\"versions\":{}}", 0 },
	{ .body = "{\"versions\":{\"default\":\"1.0.0\"}}", 1,
	  "default", "1.0.0" },
	{ .body = "{\"versions\":{\"default\":\"1.0.0\","
	  "\"wifi\":\"2.1_rc-3\"}}", 2,
	  "default", "1.0.0", "wifi", "2.1_rc-3" },
	{ .body = "{\"version\":\"1.0.0\"}", 1, "default", "1.0.0" },
	{ .body = "{\"version\":\"1.0.0\",\"module\":\"ble.core\"}", 1,
	  "ble.core", "1.0.0" },
	{ .body = "{\"module\":\"m\",\"version\":\"9\"}", 1, "m", "9" },
	{ .body = "{\"version\":\"1.0.0\",\"module\":null}", 1,
	  "default", "1.0.0" },
	{ .body = "{\"module\":null}", 0 },
	{ .body = "{\"foo\":[1,2,{\"x\":null}],\"bar\":\"\\u00e9\\n\"}", 0 },
	{ .body = "{\"versions\":{\"default\":\"1\"},"
	  "\"extra\":\"caf\xc3\xa9 \xe4\xb8\xad\xf0\x9f\x98\x80\"}", 1,
	  "default", "1" },
	{ .body = "{\"x\":[[[[[[[1]]]]]]],\"version\":\"2\"}", 1,
	  "default", "2" },
	{ .body = "\n{\"version\" : \"1.0.0\" }\n", 1, "default", "1.0.0" },
	{ .body = "{\"versions\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\","
	  "\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\"}}", 8,
	  "a", "1", "b", "2" },
	{ .body = "{\"version\":\"123456789012345678901234567890123456789012345"
	  "6789012345678901234\"}", 1, "default",
	  "1234567890123456789012345678901234567890123456789012345678901234" },
};

static const char *const check_bad[] = {
	"[]",
	"[{\"version\":\"1\"}]",
	"1",
	"\"1.0.0\"",
	"null",
	"true",
	"{",
	"}",
	"{\"version\":\"1.0.0\"",
	"{\"version\":\"1.0.0\"}}",
	"{\"version\":\"1.0.0\"} x",
	"{}{}",
	"{\"versions\":[]}",
	"{\"versions\":null}",
	"{\"versions\":\"1.0.0\"}",
	"{\"versions\":{\"default\":1}}",
	"{\"versions\":{\"default\":null}}",
	"{\"versions\":{\"default\":{\"v\":\"1\"}}}",
	"{\"versions\":{\"bad/mod\":\"1\"}}",
	"{\"versions\":{\"\":\"1\"}}",
	"{\"versions\":{\"m\":\"1 0\"}}",
	"{\"versions\":{\"m\":\"\"}}",
	"{\"versions\":{\"m\":\"1\",\"m\":\"2\"}}",
	"{\"versions\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\","
	"\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\",\"i\":\"9\"}}",
	"{\"versions\":{},\"versions\":{}}",
	"{\"version\":1}",
	"{\"version\":1.5}",
	"{\"version\":null}",
	"{\"version\":true}",
	"{\"version\":\"\"}",
	"{\"version\":\"1.0.0/x\"}",
	"{\"version\":\"1.0.0\",\"version\":\"1.0.0\"}",
	"{\"version\":\"1.0.0\",\"module\":\"\"}",
	"{\"version\":\"1.0.0\",\"module\":5}",
	"{\"version\":\"1.0.0\",\"module\":\"a b\"}",
	"{\"version\":\"1.0.0\",\"versions\":{}}",
	"{\"module\":\"default\"}",
	"{\"version\":\"12345678901234567890123456789012345678901234567890"
	"123456789012345\"}",
	"{\"version\":NaN}",
	"{\"version\":Infinity}",
	"{\"x\":NaN}",
	"{\"x\":-Infinity}",
	"{\"x\":undefined}",
	"{'version':'1'}",
	"{\"version\":\"1\",}",
	"{version:\"1\"}",
	"{\"x\":[[[[[[[[1]]]]]]]]}",
	"{\"x\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}}",
	"{\"x\":\"\xff\"}",
	"{\"x\":\"\xc0\xaf\"}",
	"{\"x\":\"\xed\xa0\x80\"}",
	"{\"x\":\"\xe4\xb8\"}",
	"{\"x\":\"\xf4\x90\x80\x80\"}",
	"\xef\xbb\xbf\xff{}",
	"{\"x\":\"a\tb\"}",
	"{\"x\":\"a\nb\"}",
	"{\"x\":\"\\u0000\"}",
	"{\"version\":\"1\\u0000\"}",
	"{\"x\":\"\\ud800\"}",
	"{\"x\":\"\\q\"}",
	"{\"x\":\"\\u12\"}",
	"{\"x\":01x}",
	"{\"x\":1e}",
	"{\"x\":-}",
	"{\"x\":.5}",
};

static void
test_check_tables(void)
{
	struct check_body b;
	char	 err[128];
	size_t	 i;

	for (i = 0; i < sizeof(check_good) / sizeof(check_good[0]); i++) {
		const struct check_good *c = &check_good[i];
		int	 fail0 = t_fail;

		err[0] = '\0';
		T_EQ_INT(run_check(c->body, strlen(c->body), &b, err,
		    sizeof(err)), 0);
		T_EQ_INT(b.nversions, c->n);
		if (c->n >= 1) {
			T_EQ_STR(b.versions[0].module, c->m0);
			T_EQ_STR(b.versions[0].version, c->v0);
		}
		if (c->n >= 2) {
			T_EQ_STR(b.versions[1].module, c->m1);
			T_EQ_STR(b.versions[1].version, c->v1);
		}
		if (t_fail != fail0)
			fprintf(stderr, "  ^ good check body %zu: %s (%s)\n", i,
			    c->body, err);
	}
	for (i = 0; i < sizeof(check_bad) / sizeof(check_bad[0]); i++) {
		int	 fail0 = t_fail;

		err[0] = '\0';
		memset(&b, 0x5a, sizeof(b));
		T_EQ_INT(run_check(check_bad[i], strlen(check_bad[i]), &b, err,
		    sizeof(err)), -1);
		T_CHECK(err[0] != '\0');
		T_EQ_INT(b.nversions, 0);
		if (t_fail != fail0)
			fprintf(stderr, "  ^ bad check body %zu: %s\n", i,
			    check_bad[i]);
	}
	/* a NUL byte inside the given length */
	T_EQ_INT(run_check("{\"version\":\"1\"}\0", 16, &b, err, sizeof(err)),
	    -1);
	T_EQ_INT(run_check("{\"x\":\"a\0b\"}", 11, &b, err, sizeof(err)), -1);
	/* no diagnostic buffer is fine */
	T_EQ_INT(codec_check_decode("[", 1, &b, NULL, 0), -1);
}

/* The device's nonce: [A-Za-z0-9_-]{1,64}, beside either form. */
static void
test_check_nonce(void)
{
	static const struct {
		const char *body;
		int	 rc;
		const char *want;
	} cases[] = {
		{ "{\"nonce\":\"c0ffee\"}", 0, "c0ffee" },
		{ "{\"version\":\"1\",\"nonce\":\"q-_Z9\"}", 0, "q-_Z9" },
		{ "{\"versions\":{\"a\":\"1\"},\"nonce\":null}", 0, "" },
		{ "{\"version\":\"1\"}", 0, "" },
		{ "{\"nonce\":\"\"}", -1, "" },
		{ "{\"nonce\":\"a b\"}", -1, "" },
		{ "{\"nonce\":\"a.b\"}", -1, "" },
		{ "{\"nonce\":7}", -1, "" },
		{ "{\"nonce\":\"a\",\"nonce\":\"b\"}", -1, "" },
		{ "{\"nonce\":\"12345678901234567890123456789012345678901234"
		  "567890123456789012345\"}", -1, "" },	/* 65 */
		{ "{\"nonce\":\"12345678901234567890123456789012345678901234"
		  "56789012345678901234\"}", 0,		/* 64 */
		  "1234567890123456789012345678901234567890123456789012345678"
		  "901234" },
	};
	struct check_body b;
	char	 err[128];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		memset(&b, 0x5a, sizeof(b));
		T_EQ_INT(run_check(cases[i].body, strlen(cases[i].body), &b,
		    err, sizeof(err)), cases[i].rc);
		T_EQ_STR(b.nonce, cases[i].want);
		if (cases[i].rc != 0)
			T_CHECK(strstr(err, "nonce") != NULL);
	}
}

/* A signing key's view, one and a list, and back. */
static void
test_sign_keys(void)
{
	struct sign_key_info k[2], got[3];
	char	 err[128], *s;
	size_t	 len, n;

	memset(k, 0, sizeof(k));
	snprintf(k[0].kid, sizeof(k[0].kid), "0123456789ab");
	k[0].alg = 0;
	k[0].current = 1;
	k[0].created = 1700000000123LL;
	snprintf(k[0].pem, sizeof(k[0].pem), "-----BEGIN PUBLIC KEY-----\n"
	    "AAAA\n-----END PUBLIC KEY-----\n");
	memset(k[0].raw, 0xab, 65);
	k[0].raw[0] = 4;
	k[0].rawlen = 65;
	k[1] = k[0];
	snprintf(k[1].kid, sizeof(k[1].kid), "ba9876543210");
	k[1].alg = 1;
	k[1].current = 0;
	k[1].rawlen = 32;
	s = codec_sign_key_encode(&k[1], &len);
	T_CHECK(s != NULL && strstr(s, "\"alg\":\"EdDSA\"") != NULL &&
	    strstr(s, "\"current\":false") != NULL);
	T_EQ_INT(codec_sign_keys_decode(s, len, got, 3, &n, err,
	    sizeof(err)), 0);
	T_EQ_INT((int)n, 1);
	T_EQ_STR(got[0].kid, "ba9876543210");
	T_CHECK(got[0].rawlen == 32 && got[0].alg == 1 && !got[0].current &&
	    got[0].created == k[1].created && strcmp(got[0].pem, k[1].pem) ==
	    0 && memcmp(got[0].raw, k[1].raw, 32) == 0);
	free(s);
	s = codec_sign_keys_encode(k, 2, &len);
	T_CHECK(s != NULL);
	T_EQ_INT(codec_sign_keys_decode(s, len, got, 3, &n, err,
	    sizeof(err)), 0);
	T_CHECK(n == 2 && got[0].current && got[0].rawlen == 65 &&
	    got[0].raw[0] == 4 && got[1].alg == 1);
	T_EQ_INT(codec_sign_keys_decode(s, len, got, 1, &n, err,
	    sizeof(err)), -1);
	free(s);
	s = codec_sign_keys_encode(k, 0, &len);
	T_EQ_STR(s, "{\"keys\":[]}");
	free(s);
	T_EQ_INT(codec_sign_keys_decode("{\"kid\":\"x\",\"alg\":\"RS256\","
	    "\"current\":true,\"created\":null,\"publicKeyPem\":\"\","
	    "\"publicKeyRaw\":\"00\"}", 91, got, 1, &n, err, sizeof(err)),
	    -1);
}

/* Pull by version: "requestVersion" beside either form, or alone. */
static void
test_check_request_version(void)
{
	static const struct {
		const char *body;
		int	 rc;
		const char *want;	/* request_version */
		unsigned n;
	} cases[] = {
		{ "{\"requestVersion\":\"2.0.0\"}", 0, "2.0.0", 0 },
		{ "{\"version\":\"1.0\",\"requestVersion\":\"2.0_rc-1\"}", 0,
		  "2.0_rc-1", 1 },
		{ "{\"versions\":{\"a\":\"1\"},\"requestVersion\":\"9\"}", 0,
		  "9", 1 },
		{ "{\"requestVersion\":null}", 0, "", 0 },
		{ "{\"version\":\"1.0\"}", 0, "", 1 },
		{ "", 0, "", 0 },
		{ "{\"requestVersion\":\"\"}", -1, "", 0 },
		{ "{\"requestVersion\":\"2.0 beta\"}", -1, "", 0 },
		{ "{\"requestVersion\":\"a/b\"}", -1, "", 0 },
		{ "{\"requestVersion\":2}", -1, "", 0 },
		{ "{\"requestVersion\":[\"2\"]}", -1, "", 0 },
		{ "{\"requestVersion\":\"1\",\"requestVersion\":\"2\"}", -1,
		  "", 0 },
		{ "{\"version\":\"1\",\"requestVersion\":\"1234567890123456789"
		  "01234567890123456789012345678901234567890123456\"}", -1, "",
		  0 },
	};
	struct check_body b;
	char	 err[128];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int	 fail0 = t_fail;

		err[0] = '\0';
		memset(&b, 0x5a, sizeof(b));
		T_EQ_INT(run_check(cases[i].body, strlen(cases[i].body), &b,
		    err, sizeof(err)), cases[i].rc);
		T_EQ_STR(b.request_version, cases[i].want);
		T_EQ_INT(b.nversions, cases[i].n);
		if (cases[i].rc != 0)
			T_CHECK(strstr(err, "requestVersion") != NULL);
		if (t_fail != fail0)
			fprintf(stderr, "  ^ check body %zu: %s (%s)\n", i,
			    cases[i].body, err);
	}
}

struct progress_good {
	const char *body;
	const char *job;
	int	 step;
	const char *desc;	/* NULL: absent */
	const char *version;
	const char *module;
};

static const struct progress_good progress_good[] = {
	{ .body = "{\"job\":\"j-1\",\"step\":40}", "j-1", 40 },
	{ .body = "{\"step\":0,\"job\":\"j-1\"}", "j-1", 0 },
	{ .body = "{\"job\":\"j-1\",\"step\":100,\"version\":\"2.0.0\"}",
	  "j-1", 100, NULL, "2.0.0" },
	{ .body = "{\"job\":\"j-1\",\"step\":-1,\"desc\":\"flash full\"}",
	  "j-1", -1, "flash full" },
	{ .body = "{\"job\":\"j-1\",\"step\":-4,\"desc\":\"\"}", "j-1", -4,
	  "" },
	{ .body = "{\"job\":\"j_2-x\",\"step\":5,"
	  "\"desc\":\"a\\\"b\\\\c\\n\\u00e9\","
	  "\"version\":\"1\",\"module\":\"wifi\"}", "j_2-x", 5,
	  "a\"b\\c\n\xc3\xa9", "1", "wifi" },
	{ .body = "{\"job\":\"j-1\",\"step\":40.0}", "j-1", 40 },
	{ .body = "{\"job\":\"j-1\",\"step\":1e2}", "j-1", 100 },
	{ .body = "{\"job\":\"j-1\",\"step\":-0}", "j-1", 0 },
	{ .body = "{\"job\":\"j-1\",\"step\":4E-0}", "j-1", 4 },
	{ .body = "{\"job\":\"j-1\",\"step\":7,\"desc\":null,"
	  "\"version\":null}", "j-1", 7 },
	{ .body = "{\"job\":\"j-1\",\"step\":7,\"seq\":99,"
	  "\"extra\":{\"a\":[true]}}", "j-1", 7 },
	{ .body = "  {\"job\":\"j-1\",\"step\":7}\r\n", "j-1", 7 },
};

static const char *const progress_bad[] = {
	"",
	"   ",
	"[]",
	"null",
	"40",
	"{}",
	"{\"step\":40}",
	"{\"job\":\"j-1\"}",
	"{\"job\":null,\"step\":40}",
	"{\"job\":1,\"step\":40}",
	"{\"job\":\"\",\"step\":40}",
	"{\"job\":\"j 1\",\"step\":40}",
	"{\"job\":\"j.1\",\"step\":40}",
	"{\"job\":\"j-12345678901234567890123456789012345678901234567890"
	"12345678901234\",\"step\":40}",
	"{\"job\":\"j-1\",\"job\":\"j-2\",\"step\":40}",
	"{\"job\":\"j-1\",\"step\":\"40\"}",
	"{\"job\":\"j-1\",\"step\":null}",
	"{\"job\":\"j-1\",\"step\":true}",
	"{\"job\":\"j-1\",\"step\":[40]}",
	"{\"job\":\"j-1\",\"step\":40.5}",
	"{\"job\":\"j-1\",\"step\":0.0001}",
	"{\"job\":\"j-1\",\"step\":101}",
	"{\"job\":\"j-1\",\"step\":-5}",
	"{\"job\":\"j-1\",\"step\":1e999}",
	"{\"job\":\"j-1\",\"step\":-1e999}",
	"{\"job\":\"j-1\",\"step\":4294967336}",
	"{\"job\":\"j-1\",\"step\":-4294967295}",
	"{\"job\":\"j-1\",\"step\":1000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000}",
	"{\"job\":\"j-1\",\"step\":NaN}",
	"{\"job\":\"j-1\",\"step\":nan}",
	"{\"job\":\"j-1\",\"step\":Infinity}",
	"{\"job\":\"j-1\",\"step\":0x10}",
	"{\"job\":\"j-1\",\"step\":+5}",
	"{\"job\":\"j-1\",\"step\":40,\"step\":50}",
	"{\"job\":\"j-1\",\"step\":40,\"desc\":5}",
	"{\"job\":\"j-1\",\"step\":40,\"desc\":[\"x\"]}",
	"{\"job\":\"j-1\",\"step\":40,\"version\":\"\"}",
	"{\"job\":\"j-1\",\"step\":40,\"version\":\"2 0\"}",
	"{\"job\":\"j-1\",\"step\":40,\"version\":2}",
	"{\"job\":\"j-1\",\"step\":40,\"module\":\"\"}",
	"{\"job\":\"j-1\",\"step\":40,\"module\":\"a/b\"}",
	"{\"job\":\"j-1\",\"step\":40,\"desc\":\"\xff\"}",
	"{\"job\":\"j-1\",\"step\":40,\"desc\":\"\\ud83d\"}",
	"{\"job\":\"j-1\",\"step\":40,\"desc\":\"a\\u0000b\"}",
	"{\"job\":\"j-1\",\"step\":40,\"desc\":\"tab\there\"}",
	"{\"job\":\"j-1\",\"step\":40}garbage",
	"{\"job\":\"j-1\",\"step\":40",
	"{\"job\":\"j-1\",\"step\":40,\"x\":[[[[[[[[[]]]]]]]]]}",
};

static void
test_progress_tables(void)
{
	struct progress_body b;
	char	 err[128], big[1024];
	size_t	 i, n;

	for (i = 0; i < sizeof(progress_good) / sizeof(progress_good[0]);
	    i++) {
		const struct progress_good *c = &progress_good[i];
		int	 fail0 = t_fail;

		err[0] = '\0';
		T_EQ_INT(run_progress(c->body, strlen(c->body), &b, err,
		    sizeof(err)), 0);
		T_EQ_STR(b.job, c->job);
		T_EQ_INT(b.step, c->step);
		T_EQ_INT(b.has_desc, c->desc != NULL);
		if (c->desc != NULL)
			T_EQ_STR(b.desc, c->desc);
		T_EQ_INT(b.has_version, c->version != NULL);
		if (c->version != NULL)
			T_EQ_STR(b.version, c->version);
		T_EQ_STR(b.module, c->module != NULL ? c->module : "");
		if (t_fail != fail0)
			fprintf(stderr, "  ^ good progress body %zu: %s (%s)\n",
			    i, c->body, err);
	}
	for (i = 0; i < sizeof(progress_bad) / sizeof(progress_bad[0]); i++) {
		int	 fail0 = t_fail;

		err[0] = '\0';
		T_EQ_INT(run_progress(progress_bad[i], strlen(progress_bad[i]),
		    &b, err, sizeof(err)), -1);
		T_CHECK(err[0] != '\0');
		T_EQ_STR(b.job, "");
		if (t_fail != fail0)
			fprintf(stderr, "  ^ bad progress body %zu: %s\n", i,
			    progress_bad[i]);
	}

	/* desc: 128 characters (4 bytes each) pass, 129 do not */
	n = (size_t)snprintf(big, sizeof(big), "{\"job\":\"j-1\",\"step\":1,"
	    "\"desc\":\"");
	for (i = 0; i < 128; i++) {
		memcpy(big + n, "\xf0\x9f\x98\x80", 4);
		n += 4;
	}
	memcpy(big + n, "\"}", 3);
	T_EQ_INT(run_progress(big, strlen(big), &b, err, sizeof(err)), 0);
	T_EQ_INT(utf8_length(b.desc, strlen(b.desc)), 128);
	memmove(big + n + 1, big + n, 3);
	big[n] = 'x';
	T_EQ_INT(run_progress(big, strlen(big), &b, err, sizeof(err)), -1);
	/* 128 characters written as \u escapes */
	n = (size_t)snprintf(big, sizeof(big), "{\"job\":\"j-1\",\"step\":1,"
	    "\"desc\":\"");
	for (i = 0; i < 128; i++) {
		memcpy(big + n, "\\u4e2d", 6);
		n += 6;
	}
	memcpy(big + n, "\"}", 3);
	T_EQ_INT(run_progress(big, strlen(big), &b, err, sizeof(err)), 0);
	T_EQ_INT(strlen(b.desc), 3 * 128);
}

/* Deep nesting is refused before parsing, even far too deep. */
static void
test_nesting(void)
{
	struct check_body b;
	char	 err[128], *p;
	size_t	 n = 200000, i;

	p = malloc(n);
	for (i = 0; i < n; i++)
		p[i] = i < n / 2 ? '[' : ']';
	T_EQ_INT(codec_check_decode(p, n, &b, err, sizeof(err)), -1);
	T_CHECK(strstr(err, "nesting") != NULL);
	for (i = 0; i < n; i++)
		p[i] = i % 5 == 0 ? '{' : (i % 5 == 1 ? '"' : (i % 5 == 2 ?
		    'a' : (i % 5 == 3 ? '"' : ':')));
	T_EQ_INT(codec_check_decode(p, n, &b, err, sizeof(err)), -1);
	T_CHECK(strstr(err, "nesting") != NULL);
	free(p);

	/* brackets inside strings do not count */
	T_EQ_INT(run_check("{\"x\":\"[[[[[[[[[[[[[[[[\",\"y\":\"{{{{{{{{{{\"}",
	    41, &b, err, sizeof(err)), 0);
	/* exactly CODEC_MAX_DEPTH levels pass */
	T_EQ_INT(run_check("{\"a\":[[[[[[[]]]]]]]}", 20, &b, err,
	    sizeof(err)), 0);
	T_EQ_INT(run_check("{\"a\":[[[[[[[[]]]]]]]]}", 22, &b, err,
	    sizeof(err)), -1);
}

/* Every strict prefix of a good body is refused, without reading past it. */
static void
test_prefixes(void)
{
	struct check_body cb;
	struct progress_body pb;
	char	 err[128];
	size_t	 i, k, len;

	for (i = 0; i < sizeof(check_good) / sizeof(check_good[0]); i++) {
		const char *s = check_good[i].body;
		int	 fail0 = t_fail;

		len = strlen(s);
		/* a trailing-whitespace body is complete before its end */
		while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
			len--;
		for (k = 0; k < len; k++) {
			int	 blank = 1;
			size_t	 j;

			for (j = 0; j < k; j++)
				if (strchr(" \t\r\n", s[j]) == NULL)
					blank = 0;
			T_EQ_INT(run_check(s, k, &cb, err, sizeof(err)),
			    blank ? 0 : -1);
		}
		if (t_fail != fail0)
			fprintf(stderr, "  ^ prefixes of check body %zu\n", i);
	}
	for (i = 0; i < sizeof(progress_good) / sizeof(progress_good[0]);
	    i++) {
		const char *s = progress_good[i].body;
		int	 fail0 = t_fail;

		len = strlen(s);
		/* a trailing-whitespace body is complete before its end */
		while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
			len--;
		for (k = 0; k < len; k++)
			T_EQ_INT(run_progress(s, k, &pb, err, sizeof(err)),
			    -1);
		if (t_fail != fail0)
			fprintf(stderr, "  ^ prefixes of progress body %zu\n",
			    i);
	}
}

/*
 * Every single-byte mutation of the good bodies: no crash, no read past
 * the end, and what is accepted still obeys the name rules.
 */
static void
test_mutations(void)
{
	static const unsigned char subst[] = {
		0x00, 0x01, '"', '\\', '{', '}', '[', ']', ',', ':', '-', '9',
		'e', 'n', ' ', 0x7f, 0x80, 0xc3, 0xff,
	};
	struct check_body cb;
	struct progress_body pb;
	char	 buf[512], err[128];
	size_t	 i, k, m, len, accepted = 0, runs = 0;
	unsigned v;

	for (i = 0; i < sizeof(progress_good) / sizeof(progress_good[0]);
	    i++) {
		len = strlen(progress_good[i].body);
		for (k = 0; k < len; k++) {
			for (m = 0; m < sizeof(subst); m++) {
				memcpy(buf, progress_good[i].body, len);
				buf[k] = (char)subst[m];
				runs++;
				if (run_progress(buf, len, &pb, err,
				    sizeof(err)) != 0)
					continue;
				accepted++;
				T_CHECK(valid_id(pb.job));
				T_CHECK(pb.step >= -4 && pb.step <= 100);
				T_CHECK(!pb.has_version ||
				    valid_version(pb.version));
				T_CHECK(pb.module[0] == '\0' ||
				    valid_module(pb.module));
				T_CHECK(utf8_length(pb.desc,
				    strlen(pb.desc)) >= 0);
			}
		}
	}
	for (i = 0; i < sizeof(check_good) / sizeof(check_good[0]); i++) {
		len = strlen(check_good[i].body);
		for (k = 0; k < len; k++) {
			for (m = 0; m < sizeof(subst); m++) {
				memcpy(buf, check_good[i].body, len);
				buf[k] = (char)subst[m];
				runs++;
				if (run_check(buf, len, &cb, err,
				    sizeof(err)) != 0)
					continue;
				accepted++;
				T_CHECK(cb.nversions <= OTA_MODULES_MAX);
				for (v = 0; v < cb.nversions; v++) {
					T_CHECK(valid_module(
					    cb.versions[v].module));
					T_CHECK(valid_version(
					    cb.versions[v].version));
				}
			}
		}
	}
	T_CHECK(runs > 10000);
	T_CHECK(accepted > 0 && accepted < runs);
}

static void
fw_sample(struct firmware_rec *fw)
{
	int	 i;

	memset(fw, 0, sizeof(*fw));
	snprintf(fw->id, sizeof(fw->id), "fw-9");
	snprintf(fw->product, sizeof(fw->product), "lamp");
	snprintf(fw->module, sizeof(fw->module), "default");
	snprintf(fw->version, sizeof(fw->version), "1.2.0");
	snprintf(fw->name, sizeof(fw->name), "\xe7\x81\xaf-v1.2(rc)");
	snprintf(fw->description, sizeof(fw->description), "say \"hi\"");
	fw->size = 123456;
	for (i = 0; i < 32; i++)
		fw->sha256[i] = (uint8_t)i;
	for (i = 0; i < 16; i++)
		fw->md5[i] = (uint8_t)(0xf0 + i);
	fw->created = TS1;
}

static void
job_sample(struct job_rec *job)
{
	jobs_job_defaults(job);
	snprintf(job->id, sizeof(job->id), "j-3");
	snprintf(job->firmware, sizeof(job->firmware), "fw-9");
	snprintf(job->product, sizeof(job->product), "lamp");
	snprintf(job->module, sizeof(job->module), "default");
	snprintf(job->version, sizeof(job->version), "1.2.0");
	job->timeout_min = 30;
}

/* Compares an encoder's output and length with the expected text. */
static void
expect_text(char *got, const size_t *len, const char *want)
{
	T_EQ_STR(got, want);
	if (got != NULL)
		T_EQ_INT(*len, strlen(got));
	free(got);
}

static char *
notice(const struct job_rec *job, const struct firmware_rec *fw,
    const char *base, const char *query, const char *nonce, size_t *len)
{
	struct notice_in in;

	memset(&in, 0, sizeof(in));
	in.job = job;
	in.fw = fw;
	in.url_base = base;
	in.url_query = query;
	in.nonce = nonce;
	return codec_notice_encode(&in, len);
}

/* A patch beside the full image: its own path, url and credential. */
static void
test_notice_delta(const struct job_rec *job, const struct firmware_rec *fw)
{
	struct notice_in in;
	struct delta_rec d;
	size_t	 len = 0;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dp-4");
	snprintf(d.format, sizeof(d.format), "bsdiff4");
	snprintf(d.from_version, sizeof(d.from_version), "1.0.0");
	d.size = 2048;
	memset(d.sha256, 0xee, sizeof(d.sha256));
	memset(&in, 0, sizeof(in));
	in.job = job;
	in.fw = fw;
	in.url_base = "https://gw:8443/";
	in.url_query = "q=1";
	in.delta = &d;
	in.delta_query = "q=2";
	expect_text(codec_notice_encode(&in, &len), &len,
	    "{\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"size\":3000000000,"
	    "\"sign\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"signMethod\":\"MD5\",\"path\":\"/fw/fw-9\","
	    "\"url\":\"https://gw:8443/fw/fw-9?q=1\","
	    "\"delta\":{\"firmware\":\"dp-4\",\"format\":\"bsdiff4\","
	    "\"from\":\"1.0.0\",\"size\":2048,\"sha256\":\""
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\","
	    "\"path\":\"/fw/dp-4\",\"url\":\"https://gw:8443/fw/dp-4?q=2\"},"
	    "\"confirm\":true,\"timeout\":86400,\"seq\":4294967295,"
	    "\"downgrade\":true,\"authorSig\":\"MAMCAf8=\"}");
	/* no base: the path alone */
	in.url_base = NULL;
	expect_text(codec_notice_encode(&in, &len), &len,
	    "{\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"size\":3000000000,"
	    "\"sign\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"signMethod\":\"MD5\",\"path\":\"/fw/fw-9\","
	    "\"delta\":{\"firmware\":\"dp-4\",\"format\":\"bsdiff4\","
	    "\"from\":\"1.0.0\",\"size\":2048,\"sha256\":\""
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\","
	    "\"path\":\"/fw/dp-4\"},"
	    "\"confirm\":true,\"timeout\":86400,\"seq\":4294967295,"
	    "\"downgrade\":true,\"authorSig\":\"MAMCAf8=\"}");
}

static void
test_notice(void)
{
	struct firmware_rec fw;
	struct job_rec job;
	size_t	 len = 0;

	fw_sample(&fw);
	job_sample(&job);
	expect_text(notice(&job, &fw, "coaps://gw.example:5684", NULL, NULL,
	    &len), &len,
	    "{\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"size\":123456,"
	    "\"sign\":\"000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\","
	    "\"signMethod\":\"SHA256\",\"path\":\"/fw/fw-9\","
	    "\"url\":\"coaps://gw.example:5684/fw/fw-9\",\"confirm\":false,"
	    "\"timeout\":1800,\"seq\":0}");
	/* no url without a base; MD5; confirmation; a big image */
	fw.sign_method = SIGN_MD5;
	fw.size = 3000000000ULL;
	job.confirm = 1;
	job.timeout_min = 1440;
	expect_text(notice(&job, &fw, NULL, NULL, "", &len), &len,
	    "{\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"size\":3000000000,"
	    "\"sign\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"signMethod\":\"MD5\","
	    "\"path\":\"/fw/fw-9\",\"confirm\":true,\"timeout\":86400,"
	    "\"seq\":0}");
	/* a trailing slash on the base is not doubled; the query follows */
	expect_text(notice(&job, &fw, "https://gw:8443//", "device=d&x=1",
	    NULL, &len), &len,
	    "{\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"size\":3000000000,"
	    "\"sign\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"signMethod\":\"MD5\","
	    "\"path\":\"/fw/fw-9\","
	    "\"url\":\"https://gw:8443/fw/fw-9?device=d&x=1\","
	    "\"confirm\":true,\"timeout\":86400,\"seq\":0}");
	/* the device's nonce comes back last */
	expect_text(notice(&job, &fw, NULL, NULL, "n-42", &len), &len,
	    "{\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"size\":3000000000,"
	    "\"sign\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"signMethod\":\"MD5\","
	    "\"path\":\"/fw/fw-9\",\"confirm\":true,\"timeout\":86400,"
	    "\"seq\":0,\"nonce\":\"n-42\"}");
	/* seq, a downgrade and the author signature, before the nonce */
	fw.seq = 4294967295U;
	fw.author_sig_len = 5;
	memcpy(fw.author_sig, "\x30\x03\x02\x01\xff", 5);
	job.allow_downgrade = 1;
	expect_text(notice(&job, &fw, NULL, NULL, "n", &len), &len,
	    "{\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"size\":3000000000,"
	    "\"sign\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"signMethod\":\"MD5\","
	    "\"path\":\"/fw/fw-9\",\"confirm\":true,\"timeout\":86400,"
	    "\"seq\":4294967295,\"downgrade\":true,"
	    "\"authorSig\":\"MAMCAf8=\",\"nonce\":\"n\"}");
	/* len may be NULL */
	free(notice(&job, &fw, NULL, NULL, NULL, NULL));
	test_notice_delta(&job, &fw);
}

static void
test_events(void)
{
	struct module_version mv[2] = {
		{ "default", "1.0.0" }, { "wifi", "3\"x" },
	};
	struct event ev;
	size_t	 len = 0;
	char	*s;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_PROGRESS;
	ev.ts = TS1;
	ev.device = "d-7";
	ev.job = "j-3";
	ev.firmware = "fw-9";
	ev.module = "default";
	ev.state = "UPGRADING";
	ev.has_step = 1;
	ev.step = 40;
	ev.desc = "downloading";
	ev.version = "1.0.0";
	s = codec_event_encode(&ev, &len);
	T_EQ_STR(s, "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"device\":\"d-7\","
	    "\"type\":\"progress\",\"job\":\"j-3\",\"firmware\":\"fw-9\","
	    "\"module\":\"default\",\"state\":\"UPGRADING\",\"step\":40,"
	    "\"desc\":\"downloading\",\"version\":\"1.0.0\"}");
	T_EQ_INT(len, s != NULL ? strlen(s) : 0);

	/* the relay's form: seq first, gateway after ts */
	expect_text(codec_event_stamp(s, len, 1042, "gw-1", &len), &len,
	    "{\"seq\":1042,\"ts\":\"2026-11-23T10:00:00.123Z\","
	    "\"gateway\":\"gw-1\",\"device\":\"d-7\",\"type\":\"progress\","
	    "\"job\":\"j-3\",\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"state\":\"UPGRADING\",\"step\":40,\"desc\":\"downloading\","
	    "\"version\":\"1.0.0\"}");
	free(s);
	expect_text(codec_event_stamp("{}", 2, 18446744073709551615ULL,
	    "g\"w\n", &len), &len,
	    "{\"seq\":18446744073709551615,\"gateway\":\"g\\\"w\\u000a\"}");
	expect_text(codec_event_stamp("{\"a\":1}", 7, 1, "g", &len), &len,
	    "{\"seq\":1,\"gateway\":\"g\",\"a\":1}");
	T_CHECK(codec_event_stamp("[]", 2, 1, "g", &len) == NULL);
	T_CHECK(codec_event_stamp("{", 1, 1, "g", &len) == NULL);

	/* a state change with its reason */
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_STATE;
	ev.ts = TS2;
	ev.device = "d-7";
	ev.job = "j-3";
	ev.firmware = "fw-9";
	ev.module = "default";
	ev.state = "FAILED";
	ev.reason = "device:-2";
	ev.desc = "http \xe9\x94\x99";
	expect_text(codec_event_encode(&ev, &len), &len,
	    "{\"ts\":\"2027-01-15T08:30:05.007Z\",\"device\":\"d-7\","
	    "\"type\":\"state\",\"job\":\"j-3\",\"firmware\":\"fw-9\","
	    "\"module\":\"default\",\"state\":\"FAILED\","
	    "\"reason\":\"device:-2\",\"desc\":\"http \xe9\x94\x99\"}");
	/* the row of a job that allows a downgrade says so */
	ev.downgrade = 1;
	ev.reason = NULL;
	ev.desc = NULL;
	expect_text(codec_event_encode(&ev, &len), &len,
	    "{\"ts\":\"2027-01-15T08:30:05.007Z\",\"device\":\"d-7\","
	    "\"type\":\"state\",\"job\":\"j-3\",\"firmware\":\"fw-9\","
	    "\"module\":\"default\",\"state\":\"FAILED\","
	    "\"downgrade\":true}");

	/* a version report */
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_INFORM;
	ev.ts = TS1;
	ev.device = "d-7";
	ev.nversions = 2;
	ev.versions = mv;
	expect_text(codec_event_encode(&ev, &len), &len,
	    "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"device\":\"d-7\","
	    "\"type\":\"inform\",\"versions\":{\"default\":\"1.0.0\","
	    "\"wifi\":\"3\\\"x\"}}");
}

static void
test_error(void)
{
	size_t	 len = 0;

	expect_text(codec_error_encode("bad-request",
	    "malformed JSON at byte 3", &len), &len,
	    "{\"error\":\"bad-request\","
	    "\"message\":\"malformed JSON at byte 3\"}");
	expect_text(codec_error_encode("x", "quote \" back \\ nl \n \x01",
	    &len), &len,
	    "{\"error\":\"x\",\"message\":\"quote \\\" back \\\\ nl \\n "
	    "\\u0001\"}");
	expect_text(codec_error_encode(NULL, NULL, &len), &len,
	    "{\"error\":\"error\",\"message\":\"\"}");
}

/* What the encoders write, the decoders of a device can read back. */
static void
test_roundtrip(void)
{
	struct progress_body pb;
	struct check_body cb;
	char	 body[512], err[128];
	int	 n;

	n = snprintf(body, sizeof(body), "{\"job\":\"%s\",\"step\":%d,"
	    "\"desc\":\"%s\",\"version\":\"%s\"}", "j-77", -3, "x", "1.0");
	T_EQ_INT(run_progress(body, (size_t)n, &pb, err, sizeof(err)), 0);
	T_EQ_STR(pb.job, "j-77");
	T_EQ_INT(pb.step, -3);
	n = snprintf(body, sizeof(body), "{\"versions\":{\"a\":\"1\"}}");
	T_EQ_INT(run_check(body, (size_t)n, &cb, err, sizeof(err)), 0);
	T_EQ_STR(cb.versions[0].module, "a");
}

/*
 * The operator views (otactl --json, the admin API) and the admin API's
 * bodies: exact texts, the client reading them back into equal records,
 * and hostile request bodies.
 */

static void
device_sample(struct device_rec *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "d-7");
	snprintf(d->product, sizeof(d->product), "lamp");
	d->nversions = 2;
	snprintf(d->versions[0].module, OTA_ID_MAX + 1, "default");
	snprintf(d->versions[0].version, OTA_ID_MAX + 1, "1.0.0");
	snprintf(d->versions[1].module, OTA_ID_MAX + 1, "wifi");
	snprintf(d->versions[1].version, OTA_ID_MAX + 1, "7");
	d->psk_len = 16;
	d->created = TS1;
}

static void
counts_sample(struct jobs_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->n[JD_QUEUED] = 3;
	c->n[JD_SUCCEEDED] = 2;
	c->n[JD_FAILED] = 1;
	c->total = 6;
}

static void
jobdev_sample(struct jobdev_rec *jd)
{
	memset(jd, 0, sizeof(*jd));
	snprintf(jd->job, sizeof(jd->job), "j-3");
	snprintf(jd->device, sizeof(jd->device), "d-7");
	jd->state = JD_QUEUED;
	snprintf(jd->reason, sizeof(jd->reason), "offline");
	jd->created = TS1;
	jd->updated = TS1;
}

static void
test_device_view(void)
{
	struct device_rec d;
	size_t	 len = 0;

	device_sample(&d);
	expect_text(codec_device_encode(&d, &len), &len,
	    "{\"id\":\"d-7\",\"product\":\"lamp\",\"versions\":{\"default\":"
	    "\"1.0.0\",\"wifi\":\"7\"},\"psk\":true,\"secret\":false,"
	    "\"created\":\"2026-11-23T10:00:00.123Z\",\"lastSeen\":null,"
	    "\"seqs\":{}}");
	d.nversions = 0;
	d.psk_len = 0;
	d.has_secret = 1;
	d.last_seen = TS2;
	expect_text(codec_device_encode(&d, &len), &len,
	    "{\"id\":\"d-7\",\"product\":\"lamp\",\"versions\":{},"
	    "\"psk\":false,\"secret\":true,"
	    "\"created\":\"2026-11-23T10:00:00.123Z\","
	    "\"lastSeen\":\"2027-01-15T08:30:05.007Z\",\"seqs\":{}}");
	/* the API's view adds "updated", null until provisioning changes */
	expect_text(codec_device_encode_api(&d, &len), &len,
	    "{\"id\":\"d-7\",\"product\":\"lamp\",\"versions\":{},"
	    "\"psk\":false,\"secret\":true,"
	    "\"created\":\"2026-11-23T10:00:00.123Z\","
	    "\"lastSeen\":\"2027-01-15T08:30:05.007Z\",\"seqs\":{},"
	    "\"updated\":null}");
	d.updated = TS2;
	expect_text(codec_device_encode_api(&d, &len), &len,
	    "{\"id\":\"d-7\",\"product\":\"lamp\",\"versions\":{},"
	    "\"psk\":false,\"secret\":true,"
	    "\"created\":\"2026-11-23T10:00:00.123Z\","
	    "\"lastSeen\":\"2027-01-15T08:30:05.007Z\",\"seqs\":{},"
	    "\"updated\":\"2027-01-15T08:30:05.007Z\"}");
}

static void
test_firmware_view(void)
{
	struct firmware_rec fw;
	struct jobs_counts c;
	size_t	 len = 0;

	counts_sample(&c);
	fw_sample(&fw);
	fw.state = FW_VERIFIED;
	expect_text(codec_firmware_encode(&fw, NULL, &len), &len,
	    "{\"id\":\"fw-9\",\"product\":\"lamp\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"name\":\"\xe7\x81\xaf-v1.2(rc)\","
	    "\"description\":\"say \\\"hi\\\"\",\"signMethod\":\"SHA256\","
	    "\"size\":123456,\"md5\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"sha256\":\"000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\",\"state\":\"VERIFIED\","
	    "\"created\":\"2026-11-23T10:00:00.123Z\",\"seq\":0,"
	    "\"authorSig\":null,\"filename\":null}");
	fw.state = FW_VERIFY_FAILED;
	fw.sign_method = SIGN_MD5;
	fw.description[0] = '\0';
	expect_text(codec_firmware_encode(&fw, &c, &len), &len,
	    "{\"id\":\"fw-9\",\"product\":\"lamp\",\"module\":\"default\","
	    "\"version\":\"1.2.0\",\"name\":\"\xe7\x81\xaf-v1.2(rc)\","
	    "\"description\":\"\",\"signMethod\":\"MD5\","
	    "\"size\":123456,\"md5\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"sha256\":\"000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\",\"state\":\"VERIFY_FAILED\","
	    "\"created\":\"2026-11-23T10:00:00.123Z\",\"seq\":0,"
	    "\"authorSig\":null,\"filename\":null,\"devices\":{"
	    "\"WAIT_CONFIRM\":0,\"QUEUED\":3,\"NOTIFIED\":0,\"UPGRADING\":0,"
	    "\"SUCCEEDED\":2,\"FAILED\":1,\"RETRY_WAIT\":0,\"CANCELED\":0,"
	    "\"total\":6},\"counts\":{"
	    "\"WAIT_CONFIRM\":0,\"QUEUED\":3,\"NOTIFIED\":0,\"UPGRADING\":0,"
	    "\"SUCCEEDED\":2,\"FAILED\":1,\"RETRY_WAIT\":0,\"CANCELED\":0,"
	    "\"total\":6}}");
}

static void
history_sample(struct history_rec *h)
{
	memset(h, 0, sizeof(*h));
	h->seq = 3;
	snprintf(h->device, sizeof(h->device), "d-7");
	snprintf(h->job, sizeof(h->job), "j-3");
	snprintf(h->firmware, sizeof(h->firmware), "fw-9");
	snprintf(h->module, sizeof(h->module), "default");
	snprintf(h->to_version, sizeof(h->to_version), "1.2.0");
	h->state = JD_CANCELED;
	snprintf(h->reason, sizeof(h->reason), "canceled");
	h->finished = TS2;
}

static void
test_history_view(void)
{
	struct history_rec h;
	size_t	 len = 0;

	history_sample(&h);
	expect_text(codec_history_encode(&h, &len), &len,
	    "{\"seq\":3,\"device\":\"d-7\",\"job\":\"j-3\","
	    "\"firmware\":\"fw-9\",\"module\":\"default\",\"from\":null,"
	    "\"to\":\"1.2.0\",\"state\":\"CANCELED\",\"reason\":\"canceled\","
	    "\"desc\":null,\"retries\":0,\"notified\":null,\"started\":null,"
	    "\"finished\":\"2027-01-15T08:30:05.007Z\"}");
	h.state = JD_FAILED;
	snprintf(h.from_version, sizeof(h.from_version), "1.0.0");
	snprintf(h.reason, sizeof(h.reason), "device:-2");
	snprintf(h.desc, sizeof(h.desc), "http 404");
	h.retries = 2;
	h.notified = TS1;
	h.started = TS1;
	expect_text(codec_history_encode(&h, &len), &len,
	    "{\"seq\":3,\"device\":\"d-7\",\"job\":\"j-3\","
	    "\"firmware\":\"fw-9\",\"module\":\"default\","
	    "\"from\":\"1.0.0\",\"to\":\"1.2.0\",\"state\":\"FAILED\","
	    "\"reason\":\"device:-2\",\"desc\":\"http 404\",\"retries\":2,"
	    "\"notified\":\"2026-11-23T10:00:00.123Z\","
	    "\"started\":\"2026-11-23T10:00:00.123Z\","
	    "\"finished\":\"2027-01-15T08:30:05.007Z\"}");
}

static void
test_versions_view(void)
{
	struct version_count vc[2];
	struct codec_versions vs, vs2;
	char	 err[160], *s;
	size_t	 len = 0;
	const char *bad;

	memset(&vs, 0, sizeof(vs));
	memset(vc, 0, sizeof(vc));
	snprintf(vs.product, sizeof(vs.product), "lamp");
	snprintf(vs.module, sizeof(vs.module), "default");
	snprintf(vc[0].version, sizeof(vc[0].version), "1.2.0");
	vc[0].devices = 7000;
	snprintf(vc[1].version, sizeof(vc[1].version), "1.0.0");
	vc[1].devices = 2999;
	vs.items = vc;
	vs.n = 2;
	vs.unreported = 1;
	vs.total = 10000;
	s = codec_versions_encode(&vs, &len);
	T_EQ_STR(s, "{\"product\":\"lamp\",\"module\":\"default\","
	    "\"versions\":[{\"version\":\"1.2.0\",\"devices\":7000},"
	    "{\"version\":\"1.0.0\",\"devices\":2999}],\"unreported\":1,"
	    "\"total\":10000}");
	T_EQ_INT(codec_versions_decode(s, len, &vs2, err, sizeof(err)), 0);
	T_EQ_STR(vs2.product, "lamp");
	T_EQ_INT(vs2.n, 2);
	T_CHECK(vs2.items != NULL && memcmp(vs2.items, vc, sizeof(vc)) == 0);
	T_EQ_INT(vs2.unreported, 1);
	T_EQ_INT(vs2.total, 10000);
	free(vs2.items);
	free(s);
	/* none at all */
	vs.n = 0;
	s = codec_versions_encode(&vs, &len);
	T_EQ_INT(codec_versions_decode(s, len, &vs2, err, sizeof(err)), 0);
	T_EQ_INT(vs2.n, 0);
	T_CHECK(vs2.items == NULL);
	free(s);
	bad = "{\"product\":\"p\",\"module\":\"m\",\"versions\":[1]}";
	T_EQ_INT(codec_versions_decode(bad, strlen(bad), &vs2, err,
	    sizeof(err)), -1);
	T_CHECK(vs2.items == NULL);
	bad = "{\"product\":\"p\",\"module\":\"m\"}";
	T_EQ_INT(codec_versions_decode(bad, strlen(bad), &vs2, err,
	    sizeof(err)), -1);
	T_EQ_STR(err, "missing \"versions\"");
}

static void
test_job_view(void)
{
	struct job_rec job;
	struct jobs_counts c;
	size_t	 len = 0;

	counts_sample(&c);
	job_sample(&job);
	job.state = JOB_RUNNING;
	job.nsrc = 2;
	snprintf(job.src_versions[0], OTA_ID_MAX + 1, "1.0.0");
	snprintf(job.src_versions[1], OTA_ID_MAX + 1, "1.1.0");
	job.rate_per_minute = 100;
	job.retry_count = 2;
	job.retry_interval_min = 10;
	job.created = TS1;
	job.started = TS1;
	expect_text(codec_job_encode(&job, &c, &len), &len,
	    "{\"id\":\"j-3\",\"firmware\":\"fw-9\",\"product\":\"lamp\","
	    "\"module\":\"default\",\"version\":\"1.2.0\",\"kind\":\"batch\","
	    "\"state\":\"RUNNING\",\"scope\":\"all\",\"strategy\":\"static\","
	    "\"confirm\":\"silent\",\"seq\":0,"
	    "\"allowDowngrade\":false,\"srcVersions\":[\"1.0.0\",\"1.1.0\"],"
	    "\"ratePerMinute\":100,\"retry\":{\"count\":2,"
	    "\"intervalMinutes\":10},\"timeoutMinutes\":30,\"start\":null,"
	    "\"end\":null,\"created\":\"2026-11-23T10:00:00.123Z\","
	    "\"started\":\"2026-11-23T10:00:00.123Z\",\"finished\":null,"
	    "\"grayPercent\":null,\"abort\":null,\"counts\":{"
	    "\"WAIT_CONFIRM\":0,\"QUEUED\":3,\"NOTIFIED\":0,\"UPGRADING\":0,"
	    "\"SUCCEEDED\":2,\"FAILED\":1,\"RETRY_WAIT\":0,\"CANCELED\":0,"
	    "\"total\":6},\"patches\":{\"devices\":0,\"bytesSaved\":0}}");
	job.kind = JOB_KIND_VERIFY;
	job.state = JOB_TERMINATED;
	job.scope = JOB_SCOPE_GRAY;
	job.gray_percent = 15;
	job.dynamic = 1;
	job.confirm = 1;
	job.nsrc = 0;
	job.start = TS1;
	job.end = TS2;
	job.finished = TS2;
	job.abort_percent = 20;
	job.abort_min_devices = 50;
	expect_text(codec_job_encode(&job, NULL, &len), &len,
	    "{\"id\":\"j-3\",\"firmware\":\"fw-9\",\"product\":\"lamp\","
	    "\"module\":\"default\",\"version\":\"1.2.0\",\"kind\":\"verify\","
	    "\"state\":\"TERMINATED\",\"scope\":\"gray\","
	    "\"strategy\":\"dynamic\",\"confirm\":\"user\",\"seq\":0,"
	    "\"allowDowngrade\":false,\"srcVersions\":[],"
	    "\"ratePerMinute\":100,\"retry\":{\"count\":2,"
	    "\"intervalMinutes\":10},\"timeoutMinutes\":30,"
	    "\"start\":\"2026-11-23T10:00:00.123Z\","
	    "\"end\":\"2027-01-15T08:30:05.007Z\","
	    "\"created\":\"2026-11-23T10:00:00.123Z\","
	    "\"started\":\"2026-11-23T10:00:00.123Z\","
	    "\"finished\":\"2027-01-15T08:30:05.007Z\",\"grayPercent\":15,"
	    "\"abort\":{\"failurePercent\":20,\"minDevices\":50}}");
}

/* The API's job view: the shared shape, "onlyNewReports", "selection". */
static void
test_job_view_api(void)
{
	struct codec_job_sel sel;
	struct job_rec job;
	struct jobs_counts c;
	size_t	 len = 0;

	job_sample(&job);
	job.created = TS1;
	job.only_new_reports = 1;
	memset(&c, 0, sizeof(c));
	c.n[JD_QUEUED] = 4;
	c.total = 4;
	sel.added = 4;
	sel.skipped = 1;
	sel.left_out = 2;
	sel.superseded = 3;
	expect_text(codec_job_encode_api(&job, &c, &sel, &len), &len,
	    "{\"id\":\"j-3\",\"firmware\":\"fw-9\",\"product\":\"lamp\","
	    "\"module\":\"default\",\"version\":\"1.2.0\",\"kind\":\"batch\","
	    "\"state\":\"SCHEDULED\",\"scope\":\"all\",\"strategy\":\"static\","
	    "\"confirm\":\"silent\",\"seq\":0,"
	    "\"allowDowngrade\":false,\"srcVersions\":[],\"ratePerMinute\":0,"
	    "\"retry\":{\"count\":0,\"intervalMinutes\":0},"
	    "\"timeoutMinutes\":30,\"start\":null,\"end\":null,"
	    "\"created\":\"2026-11-23T10:00:00.123Z\",\"started\":null,"
	    "\"finished\":null,\"grayPercent\":null,\"abort\":null,"
	    "\"counts\":{\"WAIT_CONFIRM\":0,\"QUEUED\":4,\"NOTIFIED\":0,"
	    "\"UPGRADING\":0,\"SUCCEEDED\":0,\"FAILED\":0,\"RETRY_WAIT\":0,"
	    "\"CANCELED\":0,\"total\":4},"
	    "\"patches\":{\"devices\":0,\"bytesSaved\":0},"
	    "\"onlyNewReports\":true,"
	    "\"selection\":{\"added\":4,\"skipped\":1,\"leftOut\":2,"
	    "\"superseded\":3}}");
	job.only_new_reports = 0;
	expect_text(codec_job_encode_api(&job, NULL, NULL, &len), &len,
	    "{\"id\":\"j-3\",\"firmware\":\"fw-9\",\"product\":\"lamp\","
	    "\"module\":\"default\",\"version\":\"1.2.0\",\"kind\":\"batch\","
	    "\"state\":\"SCHEDULED\",\"scope\":\"all\",\"strategy\":\"static\","
	    "\"confirm\":\"silent\",\"seq\":0,"
	    "\"allowDowngrade\":false,\"srcVersions\":[],\"ratePerMinute\":0,"
	    "\"retry\":{\"count\":0,\"intervalMinutes\":0},"
	    "\"timeoutMinutes\":30,\"start\":null,\"end\":null,"
	    "\"created\":\"2026-11-23T10:00:00.123Z\",\"started\":null,"
	    "\"finished\":null,\"grayPercent\":null,\"abort\":null,"
	    "\"onlyNewReports\":false}");
}

static void
test_jobdev_view(void)
{
	struct jobdev_rec jd;
	size_t	 len = 0;

	jobdev_sample(&jd);
	expect_text(codec_jobdev_encode(&jd, &len), &len,
	    "{\"job\":\"j-3\",\"device\":\"d-7\",\"state\":\"QUEUED\","
	    "\"reason\":\"offline\",\"step\":0,\"desc\":null,\"retries\":0,"
	    "\"version\":null,\"created\":\"2026-11-23T10:00:00.123Z\","
	    "\"notified\":null,\"started\":null,"
	    "\"updated\":\"2026-11-23T10:00:00.123Z\",\"patch\":null}");
	jd.state = JD_FAILED;
	snprintf(jd.reason, sizeof(jd.reason), "device:-3");
	snprintf(jd.desc, sizeof(jd.desc), "md5 \xe4\xb8\x8d\xe5\xaf\xb9");
	snprintf(jd.last_version, sizeof(jd.last_version), "1.0.0");
	jd.step = -3;
	jd.retries = 1;
	jd.notified = TS1;
	jd.started = TS2;
	jd.updated = TS2;
	expect_text(codec_jobdev_encode(&jd, &len), &len,
	    "{\"job\":\"j-3\",\"device\":\"d-7\",\"state\":\"FAILED\","
	    "\"reason\":\"device:-3\",\"step\":-3,"
	    "\"desc\":\"md5 \xe4\xb8\x8d\xe5\xaf\xb9\",\"retries\":1,"
	    "\"version\":\"1.0.0\",\"created\":\"2026-11-23T10:00:00.123Z\","
	    "\"notified\":\"2026-11-23T10:00:00.123Z\","
	    "\"started\":\"2027-01-15T08:30:05.007Z\","
	    "\"updated\":\"2027-01-15T08:30:05.007Z\",\"patch\":null}");
}

static int
count_cb(const void *rec, const struct jobs_counts *c, void *arg)
{
	(void)rec;
	(void)c;
	(*(size_t *)arg)++;
	return 0;
}

/*
 * The admin API's bodies and views (codec_*_body_decode, *_view_decode):
 * good bodies, hostile ones, every strict prefix and every single-byte
 * mutation of the job body, and views read back into equal records.
 */
static const char admin_job_body[] =
    "{\"firmware\":\"fw-9\",\"kind\":\"verify\",\"force\":true,"
    "\"srcVersions\":[\"1.0.0\",\"1.1.0\",\"1.0.0\"],\"scope\":\"devices\","
    "\"devices\":[\"d-1\",\"d:2@x\"],\"grayPercent\":5,"
    "\"strategy\":\"static\",\"onlyNewReports\":false,\"confirm\":\"user\","
    "\"start\":\"2026-11-23T10:00:00.123Z\",\"end\":null,"
    "\"ratePerMinute\":100,\"retry\":{\"count\":2,\"intervalMinutes\":30},"
    "\"timeoutMinutes\":60,\"override\":true,"
    "\"abort\":{\"failurePercent\":20,\"minDevices\":5}}";

static const char *const admin_job_bad[] = {
	"{}",
	"{\"kind\":\"batch\"}",
	"{\"firmware\":\"fw 1\"}",
	"{\"firmware\":\"fw-1\",\"srcVersion\":[\"1\"]}",
	"{\"firmware\":\"fw-1\",\"kind\":\"big\"}",
	"{\"firmware\":\"fw-1\",\"force\":1}",
	"{\"firmware\":\"fw-1\",\"ratePerMinute\":-1}",
	"{\"firmware\":\"fw-1\",\"ratePerMinute\":1.5}",
	"{\"firmware\":\"fw-1\",\"ratePerMinute\":\"10\"}",
	"{\"firmware\":\"fw-1\",\"timeoutMinutes\":1e20}",
	"{\"firmware\":\"fw-1\",\"grayPercent\":101}",
	"{\"firmware\":\"fw-1\",\"start\":\"2026-13-01T00:00:00Z\"}",
	"{\"firmware\":\"fw-1\",\"retry\":{\"count\":1,\"every\":2}}",
	"{\"firmware\":\"fw-1\",\"retry\":[1]}",
	"{\"firmware\":\"fw-1\",\"retry\":{\"intervalMinutes\":\"5\"}}",
	"{\"firmware\":\"fw-1\",\"retry\":{\"count\":1,\"count\":2}}",
	"{\"firmware\":\"fw-1\",\"abort\":{\"minDevices\":2}}",
	"{\"firmware\":\"fw-1\",\"abort\":{\"failurePercent\":101}}",
	"{\"firmware\":\"fw-1\",\"abort\":{\"failurePercent\":null}}",
	"{\"firmware\":\"fw-1\",\"abort\":{\"failurePercent\":5,"
	"\"minDevices\":-3}}",
	"{\"firmware\":\"fw-1\",\"abort\":{\"failurePercent\":5,\"x\":1}}",
	"{\"firmware\":\"fw-1\",\"abort\":[20]}",
	"{\"firmware\":\"fw-1\",\"devices\":[\"ok\",7]}",
	"{\"firmware\":\"fw-1\",\"devices\":\"d-1\"}",
	"{\"firmware\":\"fw-1\",\"srcVersions\":[\"a b\"]}",
	"{\"firmware\":\"fw-1\",\"firmware\":\"fw-2\"}",
	"[\"fw-1\"]",
	"",
};

static int
run_job_body(const char *s, size_t len, struct job_rec *job, codec_id **devs,
    size_t *n, char *err, size_t errlen)
{
	char	*p = malloc(len > 0 ? len : 1);
	int	 r;

	memcpy(p, s, len);
	jobs_job_defaults(job);
	r = codec_job_body_decode(p, len, job, devs, n, err, errlen);
	free(p);
	return r;
}

static void
test_job_body(void)
{
	struct job_rec job, job2;
	codec_id *devs = NULL;
	const char *dv[2];
	char	 err[160], *s;
	size_t	 n = 0, len, blen = sizeof(admin_job_body) - 1;

	T_EQ_INT(run_job_body(admin_job_body, blen, &job, &devs, &n, err,
	    sizeof(err)), 0);
	T_EQ_STR(job.firmware, "fw-9");
	T_EQ_INT(job.kind, JOB_KIND_VERIFY);
	T_EQ_INT(job.force, 1);
	T_EQ_INT(job.nsrc, 2);
	T_EQ_INT(job.scope, JOB_SCOPE_DEVICES);
	T_EQ_INT(job.confirm, 1);
	T_EQ_INT(job.start, TS1);
	T_EQ_INT(job.rate_per_minute, 100);
	T_EQ_INT(job.retry_count, 2);
	T_EQ_INT(job.retry_interval_min, 30);
	T_EQ_INT(job.timeout_min, 60);
	T_EQ_INT(job.override, 1);
	T_EQ_INT(job.abort_percent, 20);
	T_EQ_INT(job.abort_min_devices, 5);
	T_EQ_INT(n, 2);
	if (n == 2)
		T_EQ_STR(devs[1], "d:2@x");
	/* what the client encodes, the API decodes to the same job */
	dv[0] = "d-1";
	dv[1] = "d:2@x";
	job.gray_percent = 10;	/* only sent with the gray scope */
	s = codec_job_body_encode(&job, dv, 2, &len);
	T_CHECK(s != NULL);
	free(devs);
	devs = NULL;
	T_EQ_INT(run_job_body(s, len, &job2, &devs, &n, err, sizeof(err)), 0);
	T_CHECK(memcmp(&job, &job2, sizeof(job)) == 0);
	T_EQ_INT(n, 2);
	free(s);
	free(devs);
	devs = NULL;
	/* defaults stay when absent */
	T_EQ_INT(run_job_body("{\"firmware\":\"fw-1\"}", 19, &job, &devs, &n,
	    err, sizeof(err)), 0);
	T_EQ_INT(job.timeout_min, 1440);
	T_EQ_INT(job.abort_percent, -1);
	T_CHECK(devs == NULL && n == 0);
}

/* What otactl --url sends to create a job, byte for byte. */
static void
test_job_body_text(void)
{
	const char *dv[2] = { "d-1", "d:2@x" };
	struct job_rec job;
	size_t	 len = 0;

	job_sample(&job);
	expect_text(codec_job_body_encode(&job, NULL, 0, &len), &len,
	    "{\"firmware\":\"fw-9\",\"kind\":\"batch\",\"force\":false,"
	    "\"srcVersions\":[],\"scope\":\"all\",\"strategy\":\"static\","
	    "\"onlyNewReports\":false,\"confirm\":\"silent\",\"start\":null,"
	    "\"end\":null,\"ratePerMinute\":0,\"retry\":{\"count\":0,"
	    "\"intervalMinutes\":0},\"timeoutMinutes\":30,\"override\":false,"
	    "\"abort\":null}");
	job.kind = JOB_KIND_VERIFY;
	job.force = 1;
	job.nsrc = 1;
	snprintf(job.src_versions[0], OTA_ID_MAX + 1, "1.0.0");
	job.scope = JOB_SCOPE_DEVICES;
	job.confirm = 1;
	job.start = TS1;
	job.abort_percent = 20;
	job.abort_min_devices = 5;
	expect_text(codec_job_body_encode(&job, dv, 2, &len), &len,
	    "{\"firmware\":\"fw-9\",\"kind\":\"verify\",\"force\":true,"
	    "\"srcVersions\":[\"1.0.0\"],\"scope\":\"devices\","
	    "\"devices\":[\"d-1\",\"d:2@x\"],\"strategy\":\"static\","
	    "\"onlyNewReports\":false,\"confirm\":\"user\","
	    "\"start\":\"2026-11-23T10:00:00.123Z\",\"end\":null,"
	    "\"ratePerMinute\":0,\"retry\":{\"count\":0,\"intervalMinutes\":0},"
	    "\"timeoutMinutes\":30,\"override\":false,"
	    "\"abort\":{\"failurePercent\":20,\"minDevices\":5}}");
	job.scope = JOB_SCOPE_GRAY;
	job.gray_percent = 15;
	job.dynamic = 1;
	job.only_new_reports = 1;
	job.override = 1;
	expect_text(codec_job_body_encode(&job, NULL, 0, &len), &len,
	    "{\"firmware\":\"fw-9\",\"kind\":\"verify\",\"force\":true,"
	    "\"srcVersions\":[\"1.0.0\"],\"scope\":\"gray\",\"grayPercent\":15,"
	    "\"strategy\":\"dynamic\",\"onlyNewReports\":true,"
	    "\"confirm\":\"user\",\"start\":\"2026-11-23T10:00:00.123Z\","
	    "\"end\":null,\"ratePerMinute\":0,\"retry\":{\"count\":0,"
	    "\"intervalMinutes\":0},\"timeoutMinutes\":30,\"override\":true,"
	    "\"abort\":{\"failurePercent\":20,\"minDevices\":5}}");
}

static void
test_job_body_bad(void)
{
	struct job_rec job;
	codec_id *devs = NULL;
	char	 err[160], *mut;
	size_t	 n = 0, i, blen = sizeof(admin_job_body) - 1;

	for (i = 0; i < sizeof(admin_job_bad) / sizeof(admin_job_bad[0]);
	    i++) {
		err[0] = '\0';
		if (run_job_body(admin_job_bad[i], strlen(admin_job_bad[i]),
		    &job, &devs, &n, err, sizeof(err)) != -1 || err[0] == '\0')
			T_CHECK(!"bad job body accepted or no message");
		T_CHECK(devs == NULL);
	}
	for (i = 0; i < blen; i++) {
		if (run_job_body(admin_job_body, i, &job, &devs, &n, err,
		    sizeof(err)) != -1) {
			T_CHECK(!"a strict prefix of the job body decoded");
			break;
		}
	}
	for (i = 0; i < blen; i++) {
		mut = strdup(admin_job_body);
		mut[i] = (char)(mut[i] ^ 0x5a);
		if (run_job_body(mut, blen, &job, &devs, &n, err,
		    sizeof(err)) == 0)
			free(devs);
		devs = NULL;
		free(mut);
	}
}

static void
test_device_put(void)
{
	struct codec_device_put dp, dp2;
	char	 err[160], *out;
	const char *s;
	size_t	 len = 0;

	s = "{\"product\":\"lamp\",\"secret\":\"s\",\"psk\":\"0011\","
	    "\"versions\":{\"default\":\"1\",\"wifi\":\"2\"}}";
	T_EQ_INT(codec_device_put_decode(s, strlen(s), &dp, err, sizeof(err)),
	    0);
	T_CHECK(dp.has_product && dp.has_secret && dp.has_psk);
	T_EQ_INT(dp.nversions, 2);
	T_EQ_STR(dp.psk_hex, "0011");
	/* what otactl --url sends is what it decoded */
	expect_text(codec_device_put_encode(&dp, &len), &len, s);
	s = "{\"product\":\"lamp\",\"owner\":\"x\"}";
	T_EQ_INT(codec_device_put_decode(s, strlen(s), &dp, err, sizeof(err)),
	    -1);
	s = "{\"secret\":null,\"psk\":\"\"}";
	T_EQ_INT(codec_device_put_decode(s, strlen(s), &dp, err, sizeof(err)),
	    0);
	T_CHECK(!dp.has_product && !dp.has_secret && dp.has_psk);
	expect_text(codec_device_put_encode(&dp, &len), &len,
	    "{\"psk\":\"\"}");
	/* members left out stay out; "" removes a secret */
	memset(&dp, 0, sizeof(dp));
	expect_text(codec_device_put_encode(&dp, &len), &len, "{}");
	dp.has_secret = 1;
	snprintf(dp.secret, sizeof(dp.secret), "q\"\\");
	expect_text(codec_device_put_encode(&dp, &len), &len,
	    "{\"secret\":\"q\\\"\\\\\"}");
	out = codec_device_put_encode(&dp, &len);
	T_CHECK(out != NULL);
	T_EQ_INT(codec_device_put_decode(out, len, &dp2, err, sizeof(err)),
	    0);
	T_CHECK(memcmp(&dp, &dp2, sizeof(dp)) == 0);
	free(out);
}

static void
test_fw_edit(void)
{
	struct codec_fw_edit fe;
	char	 err[160];
	const char *s;
	size_t	 len = 0;

	s = "{\"name\":\"(x\"}";
	T_EQ_INT(codec_fw_edit_decode(s, strlen(s), &fe, err, sizeof(err)),
	    -1);
	s = "{}";
	T_EQ_INT(codec_fw_edit_decode(s, strlen(s), &fe, err, sizeof(err)),
	    -1);
	s = "{\"description\":\"\"}";
	T_EQ_INT(codec_fw_edit_decode(s, strlen(s), &fe, err, sizeof(err)),
	    0);
	T_CHECK(fe.has_description && !fe.has_name);
	expect_text(codec_fw_edit_encode(&fe, &len), &len, s);
	s = "{\"name\":\"\xe7\x81\xaf-v1\",\"description\":\"say \\\"hi\\\"\"}";
	T_EQ_INT(codec_fw_edit_decode(s, strlen(s), &fe, err, sizeof(err)),
	    0);
	T_EQ_STR(fe.description, "say \"hi\"");
	expect_text(codec_fw_edit_encode(&fe, &len), &len, s);
}

/* The views the API sends, read back by otactl --url into equal records. */
static void
test_view_readback(void)
{
	struct codec_job_sel sel, sel2;
	struct job_rec job, job2;
	struct jobs_counts c, c2;
	struct device_rec d, d2;
	struct firmware_rec fw, fw2;
	struct jobdev_rec jd, jd2;
	char	 err[160], *s;
	size_t	 len;

	device_sample(&d);
	d.psk_len = 1;	/* the view says only whether there is a key */
	d.has_secret = 1;
	d.updated = TS2;
	d.nseqs = 2;
	snprintf(d.seqs[0].module, sizeof(d.seqs[0].module), "default");
	d.seqs[0].seq = 4294967295U;
	snprintf(d.seqs[1].module, sizeof(d.seqs[1].module), "wifi");
	d.seqs[1].seq = 1;
	s = codec_device_encode_api(&d, &len);
	T_CHECK(s != NULL);
	T_EQ_INT(codec_device_view_decode(s, len, &d2, err, sizeof(err)), 0);
	T_CHECK(memcmp(&d, &d2, sizeof(d)) == 0);
	free(s);

	job_sample(&job);
	job.nsrc = 1;
	snprintf(job.src_versions[0], OTA_ID_MAX + 1, "1.0.0");
	job.only_new_reports = 1;
	job.dynamic = 1;
	job.created = TS1;
	job.seq = 7;
	job.allow_downgrade = 1;
	memset(&c, 0, sizeof(c));
	c.n[JD_QUEUED] = 4;
	c.total = 4;
	sel.added = 4;
	sel.skipped = 1;
	sel.left_out = 2;
	sel.superseded = 3;
	s = codec_job_encode_api(&job, &c, &sel, &len);
	T_CHECK(s != NULL);
	T_EQ_INT(codec_job_view_decode(s, len, &job2, &c2, &sel2, err,
	    sizeof(err)), 0);
	T_EQ_STR(job2.id, job.id);
	T_EQ_INT(job2.only_new_reports, 1);
	T_EQ_INT(job2.dynamic, 1);
	T_EQ_INT(job2.seq, 7);
	T_EQ_INT(job2.allow_downgrade, 1);
	T_EQ_INT(job2.timeout_min, job.timeout_min);
	T_EQ_INT(job2.abort_percent, job.abort_percent);
	T_EQ_INT(c2.n[JD_QUEUED], 4);
	T_EQ_INT(sel2.superseded, 3);
	free(s);

	fw_sample(&fw);
	fw.state = FW_VERIFY_FAILED;
	fw.sign_method = SIGN_MD5;
	fw.seq = 3;
	fw.author_sig_len = OTA_SIG_MAX;
	memset(fw.author_sig, 0xa5, OTA_SIG_MAX);
	counts_sample(&c);
	s = codec_firmware_encode(&fw, &c, &len);
	T_CHECK(s != NULL);
	T_EQ_INT(codec_firmware_view_decode(s, len, &fw2, &c2, err,
	    sizeof(err)), 0);
	T_CHECK(memcmp(&fw, &fw2, sizeof(fw)) == 0);
	T_CHECK(memcmp(&c, &c2, sizeof(c)) == 0);
	free(s);

	/* a signature that is not base64; seqs that are not numbers */
	fw.author_sig_len = 5;
	memcpy(fw.author_sig, "\x30\x03\x02\x01\xff", 5);
	s = codec_firmware_encode(&fw, NULL, &len);
	T_CHECK(s != NULL && strstr(s, "\"authorSig\":\"MAMCAf8=\"") != NULL);
	T_EQ_INT(codec_firmware_view_decode(s, len, &fw2, NULL, err,
	    sizeof(err)), 0);
	T_EQ_INT(fw2.author_sig_len, 5);
	memcpy(strstr(s, "MAMCAf8="), "MAMC!f8=", 8);
	T_EQ_INT(codec_firmware_view_decode(s, len, &fw2, NULL, err,
	    sizeof(err)), -1);
	free(s);
	T_EQ_INT(codec_device_view_decode("{\"id\":\"d\",\"product\":\"p\","
	    "\"seqs\":{\"default\":1}}", 45, &d2, err, sizeof(err)), 0);
	T_EQ_INT(d2.seqs[0].seq, 1);
	T_EQ_INT(codec_device_view_decode("{\"id\":\"d\",\"product\":\"p\","
	    "\"seqs\":{\"default\":-1}}", 46, &d2, err, sizeof(err)), -1);
	T_EQ_INT(codec_device_view_decode("{\"id\":\"d\",\"product\":\"p\","
	    "\"seqs\":[1]}", 35, &d2, err, sizeof(err)), -1);

	jobdev_sample(&jd);
	jd.state = JD_RETRY_WAIT;
	jd.step = -4;
	jd.retries = 2;
	snprintf(jd.desc, sizeof(jd.desc), "flash \"full\"");
	snprintf(jd.last_version, sizeof(jd.last_version), "1.1.0");
	s = codec_jobdev_encode(&jd, &len);
	T_CHECK(s != NULL);
	T_EQ_INT(codec_jobdev_view_decode(s, len, &jd2, err, sizeof(err)), 0);
	T_CHECK(memcmp(&jd, &jd2, sizeof(jd)) == 0);
	free(s);
}

/*
 * The firmware view of a daemon before "devices", and history entries,
 * read back by otactl --url.
 */
static void
test_view_readback_history(void)
{
	struct firmware_rec fw2;
	struct jobs_counts c2;
	struct history_rec h, h2;
	char	 err[160], next[OTA_ID_MAX + 1], *s;
	size_t	 len, n;

	/* a firmware from a daemon before "devices": its "counts" */
	s = "{\"id\":\"fw-9\",\"product\":\"p\",\"module\":\"m\","
	    "\"version\":\"1\",\"name\":\"n\",\"signMethod\":\"MD5\","
	    "\"state\":\"VERIFIED\",\"size\":1,"
	    "\"md5\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\","
	    "\"sha256\":\"000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\",\"counts\":{\"FAILED\":2,"
	    "\"total\":2}}";
	T_EQ_INT(codec_firmware_view_decode(s, strlen(s), &fw2, &c2, err,
	    sizeof(err)), 0);
	T_EQ_INT(c2.n[JD_FAILED], 2);
	T_EQ_INT(c2.total, 2);

	history_sample(&h);
	h.state = JD_SUCCEEDED;
	memset(h.reason, 0, sizeof(h.reason));
	snprintf(h.from_version, sizeof(h.from_version), "1.0.0");
	snprintf(h.desc, sizeof(h.desc), "\xe5\xae\x8c\xe6\x88\x90");
	h.retries = 4;
	h.notified = TS1;
	s = codec_history_encode(&h, &len);
	T_CHECK(s != NULL);
	T_EQ_INT(codec_history_view_decode(s, len, &h2, err, sizeof(err)), 0);
	T_CHECK(memcmp(&h, &h2, sizeof(h)) == 0);
	free(s);
	s = "{\"seq\":0,\"device\":\"d\",\"job\":\"j\",\"firmware\":\"f\","
	    "\"module\":\"m\",\"to\":\"2\",\"state\":\"FAILED\"}";
	T_EQ_INT(codec_history_view_decode(s, strlen(s), &h2, err,
	    sizeof(err)), -1);
	T_EQ_STR(err, "bad \"seq\"");
	s = "{\"items\":[{\"seq\":2,\"device\":\"d\",\"job\":\"j\","
	    "\"firmware\":\"f\",\"module\":\"m\",\"to\":\"2\","
	    "\"state\":\"FAILED\"}],\"next\":\"2\"}";
	n = 0;
	T_EQ_INT(codec_list_decode(s, strlen(s), CODEC_VIEW_HISTORY, count_cb,
	    &n, next, err, sizeof(err)), 0);
	T_EQ_INT(n, 1);
	T_EQ_STR(next, "2");
}

/* The members a job view must have, before its optional ones. */
#define JOB_VIEW_HEAD							\
	"{\"id\":\"j\",\"firmware\":\"f\",\"product\":\"p\","		\
	"\"module\":\"m\",\"version\":\"1\",\"kind\":\"batch\","	\
	"\"state\":\"RUNNING\",\"scope\":\"all\","			\
	"\"strategy\":\"static\",\"confirm\":\"silent\","

/* A job's "selection": not an object is none; bad numbers fail. */
static void
test_view_selection(void)
{
	struct codec_job_sel sel;
	struct jobs_counts c;
	struct job_rec job;
	char	 err[160];
	const char *s;

	s = JOB_VIEW_HEAD "\"selection\":[1]}";
	T_EQ_INT(codec_job_view_decode(s, strlen(s), &job, &c, &sel, err,
	    sizeof(err)), 0);
	T_EQ_INT(sel.added, 0);
	s = JOB_VIEW_HEAD "\"selection\":{\"added\":1,\"skipped\":2}}";
	T_EQ_INT(codec_job_view_decode(s, strlen(s), &job, &c, &sel, err,
	    sizeof(err)), 0);
	T_EQ_INT(sel.added, 1);
	T_EQ_INT(sel.skipped, 2);
	T_EQ_INT(sel.left_out, 0);
	/* no sel: the selection is not read at all */
	s = JOB_VIEW_HEAD "\"selection\":{\"added\":-1}}";
	T_EQ_INT(codec_job_view_decode(s, strlen(s), &job, &c, NULL, err,
	    sizeof(err)), 0);
	T_EQ_INT(codec_job_view_decode(s, strlen(s), &job, &c, &sel, err,
	    sizeof(err)), -1);
	T_EQ_STR(err, "bad \"added\"");
	s = JOB_VIEW_HEAD "\"selection\":{\"added\":1,\"leftOut\":1e16}}";
	T_EQ_INT(codec_job_view_decode(s, strlen(s), &job, &c, &sel, err,
	    sizeof(err)), -1);
	T_EQ_STR(err, "bad \"leftOut\"");
	/* numbers a view can carry exactly: below 10^15 (cJSON's digits) */
	s = JOB_VIEW_HEAD "\"selection\":{\"leftOut\":1000000000000000}}";
	T_EQ_INT(codec_job_view_decode(s, strlen(s), &job, &c, &sel, err,
	    sizeof(err)), -1);
	s = JOB_VIEW_HEAD "\"selection\":{\"leftOut\":999999999999999}}";
	T_EQ_INT(codec_job_view_decode(s, strlen(s), &job, &c, &sel, err,
	    sizeof(err)), 0);
	T_CHECK(sel.left_out == 999999999999999ULL);
}

static struct jobs_counts stop_counts;

/* Stops after *(size_t *)arg items, remembering the counts it saw. */
static int
stop_cb(const void *rec, const struct jobs_counts *c, void *arg)
{
	(void)rec;
	if (c != NULL)
		stop_counts = *c;
	return --*(size_t *)arg == 0;
}

/* Lists, flat numbers and error bodies: what otactl --url reads. */
static void
test_lists(void)
{
	char	 err[160], next[OTA_ID_MAX + 1], code[32], msg[64];
	char	 small_code[4], small_msg[5];
	const char *s;
	int64_t	 vals[2];
	int	 present[2];
	size_t	 n = 0;

	s = "{\"items\":[{\"id\":\"a\",\"product\":\"p\"},{\"id\":\"b\","
	    "\"product\":\"p\"}],\"next\":\"b\"}";
	T_EQ_INT(codec_list_decode(s, strlen(s), CODEC_VIEW_DEVICE, count_cb,
	    &n, next, err, sizeof(err)), 0);
	T_EQ_INT(n, 2);
	T_EQ_STR(next, "b");
	/* a callback that stops; counts come with firmware and jobs */
	n = 1;
	memset(&stop_counts, 0, sizeof(stop_counts));
	s = "{\"items\":[{\"id\":\"j-3\",\"firmware\":\"fw-9\","
	    "\"product\":\"lamp\",\"module\":\"default\",\"version\":\"1\","
	    "\"kind\":\"batch\",\"state\":\"RUNNING\",\"scope\":\"all\","
	    "\"strategy\":\"static\",\"confirm\":\"silent\","
	    "\"counts\":{\"QUEUED\":2,\"total\":2}},{\"id\":\"j-4\"}],"
	    "\"next\":null}";
	T_EQ_INT(codec_list_decode(s, strlen(s), CODEC_VIEW_JOB, stop_cb, &n,
	    next, err, sizeof(err)), 1);
	T_EQ_INT(stop_counts.n[JD_QUEUED], 2);
	T_EQ_INT(stop_counts.total, 2);
	T_EQ_STR(next, "");
	/* the second item is bad: reading on fails */
	n = 5;
	T_EQ_INT(codec_list_decode(s, strlen(s), CODEC_VIEW_JOB, stop_cb, &n,
	    next, err, sizeof(err)), -1);
	T_EQ_STR(err, "missing \"firmware\"");
	s = "{\"items\":[{\"job\":\"j-3\",\"device\":\"d-7\","
	    "\"state\":\"NOTIFIED\",\"step\":0}]}";
	n = 0;
	T_EQ_INT(codec_list_decode(s, strlen(s), CODEC_VIEW_JOBDEV, count_cb,
	    &n, NULL, err, sizeof(err)), 0);
	T_EQ_INT(n, 1);
	T_EQ_INT(codec_list_decode(s, strlen(s), 9, count_cb, &n, NULL, err,
	    sizeof(err)), -1);
	T_EQ_STR(err, "unknown view");
	T_EQ_INT(codec_list_decode("{}", 2, CODEC_VIEW_FIRMWARE, count_cb, &n,
	    NULL, err, sizeof(err)), -1);
	T_EQ_STR(err, "missing \"items\"");

	s = "{\"done\":5,\"total\":null}";
	T_EQ_INT(codec_numbers_decode(s, strlen(s), (const char *const[]){
	    "done", "total" }, 2, vals, present, err, sizeof(err)), 0);
	T_CHECK(vals[0] == 5 && present[0] && !present[1]);
	s = "{\"done\":\"5\"}";
	T_EQ_INT(codec_numbers_decode(s, strlen(s), (const char *const[]){
	    "done", "total" }, 2, vals, present, err, sizeof(err)), -1);
	T_EQ_STR(err, "bad \"done\"");

	s = "{\"error\":\"conflict\",\"message\":\"in use\"}";
	T_EQ_INT(codec_error_decode(s, strlen(s), code, sizeof(code), msg,
	    sizeof(msg)), 0);
	T_EQ_STR(code, "conflict");
	T_EQ_STR(msg, "in use");
	/* cut to the buffers given */
	T_EQ_INT(codec_error_decode(s, strlen(s), small_code,
	    sizeof(small_code), small_msg, sizeof(small_msg)), 0);
	T_EQ_STR(small_code, "con");
	T_EQ_STR(small_msg, "in u");
	T_EQ_INT(codec_error_decode("{}", 2, code, sizeof(code), msg,
	    sizeof(msg)), -1);
	T_EQ_INT(codec_error_decode("[]", 2, code, sizeof(code), msg,
	    sizeof(msg)), -1);
}

/* A refused import's bad lines, out and back in. */
struct got_lines {
	char	 text[256];
	size_t	 n;
	size_t	 stop;	/* stop after this many, 0: never */
};

static int
got_line_cb(unsigned line, const char *message, void *arg)
{
	struct got_lines *g = arg;
	size_t	 o = strlen(g->text);

	snprintf(g->text + o, sizeof(g->text) - o, "%s%u:%s", o ? "|" : "",
	    line, message);
	return g->stop > 0 && ++g->n == g->stop;
}

static void
test_import_error(void)
{
	const struct codec_bad_line lines[] = {
	    { 2, "the PSK must be 1 to 64 bytes in hex" },
	    { 7, "device \"x\" \\ again" },
	};
	struct got_lines g;
	char	 err[160], code[32], msg[128], *s;
	size_t	 len, more;

	s = codec_import_error_encode("line 2: bad (and 4 more)", lines, 2, 3,
	    &len);
	T_CHECK(s != NULL);
	if (s == NULL)
		return;
	T_EQ_STR(s, "{\"error\":\"bad_request\",\"message\":\"line 2: bad (and "
	    "4 more)\",\"lines\":[{\"line\":2,\"message\":\"the PSK must be 1 "
	    "to 64 bytes in hex\"},{\"line\":7,\"message\":\"device \\\"x\\\" "
	    "\\\\ again\"}],\"more\":3}");
	/* an ordinary error reader still reads it */
	T_EQ_INT(codec_error_decode(s, len, code, sizeof(code), msg,
	    sizeof(msg)), 0);
	T_EQ_STR(code, "bad_request");
	memset(&g, 0, sizeof(g));
	T_EQ_INT(codec_import_error_decode(s, len, got_line_cb, &g, &more, err,
	    sizeof(err)), 0);
	T_EQ_STR(g.text, "2:the PSK must be 1 to 64 bytes in hex|7:device "
	    "\"x\" \\ again");
	T_EQ_INT(more, 3);
	memset(&g, 0, sizeof(g));
	g.stop = 1;
	T_EQ_INT(codec_import_error_decode(s, len, got_line_cb, &g, &more, err,
	    sizeof(err)), 0);
	T_EQ_STR(g.text, "2:the PSK must be 1 to 64 bytes in hex");
	free(s);
	/* none listed */
	s = codec_import_error_encode("x", NULL, 0, 0, &len);
	T_EQ_STR(s, "{\"error\":\"bad_request\",\"message\":\"x\",\"lines\":[],"
	    "\"more\":0}");
	free(s);
	/* not an import error, or a broken one */
	memset(&g, 0, sizeof(g));
	s = "{\"error\":\"conflict\",\"message\":\"in use\"}";
	T_EQ_INT(codec_import_error_decode(s, strlen(s), got_line_cb, &g, &more,
	    err, sizeof(err)), -1);
	s = "{\"error\":\"bad_request\",\"lines\":[{\"line\":-1,"
	    "\"message\":\"x\"}]}";
	T_EQ_INT(codec_import_error_decode(s, strlen(s), got_line_cb, &g, &more,
	    err, sizeof(err)), -1);
	s = "{\"error\":\"bad_request\",\"lines\":[{\"line\":1}]}";
	T_EQ_INT(codec_import_error_decode(s, strlen(s), got_line_cb, &g, &more,
	    err, sizeof(err)), -1);
	s = "{\"error\":\"bad_request\",\"lines\":[3]}";
	T_EQ_INT(codec_import_error_decode(s, strlen(s), got_line_cb, &g, &more,
	    err, sizeof(err)), -1);
	T_EQ_STR(g.text, "");
}

/* The attributes line of otactl device show: nothing in it misleads. */
static void
test_attrs_text(void)
{
	char	 buf[512];

	T_EQ_INT(codec_device_attrs_text("{\"hw\":\"2\",\"VIN\":\"ab\"}", buf,
	    sizeof(buf)), 0);
	T_EQ_STR(buf, "hw=2, VIN=ab");
	T_EQ_INT(codec_device_attrs_text("{\"a=b, c\":\"d\"}", buf,
	    sizeof(buf)), 0);
	T_EQ_STR(buf, "\"a=b, c\"=d");
	T_EQ_INT(codec_device_attrs_text("{\"k\":\"\\u001b[2J\",\"e\":\"\"}",
	    buf, sizeof(buf)), 0);
	T_EQ_STR(buf, "k=\"\\x1b[2J\", e=\"\"");
	T_EQ_INT(codec_device_attrs_text("{\"q\":\"say \\\"hi\\\"\"}", buf,
	    sizeof(buf)), 0);
	T_EQ_STR(buf, "q=\"say \\\"hi\\\"\"");
	T_EQ_INT(codec_device_attrs_text("", buf, sizeof(buf)), 0);
	T_EQ_STR(buf, "");
}

int
main(void)
{
	/* the device wire format */
	T_RUN(test_check_tables);
	T_RUN(test_check_request_version);
	T_RUN(test_progress_tables);
	T_RUN(test_nesting);
	T_RUN(test_prefixes);
	T_RUN(test_mutations);
	T_RUN(test_notice);
	T_RUN(test_events);
	T_RUN(test_error);
	T_RUN(test_roundtrip);
	/* the operator views and the admin API's bodies */
	T_RUN(test_device_view);
	T_RUN(test_firmware_view);
	T_RUN(test_job_view);
	T_RUN(test_job_view_api);
	T_RUN(test_jobdev_view);
	T_RUN(test_history_view);
	T_RUN(test_versions_view);
	T_RUN(test_job_body);
	T_RUN(test_job_body_text);
	T_RUN(test_job_body_bad);
	T_RUN(test_device_put);
	T_RUN(test_fw_edit);
	T_RUN(test_view_readback);
	T_RUN(test_view_readback_history);
	T_RUN(test_view_selection);
	T_RUN(test_lists);
	T_RUN(test_import_error);
	T_RUN(test_check_nonce);
	T_RUN(test_sign_keys);
	T_RUN(test_attrs_text);
	return t_done();
}
