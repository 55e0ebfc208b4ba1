/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store.h: otagw's persistent state, kept in LMDB.
 *
 * This module is the only one that includes <lmdb.h>.  Everything else sees
 * typed calls on the records of model.h.  One state directory holds:
 *
 *   DIR/data.mdb, DIR/lock.mdb   the LMDB environment
 *   DIR/images/<firmware id>     firmware images, written to a temporary
 *                                file, fsync'ed and renamed into place
 *
 * Several processes may open the same directory at once (the daemon and
 * otactl): LMDB serialises writers and gives readers snapshots.
 *
 * Every state change the caller wants to be atomic is done inside one write
 * transaction: begin, any number of get/put/del/outbox calls, commit.  Data
 * returned by the get calls is copied into caller storage, so it stays valid
 * after the transaction ends.
 *
 * Return codes: 0 on success, or one of the negative STORE_E* codes below.
 * Callers tell "not found" apart from failures; store_strerror() names them.
 */
#ifndef OTAGW_STORE_H
#define OTAGW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "store/image.h"

enum store_err {
	STORE_OK = 0,
	STORE_ENOTFOUND = -2,	/* no such record */
	STORE_EEXIST = -3,	/* unique key already present */
	STORE_EFULL = -4,	/* map full or disk full: nothing was changed */
	STORE_EIO = -5,		/* I/O or LMDB failure */
	STORE_EINVAL = -6,	/* bad argument, corrupt or foreign record */
	STORE_EBUSY = -7,	/* too many readers, try again */
	STORE_ESTOP = -8,	/* iteration stopped by the callback */
};

struct store;
struct store_txn;

/*
 * Opens (creating if needed) the state directory DIR.  map_size is the LMDB
 * map size in bytes (0: 1 GiB).  Returns 0 and *out, or a STORE_E* code with
 * a message already logged.  A store made before ids sorted by number is
 * sorted again first, once, in one transaction; while another process has
 * it open that waits (STORE_EBUSY).
 */
int	 store_open(const char *dir, size_t map_size, struct store **out);
void	 store_close(struct store *);	/* accepts NULL */
const char *store_strerror(int code);
const char *store_dir(const struct store *);

/* Transactions.  A read-only transaction may run beside writers. */
int	 store_txn_begin(struct store *, int rdonly, struct store_txn **out);
/* Frees the transaction, also on error. */
int	 store_txn_commit(struct store_txn *);
void	 store_txn_abort(struct store_txn *);	/* accepts NULL */

/* Allocates the next id "<prefix>-<n>" (n counts per prefix, from 1). */
int	 store_next_id(struct store_txn *, const char *prefix,
	    char out[OTA_ID_MAX + 1]);
/* How many ids of prefix were allocated so far (0 before the first). */
int	 store_id_count(struct store_txn *, const char *prefix, uint64_t *);

/*
 * Iteration callbacks return 0 to go on, non-zero to stop (the iterator then
 * returns STORE_ESTOP).  Records passed to callbacks are only valid during
 * the call.
 */

/* Devices, keyed by id. */
int	 store_device_get(struct store_txn *, const char *id,
	    struct device_rec *);
int	 store_device_put(struct store_txn *, const struct device_rec *);
/* Removes the device and its upgrade history. */
int	 store_device_del(struct store_txn *, const char *id);
/*
 * In id order (device ids are chosen by operators: their bytes), starting
 * after `after' (NULL or "": from the start).
 */
int	 store_device_iter(struct store_txn *, const char *after,
	    int (*cb)(const struct device_rec *, void *), void *arg);
int	 store_device_count(struct store_txn *, size_t *out);

/* Firmware metadata, keyed by id; (product, module, version) is unique. */
int	 store_firmware_get(struct store_txn *, const char *id,
	    struct firmware_rec *);
/* STORE_EEXIST when another id has the same product, module and version. */
int	 store_firmware_put(struct store_txn *, const struct firmware_rec *);
int	 store_firmware_del(struct store_txn *, const char *id);
int	 store_firmware_find(struct store_txn *, const char *product,
	    const char *module, const char *version, char id[OTA_ID_MAX + 1]);
/* In id order (fw-2 before fw-10), after `after' (NULL or "": all). */
int	 store_firmware_iter(struct store_txn *,
	    int (*cb)(const struct firmware_rec *, void *), void *arg);
int	 store_firmware_iter_after(struct store_txn *, const char *after,
	    int (*cb)(const struct firmware_rec *, void *), void *arg);

/*
 * Patches (delta packages), keyed by id and found by (target firmware,
 * source version): at most one patch per pair (STORE_EEXIST).  Their
 * files are images (store_image_*) under the patch's id.
 */
int	 store_delta_get(struct store_txn *, const char *id,
	    struct delta_rec *);
int	 store_delta_put(struct store_txn *, const struct delta_rec *);
int	 store_delta_del(struct store_txn *, const char *id);
/* The patch to firmware `to' from version `from_version'. */
int	 store_delta_find(struct store_txn *, const char *to,
	    const char *from_version, struct delta_rec *);
/* Every patch (ids in byte order: dp-10 before dp-2). */
int	 store_delta_iter(struct store_txn *,
	    int (*cb)(const struct delta_rec *, void *), void *arg);

/*
 * Products (struct product_rec: the author key), keyed by product; a
 * product has a record only once something was set for it.
 */
int	 store_product_get(struct store_txn *, const char *id,
	    struct product_rec *);
int	 store_product_put(struct store_txn *, const struct product_rec *);
int	 store_product_del(struct store_txn *, const char *id);

/*
 * A device's attributes (hawkBit configData, docs/hawkbit.md): one JSON
 * object of strings, at most STORE_ATTRS_MAX bytes, kept as the caller
 * gives it.  get copies it into buf (size bytes, NUL-terminated) or
 * returns STORE_ENOTFOUND; put with len 0 removes it.  store_device_del
 * removes it with the device.
 */
#define STORE_ATTRS_MAX	16384
int	 store_attrs_get(struct store_txn *, const char *device, char *buf,
	    size_t size);
int	 store_attrs_put(struct store_txn *, const char *device,
	    const char *json, size_t len);

/* Jobs, keyed by id. */
int	 store_job_get(struct store_txn *, const char *id, struct job_rec *);
int	 store_job_put(struct store_txn *, const struct job_rec *);
/* Removes the job record alone (a creation that took no device). */
int	 store_job_del(struct store_txn *, const char *id);
/* In id order (j-2 before j-10), after `after' (NULL or "": all). */
int	 store_job_iter(struct store_txn *,
	    int (*cb)(const struct job_rec *, void *), void *arg);
int	 store_job_iter_after(struct store_txn *, const char *after,
	    int (*cb)(const struct job_rec *, void *), void *arg);

/*
 * One device in one job, keyed by (job, device).  The store also keeps the
 * per-device index of open rows (states WAIT_CONFIRM, QUEUED, NOTIFIED,
 * UPGRADING, RETRY_WAIT): store_jobdev_put maintains it from rec->state.
 */
int	 store_jobdev_get(struct store_txn *, const char *job,
	    const char *device, struct jobdev_rec *);
int	 store_jobdev_put(struct store_txn *, const struct jobdev_rec *);
/* Rows of one job in device order (bytes, as devices). */
int	 store_jobdev_iter(struct store_txn *, const char *job,
	    int (*cb)(const struct jobdev_rec *, void *), void *arg);
/*
 * The same from the device after `after' (NULL or "": from the first), so
 * that a long walk can go on in a later transaction.
 */
int	 store_jobdev_iter_after(struct store_txn *, const char *job,
	    const char *after, int (*cb)(const struct jobdev_rec *, void *),
	    void *arg);
/* Open rows of one device (its pending notices), in job id order. */
int	 store_device_open_jobs(struct store_txn *, const char *device,
	    int (*cb)(const struct jobdev_rec *, void *), void *arg);

/*
 * Devices' upgrade histories (struct history_rec), keyed by (device, seq).
 *
 * store_history_append gives rec the device's next seq (its last one plus
 * 1, from 1) and stores it in the caller's transaction; then, while the
 * device has more entries than the history bound, its oldest go.  It
 * seeks the device's first and last entries and touches nothing else,
 * so its cost does not grow with the store.  store_device_del removes a
 * device's history with the device.
 */
#define STORE_HISTORY_MAX_DEFAULT	100
#define STORE_HISTORY_MAX_LIMIT		10000
int	 store_history_append(struct store_txn *, struct history_rec *rec);
/*
 * A device's entries, newest first: those with seq below `before' (0:
 * from the newest).
 */
int	 store_history_iter(struct store_txn *, const char *device,
	    uint64_t before, int (*cb)(const struct history_rec *, void *),
	    void *arg);
/* How many entries the device has. */
int	 store_history_count(struct store_txn *, const char *device,
	    size_t *out);
/*
 * The bound of every device's history (history_max_per_device), kept in
 * the store so that every process that writes to it (the daemon, and
 * otactl on the state directory, which reads no configuration) trims
 * alike: the daemon records its setting at start and on SIGHUP.  Until
 * then it is STORE_HISTORY_MAX_DEFAULT.  1..STORE_HISTORY_MAX_LIMIT; a
 * lower bound trims each device's history at its next entry.
 */
int	 store_history_max_get(struct store_txn *, unsigned *max);
int	 store_history_max_set(struct store_txn *, unsigned max);

/*
 * The upstream outbox.  store_outbox_append stores an encoded event under
 * the next sequence number (strictly increasing, never reused, starting at
 * 1) in the caller's transaction.
 */
struct outbox_entry {
	uint64_t seq;
	int	type;		/* enum event_type */
	int64_t	ts;
	const char *data;	/* encoded event; valid during the callback */
	size_t	len;
};
int	 store_outbox_append(struct store_txn *, int type, int64_t ts,
	    const char *data, size_t len, uint64_t *seq);
/* Oldest first, starting at sequence number `from' (0: the oldest). */
int	 store_outbox_iter(struct store_txn *, uint64_t from,
	    int (*cb)(const struct outbox_entry *, void *), void *arg);
int	 store_outbox_del(struct store_txn *, uint64_t seq);
struct outbox_stats {
	size_t	 depth;		/* entries */
	uint64_t oldest_seq;	/* 0 when empty */
	int64_t	 oldest_ts;
	uint64_t last_seq;	/* last number handed out */
	uint64_t dropped;	/* events dropped at the limit */
	uint64_t dropped_kept;	/* of them, version reports and state
				 * changes (no progress event was left) */
	uint64_t parked_batches;	/* batches moved aside (4xx) */
	size_t	 parked_events;	/* events kept aside */
	uint64_t sent;		/* events the upstream acknowledged */
	uint64_t retries;	/* batches sent again after a failure */
};
int	 store_outbox_stats(struct store_txn *, struct outbox_stats *);
/* Adds to the relay's persistent counters (outbox_stats.sent, .retries). */
int	 store_relay_count(struct store_txn *, uint64_t sent, uint64_t retries);

/*
 * The outbox limit (0: none), applied by store_outbox_append from then on
 * in this process: when the outbox holds `limit' events, the oldest
 * progress or transfer event is dropped to make room; a new progress or
 * transfer event with no older one to drop is dropped itself (the append
 * succeeds with *seq 0); a new version report or state change with no
 * progress event to drop makes the oldest event go, whatever its type, so
 * the outbox never holds more than `limit' events, with or without an
 * upstream.  Drops are counted (outbox_stats.dropped, .dropped_kept for
 * the reports and state changes among them) and logged, at most every
 * 10 s.  store_open applies the limit saved by store_outbox_limit_save.
 */
void	 store_set_outbox_limit(struct store *, size_t limit);
/*
 * The daemon's limit: applied, saved in the store (so that otactl --state
 * applies it too), and the outbox trimmed down to it at once, in
 * transactions of at most 5,000 drops.  *dropped: how many went.
 */
int	 store_outbox_limit_save(struct store *, size_t limit,
	    size_t *dropped);
/*
 * The relay's batches, entries first <= seq <= last: removed after the
 * upstream took them, or moved aside to the parked events (and counted as
 * one parked batch) after it refused them.  *n (may be NULL): entries.
 */
int	 store_outbox_del_range(struct store_txn *, uint64_t first,
	    uint64_t last, size_t *n);
int	 store_outbox_park(struct store_txn *, uint64_t first, uint64_t last,
	    size_t *n);
/* Parked events, oldest first. */
int	 store_parked_iter(struct store_txn *,
	    int (*cb)(const struct outbox_entry *, void *), void *arg);

/*
 * What the gateway delivered of a firmware to a device, over any protocol
 * (core/transfer.h): the bytes from 0 served without a gap.
 */
struct xfer_rec {
	char	 device[OTA_ID_MAX + 1];
	char	 firmware[OTA_ID_MAX + 1];
	uint64_t delivered;
	uint64_t size;		/* the image's */
	int64_t	 updated;	/* ms since the epoch */
};
int	 store_xfer_get(struct store_txn *, const char *device,
	    const char *fwid, struct xfer_rec *);
int	 store_xfer_put(struct store_txn *, const struct xfer_rec *);
/* Every transfer of a device (device rm). */
int	 store_xfer_del_device(struct store_txn *, const char *device);

/*
 * The keys that sign download URLs (core/capability.h): the current one,
 * and the one before it, still accepted after a rotation until the URLs
 * it signed expire (has_prev 0 once it is dropped).
 */
struct url_keys {
	uint8_t	 cur[32];
	uint8_t	 prev[32];
	int	 has_prev;
	int64_t	 rotated;	/* ms since the epoch: when cur was made */
};
int	 store_url_keys_get(struct store_txn *, struct url_keys *);
int	 store_url_keys_put(struct store_txn *, const struct url_keys *);

/*
 * The keys that sign notices (crypto/sigkey.h, core/signer.h): at most
 * STORE_SIGN_KEYS of them, each its private key in DER; cur is the one
 * that signs (-1: notices go out unsigned).  The others are kept so that
 * a key can be made and handed to device makers before it is used.
 */
#define STORE_SIGN_KEYS		8
#define STORE_SIGN_KID_LEN	12
#define STORE_SIGN_DER_MAX	160
struct sign_key_rec {
	char	 kid[STORE_SIGN_KID_LEN + 1];
	int	 alg;		/* enum sig_alg */
	int64_t	 created;	/* ms since the epoch */
	size_t	 der_len;
	uint8_t	 der[STORE_SIGN_DER_MAX];
};
struct sign_keys {
	unsigned n;
	int	 cur;
	struct sign_key_rec k[STORE_SIGN_KEYS];
};
/* None stored reads as n 0, cur -1. */
int	 store_sign_keys_get(struct store_txn *, struct sign_keys *);
int	 store_sign_keys_put(struct store_txn *, const struct sign_keys *);

/*
 * Firmware images.  A writer streams an image into a temporary file in
 * DIR/images; store_image_commit fsyncs it and renames it to its final
 * name, so a half-written image is never visible.  The caller commits the
 * firmware record afterwards (and calls store_image_remove if that fails).
 */
struct store_image_writer;
int	 store_image_create(struct store *, struct store_image_writer **out);
int	 store_image_write(struct store_image_writer *, const void *, size_t);
/*
 * What the writer holds so far, mapped read-only, so that it can be
 * checked before it is committed (a patch is applied once, docs/delta.md):
 * valid until the next call, store_image_commit or store_image_discard.
 * An empty file gives data NULL and len 0.  0 or STORE_E*.
 */
int	 store_image_writer_map(struct store_image_writer *,
	    const void **data, size_t *len);
/* Renames the image to id; frees the writer, also on error. */
int	 store_image_commit(struct store_image_writer *, const char *id);
void	 store_image_discard(struct store_image_writer *);	/* NULL ok */
int	 store_image_remove(struct store *, const char *id);

/*
 * Lets the map grow, doubling, up to max bytes (0: never): after a write
 * transaction finds it 80 % used, or full, it grows as soon as this
 * process has no transaction live (LMDB allows no other moment); other
 * processes adopt the new size by themselves.  Without room to grow the
 * 80 % mark is logged once, as a warning.
 */
void	 store_set_map_max(struct store *, size_t max);

/* What /healthz and /metrics say of the store. */
struct store_health {
	size_t	 map_size;	/* bytes the map may hold now */
	size_t	 map_max;	/* what it may grow to */
	size_t	 used;		/* bytes in use */
	int	 full;		/* the last write found no room (map or disk) */
	int	 write_failed;	/* the last write failed otherwise */
};
void	 store_health(struct store *, struct store_health *);

/*
 * The id of the last write transaction committed to the store, by any
 * process (LMDB's me_last_txnid): it changes whenever anything was
 * written, so a caller that compares it with what it saw last knows
 * whether it must look again.  0 when it cannot be told.
 */
uint64_t store_last_txn(struct store *);

/*
 * A read-only, reference-counted memory map of an image (store/image.h).
 * Opening the same id again while it is mapped returns the same object
 * with one more reference, so concurrent downloads share one mapping and
 * nothing is copied.
 */
int	 store_image_open(struct store *, const char *id,
	    const struct store_image **out);

#endif
