/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_crypto.c: unit tests for src/crypto/crypto.c.
 *
 * Digests against published vectors (RFC 1321, FIPS 180-2), fed whole and
 * in odd-sized pieces; base64 against RFC 4648 section 10; the salted
 * secret hash against a digest of the concatenation; constant-time
 * comparison, wiping and randomness.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "t.h"
#include "util/validate.h"

static void
digest_hex(const void *buf, size_t len, size_t piece, char md5[33],
    char sha[65])
{
	uint8_t m[16], s[32];
	struct digest *d;
	size_t off, n;

	d = digest_new();
	T_CHECK(d != NULL);
	if (d == NULL)
		return;
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		digest_update(d, (const uint8_t *)buf + off, n);
	}
	digest_update(d, buf, 0);	/* empty updates change nothing */
	digest_final(d, m, s);
	digest_free(d);
	hex_encode(m, sizeof(m), md5);
	hex_encode(s, sizeof(s), sha);
}

static void
test_digest(void)
{
	static const struct {
		const char	*in;
		const char	*md5;
		const char	*sha256;
	} v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e",
		  "e3b0c44298fc1c149afbf4c8996fb924"
		  "27ae41e4649b934ca495991b7852b855" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72",
		  "ba7816bf8f01cfea414140de5dae2223"
		  "b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "8215ef0796a20bcaaae116d3876c664a",
		  "248d6a61d20638b8e5c026930c3e6039"
		  "a33ce45964ff2167f6ecedd419db06c1" },
	};
	char md5[33], sha[65], hex[65];
	uint8_t out[32];
	char *million;
	size_t i, piece;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		for (piece = 1; piece <= 64; piece *= 4) {
			digest_hex(v[i].in, strlen(v[i].in), piece, md5, sha);
			T_EQ_STR(md5, v[i].md5);
			T_EQ_STR(sha, v[i].sha256);
		}
		crypto_sha256(v[i].in, strlen(v[i].in), out);
		hex_encode(out, sizeof(out), hex);
		T_EQ_STR(hex, v[i].sha256);
	}

	/* One million 'a', fed in 4093-byte pieces. */
	million = malloc(1000000);
	T_CHECK(million != NULL);
	if (million == NULL)
		return;
	memset(million, 'a', 1000000);
	digest_hex(million, 1000000, 4093, md5, sha);
	T_EQ_STR(md5, "7707d6ae4e027c70eea2a935c2296f21");
	T_EQ_STR(sha,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);

	digest_free(NULL);
}

static void
test_base64(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const uint8_t bin[] = { 0xfb, 0xff, 0xbf, 0x00 };
	char out[64];
	uint8_t sha[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(out, 'x', sizeof(out));
		crypto_base64((const uint8_t *)v[i].in, strlen(v[i].in), out);
		T_EQ_STR(out, v[i].out);
	}
	crypto_base64(bin, sizeof(bin), out);
	T_EQ_STR(out, "+/+/AA==");

	/* The Repr-Digest form of SHA-256(""). */
	crypto_sha256("", 0, sha);
	crypto_base64(sha, sizeof(sha), out);
	T_EQ_STR(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	T_EQ_INT(strlen(out), 4 * ((32 + 2) / 3));
}

static void
test_secret(void)
{
	uint8_t salt[16], salt2[16], h1[32], h2[32], h3[32], want[32];
	uint8_t cat[16 + 6];
	size_t i;

	for (i = 0; i < sizeof(salt); i++) {
		salt[i] = (uint8_t)i;
		salt2[i] = (uint8_t)(i + 1);
	}
	crypto_secret_hash(salt, "s3cret", 6, h1);
	memcpy(cat, salt, 16);
	memcpy(cat + 16, "s3cret", 6);
	crypto_sha256(cat, sizeof(cat), want);
	T_CHECK(memcmp(h1, want, 32) == 0);

	crypto_secret_hash(salt, "s3cret", 6, h2);
	T_EQ_INT(crypto_memcmp(h1, h2, 32), 0);
	crypto_secret_hash(salt2, "s3cret", 6, h3);
	T_CHECK(crypto_memcmp(h1, h3, 32) != 0);	/* salt matters */
	crypto_secret_hash(salt, "s3creT", 6, h3);
	T_CHECK(crypto_memcmp(h1, h3, 32) != 0);
	crypto_secret_hash(salt, "s3cretX", 6, h3);	/* len counts */
	T_EQ_INT(crypto_memcmp(h1, h3, 32), 0);
	crypto_secret_hash(salt, "", 0, h3);
	crypto_sha256(salt, 16, want);
	T_CHECK(memcmp(h3, want, 32) == 0);
}

static void
test_memcmp_wipe_random(void)
{
	uint8_t a[32], b[32], zero[32];
	int differ, i;

	memset(a, 7, sizeof(a));
	memset(b, 7, sizeof(b));
	T_EQ_INT(crypto_memcmp(a, b, sizeof(a)), 0);
	b[31] = 8;
	T_CHECK(crypto_memcmp(a, b, sizeof(a)) != 0);
	T_EQ_INT(crypto_memcmp(a, b, 31), 0);
	b[0] = 0;
	T_CHECK(crypto_memcmp(a, b, sizeof(a)) != 0);
	T_EQ_INT(crypto_memcmp(a, b, 0), 0);

	memset(zero, 0, sizeof(zero));
	crypto_wipe(a, sizeof(a));
	T_CHECK(memcmp(a, zero, sizeof(a)) == 0);
	crypto_wipe(NULL, 10);

	/* Two random draws of 32 bytes differ, and are not all zero. */
	T_EQ_INT(crypto_random(a, sizeof(a)), 0);
	T_EQ_INT(crypto_random(b, sizeof(b)), 0);
	T_CHECK(memcmp(a, b, sizeof(a)) != 0);
	T_CHECK(memcmp(a, zero, sizeof(a)) != 0);
	T_EQ_INT(crypto_random(a, 0), 0);
	/* Further draws never repeat the first one. */
	differ = 0;
	for (i = 0; i < 8; i++) {
		T_EQ_INT(crypto_random(b, sizeof(b)), 0);
		differ += memcmp(a, b, sizeof(a)) != 0;
	}
	T_EQ_INT(differ, 8);
}

/*
 * Author signatures: a P-256 key and the signature `openssl dgst -sha256
 * -sign' made of "otagw image"; good, altered, truncated, padded and
 * empty signatures, a wrong digest, and keys that are not P-256.
 */
static const char es_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIB9zwQvim1TM9XzqeW9T+aB3FDFw\n"
    "xFaaHz0STxkNQRzM4MFVXj43GDeRHGjwSIYgEC1VSidM9uR2QESE02/NWg==\n"
    "-----END PUBLIC KEY-----\n";
static const char es_p384[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEu+ftJabvyHGzV0Hu+WTv41uPlC2i8M6r\n"
    "SOVrw1iYtKMtG+GUXFZmkiW2gIRRsjf2USZnNzxcBC1lDiCK1ow6KOwIPQVT7ubz\n"
    "NMdk06UuzBYPE5IvQ2JjGIL51Jz/ZBxH\n"
    "-----END PUBLIC KEY-----\n";
static const char es_ed25519[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEADDj+eeed4YDiXtp3hgq2eEc2BM+anYuyDFIU8TznRUo=\n"
    "-----END PUBLIC KEY-----\n";
static const char es_k1[] =		/* 256 bits, but secp256k1 */
    "-----BEGIN PUBLIC KEY-----\n"
    "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE6w93uokd4oPzEaioLC2z1K3iiYxjsNat\n"
    "wGE/iWSlXKsTrwfwNTcnqFByxMS4MrhkChlRYRi6imInRgbHCgzzUA==\n"
    "-----END PUBLIC KEY-----\n";
static const uint8_t es_sig[] = {
	0x30, 0x44, 0x02, 0x20, 0x66, 0x37, 0xdf, 0x03, 0x06, 0x95, 0x41, 0xf6,
	0xf6, 0x34, 0xea, 0xbe, 0x5d, 0x90, 0x73, 0x3d, 0x62, 0xdd, 0x97, 0x91,
	0x72, 0xff, 0x31, 0x43, 0x51, 0x73, 0x97, 0x6c, 0x20, 0xa6, 0x3d, 0x72,
	0x02, 0x20, 0x55, 0x79, 0x80, 0xe0, 0x70, 0xb0, 0xf9, 0x9a, 0x8b, 0x01,
	0x22, 0x7f, 0xd6, 0x94, 0xef, 0x89, 0x81, 0x6e, 0x9c, 0x91, 0x35, 0xac,
	0x33, 0xec, 0x7c, 0x5d, 0x5d, 0xaa, 0x53, 0x42, 0xe6, 0xe0,
};

/* crypto_es256_key_normalize of pem; the result must be want if given. */
static int
key_normal(const char *pem, size_t len, const char *want)
{
	char	 out[CRYPTO_PEM_MAX + 1];
	size_t	 n = 0;
	int	 rc;

	rc = crypto_es256_key_normalize(pem, len, out, sizeof(out), &n);
	if (rc == 0 && want != NULL) {
		T_EQ_INT(n, strlen(want));
		T_EQ_STR(out, want);
	}
	return rc;
}

/*
 * What is stored of an author key is the public key alone: other text
 * around it goes, and a private key beside it is refused (it was once
 * stored and shown back by GET .../author-key).
 */
static void
test_es256_normalize(void)
{
	static const char priv[] = "-----BEGIN EC PRIVATE KEY-----\n"
	    "AAAA\n-----END EC PRIVATE KEY-----\n";
	char	 in[2048];
	char	 out[16];
	size_t	 n;

	snprintf(in, sizeof(in), "comment line\n%s\ntrailing\n", es_pub);
	T_EQ_INT(key_normal(in, strlen(in), es_pub), 0);
	snprintf(in, sizeof(in), "%s%s", priv, es_pub);
	T_EQ_INT(key_normal(in, strlen(in), NULL), -1);
	snprintf(in, sizeof(in), "%s%s", es_pub, priv);
	T_EQ_INT(key_normal(in, strlen(in), NULL), -1);
	/* no room for the result */
	T_EQ_INT(crypto_es256_key_normalize(es_pub, strlen(es_pub), out,
	    sizeof(out), &n), -1);
}

static void
test_es256(void)
{
	uint8_t	 d[32], bad[CRYPTO_ES256_SIG_MAX + 8];
	size_t	 n = sizeof(es_sig), plen = strlen(es_pub), i;

	crypto_sha256("otagw image", 11, d);
	T_EQ_INT(key_normal(es_pub, plen, NULL), 0);
	T_EQ_INT(key_normal(es_p384, strlen(es_p384), NULL), -1);
	T_EQ_INT(key_normal(es_ed25519, strlen(es_ed25519), NULL), -1);
	T_EQ_INT(key_normal(es_k1, strlen(es_k1), NULL), -1);
	T_EQ_INT(key_normal("not a key", 9, NULL), -1);
	T_EQ_INT(key_normal(es_pub, plen - 30, NULL), -1);
	T_EQ_INT(key_normal(es_pub, 0, NULL), -1);
	T_EQ_INT(crypto_es256_verify_digest(es_k1, strlen(es_k1), d, es_sig,
	    n), -1);

	T_EQ_INT(crypto_es256_verify_digest(es_pub, plen, d, es_sig, n), 1);
	/* every truncation, and nothing at all */
	for (i = 0; i < n; i++)
		T_EQ_INT(crypto_es256_verify_digest(es_pub, plen, d, es_sig,
		    i), 0);
	T_EQ_INT(crypto_es256_verify_digest(es_pub, plen, d, NULL, 0), 0);
	/* one bit changed anywhere */
	for (i = 0; i < n; i++) {
		memcpy(bad, es_sig, n);
		bad[i] ^= 0x01;
		T_EQ_INT(crypto_es256_verify_digest(es_pub, plen, d, bad, n),
		    0);
	}
	/* trailing bytes, and more than any DER signature holds */
	memcpy(bad, es_sig, n);
	bad[n] = 0;
	T_EQ_INT(crypto_es256_verify_digest(es_pub, plen, d, bad, n + 1), 0);
	memset(bad, 0x30, sizeof(bad));
	T_EQ_INT(crypto_es256_verify_digest(es_pub, plen, d, bad,
	    sizeof(bad)), 0);
	/* another image */
	d[0] ^= 1;
	T_EQ_INT(crypto_es256_verify_digest(es_pub, plen, d, es_sig, n), 0);
	d[0] ^= 1;
	/* a key that is not P-256 */
	T_EQ_INT(crypto_es256_verify_digest(es_p384, strlen(es_p384), d,
	    es_sig, n), -1);
	T_EQ_INT(crypto_es256_verify_digest("junk", 4, d, es_sig, n), -1);
}

static void
test_base64_decode(void)
{
	uint8_t	 out[8];

	T_EQ_INT(crypto_base64_decode("Zm9vYmFy", 8, out, sizeof(out)), 6);
	T_CHECK(memcmp(out, "foobar", 6) == 0);
	T_EQ_INT(crypto_base64_decode("Zm9vYg==", 8, out, sizeof(out)), 4);
	T_EQ_INT(crypto_base64_decode("Zm9vYg", 6, out, sizeof(out)), 4);
	T_CHECK(memcmp(out, "foob", 4) == 0);
	T_EQ_INT(crypto_base64_decode("", 0, out, sizeof(out)), 0);
	/* both alphabets */
	T_EQ_INT(crypto_base64_decode("-_8", 3, out, sizeof(out)), 2);
	T_EQ_INT(out[0], 0xfb);
	T_EQ_INT(out[1], 0xff);
	T_EQ_INT(crypto_base64_decode("+/8=", 4, out, sizeof(out)), 2);
	T_EQ_INT(out[0], 0xfb);
	/* bad characters, lengths, non-zero spare bits, no room */
	T_EQ_INT(crypto_base64_decode("Zm9v!", 5, out, sizeof(out)), -1);
	T_EQ_INT(crypto_base64_decode("Z", 1, out, sizeof(out)), -1);
	T_EQ_INT(crypto_base64_decode("Zm9vY", 5, out, sizeof(out)), -1);
	T_EQ_INT(crypto_base64_decode("Zh", 2, out, sizeof(out)), -1);
	T_EQ_INT(crypto_base64_decode("Zm=9", 4, out, sizeof(out)), -1);
	T_EQ_INT(crypto_base64_decode("Zm9vYmFy", 8, out, 5), -1);
}

int
main(void)
{
	T_RUN(test_digest);
	T_RUN(test_base64);
	T_RUN(test_secret);
	T_RUN(test_memcmp_wipe_random);
	T_RUN(test_es256);
	T_RUN(test_es256_normalize);
	T_RUN(test_base64_decode);
	return t_done();
}
