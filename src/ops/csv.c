/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * csv.c: the CSV import of devices ("product,device,secret,psk" per line).
 *
 * The whole file is parsed and checked before the store is touched: each
 * line is split (double quotes and "" as in RFC 4180, a line and a field
 * with hard caps), its product and device id validated, and the same
 * device on two lines refused.  The devices are then provisioned one by
 * one with device.c's ops_device_apply in a single write transaction, so
 * an import is all or nothing, and every error names its line.  Secrets
 * and PSKs are wiped from the parsed rows before they are freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

#define CSV_LINE_MAX	4096	/* bytes in one import line */

struct csvrow {
	unsigned line;
	char	 product[OTA_ID_MAX + 1];
	char	 device[OTA_ID_MAX + 1];
	char	 secret[OPS_SECRET_MAX + 1];
	char	 psk[OTA_PSK_MAX * 2 + 1];
	int	 has_secret;
	int	 has_psk;
};

/*
 * Splits one line (without its end of line) into at most nf fields of at
 * most fsize bytes each.  Fields may be double-quoted, with "" for a
 * quote.  Returns the number of fields, or -1.
 */
static int
csv_split(const char *s, size_t len, char fields[][OPS_SECRET_MAX + 1],
    int nf, const char **why)
{
	size_t	 i = 0, o;
	int	 n = 0;

	for (;;) {
		if (n == nf) {
			*why = "too many fields "
			    "(want product,device,secret,psk)";
			return -1;
		}
		o = 0;
		if (i < len && s[i] == '"') {
			i++;
			for (;;) {
				if (i == len) {
					*why = "unterminated quote";
					return -1;
				}
				if (s[i] == '"') {
					if (i + 1 < len && s[i + 1] == '"')
						i++;
					else
						break;
				}
				if (o == OPS_SECRET_MAX) {
					*why = "field too long";
					return -1;
				}
				fields[n][o++] = s[i++];
			}
			i++;	/* closing quote */
			if (i < len && s[i] != ',') {
				*why = "text after a closing quote";
				return -1;
			}
		} else {
			while (i < len && s[i] != ',') {
				if (s[i] == '"') {
					*why = "quote inside a field";
					return -1;
				}
				if (o == OPS_SECRET_MAX) {
					*why = "field too long";
					return -1;
				}
				fields[n][o++] = s[i++];
			}
		}
		fields[n][o] = '\0';
		if (memchr(fields[n], '\0', o) != NULL) {
			*why = "NUL byte in a field";
			return -1;
		}
		n++;
		if (i == len)
			return n;
		i++;	/* the comma */
	}
}

static int
csvrow_cmp(const void *a, const void *b)
{
	const struct csvrow *const *x = a, *const *y = b;

	return strcmp((*x)->device, (*y)->device);
}

/*
 * Adds the row of line from its n fields (product, device, and the
 * optional secret and PSK), once they are checked.
 */
static int
csv_row_add(struct ops_vec *rows, char f[][OPS_SECRET_MAX + 1], int n,
    unsigned line, struct ops_err *err)
{
	struct csvrow *r;

	if (n < 2)
		return ops_fail(err, OPS_EINVAL, "line %u: want "
		    "product,device,secret,psk", line);
	if (rows->n == OPS_IMPORT_MAX_LINES)
		return ops_fail(err, OPS_ETOOLARGE, "line %u: more than %d "
		    "devices in one import", line, OPS_IMPORT_MAX_LINES);
	if (!valid_product(f[0]))
		return ops_fail(err, OPS_EINVAL, "line %u: invalid product",
		    line);
	if (!valid_device_id(f[1]))
		return ops_fail(err, OPS_EINVAL, "line %u: invalid device id",
		    line);
	if ((r = ops_vec_push(rows)) == NULL)
		return ops_fail(err, OPS_EIO, "out of memory");
	r->line = line;
	/* both validated: they fit */
	(void)str_copy(r->product, sizeof(r->product), f[0]);
	(void)str_copy(r->device, sizeof(r->device), f[1]);
	if (n >= 3 && f[2][0] != '\0') {
		snprintf(r->secret, sizeof(r->secret), "%s", f[2]);
		r->has_secret = 1;
	}
	if (n >= 4 && f[3][0] != '\0') {
		if (strlen(f[3]) >= sizeof(r->psk))
			return ops_fail(err, OPS_EINVAL, "line %u: the PSK "
			    "must be 1 to %d bytes in hex", line, OTA_PSK_MAX);
		snprintf(r->psk, sizeof(r->psk), "%s", f[3]);
		r->has_psk = 1;
	}
	return ops_ok(err);
}

/* Parses the whole file into rows; an error names its line. */
static int
csv_parse(const char *csv, size_t len, struct ops_vec *rows,
    struct ops_err *err)
{
	char	 f[4][OPS_SECRET_MAX + 1];
	const char *p = csv, *end = csv + len, *eol, *why;
	unsigned line = 0;
	size_t	 ll, i;
	int	 n, first = 1, rc = OPS_OK;

	ops_vec_init(rows, sizeof(struct csvrow));
	while (p < end) {
		line++;
		eol = memchr(p, '\n', (size_t)(end - p));
		ll = (size_t)((eol != NULL ? eol : end) - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll > CSV_LINE_MAX) {
			rc = ops_fail(err, OPS_EINVAL, "line %u: longer than "
			    "%d bytes", line, CSV_LINE_MAX);
			goto out;
		}
		if (line == 1 && ll >= 3 &&
		    memcmp(p, "\xef\xbb\xbf", 3) == 0) {	/* BOM */
			p += 3;
			ll -= 3;
		}
		for (i = 0; i < ll && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		if (i == ll)
			goto next;	/* blank */
		if ((n = csv_split(p, ll, f, 4, &why)) == -1) {
			rc = ops_fail(err, OPS_EINVAL, "line %u: %s", line,
			    why);
			goto out;
		}
		if (first && n >= 2 && strcasecmp(f[0], "product") == 0 &&
		    strcasecmp(f[1], "device") == 0) {
			first = 0;
			goto next;	/* header */
		}
		first = 0;
		if ((rc = csv_row_add(rows, f, n, line, err)) != OPS_OK)
			goto out;
	next:
		if (eol == NULL)
			break;
		p = eol + 1;
	}
out:
	crypto_wipe(f, sizeof(f));
	return rc;
}

static void
csv_rows_free(struct ops_vec *rows)
{
	if (rows->data != NULL)
		crypto_wipe(rows->data, rows->cap * rows->esize);
	ops_vec_free(rows);
}

/*
 * The same device on two lines is most likely a mistake: refuses it,
 * naming both lines.
 */
static int
csv_check_repeats(const struct ops_vec *rows, struct ops_err *err)
{
	struct csvrow **sorted;
	size_t	 i;
	int	 rc = OPS_OK;

	if ((sorted = calloc(rows->n, sizeof(*sorted))) == NULL)
		return ops_fail(err, OPS_EIO, "out of memory");
	for (i = 0; i < rows->n; i++)
		sorted[i] = ops_vec_at(rows, i);
	qsort(sorted, rows->n, sizeof(*sorted), csvrow_cmp);
	for (i = 1; i < rows->n; i++) {
		if (strcmp(sorted[i - 1]->device, sorted[i]->device) == 0) {
			rc = ops_fail(err, OPS_EINVAL, "line %u: device %s is "
			    "already on line %u",
			    sorted[i - 1]->line > sorted[i]->line ?
			    sorted[i - 1]->line : sorted[i]->line,
			    sorted[i]->device,
			    sorted[i - 1]->line > sorted[i]->line ?
			    sorted[i]->line : sorted[i - 1]->line);
			break;
		}
	}
	free(sorted);
	return rc;
}

/*
 * Provisions every row inside txn, as ops_device_put would, counting
 * what was created and updated; an error is prefixed with its line.
 */
static int
csv_rows_apply(struct store_txn *txn, const struct ops_vec *rows,
    struct ops_dynjobs *dj, int64_t now, struct ops_import_result *res,
    struct ops_err *err)
{
	struct ops_device_params p;
	struct ops_devparams dp;
	const struct csvrow *r;
	char	 m[OPS_ERR_MAX];
	size_t	 i;
	int	 rc, created;

	for (i = 0; i < rows->n; i++) {
		r = ops_vec_at(rows, i);
		memset(&p, 0, sizeof(p));
		p.id = r->device;
		p.product = r->product;
		p.secret = r->has_secret ? r->secret : NULL;
		p.psk_hex = r->has_psk ? r->psk : NULL;
		rc = ops_devparams_check(&p, &dp, err);
		if (rc == OPS_OK)
			rc = ops_device_apply(txn, &dp, dj, now, NULL,
			    &created, err);
		ops_devparams_wipe(&dp);
		if (rc != OPS_OK) {
			if (err != NULL) {
				snprintf(m, sizeof(m), "%s", err->msg);
				ops_fail(err, rc, "line %u: %s", r->line, m);
			}
			return rc;
		}
		if (created)
			res->created++;
		else
			res->updated++;
		res->lines++;
	}
	return ops_ok(err);
}

int
ops_device_import(struct ops *ops, const char *csv, size_t len,
    struct ops_import_result *res, struct ops_err *err)
{
	struct ops_dynjobs dj;
	struct store_txn *txn = NULL;
	struct ops_vec rows;
	int64_t	 now = ops_now(ops);
	int	 rc;

	memset(&dj, 0, sizeof(dj));
	memset(res, 0, sizeof(*res));
	if ((rc = csv_parse(csv, len, &rows, err)) != OPS_OK)
		goto out;
	if (rows.n == 0) {
		rc = ops_fail(err, OPS_EINVAL, "no devices in the file");
		goto out;
	}
	if ((rc = csv_check_repeats(&rows, err)) != OPS_OK)
		goto out;
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "device import");
		goto out;
	}
	rc = csv_rows_apply(txn, &rows, &dj, now, res, err);
	if (rc != OPS_OK)
		goto out;
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, "device import");
		goto out;
	}
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	if (rc != OPS_OK)
		memset(res, 0, sizeof(*res));
	csv_rows_free(&rows);
	if (dj.loaded)
		ops_vec_free(&dj.jobs);
	return rc;
}
