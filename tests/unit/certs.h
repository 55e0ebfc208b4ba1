/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * certs.h: throw-away certificates for the TLS unit tests, header only.
 *
 * certs_make(dir) runs the openssl command line (P-256 keys, as
 * certs/gen.sh does) and leaves in dir:
 *
 *   ca.pem ca.key          a CA
 *   other-ca.pem .key      a second CA, which signed nothing otagw trusts
 *   server.pem .key        CN localhost, SAN DNS:localhost, IP:127.0.0.1,
 *                          signed by ca
 *   dev-1.pem .key         a client certificate, CN dev-1, signed by ca
 *   rogue.pem .key         CN dev-1 too, but signed by other-ca
 *   nocn.pem .key          signed by ca, a subject with no CN
 *
 * Keys never leave the test's temporary directory.  certs_path() builds
 * "dir/name" in a static buffer (one at a time).
 */
#ifndef OTAGW_T_CERTS_H
#define OTAGW_T_CERTS_H

#include <stdio.h>
#include <stdlib.h>

static inline const char *
certs_path(const char *dir, const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static inline int
certs_run(const char *dir, const char *cmd)
{
	char	 line[2048];

	snprintf(line, sizeof(line), "cd '%s' && (%s) >/dev/null 2>&1", dir,
	    cmd);
	if (system(line) != 0) {
		fprintf(stderr, "certs: failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

/* A CA: name.pem and name.key. */
static inline int
certs_ca(const char *dir, const char *name, const char *cn)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key "
	    "-out %s.pem -days 2 -subj '/CN=%s' "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign", name, name, cn);
	return certs_run(dir, cmd);
}

/* A leaf name.pem/.key for subject, signed by ca, extensions ext. */
static inline int
certs_leaf(const char *dir, const char *name, const char *subject,
    const char *ca, const char *ext)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "printf '%s\\n' > %s.ext && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout %s.key -out %s.csr -subj '%s' && "
	    "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key "
	    "-CAcreateserial -days 2 -extfile %s.ext -out %s.pem && "
	    "rm -f %s.csr %s.ext", ext, name, name, name, subject, name, ca,
	    ca, name, name, name, name);
	return certs_run(dir, cmd);
}

static inline int
certs_make(const char *dir)
{
	if (certs_ca(dir, "ca", "otagw test CA") == -1 ||
	    certs_ca(dir, "other-ca", "otagw other CA") == -1 ||
	    certs_leaf(dir, "server", "/CN=localhost", "ca",
	    "subjectAltName=DNS:localhost,IP:127.0.0.1\\n"
	    "extendedKeyUsage=serverAuth") == -1 ||
	    certs_leaf(dir, "dev-1", "/CN=dev-1", "ca",
	    "extendedKeyUsage=clientAuth") == -1 ||
	    certs_leaf(dir, "rogue", "/CN=dev-1", "other-ca",
	    "extendedKeyUsage=clientAuth") == -1 ||
	    certs_leaf(dir, "nocn", "/O=otagw tests", "ca",
	    "extendedKeyUsage=clientAuth") == -1)
		return -1;
	return 0;
}

#endif
