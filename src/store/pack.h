/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pack.h: private header of the store module (never included outside
 * src/store).
 *
 * 1. Record encoding (pack.c).  Records are stored in a compact, versioned
 *    binary form: a schema byte, a record-kind byte, then the fields in a
 *    fixed order as varints (signed ones zigzagged), length-prefixed strings
 *    and only the used part of arrays.  Decoders check every length against
 *    both the buffer and the destination, and return STORE_EINVAL for
 *    truncated, trailing or hostile bytes; they never read past `len'.
 *
 * 2. Keys.  Composite keys join their parts with a NUL byte, so a prefix scan
 *    for "a\0" never matches "ab\0..."; numbers in keys are big-endian so
 *    that they sort in numeric order.
 *
 * 3. The image cache (image.c), which store.c creates and destroys.
 */
#ifndef OTAGW_STORE_PACK_H
#define OTAGW_STORE_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define PACK_SCHEMA  1    /* encoding version of every record */
#define PACK_MAX     4096 /* no encoded record is larger */
#define PACK_KEY_MAX (3 * (OTA_ID_MAX + 1))

/*
 * Encoders write into buf (cap bytes, PACK_MAX is always enough) and return
 * the length, or 0 when the record is invalid (a string field without its
 * NUL, a count over its array, an enum out of range).
 */
size_t pack_device(const struct device_rec *, uint8_t *buf, size_t cap);
size_t pack_firmware(const struct firmware_rec *, uint8_t *buf, size_t cap);
size_t pack_job(const struct job_rec *, uint8_t *buf, size_t cap);
size_t pack_jobdev(const struct jobdev_rec *, uint8_t *buf, size_t cap);
/* A history entry without its device and seq, which its key holds. */
size_t pack_history(const struct history_rec *, uint8_t *buf, size_t cap);
size_t pack_delta(const struct delta_rec *, uint8_t *buf, size_t cap);

size_t pack_product(const struct product_rec *, uint8_t *buf, size_t cap);

/* Decoders: 0, or STORE_EINVAL.  *out is zeroed first, then filled. */
int unpack_device(const void *buf, size_t len, struct device_rec *out);
int unpack_firmware(const void *buf, size_t len, struct firmware_rec *out);
int unpack_job(const void *buf, size_t len, struct job_rec *out);
int unpack_jobdev(const void *buf, size_t len, struct jobdev_rec *out);
int unpack_product(const void *buf, size_t len, struct product_rec *out);
/* Leaves out->device and out->seq zero: the caller takes them from the key. */
int unpack_history(const void *buf, size_t len, struct history_rec *out);
int unpack_delta(const void *buf, size_t len, struct delta_rec *out);

/* Outbox values: type byte, 8-byte big-endian time stamp, event bytes. */
#define PACK_OUTBOX_HDR 9
void pack_outbox_hdr(uint8_t hdr[PACK_OUTBOX_HDR], int type, int64_t ts);
int unpack_outbox(const void *buf, size_t len, int *type, int64_t *ts,
    const uint8_t **data, size_t *dlen);

/* Big-endian 64-bit numbers (outbox keys, counters). */
void pack_be64(uint8_t out[8], uint64_t);
uint64_t unpack_be64(const uint8_t in[8]);

/*
 * Length of a key field: 1..OTA_ID_MAX bytes of a NUL-terminated string,
 * else 0 (empty, too long or NULL).
 */
size_t pack_key_len(const char *s);
/*
 * Composite key "a\0b" (b NULL: "a\0", the prefix of a's rows) into
 * buf[PACK_KEY_MAX]; returns its length, or 0 when a part is invalid.
 */
size_t pack_key2(uint8_t *buf, const char *a, const char *b);
/* "a\0b\0c" for the firmware uniqueness index; 0 when invalid. */
size_t pack_key3(uint8_t *buf, const char *a, const char *b, const char *c);

/*
 * Image cache (image.c).  images_open creates DIR/images if needed and
 * removes temporary files older than an hour; images_close unmaps cached
 * images nobody references and detaches the others (they are unmapped by
 * their last store_image_unref).
 */
struct store;
struct store_images;
int images_open(const char *dir, struct store_images **out);
void images_close(struct store_images *);
/* Accessor defined in store.c. */
struct store_images *store_images_of(struct store *);
/*
 * Removes the image files older than IMAGES_ORPHAN_AGE seconds that have
 * no record (known(arg, id) is 0): what a crash left between an image's
 * rename and its record's commit, or between a record's removal and its
 * file's.  Logged, one line per file.
 */
#define IMAGES_ORPHAN_AGE	600
void	images_sweep_orphans(struct store_images *,
	    int (*known)(void *arg, const char *id), void *arg);

#endif
