/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * validate.h: the name and value rules of CONTRACT (ids, versions, firmware
 * names and descriptions), plus small text helpers (UTF-8, hex, RFC 3339).
 * Pure functions, no allocation.
 */
#ifndef OTAGW_VALIDATE_H
#define OTAGW_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 1 when valid, 0 when not. */
int	 valid_product(const char *);	/* [A-Za-z0-9_-]{1,64} */
int	 valid_device_id(const char *);	/* [A-Za-z0-9_.:@-]{1,64} */
int	 valid_module(const char *);	/* [A-Za-z0-9._-]{1,64} */
int	 valid_version(const char *);	/* [A-Za-z0-9._-]{1,64} */
/* Firmware or job id: [A-Za-z0-9_-]{1,64} */
int	 valid_id(const char *);
/*
 * An HTTP Host / :authority a URL may be built from: a DNS name (labels
 * of letters, digits and '-', at most 253 characters), a dotted IPv4
 * address or an IPv6 address in brackets (no zone), then optionally
 * ":port" (1-65535).  No user info, no percent signs, nothing else.
 */
int	 valid_authority(const char *);
/* 1-32 chars of CJK, letters, digits, _-(); first is CJK/letter/digit. */
int	 valid_fw_name(const char *);
/* An image's file name: 1-128 of A-Z a-z 0-9 . _ -, not starting with '.'. */
int	 valid_filename(const char *);
int	 valid_fw_description(const char *);	/* UTF-8, at most 100 chars */
int	 valid_progress_desc(const char *);	/* UTF-8, at most 128 chars */

/* Number of characters in a UTF-8 string, or -1 if it is not valid UTF-8. */
long	 utf8_length(const char *s, size_t len);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void	 hex_encode(const uint8_t *in, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
int	 hex_digit(int c);
/* Decodes hex (even length, either case); 0, or -1 if bad or > max. */
int	 hex_decode(const char *hex, uint8_t *out, size_t max, size_t *len);

/* RFC 3339 <-> ms since the epoch.  parse: 0 or -1. */
int	 time_parse_rfc3339(const char *, int64_t *ms);
/* "2026-11-23T10:00:00.123Z"; out must hold 32 bytes. */
void	 time_format_rfc3339(int64_t ms, char out[32]);
/* Wall clock, ms since the epoch. */
int64_t	 time_now_ms(void);

/*
 * The order of ids: ids the store hands out, "<prefix>-<n>" (fw-2, j-10),
 * sort by prefix and then by the number n (j-2 before j-10); any other id
 * (n missing or with a leading zero) sorts by its bytes among the
 * prefixes, before the numbered ids of the same prefix.  A total order:
 * 0 only for equal ids.  id_cmp_n takes lengths and allows any bytes;
 * both return <0, 0 or >0 as strcmp.
 */
int	 id_cmp(const char *a, const char *b);
int	 id_cmp_n(const void *a, size_t alen, const void *b, size_t blen);

/* Copies a string if it fits (including NUL); 0, or -1 without writing. */
int	 str_copy(char *dst, size_t size, const char *src);

#endif
