#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# certs/gen.sh DIR: development certificates and tokens for otagw.
#
# Creates, only where missing:
#   DIR/ca.pem, DIR/ca.key            a development CA (also the device CA)
#   DIR/server.pem, DIR/server.key    the gateway's TLS certificate
#                                     (CN and SAN localhost, 127.0.0.1, ::1)
#   DIR/admin.token                   the admin API bearer token
# Nothing here is for production: use your own PKI there.
set -eu
dir=${1:-certs}
mkdir -p "$dir"
cd "$dir"
umask 077
if [ ! -f ca.key ] || [ ! -f ca.pem ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout ca.key -out ca.pem -days 3650 -subj "/CN=otagw development CA" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
if [ ! -f server.key ] || [ ! -f server.pem ]; then
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' > server.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out server.pem -days 825 -extfile server.ext 2>/dev/null
	rm -f server.csr server.ext
fi
if [ ! -f admin.token ]; then
	openssl rand -hex 32 > admin.token
fi
chmod 600 ca.key server.key admin.token
chmod 644 ca.pem server.pem
