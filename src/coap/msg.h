/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg.h: CoAP messages (RFC 7252 section 3) as flat structs.
 *
 * The only file that includes libcoap.  Incoming datagrams are parsed by
 * libcoap's own parser (coap_pdu_parse, which checks the header, token,
 * option encoding and the lengths of the options it knows) and copied
 * into a struct coapmsg that points into the parser's buffer: valid until
 * the next parse with the same parser.  Outgoing messages are written
 * straight into a caller's buffer (struct coapbuf), options encoded by
 * libcoap's coap_opt_encode, in ascending option order.
 *
 * Nothing here does I/O or keeps state between messages beyond the
 * parser's buffer.
 */
#ifndef OTAGW_COAP_MSG_H
#define OTAGW_COAP_MSG_H

#include <stddef.h>
#include <stdint.h>

/* Message types. */
#define COAPMSG_CON	0
#define COAPMSG_NON	1
#define COAPMSG_ACK	2
#define COAPMSG_RST	3

/* Codes: class.detail packed as class << 5 | detail. */
#define COAPMSG_CODE(c, d)	((uint8_t)((c) << 5 | (d)))
#define COAPMSG_EMPTY		0
#define COAPMSG_GET		COAPMSG_CODE(0, 1)
#define COAPMSG_POST		COAPMSG_CODE(0, 2)

/* Options otagw reads or writes. */
#define COAPOPT_IF_MATCH	1
#define COAPOPT_URI_HOST	3
#define COAPOPT_ETAG		4
#define COAPOPT_IF_NONE_MATCH	5
#define COAPOPT_OBSERVE		6
#define COAPOPT_URI_PORT	7
#define COAPOPT_URI_PATH	11
#define COAPOPT_CONTENT_FORMAT	12
#define COAPOPT_MAX_AGE		14
#define COAPOPT_URI_QUERY	15
#define COAPOPT_ACCEPT		17
#define COAPOPT_BLOCK2		23
#define COAPOPT_BLOCK1		27
#define COAPOPT_SIZE2		28
#define COAPOPT_PROXY_URI	35
#define COAPOPT_PROXY_SCHEME	39
#define COAPOPT_SIZE1		60
#define COAPOPT_NO_RESPONSE	258
#define COAPOPT_REQUEST_TAG	292

/* Content formats. */
#define COAPFMT_TEXT		0
#define COAPFMT_OCTETS		42
#define COAPFMT_JSON		50

/* Options kept per message; a request with more is refused (4.02). */
#define COAPMSG_OPTS_MAX	32

struct coapmsg_opt {
	uint16_t	 num;
	uint16_t	 len;
	const uint8_t	*val;
};

struct coapmsg {
	uint8_t		 type;
	uint8_t		 code;
	uint16_t	 mid;
	uint8_t		 tkl;
	uint8_t		 token[8];
	size_t		 nopts;
	int		 too_many;	/* more options than COAPMSG_OPTS_MAX */
	struct coapmsg_opt opts[COAPMSG_OPTS_MAX];
	const uint8_t	*payload;
	size_t		 payload_len;
};

/* A Block1 or Block2 option (RFC 7959 2.2). */
struct coapmsg_block {
	uint32_t	 num;
	int		 m;
	unsigned	 szx;		/* 0..6: 16 << szx bytes */
};

struct coapmsg_parser;

/* One parser per thread; NULL when out of memory. */
struct coapmsg_parser *coapmsg_parser_new(void);
void	 coapmsg_parser_free(struct coapmsg_parser *);	/* accepts NULL */

/*
 * Reads the 4-byte header and the token only (what a reset or an error
 * answer needs): 0, or -1 when even those are unusable (short, version
 * not 1, token length over 8).
 */
int	 coapmsg_header(const uint8_t *, size_t, struct coapmsg *);
/*
 * Parses a whole datagram: 0, or -1 on a message format error (then the
 * header fields of *m are still filled when coapmsg_header could).
 */
int	 coapmsg_parse(struct coapmsg_parser *, const uint8_t *, size_t,
	    struct coapmsg *);

/* The first option number num, or NULL. */
const struct coapmsg_opt *coapmsg_opt(const struct coapmsg *, uint16_t num);
/* An unsigned option value (at most 4 bytes): 0, or -1 if too long. */
int	 coapmsg_opt_uint(const struct coapmsg_opt *, uint32_t *);
/*
 * A block option: 1 with *b filled, 0 absent, -1 invalid (longer than 3
 * bytes, SZX 7, or NUM beyond 2^20 - 1).
 */
int	 coapmsg_block(const struct coapmsg *, uint16_t num,
	    struct coapmsg_block *);

/* Builds one message in a caller's buffer. */
struct coapbuf {
	uint8_t		*buf;
	size_t		 cap;
	size_t		 len;
	uint16_t	 last;		/* last option number written */
	int		 overflow;	/* something did not fit */
};

/* Header and token; the code may be set later with coapbuf_code. */
void	 coapbuf_init(struct coapbuf *, uint8_t *, size_t, uint8_t type,
	    uint8_t code, uint16_t mid, const uint8_t *token, size_t tkl);
void	 coapbuf_code(struct coapbuf *, uint8_t code);
uint8_t	 coapbuf_get_code(const struct coapbuf *);
/* Options must come in ascending number order (equal numbers repeat). */
void	 coapbuf_opt(struct coapbuf *, uint16_t num, const void *, size_t);
void	 coapbuf_opt_uint(struct coapbuf *, uint16_t num, uint32_t);
void	 coapbuf_opt_block(struct coapbuf *, uint16_t num,
	    const struct coapmsg_block *);
/* The payload marker and payload (none when len is 0); options end. */
void	 coapbuf_payload(struct coapbuf *, const void *, size_t);
/* Drops options and payload, keeping the header and token. */
void	 coapbuf_reset(struct coapbuf *);

/* libcoap's log lines go to otagw's log, rate-limited. */
void	 coapmsg_log_setup(void);

#endif
