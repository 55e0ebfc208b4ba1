/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * csv.c: the CSV import of devices: "product,device,secret,psk" per line,
 * or the columns that a header line names.
 *
 * The whole file is parsed and checked before the store is touched: each
 * line is split (double quotes and "" as in RFC 4180, a line and a field
 * with hard caps), its product, device id, secret and PSK checked as
 * device put checks them, and the same device on two lines refused.
 * Every bad line is noted, not only the first: the result lists the first
 * OPS_IMPORT_BAD_MAX of them in line order with their messages, and
 * counts the rest.  One bad line and nothing is stored.  Otherwise the
 * devices are provisioned one by one with device.c's ops_device_apply in
 * a single write transaction, so an import is all or nothing.  Secrets
 * and PSKs are wiped from the parsed rows before they are freed, and no
 * message repeats a field's value (a device id that is valid aside).
 *
 * The header.  The first line that is not blank is a header when one of
 * its fields names the device column; its fields then name the columns,
 * in any order, case and with '_', '-' and blanks not counted:
 *
 *   product   product, productkey, productid
 *   device    device, devicename, deviceid
 *   secret    secret, devicesecret
 *   psk       psk (hex, as device put takes it)
 *
 * so Aliyun's and Tencent's templates (DeviceName, ProductKey, ...) are
 * read as they are.  Other columns (Aliyun's Nickname) are ignored.
 * Without a header the columns are product,device,secret,psk.  A line
 * whose product is missing or empty takes the caller's default product
 * (otactl device import --product, POST ...?product=), which a template
 * without a product column needs.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

#define CSV_LINE_MAX	4096	/* bytes in one import line */
#define CSV_COLS_MAX	16	/* fields in one line */

enum { COL_PRODUCT, COL_DEVICE, COL_SECRET, COL_PSK, COL_N };

static const char *const col_names[COL_N] = {
	"product", "device", "secret", "psk"
};

typedef char csvfield[OPS_SECRET_MAX + 1];

struct csvrow {
	unsigned line;
	char	 product[OTA_ID_MAX + 1];
	char	 device[OTA_ID_MAX + 1];
	char	 secret[OPS_SECRET_MAX + 1];
	char	 psk[OTA_PSK_MAX * 2 + 1];
	int	 has_secret;
	int	 has_psk;
};

/* The file being parsed. */
struct csvparse {
	const char *product;	/* the default product, or NULL */
	int	 at[COL_N];	/* field of each column, or -1 */
	int	 nf;		/* fields a line may have */
	int	 header;	/* a header named the columns */
	size_t	 ndev;		/* device lines, good or bad */
	struct ops_vec rows;	/* struct csvrow */
	struct ops_vec bad;	/* struct ops_import_bad */
};

/* Notes a bad line; 0, or -1 when out of memory. */
static int
csv_bad(struct csvparse *cp, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
csv_bad(struct csvparse *cp, unsigned line, const char *fmt, ...)
{
	struct ops_import_bad *b;
	va_list	 ap;

	if ((b = ops_vec_push(&cp->bad)) == NULL)
		return -1;
	b->line = line;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * Splits one line (without its end of line) into at most CSV_COLS_MAX
 * fields.  Fields may be double-quoted, with "" for a quote.  Returns the
 * number of fields, or -1 with why.
 */
static int
csv_split(const char *s, size_t len, csvfield *fields, const char **why)
{
	size_t	 i = 0, o;
	int	 n = 0;

	for (;;) {
		if (n == CSV_COLS_MAX) {
			*why = "too many fields";
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

/* The column a header field names (see the top), or -1. */
static int
csv_column(const char *name)
{
	static const struct {
		const char *name;
		int	 col;
	} names[] = {
		{ "product", COL_PRODUCT },
		{ "productkey", COL_PRODUCT },
		{ "productid", COL_PRODUCT },
		{ "device", COL_DEVICE },
		{ "devicename", COL_DEVICE },
		{ "deviceid", COL_DEVICE },
		{ "secret", COL_SECRET },
		{ "devicesecret", COL_SECRET },
		{ "psk", COL_PSK },
	};
	char	 n[32];
	size_t	 i, o = 0;

	for (i = 0; name[i] != '\0'; i++) {
		if (strchr("_- \t", name[i]) != NULL)
			continue;
		if (o + 1 == sizeof(n))
			return -1;
		n[o++] = (char)tolower((unsigned char)name[i]);
	}
	n[o] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(n, names[i].name) == 0)
			return names[i].col;
	return -1;
}

/*
 * The first line that is not blank: 1 when it is a header (its columns
 * are set, or a bad line noted), 0 when it is a device line, -1 when out
 * of memory.
 */
static int
csv_header(struct csvparse *cp, csvfield *f, int n, unsigned line)
{
	int	 i, col, dev = 0;

	for (i = 0; i < n; i++)
		if (csv_column(f[i]) == COL_DEVICE)
			dev = 1;
	if (!dev)
		return 0;
	cp->header = 1;
	cp->nf = n;
	for (col = 0; col < COL_N; col++)
		cp->at[col] = -1;
	for (i = 0; i < n; i++) {
		if ((col = csv_column(f[i])) == -1)
			continue;	/* a column otagw does not use */
		if (cp->at[col] != -1)
			return csv_bad(cp, line, "columns %d and %d both name "
			    "the %s", cp->at[col] + 1, i + 1,
			    col_names[col]) == -1 ? -1 : 1;
		cp->at[col] = i;
	}
	if (cp->at[COL_PRODUCT] == -1 && cp->product == NULL)
		return csv_bad(cp, line, "the header names no product column: "
		    "give the devices' product (otactl device import "
		    "--product P, or product= in the query)") == -1 ? -1 : 1;
	return 1;
}

/* Field col of a line, "" when the line or the header has none. */
static const char *
csv_field(const struct csvparse *cp, csvfield *f, int n, int col)
{
	int	 at = cp->at[col];

	return at >= 0 && at < n ? f[at] : "";
}

/*
 * Checks one device line's fields and adds its row; a bad line is noted
 * (0), -1 when out of memory.
 */
static int
csv_row_add(struct csvparse *cp, csvfield *f, int n, unsigned line)
{
	struct ops_device_params p;
	struct ops_devparams dp;
	struct ops_err e;
	struct csvrow *r;
	const char *product, *device, *secret, *psk;
	int	 rc;

	if (n > cp->nf) {
		if (cp->header)
			return csv_bad(cp, line, "%d fields, but the header "
			    "names %d columns", n, cp->nf);
		return csv_bad(cp, line, "too many fields (want "
		    "product,device,secret,psk)");
	}
	product = csv_field(cp, f, n, COL_PRODUCT);
	device = csv_field(cp, f, n, COL_DEVICE);
	secret = csv_field(cp, f, n, COL_SECRET);
	psk = csv_field(cp, f, n, COL_PSK);
	if (*product == '\0' && cp->product != NULL)
		product = cp->product;
	if (*product == '\0')
		return csv_bad(cp, line, "no product (want "
		    "product,device,secret,psk, or a default product)");
	if (!valid_product(product))
		return csv_bad(cp, line, "invalid product (1-64 of A-Z a-z "
		    "0-9 _ -)");
	if (*device == '\0')
		return csv_bad(cp, line, "no device id (want "
		    "product,device,secret,psk)");
	if (!valid_device_id(device))
		return csv_bad(cp, line, "invalid device id (1-64 of A-Z a-z "
		    "0-9 _ . : @ -)");
	if (strlen(psk) >= sizeof(r->psk))
		return csv_bad(cp, line, "the PSK must be 1 to %d bytes in "
		    "hex", OTA_PSK_MAX);
	/* the secret and the PSK as device put checks them */
	memset(&p, 0, sizeof(p));
	p.id = device;
	p.product = product;
	p.secret = *secret != '\0' ? secret : NULL;
	p.psk_hex = *psk != '\0' ? psk : NULL;
	rc = ops_devparams_check(&p, &dp, &e);
	ops_devparams_wipe(&dp);
	if (rc != OPS_OK)
		return csv_bad(cp, line, "%s", e.msg);
	if ((r = ops_vec_push(&cp->rows)) == NULL)
		return -1;
	r->line = line;
	/* all checked: they fit */
	(void)str_copy(r->product, sizeof(r->product), product);
	(void)str_copy(r->device, sizeof(r->device), device);
	if (*secret != '\0') {
		(void)str_copy(r->secret, sizeof(r->secret), secret);
		r->has_secret = 1;
	}
	if (*psk != '\0') {
		(void)str_copy(r->psk, sizeof(r->psk), psk);
		r->has_psk = 1;
	}
	return 0;
}

/*
 * Parses the whole file into rows and bad lines.  OPS_OK (bad lines are
 * not an error here), OPS_ETOOLARGE past OPS_IMPORT_MAX_LINES device
 * lines, OPS_EIO when out of memory.
 */
static int
csv_parse(struct csvparse *cp, const char *csv, size_t len,
    struct ops_err *err)
{
	csvfield f[CSV_COLS_MAX];
	const char *p = csv, *end = csv + len, *eol, *next, *why = NULL;
	unsigned line = 0;
	size_t	 ll, i;
	int	 n, h, rc = OPS_OK, first = 1, col;

	cp->nf = COL_N;
	for (col = 0; col < COL_N; col++)
		cp->at[col] = col;
	for (; p < end; p = next) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		next = eol < end ? eol + 1 : end;
		ll = (size_t)(eol - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (line == 1 && ll >= 3 &&
		    memcmp(p, "\xef\xbb\xbf", 3) == 0) {	/* BOM */
			p += 3;
			ll -= 3;
		}
		for (i = 0; i < ll && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		if (i == ll)
			continue;	/* blank */
		if (ll > CSV_LINE_MAX) {
			n = -1;
			why = "longer than 4096 bytes";
		} else
			n = csv_split(p, ll, f, &why);
		if (first && n != -1) {
			if ((h = csv_header(cp, f, n, line)) == -1) {
				rc = ops_fail(err, OPS_EIO, "out of memory");
				break;
			}
			if (h == 1 && cp->bad.n > 0)
				break;	/* the columns are unknown */
			if (h == 1) {
				first = 0;
				continue;
			}
		}
		first = 0;
		if (++cp->ndev > OPS_IMPORT_MAX_LINES) {
			rc = ops_fail(err, OPS_ETOOLARGE, "line %u: more than "
			    "%d devices in one import", line,
			    OPS_IMPORT_MAX_LINES);
			break;
		}
		if ((n == -1 ? csv_bad(cp, line, "%s", why) :
		    csv_row_add(cp, f, n, line)) == -1) {
			rc = ops_fail(err, OPS_EIO, "out of memory");
			break;
		}
	}
	crypto_wipe(f, sizeof(f));
	return rc;
}

static void
csv_free(struct csvparse *cp)
{
	if (cp->rows.data != NULL)
		crypto_wipe(cp->rows.data, cp->rows.cap * cp->rows.esize);
	ops_vec_free(&cp->rows);
	ops_vec_free(&cp->bad);
}

/* Rows by device id, then by line. */
static int
csvrow_cmp(const void *a, const void *b)
{
	const struct csvrow *const *x = a, *const *y = b;
	int	 c;

	if ((c = strcmp((*x)->device, (*y)->device)) != 0)
		return c;
	return (*x)->line < (*y)->line ? -1 : (*x)->line > (*y)->line;
}

/*
 * The same device on two lines is most likely a mistake: each later line
 * is bad, naming the first.  0, or -1 when out of memory.
 */
static int
csv_check_repeats(struct csvparse *cp)
{
	struct csvrow **sorted;
	size_t	 i, first = 0;
	int	 rc = 0;

	if (cp->rows.n < 2)
		return 0;
	if ((sorted = calloc(cp->rows.n, sizeof(*sorted))) == NULL)
		return -1;
	for (i = 0; i < cp->rows.n; i++)
		sorted[i] = ops_vec_at(&cp->rows, i);
	qsort(sorted, cp->rows.n, sizeof(*sorted), csvrow_cmp);
	for (i = 1; i < cp->rows.n && rc == 0; i++) {
		if (strcmp(sorted[first]->device, sorted[i]->device) != 0) {
			first = i;
			continue;
		}
		rc = csv_bad(cp, sorted[i]->line, "device %s is already on "
		    "line %u", sorted[i]->device, sorted[first]->line);
	}
	free(sorted);
	return rc;
}

static int
csvbad_cmp(const void *a, const void *b)
{
	const struct ops_import_bad *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * A refused import: the bad lines in order into res (the first
 * OPS_IMPORT_BAD_MAX, and how many), and the first in err.
 */
static int
csv_refuse(struct csvparse *cp, struct ops_import_result *res,
    struct ops_err *err)
{
	const struct ops_import_bad *b;
	size_t	 i;

	qsort(cp->bad.data, cp->bad.n, cp->bad.esize, csvbad_cmp);
	res->nbad = cp->bad.n;
	for (i = 0; i < cp->bad.n && i < OPS_IMPORT_BAD_MAX; i++)
		res->bad[i] = *(const struct ops_import_bad *)
		    ops_vec_at(&cp->bad, i);
	res->nlisted = i;
	b = &res->bad[0];
	if (res->nbad == 1)
		return ops_fail(err, OPS_EINVAL, "line %u: %s", b->line,
		    b->msg);
	return ops_fail(err, OPS_EINVAL, "line %u: %s (and %zu more bad "
	    "lines; nothing was imported)", b->line, b->msg, res->nbad - 1);
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
    const char *product, struct ops_import_result *res, struct ops_err *err)
{
	struct ops_dynjobs dj;
	struct store_txn *txn = NULL;
	struct csvparse cp;
	int64_t	 now = ops_now(ops);
	int	 rc;

	memset(&dj, 0, sizeof(dj));
	memset(res, 0, sizeof(*res));
	memset(&cp, 0, sizeof(cp));
	ops_vec_init(&cp.rows, sizeof(struct csvrow));
	ops_vec_init(&cp.bad, sizeof(struct ops_import_bad));
	if (product != NULL && *product != '\0') {
		if (!valid_product(product)) {
			rc = ops_fail(err, OPS_EINVAL, "invalid default "
			    "product (1-64 of A-Z a-z 0-9 _ -)");
			goto out;
		}
		cp.product = product;
	}
	if ((rc = csv_parse(&cp, csv, len, err)) != OPS_OK)
		goto out;
	if (csv_check_repeats(&cp) == -1) {
		rc = ops_fail(err, OPS_EIO, "out of memory");
		goto out;
	}
	if (cp.bad.n > 0) {
		rc = csv_refuse(&cp, res, err);
		goto out;
	}
	if (cp.rows.n == 0) {
		rc = ops_fail(err, OPS_EINVAL, "no devices in the file");
		goto out;
	}
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0) {
		rc = ops_fail_store(err, rc, "device import");
		goto out;
	}
	rc = csv_rows_apply(txn, &cp.rows, &dj, now, res, err);
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
	if (rc != OPS_OK) {
		res->lines = 0;
		res->created = 0;
		res->updated = 0;
	}
	csv_free(&cp);
	if (dj.loaded)
		ops_vec_free(&dj.jobs);
	return rc;
}
