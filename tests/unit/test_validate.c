/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_validate.c: unit tests for src/util/validate.c.
 *
 * Table-driven: each validator gets good and bad values including the
 * length boundaries (64/65 for ids, 32/33 characters for firmware names,
 * 100/101 for descriptions), CJK names, and invalid UTF-8.  utf8_length is
 * fed every truncated prefix of multi-byte sequences.  Hex and RFC 3339 are
 * checked by round trips and hostile input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "util/validate.h"

/* A string of n copies of the UTF-8 sequence u (static buffer). */
static const char *
rep(const char *u, size_t n)
{
	static char buf[4][1024];
	static int which;
	char *b = buf[which++ % 4];
	size_t i, ul = strlen(u);

	b[0] = '\0';
	for (i = 0; i < n && (i + 1) * ul < sizeof(buf[0]); i++)
		memcpy(b + i * ul, u, ul + 1);
	return b;
}

struct vcase {
	const char	*s;
	int		 ok;
};

static void
test_tokens(void)
{
	static const struct vcase product[] = {
		{ "p", 1 }, { "prod-1_A", 1 }, { "0", 1 }, { "", 0 },
		{ "a.b", 0 }, { "a b", 0 }, { "a:b", 0 }, { "a/b", 0 },
		{ "é", 0 }, { "a\n", 0 }, { "产品", 0 },
	};
	static const struct vcase device[] = {
		{ "d1", 1 }, { "dev.1:2@x-y_z", 1 }, { "", 0 }, { "d 1", 0 },
		{ "d/1", 0 }, { "d#", 0 }, { "d%00", 0 }, { "设备", 0 },
	};
	static const struct vcase module[] = {
		{ "default", 1 }, { "wifi.fw_2-a", 1 }, { "", 0 }, { "m:1", 0 },
		{ "m@1", 0 }, { "m 1", 0 },
	};
	static const struct vcase version[] = {
		{ "1.0.0", 1 }, { "v2.1-rc_1", 1 }, { "", 0 }, { "1.0 ", 0 },
		{ "1,0", 0 }, { "1.0+b", 0 },
	};
	static const struct vcase id[] = {
		{ "fw-1", 1 }, { "j_2", 1 }, { "", 0 }, { "fw.1", 0 },
		{ "fw:1", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(product) / sizeof(product[0]); i++)
		T_EQ_INT(valid_product(product[i].s), product[i].ok);
	for (i = 0; i < sizeof(device) / sizeof(device[0]); i++)
		T_EQ_INT(valid_device_id(device[i].s), device[i].ok);
	for (i = 0; i < sizeof(module) / sizeof(module[0]); i++)
		T_EQ_INT(valid_module(module[i].s), module[i].ok);
	for (i = 0; i < sizeof(version) / sizeof(version[0]); i++)
		T_EQ_INT(valid_version(version[i].s), version[i].ok);
	for (i = 0; i < sizeof(id) / sizeof(id[0]); i++)
		T_EQ_INT(valid_id(id[i].s), id[i].ok);

	/* 64 vs 65 characters for every token kind. */
	T_EQ_INT(valid_product(rep("a", 64)), 1);
	T_EQ_INT(valid_product(rep("a", 65)), 0);
	T_EQ_INT(valid_device_id(rep("d", 64)), 1);
	T_EQ_INT(valid_device_id(rep("d", 65)), 0);
	T_EQ_INT(valid_module(rep("m", 64)), 1);
	T_EQ_INT(valid_module(rep("m", 65)), 0);
	T_EQ_INT(valid_version(rep("1", 64)), 1);
	T_EQ_INT(valid_version(rep("1", 65)), 0);
	T_EQ_INT(valid_id(rep("f", 64)), 1);
	T_EQ_INT(valid_id(rep("f", 65)), 0);
	T_EQ_INT(valid_product(NULL), 0);
	T_EQ_INT(valid_device_id(NULL), 0);
}

static void
test_fw_name(void)
{
	static const struct vcase cases[] = {
		{ "fw", 1 },
		{ "A", 1 },
		{ "9", 1 },
		{ "固件", 1 },
		{ "固件_v1-(beta)", 1 },
		{ "中文名称", 1 },
		{ "\xe3\x90\x80", 1 },		/* U+3400, extension A */
		{ "\xf0\xa0\x80\x80", 1 },	/* U+20000, extension B */
		{ "\xf0\xaa\x9c\x80", 1 },	/* U+2A700, extension C */
		{ "\xf0\xb0\x80\x80", 1 },	/* U+30000, extension G */
		{ "\xef\xa4\x80", 1 },		/* U+F900, compatibility */
		{ "\xe9\xbf\xbf", 1 },		/* U+9FFF */
		{ "", 0 },
		{ "_fw", 0 },
		{ "-fw", 0 },
		{ "(fw)", 0 },
		{ "fw name", 0 },
		{ "fw.1", 0 },
		{ "fw/1", 0 },
		{ "固件！", 0 },			/* full-width ! */
		{ "ＡＢ", 0 },			/* full-width letters */
		{ "あいう", 0 },		/* hiragana is not CJK here */
		{ "한글", 0 },			/* neither is hangul */
		{ "é", 0 },
		{ "\xe4\xb8", 0 },		/* truncated */
		{ "\xc0\xaf", 0 },		/* overlong */
		{ "\xe4\xb8\xad\xff", 0 },
		{ "\xe3\x80\x80", 0 },		/* ideographic space */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (valid_fw_name(cases[i].s) != cases[i].ok)
			fprintf(stderr, "fw name case %zu\n", i);
		T_EQ_INT(valid_fw_name(cases[i].s), cases[i].ok);
	}

	/* 32 vs 33 characters, ASCII and CJK (3 bytes each). */
	T_EQ_INT(valid_fw_name(rep("a", 32)), 1);
	T_EQ_INT(valid_fw_name(rep("a", 33)), 0);
	T_EQ_INT(valid_fw_name(rep("固", 32)), 1);
	T_EQ_INT(valid_fw_name(rep("固", 33)), 0);
	T_EQ_INT(valid_fw_name(rep("\xf0\xa0\x80\x80", 32)), 1);
	T_EQ_INT(valid_fw_name(rep("\xf0\xa0\x80\x80", 33)), 0);
	T_EQ_INT(valid_fw_name(NULL), 0);
}

static void
test_descriptions(void)
{
	T_EQ_INT(valid_fw_description(""), 1);
	T_EQ_INT(valid_fw_description("fixes the boot loop"), 1);
	T_EQ_INT(valid_fw_description("修复启动问题; line 1\nline 2\t!"), 1);
	T_EQ_INT(valid_fw_description(rep("x", 100)), 1);
	T_EQ_INT(valid_fw_description(rep("x", 101)), 0);
	T_EQ_INT(valid_fw_description(rep("描", 100)), 1);
	T_EQ_INT(valid_fw_description(rep("描", 101)), 0);
	T_EQ_INT(valid_fw_description(rep("\xf0\x9f\x98\x80", 100)), 1);
	T_EQ_INT(valid_fw_description(rep("\xf0\x9f\x98\x80", 101)), 0);
	T_EQ_INT(valid_fw_description("bad \xff byte"), 0);
	T_EQ_INT(valid_fw_description("trunc \xe6\x8f"), 0);
	T_EQ_INT(valid_fw_description("bell \a"), 0);
	T_EQ_INT(valid_fw_description("del \x7f"), 0);
	T_EQ_INT(valid_fw_description("esc \x1b[31m"), 0);
	T_EQ_INT(valid_fw_description(NULL), 0);

	T_EQ_INT(valid_progress_desc(""), 1);
	T_EQ_INT(valid_progress_desc("downloading"), 1);
	T_EQ_INT(valid_progress_desc(rep("y", 128)), 1);
	T_EQ_INT(valid_progress_desc(rep("y", 129)), 0);
	T_EQ_INT(valid_progress_desc(rep("下", 128)), 1);
	T_EQ_INT(valid_progress_desc(rep("下", 129)), 0);
	T_EQ_INT(valid_progress_desc("\xed\xa0\x80"), 0);	/* surrogate */
}

static void
test_utf8(void)
{
	static const struct {
		const char	*s;
		long		 len;
	} cases[] = {
		{ "", 0 },
		{ "abc", 3 },
		{ "\xc2\x80", 1 },		/* U+0080, smallest 2-byte */
		{ "\xdf\xbf", 1 },		/* U+07FF */
		{ "\xe0\xa0\x80", 1 },		/* U+0800, smallest 3-byte */
		{ "\xef\xbf\xbf", 1 },		/* U+FFFF */
		{ "\xed\x9f\xbf", 1 },		/* U+D7FF, below surrogates */
		{ "\xee\x80\x80", 1 },		/* U+E000, above surrogates */
		{ "\xf0\x90\x80\x80", 1 },	/* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 1 },	/* U+10FFFF */
		{ "a中b😀", 4 },
		{ "\x80", -1 },			/* lone continuation */
		{ "\xbf", -1 },
		{ "\xc0\x80", -1 },		/* overlong NUL */
		{ "\xc1\xbf", -1 },		/* overlong */
		{ "\xe0\x80\xaf", -1 },		/* overlong '/' */
		{ "\xe0\x9f\xbf", -1 },		/* overlong U+07FF */
		{ "\xf0\x80\x80\xaf", -1 },	/* overlong */
		{ "\xf0\x8f\xbf\xbf", -1 },	/* overlong U+FFFF */
		{ "\xed\xa0\x80", -1 },		/* U+D800 */
		{ "\xed\xbf\xbf", -1 },		/* U+DFFF */
		{ "\xf4\x90\x80\x80", -1 },	/* U+110000 */
		{ "\xf5\x80\x80\x80", -1 },
		{ "\xf8\x88\x80\x80\x80", -1 },	/* 5-byte form */
		{ "\xfe", -1 },
		{ "\xff", -1 },
		{ "\xc2\x41", -1 },		/* bad continuation */
		{ "\xe4\xb8\x41", -1 },
		{ "ok\xc2", -1 },
	};
	static const char *multi[] = {
		"\xc2\xa9", "\xe4\xb8\xad", "\xef\xbf\xbd", "\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf", "\xf0\xa0\x80\x80",
	};
	char buf[16];
	size_t i, k, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = utf8_length(cases[i].s, strlen(cases[i].s));

		if (got != cases[i].len)
			fprintf(stderr, "utf8 case %zu\n", i);
		T_EQ_INT(got, cases[i].len);
	}
	/* Embedded NUL is a character when a length is given. */
	T_EQ_INT(utf8_length("a\0b", 3), 3);
	T_EQ_INT(utf8_length(NULL, 0), 0);

	/* Every truncated prefix of every multi-byte sequence, alone and
	 * followed by ASCII, is invalid; the whole sequence is one char. */
	for (i = 0; i < sizeof(multi) / sizeof(multi[0]); i++) {
		n = strlen(multi[i]);
		T_EQ_INT(utf8_length(multi[i], n), 1);
		for (k = 1; k < n; k++) {
			T_EQ_INT(utf8_length(multi[i], k), -1);
			memcpy(buf, multi[i], k);
			buf[k] = 'x';
			T_EQ_INT(utf8_length(buf, k + 1), -1);
			memcpy(buf, "ab", 2);
			memcpy(buf + 2, multi[i], k);
			T_EQ_INT(utf8_length(buf, k + 2), -1);
		}
	}
}

static void
test_hex(void)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	uint8_t out[16], big[256];
	char hex[2 * sizeof(big) + 1];
	size_t len = 99, i;

	hex_encode(bytes, sizeof(bytes), hex);
	T_EQ_STR(hex, "00017f80abff");
	T_EQ_INT(hex_decode(hex, out, sizeof(out), &len), 0);
	T_EQ_INT(len, sizeof(bytes));
	T_CHECK(memcmp(out, bytes, sizeof(bytes)) == 0);

	T_EQ_INT(hex_decode("00017F80ABFF", out, sizeof(out), &len), 0);
	T_CHECK(memcmp(out, bytes, sizeof(bytes)) == 0);

	hex_encode(bytes, 0, hex);
	T_EQ_STR(hex, "");
	T_EQ_INT(hex_decode("", out, sizeof(out), &len), 0);
	T_EQ_INT(len, 0);

	/* Round trip of every byte value. */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	hex_encode(big, sizeof(big), hex);
	memset(big, 0, sizeof(big));
	T_EQ_INT(hex_decode(hex, big, sizeof(big), &len), 0);
	T_EQ_INT(len, 256);
	for (i = 0; i < sizeof(big) && big[i] == (uint8_t)i; i++)
		;
	T_EQ_INT(i, 256);

	/* Bad input writes nothing. */
	memset(out, 0x55, sizeof(out));
	T_EQ_INT(hex_decode("abc", out, sizeof(out), &len), -1);
	T_EQ_INT(hex_decode("zz", out, sizeof(out), &len), -1);
	T_EQ_INT(hex_decode("0g", out, sizeof(out), &len), -1);
	T_EQ_INT(hex_decode("00 1", out, sizeof(out), &len), -1);
	T_EQ_INT(hex_decode("0x00", out, sizeof(out), &len), -1);
	T_EQ_INT(hex_decode(NULL, out, sizeof(out), &len), -1);
	T_EQ_INT(out[0], 0x55);
	/* max is a byte count: 2 bytes fit, 3 do not. */
	T_EQ_INT(hex_decode("0102", out, 2, &len), 0);
	T_EQ_INT(hex_decode("010203", out, 2, &len), -1);
}

static void
test_time(void)
{
	static const struct {
		const char	*s;
		int64_t		 ms;
	} good[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1970-01-01T00:00:00.001Z", 1 },
		{ "2026-11-23T10:00:00.123Z", 1795428000123LL },
		{ "2026-11-23T10:00:00.123456789Z", 1795428000123LL },
		{ "2026-11-23T10:00:00.1Z", 1795428000100LL },
		{ "2026-11-23t10:00:00z", 1795428000000LL },
		{ "2026-11-23T18:00:00+08:00", 1795428000000LL },
		{ "2026-11-23T04:30:00-05:30", 1795428000000LL },
		{ "2026-11-23T10:00:00+00:00", 1795428000000LL },
		{ "2024-02-29T00:00:00Z", 1709164800000LL },
		{ "2000-02-29T12:00:00Z", 951825600000LL },
		{ "1969-12-31T23:59:59.999Z", -1 },
		{ "2016-12-31T23:59:60Z", 1483228800000LL }, /* leap second */
	};
	static const char *bad[] = {
		"", "2026", "2026-11-23", "2026-11-23T10:00Z",
		"2026-11-23T10:00:00", "2026-11-23 10:00:00Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-11-00T00:00:00Z", "2026-11-31T00:00:00Z",
		"2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2026-11-23T24:00:00Z", "2026-11-23T10:60:00Z",
		"2026-11-23T10:00:61Z", "2026-11-23T10:00:00.Z",
		"2026-11-23T10:00:00+8:00", "2026-11-23T10:00:00+08",
		"2026-11-23T10:00:00+0800", "2026-11-23T10:00:00+24:00",
		"2026-11-23T10:00:00+08:60", "2026-11-23T10:00:00Zx",
		"2026-11-23T10:00:00Z ", " 2026-11-23T10:00:00Z",
		"2026-1-23T10:00:00Z", "20261123T100000Z",
		"2026-11-23T10:00:00.12a3Z", "+2026-11-23T10:00:00Z",
	};
	char out[32], again[32];
	int64_t ms = 42, t;
	int bad_trips;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 42;
		T_EQ_INT(time_parse_rfc3339(good[i].s, &ms), 0);
		T_EQ_INT(ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (time_parse_rfc3339(bad[i], &ms) != -1)
			fprintf(stderr, "time accepted: \"%s\"\n", bad[i]);
		T_EQ_INT(time_parse_rfc3339(bad[i], &ms), -1);
	}
	T_EQ_INT(time_parse_rfc3339(NULL, &ms), -1);

	time_format_rfc3339(0, out);
	T_EQ_STR(out, "1970-01-01T00:00:00.000Z");
	time_format_rfc3339(1795428000123LL, out);
	T_EQ_STR(out, "2026-11-23T10:00:00.123Z");
	time_format_rfc3339(-1, out);
	T_EQ_STR(out, "1969-12-31T23:59:59.999Z");
	time_format_rfc3339(1709164800000LL, out);
	T_EQ_STR(out, "2024-02-29T00:00:00.000Z");
	time_format_rfc3339(253402300799999LL, out);
	T_EQ_STR(out, "9999-12-31T23:59:59.999Z");

	/* Round trips across many dates, leap years included (one check). */
	bad_trips = 0;
	for (t = -86400000LL * 365 * 70; t < 86400000LL * 365 * 400;
	    t += 86400000LL * 13 + 3600007) {
		time_format_rfc3339(t, out);
		ms = 0;
		if (strlen(out) != 24 || time_parse_rfc3339(out, &ms) != 0 ||
		    ms != t) {
			fprintf(stderr, "round trip failed: %s\n", out);
			bad_trips++;
		}
		time_format_rfc3339(ms, again);
		if (strcmp(out, again) != 0)
			bad_trips++;
	}
	T_EQ_INT(bad_trips, 0);

	/* time_now_ms is the wall clock, after 2024 and in ms. */
	ms = time_now_ms();
	T_CHECK(ms > 1704067200000LL);
	T_CHECK(ms < 1704067200000LL * 3);
}

static void
test_str_copy(void)
{
	char buf[4];

	memset(buf, 'x', sizeof(buf));
	T_EQ_INT(str_copy(buf, sizeof(buf), "abc"), 0);
	T_EQ_STR(buf, "abc");
	T_EQ_INT(str_copy(buf, sizeof(buf), "abcd"), -1);
	T_EQ_STR(buf, "abc");		/* unchanged */
	T_EQ_INT(str_copy(buf, sizeof(buf), ""), 0);
	T_EQ_STR(buf, "");
	T_EQ_INT(str_copy(buf, 0, ""), -1);
	T_EQ_INT(str_copy(buf, sizeof(buf), NULL), -1);
}

/* Host / :authority values a notice's url may be made of. */
static void
test_authority(void)
{
	static const struct {
		const char	*s;
		int		 ok;
	} cases[] = {
		{ "gw", 1 }, { "gw.lan", 1 }, { "gw.lan:8443", 1 },
		{ "GW-1.example.com:443", 1 }, { "10.0.0.1", 1 },
		{ "10.0.0.1:8443", 1 }, { "[::1]", 1 }, { "[::1]:8443", 1 },
		{ "[2001:db8::1]:1", 1 }, { "[::ffff:10.0.0.1]:65535", 1 },
		{ "", 0 }, { ":8443", 0 }, { "gw:", 0 }, { "gw:0", 0 },
		{ "gw:65536", 0 }, { "gw:123456", 0 }, { "gw:84a3", 0 },
		{ "gw..lan", 0 }, { ".gw", 0 }, { "gw.", 0 }, { "-gw", 0 },
		{ "gw-.lan", 0 }, { "gw-", 0 }, { "user@gw", 0 },
		{ "gw/x", 0 }, { "gw?x", 0 }, { "gw x", 0 }, { "gw%20", 0 },
		{ "gw\"><script>", 0 }, { "[::1", 0 }, { "[]", 0 },
		{ "[fe80::1%25eth0]", 0 }, { "[gw]", 0 }, { "[::1]x", 0 },
		{ "a:b:c", 0 }, { "g\xc3\xa9.lan", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (valid_authority(cases[i].s) != cases[i].ok) {
			fprintf(stderr, "valid_authority(\"%s\")\n",
			    cases[i].s);
			T_EQ_INT(valid_authority(cases[i].s), cases[i].ok);
		} else
			T_EQ_INT(cases[i].ok, cases[i].ok);
	T_EQ_INT(valid_authority(NULL), 0);
	T_EQ_INT(valid_authority(rep("a", 63)), 1);
	T_EQ_INT(valid_authority(rep("a", 64)), 0);
}

static int
sign(int c)
{
	return c < 0 ? -1 : c > 0;
}

/*
 * id_cmp: numbered ids by number, others by bytes; a strict total order
 * (every pair of a sorted table compares as its positions, both ways).
 */
static void
test_id_cmp(void)
{
	static const char *const sorted[] = {
	    "", "-1", "a", "a-", "a-0", "a-01", "a-1x", "a-x", "fw",
	    "fw-1", "fw-2", "fw-9", "fw-10", "fw-11", "fw-99", "fw-100",
	    "fw-18446744073709551615", "fw-18446744073709551616",
	    "fw-1000000000000000000000", "fw-1-1", "fw-1-2", "fw-1-10",
	    "fw-2-1", "fw-9a", "fwx", "j", "j-1", "j-2", "j-10", "j_1",
	};
	size_t	 n = sizeof(sorted) / sizeof(sorted[0]), i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < n; k++)
			if (sign(id_cmp(sorted[i], sorted[k])) !=
			    (i < k ? -1 : i > k)) {
				T_CHECK(!"id_cmp out of order");
				fprintf(stderr, "  %s vs %s: %d\n", sorted[i],
				    sorted[k], id_cmp(sorted[i], sorted[k]));
			}
	T_EQ_INT(id_cmp("j-2", "j-10") < 0, 1);
	T_EQ_INT(id_cmp("j-10", "j-2") > 0, 1);
	T_EQ_INT(id_cmp("fw-7", "fw-7"), 0);
	/* lengths, not NULs, end the ids of id_cmp_n */
	T_EQ_INT(sign(id_cmp_n("j-10xyz", 4, "j-2", 3)), 1);
	T_EQ_INT(id_cmp_n("j-1\0a", 5, "j-1\0a", 5), 0);
	T_EQ_INT(id_cmp_n("", 0, "", 0), 0);
}

int
main(void)
{
	T_RUN(test_tokens);
	T_RUN(test_fw_name);
	T_RUN(test_descriptions);
	T_RUN(test_utf8);
	T_RUN(test_hex);
	T_RUN(test_time);
	T_RUN(test_str_copy);
	T_RUN(test_authority);
	T_RUN(test_id_cmp);
	return t_done();
}
