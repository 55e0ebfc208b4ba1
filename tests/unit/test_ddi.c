/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_ddi: hawkBit's DDI bodies (src/codec/ddi.c): the feedback and
 * configData bodies devices send, good and hostile, and the JSON otagw
 * answers with, byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ddi.h"
#include "t.h"

static int
fb(const char *s, struct ddi_feedback *out)
{
	char	 err[160];

	return codec_ddi_feedback_decode(s, strlen(s), out, err, sizeof(err));
}

/* The bodies SWUpdate 2022.12 and rauc-hawkbit-updater send. */
static void
test_feedback_clients(void)
{
	struct ddi_feedback f;

	T_EQ_INT(fb("{ \"id\": 7, \"time\": \"20261207T152543\", \"status\": "
	    "{ \"result\": { \"progress\": { \"cnt\" : 1, \"of\" : 4 }, "
	    "\"finished\": \"none\" }, \"execution\": \"proceeding\", "
	    "\"details\" : [ \"Installing Update Chunk Artifacts.\" ] } }",
	    &f), 0);
	T_EQ_INT(f.execution, DDI_EXEC_PROCEEDING);
	T_EQ_INT(f.finished, DDI_FIN_NONE);
	T_EQ_INT(f.has_progress, 1);
	T_EQ_INT((int)f.cnt, 1);
	T_EQ_INT((int)f.of, 4);
	T_EQ_STR(f.details, "Installing Update Chunk Artifacts.");

	T_EQ_INT(fb("{\"id\":\"7\",\"time\":\"20261207T152543\",\"status\":"
	    "{\"result\":{\"finished\":\"failure\"},\"execution\":\"closed\","
	    "\"details\":[\"ERROR : HASH mismatch\",\"\",\"No suitable .swu "
	    "image found\"]}}", &f), 0);
	T_EQ_INT(f.execution, DDI_EXEC_CLOSED);
	T_EQ_INT(f.finished, DDI_FIN_FAILURE);
	T_EQ_INT(f.has_progress, 0);
	T_EQ_STR(f.details, "ERROR : HASH mismatch | No suitable .swu image "
	    "found");
	T_EQ_STR(f.all, "[\"ERROR : HASH mismatch\",\"\",\"No suitable .swu "
	    "image found\"]");

	/* every execution hawkBit knows; no details at all */
	T_EQ_INT(fb("{\"status\":{\"result\":{\"finished\":\"success\"},"
	    "\"execution\":\"downloaded\"}}", &f), 0);
	T_EQ_INT(f.execution, DDI_EXEC_DOWNLOADED);
	T_EQ_STR(f.details, "");
	T_EQ_STR(f.all, "");
	T_EQ_INT(fb("{\"status\":{\"result\":{\"finished\":\"none\"},"
	    "\"execution\":\"rejected\",\"details\":null}}", &f), 0);
	T_EQ_INT(f.execution, DDI_EXEC_REJECTED);
}

/* Details are cut at 128 characters, never inside one. */
static void
test_feedback_details(void)
{
	struct ddi_feedback f;
	char	 body[16384], *p;
	int	 i;

	p = body + sprintf(body, "{\"status\":{\"result\":{\"finished\":"
	    "\"none\"},\"execution\":\"proceeding\",\"details\":[\"");
	for (i = 0; i < 100; i++)
		p += sprintf(p, "\xe7\x81\xaf");	/* 100 x U+706F */
	p += sprintf(p, "\",\"tab\\there\",\"");
	for (i = 0; i < 300; i++)
		*p++ = 'x';
	sprintf(p, "\"]}}");
	T_EQ_INT(fb(body, &f), 0);
	T_EQ_INT((int)strlen(f.details), 300 + 3 + 8 + 3 + 14);
	T_CHECK(strncmp(f.details + 300, " | tab here | ", 14) == 0);
	/* upstream, every detail as it came: the tab escaped, not replaced */
	T_EQ_INT((int)strlen(f.all), 2 + 302 + 1 + 11 + 1 + 302);
	T_CHECK(strstr(f.all, "\"tab\\there\"") != NULL);

	/* more than fits upstream: the first ones, still an array */
	p = body + sprintf(body, "{\"status\":{\"result\":{\"finished\":"
	    "\"none\"},\"execution\":\"proceeding\",\"details\":[");
	for (i = 0; i < 40; i++)
		p += sprintf(p, "%s\"%0300d\"", i ? "," : "", i);
	sprintf(p, "]}}");
	T_EQ_INT(codec_ddi_feedback_decode(body, strlen(body), &f,
	    (char[80]){0}, 80), 0);
	T_EQ_INT((int)strlen(f.all), 2 + 27 * 302 + 26);	/* 27 fit */
	T_EQ_INT(f.all[strlen(f.all) - 1], ']');

	p = body + sprintf(body, "{\"status\":{\"result\":{\"finished\":"
	    "\"none\"},\"execution\":\"proceeding\",\"details\":[\"ab");
	for (i = 0; i < 200; i++)
		p += sprintf(p, "\xe7\x81\xaf");
	sprintf(p, "\"]}}");
	T_EQ_INT(fb(body, &f), 0);
	/* "ab" and 126 three-byte characters: 128 characters */
	T_EQ_INT((int)strlen(f.details), 2 + 126 * 3);
}

/* Refused: what hawkBit answers 400 for, and hostile shapes. */
static void
test_feedback_bad(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"{\"status\":null}",
		"{\"status\":{}}",
		"{\"status\":{\"execution\":\"closed\"}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":{}}}",
		"{\"status\":{\"execution\":\"done\",\"result\":"
		    "{\"finished\":\"success\"}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"SUCCESS\"}}}",
		"{\"status\":{\"execution\":1,\"result\":"
		    "{\"finished\":\"success\"}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"none\",\"progress\":{\"of\":1}}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"none\",\"progress\":{\"cnt\":-1}}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"none\",\"progress\":{\"cnt\":1,"
		    "\"of\":\"2\"}}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"none\",\"progress\":{\"cnt\":1e300}}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"none\"},\"details\":\"x\"}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"none\"},\"details\":[1]}}",
		"{\"status\":{\"execution\":\"closed\","
		    "\"execution\":\"closed\","
		    "\"result\":{\"finished\":\"none\"}}}",
		"{\"status\":{\"execution\":\"closed\",\"result\":"
		    "{\"finished\":\"none\"}}} x",
		"{\"status\":{\"execution\":\"clo\\u0000sed\",\"result\":"
		    "{\"finished\":\"none\"}}}",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
	};
	struct ddi_feedback f;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fb(bad[i], &f) != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		T_EQ_INT(fb(bad[i], &f), -1);
	}
	T_EQ_INT(codec_ddi_feedback_decode("\xff\xfe", 2, &f, (char[80]){0},
	    80), -1);
}

static int
cfg(const char *body, const char *old, char **out)
{
	char	 err[160];
	size_t	 len;

	*out = NULL;
	return codec_ddi_config_apply(body, strlen(body), old, out, &len,
	    err, sizeof(err));
}

static void
test_config(void)
{
	char	*a, *b, *c, big[8192], *p;
	int	 i;

	/* SWUpdate's body: no mode (merge), extra members ignored */
	T_EQ_INT(cfg("{ \"id\": \"\", \"time\": \"x\", \"status\": {}, "
	    "\"data\" : { \"VIN\": \"JH4TB2H26CC000000\", \"hw\": \"2\" } }",
	    NULL, &a), 0);
	T_EQ_STR(a, "{\"VIN\":\"JH4TB2H26CC000000\",\"hw\":\"2\"}");
	T_EQ_INT(cfg("{\"mode\":\"merge\",\"data\":{\"hw\":\"3\",\"os\":"
	    "\"deb12\"}}", a, &b), 0);
	T_EQ_STR(b, "{\"VIN\":\"JH4TB2H26CC000000\",\"hw\":\"3\","
	    "\"os\":\"deb12\"}");
	T_EQ_INT(cfg("{\"mode\":\"remove\",\"data\":{\"VIN\":\"\"}}", b, &c),
	    0);
	T_EQ_STR(c, "{\"hw\":\"3\",\"os\":\"deb12\"}");
	free(c);
	T_EQ_INT(cfg("{\"mode\":\"replace\",\"data\":{\"x\":\"\"}}", b, &c),
	    0);
	T_EQ_STR(c, "{\"x\":\"\"}");
	free(c);
	/* removing the last one leaves none */
	T_EQ_INT(cfg("{\"mode\":\"remove\",\"data\":{\"hw\":\"\",\"os\":\"\","
	    "\"VIN\":\"\"}}", b, &c), 0);
	T_CHECK(c == NULL);
	free(a);
	free(b);

	/* refused */
	T_EQ_INT(cfg("{\"data\":{}}", NULL, &a), -1);
	T_EQ_INT(cfg("{}", NULL, &a), -1);
	T_EQ_INT(cfg("{\"data\":[\"a\"]}", NULL, &a), -1);
	/* -2: the attributes, not the JSON, are wrong */
	T_EQ_INT(cfg("{\"data\":{\"k\":1}}", NULL, &a), -2);
	T_EQ_INT(cfg("{\"data\":{\"k\":null}}", NULL, &a), -2);
	T_EQ_INT(cfg("{\"data\":{\"\":\"v\"}}", NULL, &a), -2);
	T_EQ_INT(cfg("{\"mode\":\"append\",\"data\":{\"k\":\"v\"}}", NULL,
	    &a), -1);
	p = big + sprintf(big, "{\"data\":{\"");
	for (i = 0; i < 129; i++)
		*p++ = 'k';
	sprintf(p, "\":\"v\"}}");
	T_EQ_INT(cfg(big, NULL, &a), -2);
	p = big + sprintf(big, "{\"data\":{");
	for (i = 0; i <= DDI_ATTRS_MAX; i++)
		p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
	sprintf(p, "}}");
	T_EQ_INT(cfg(big, NULL, &a), -2);
	T_CHECK(a == NULL);
}

static void
test_encode(void)
{
	struct ddi_base_out b;
	struct ddi_deploy_out d;
	struct firmware_rec fw;
	char	*s;
	size_t	 len;
	int	 i;

	memset(&b, 0, sizeof(b));
	b.href = "https://gw:8443/DEFAULT/controller/v1/d1";
	b.sleep_s = 3725;
	s = codec_ddi_base_encode(&b, &len);
	T_EQ_STR(s, "{\"config\":{\"polling\":{\"sleep\":\"01:02:05\"}},"
	    "\"_links\":{}}");
	T_EQ_INT((int)len, (int)strlen(s));
	free(s);
	b.sleep_s = 0;		/* SWUpdate reads 00:00:00 as "its default" */
	b.link = DDI_LINK_CANCEL;
	b.action = 2147483647U;
	b.config = 1;
	s = codec_ddi_base_encode(&b, NULL);
	T_EQ_STR(s, "{\"config\":{\"polling\":{\"sleep\":\"00:00:01\"}},"
	    "\"_links\":{\"cancelAction\":{\"href\":\"https://gw:8443/DEFAULT/"
	    "controller/v1/d1/cancelAction/2147483647\"},\"configData\":"
	    "{\"href\":\"https://gw:8443/DEFAULT/controller/v1/d1/"
	    "configData\"}}}");
	free(s);
	b.sleep_s = 7 * 86400;	/* strptime's %H stops at 23 */
	b.link = DDI_LINK_DEPLOY;
	b.config = 0;
	s = codec_ddi_base_encode(&b, NULL);
	T_CHECK(strstr(s, "\"sleep\":\"23:59:59\"") != NULL);
	T_CHECK(strstr(s, "\"deploymentBase\":{\"href\":\"https://gw:8443/"
	    "DEFAULT/controller/v1/d1/deploymentBase/2147483647\"}") != NULL);
	free(s);

	memset(&fw, 0, sizeof(fw));
	snprintf(fw.id, sizeof(fw.id), "fw-3");
	snprintf(fw.module, sizeof(fw.module), "rootfs");
	snprintf(fw.version, sizeof(fw.version), "1.1.0");
	snprintf(fw.name, sizeof(fw.name), "lamp_1_1");
	fw.size = 302080;
	fw.has_sha1 = 1;
	for (i = 0; i < 32; i++) {
		fw.sha256[i] = (uint8_t)i;
		if (i < 20)
			fw.sha1[i] = (uint8_t)(0xa0 + i);
		if (i < 16)
			fw.md5[i] = (uint8_t)(0xf0 + i);
	}
	memset(&d, 0, sizeof(d));
	d.href = "https://gw/T/controller/v1/d1";
	d.action = 7;
	d.forced = 1;
	d.fw = &fw;
	d.filename = "lamp-1.1.0.swu";
	s = codec_ddi_deployment_encode(&d, NULL);
	T_EQ_STR(s, "{\"id\":\"7\",\"deployment\":{\"download\":\"forced\","
	    "\"update\":\"forced\",\"chunks\":[{\"part\":\"rootfs\","
	    "\"version\":\"1.1.0\",\"name\":\"lamp_1_1\",\"artifacts\":[{"
	    "\"filename\":\"lamp-1.1.0.swu\",\"hashes\":{\"sha1\":"
	    "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3\",\"md5\":"
	    "\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"sha256\":"
	    "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "\"},\"size\":302080,\"_links\":{\"download\":{\"href\":"
	    "\"https://gw/T/controller/v1/d1/softwaremodules/fw-3/artifacts/"
	    "lamp-1.1.0.swu\"},\"download-http\":{\"href\":\"https://gw/T/"
	    "controller/v1/d1/softwaremodules/fw-3/artifacts/lamp-1.1.0.swu\"},"
	    "\"md5sum\":{\"href\":\"https://gw/T/controller/v1/d1/"
	    "softwaremodules/fw-3/artifacts/lamp-1.1.0.swu.MD5SUM\"},"
	    "\"md5sum-http\":{\"href\":\"https://gw/T/controller/v1/d1/"
	    "softwaremodules/fw-3/artifacts/lamp-1.1.0.swu.MD5SUM\"}}}]}]}}");
	free(s);
	d.forced = 0;
	s = codec_ddi_deployment_encode(&d, NULL);
	T_CHECK(strstr(s, "\"download\":\"attempt\",\"update\":\"attempt\"") !=
	    NULL);
	free(s);

	s = codec_ddi_cancel_encode(42, NULL);
	T_EQ_STR(s, "{\"id\":\"42\",\"cancelAction\":{\"stopId\":\"42\"}}");
	free(s);
	s = codec_ddi_error_encode("C", "e.code", "no \"such\" action", NULL);
	T_EQ_STR(s, "{\"exceptionClass\":\"C\",\"errorCode\":\"e.code\","
	    "\"message\":\"no \\\"such\\\" action\"}");
	free(s);
}

int
main(void)
{
	T_RUN(test_feedback_clients);
	T_RUN(test_feedback_details);
	T_RUN(test_feedback_bad);
	T_RUN(test_config);
	T_RUN(test_encode);
	return t_done();
}
