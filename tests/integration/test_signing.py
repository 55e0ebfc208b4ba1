# SPDX-License-Identifier: BSD-2-Clause
"""test_signing: signed notices (issue 15, item 1).

Every signature is checked by the openssl command line, never by otagw's
own code:

- without a key, notices are plain JSON, as before;
- `otactl key create` makes an ES256 key; `otactl key show` prints its
  PEM and raw public key; from then on an HTTPS notice is a JWS in
  flattened JSON (application/jose+json) whose protected header names
  ES256 and the key id, whose payload is the notice, and whose signature
  `openssl dgst -sha256 -verify` accepts over protected "." payload; an
  altered payload is refused by openssl;
- the device's nonce comes back inside the signed payload, so an answer
  replayed to a later check (with another nonce) is told apart; a bad
  nonce is a 400 / 4.00 and changes nothing;
- over DTLS the signed notice fits in one 1024-byte block and verifies;
- an Ed25519 key (`--alg EdDSA`) signs once activated, verified with
  `openssl pkeyutl -verify -rawin`; rotation changes the kid; the keys
  are the same through the admin API (otactl --url) and through --state;
  the current key is deleted only with --force, and notices then go out
  unsigned again.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

from otagw_harness import AdminApi, Checks, Pki, curl_request, https_gateway

checks = Checks()

for tool in ("curl", "openssl", "coap-client-openssl"):
    if shutil.which(tool) is None:
        print("%s not installed: skipping" % tool)
        sys.exit(77)


def b64url_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b


def es256_der(raw):
    """JWS r || s as the DER openssl dgst -verify reads."""
    body = der_int(raw[:32]) + der_int(raw[32:])
    return b"\x30" + bytes([len(body)]) + body


class Verifier:
    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0

    def path(self, name, data):
        self.n += 1
        p = os.path.join(self.tmp, "%s-%d" % (name, self.n))
        with open(p, "wb") as f:
            f.write(data)
        return p

    def verify(self, pem, alg, signing_input, sig):
        """True when openssl accepts sig over signing_input."""
        pub = self.path("pub.pem", pem.encode())
        data = self.path("input", signing_input)
        if alg == "ES256":
            if len(sig) != 64:
                return False
            sf = self.path("sig.der", es256_der(sig))
            args = ["openssl", "dgst", "-sha256", "-verify", pub,
                    "-signature", sf, data]
        else:
            sf = self.path("sig.raw", sig)
            args = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                    pub, "-rawin", "-in", data, "-sigfile", sf]
        p = subprocess.run(args, capture_output=True, text=True)
        return p.returncode == 0 and "Verified" in p.stdout + p.stderr


def jws_parts(body):
    """(header, payload bytes, signing input, signature) of a JWS."""
    j = json.loads(body)
    hdr = json.loads(b64url_dec(j["protected"]))
    return (hdr, b64url_dec(j["payload"]),
            (j["protected"] + "." + j["payload"]).encode(),
            b64url_dec(j["signature"]), j)


def main():
    tmp = tempfile.mkdtemp(prefix="otagw-signing-")
    pki = Pki(os.path.join(tmp, "pki"))
    ver = Verifier(tmp)
    api = AdminApi(tmp, pki.ca[0])
    gw = https_gateway(pki, coaps=True, tmp=tmp, extra=api.settings())
    psk = b"signing-psk-0001"
    img = os.urandom(30000)
    img_path = os.path.join(tmp, "fw.bin")
    with open(img_path, "wb") as f:
        f.write(img)

    def check(nonce=None, dev="d1"):
        body = {"version": "1.0.0"}
        if nonce is not None:
            body["nonce"] = nonce
        return curl_request(
            "%s/ota/%s/check" % (gw.https_url, dev), "POST", "1.1",
            ["Authorization: Bearer s-" + dev,
             "Content-Type: application/json"],
            json.dumps(body).encode(), pki.ca[0], tmpdir=tmp)

    ctl_url = api.otactl

    with gw:
        for dev in ("d1", "d2"):
            gw.otactl("device", "put", dev, "--product", "p", "--secret",
                      "s-" + dev, "--psk", psk.hex(), "--version", "1.0.0",
                      check=True)
        fw = gw.otactl_id("firmware", "add", img_path, "--product", "p",
                          "--version", "2.0.0")
        gw.otactl_id("job", "create", "--firmware", fw, "--force",
                     "--devices", "d1,d2")

        # no key: plain JSON, as before
        o = gw.otactl("key", "list")
        checks.check(o.returncode == 0 and "unsigned" in o.stdout,
                     "key list without keys: notices unsigned (%s)" %
                     o.stdout)
        r = check("n-0")
        checks.eq((r.status, r.h("content-type")), (200, "application/json"),
                  "no key: a plain JSON notice")
        plain = json.loads(r.body)
        checks.eq((plain.get("firmware"), plain.get("nonce")), (fw, "n-0"),
                  "the plain notice echoes the nonce too")

        # an ES256 key, made through the admin API
        o = ctl_url("--json", "key", "create")
        checks.eq(o.returncode, 0, "otactl --url key create (%s)" % o.stderr)
        k1 = json.loads(o.stdout or "{}")
        checks.check(k1.get("alg") == "ES256" and k1.get("current") is True
                     and len(k1.get("kid", "")) == 12,
                     "the first key is ES256 and current (%s)" % o.stdout)
        o = gw.otactl("key", "show")
        checks.check(o.returncode == 0 and k1["kid"] in o.stdout and
                     "BEGIN PUBLIC KEY" in o.stdout and
                     ("04" + k1["publicKeyRaw"][2:]) in o.stdout,
                     "otactl key show: kid, PEM and raw (%s)" % o.stdout)
        pem1 = k1["publicKeyPem"]
        p = subprocess.run(["openssl", "pkey", "-pubin", "-noout", "-text"],
                           input=pem1, capture_output=True, text=True)
        checks.check(p.returncode == 0 and "prime256v1" in p.stdout and
                     k1["publicKeyRaw"][:2] == "04" and
                     len(k1["publicKeyRaw"]) == 130,
                     "the public key is a P-256 point openssl reads")

        r = check("n-1")
        checks.eq((r.status, r.h("content-type")),
                  (200, "application/jose+json"),
                  "with a key: 200 application/jose+json")
        hdr, payload, sinput, sig, j = jws_parts(r.body)
        checks.eq(hdr, {"alg": "ES256", "kid": k1["kid"]},
                  "protected header: alg and kid")
        notice = json.loads(payload)
        checks.eq((notice.get("firmware"), notice.get("nonce"),
                   notice.get("sign"), notice.get("device")),
                  (fw, "n-1", plain.get("sign"), "d1"),
                  "payload: the notice with the nonce and the device it "
                  "is for (another device's nonce gets it no notice "
                  "that device would take)")
        checks.check(ver.verify(pem1, "ES256", sinput, sig),
                     "openssl dgst -verify accepts the signature")
        bad = payload.replace(b"2.0.0", b"2.0.1")
        bad_in = (j["protected"] + "." + base64.urlsafe_b64encode(
            bad).decode().rstrip("=")).encode()
        checks.check(not ver.verify(pem1, "ES256", bad_in, sig),
                     "an altered payload: openssl refuses it")
        # replay: the answer to n-1 is not the answer to n-2
        r2 = check("n-2")
        _, payload2, sinput2, sig2, _ = jws_parts(r2.body)
        checks.check(json.loads(payload2).get("nonce") == "n-2" and
                     ver.verify(pem1, "ES256", sinput2, sig2) and
                     json.loads(payload).get("nonce") != "n-2",
                     "a later check gets its own nonce signed; the old "
                     "answer replayed carries n-1 and is rejected")
        for badn in ("a b", "x" * 65, "", 5):
            r = curl_request(
                "%s/ota/d1/check" % gw.https_url, "POST", "1.1",
                ["Authorization: Bearer s-d1",
                 "Content-Type: application/json"],
                json.dumps({"version": "1.0.0", "nonce": badn}).encode(),
                pki.ca[0], tmpdir=tmp)
            checks.eq(r.status, 400, "nonce %r: 400" % (badn,))

        # DTLS: one block, verifies
        res = gw.coap("post", "/ota/d2/check",
                      payload=json.dumps({"version": "1.0.0",
                                          "nonce": "c0ffee"}),
                      dtls=("d2", psk.decode()), content_format=50,
                      block=1024)
        checks.eq(res.code, "2.05", "coaps check: 2.05")
        data = res.data
        checks.check(0 < len(data) <= 1024,
                     "the signed CoAP notice fits one 1024-byte block "
                     "(%d bytes)" % len(data))
        try:
            hdr, payload, sinput, sig, _ = jws_parts(data)
            ok = ver.verify(pem1, "ES256", sinput, sig) and \
                json.loads(payload).get("nonce") == "c0ffee" and \
                json.loads(payload).get("url", "").startswith("coaps://")
        except (ValueError, KeyError):
            ok = False
        checks.check(ok, "coaps: the signed notice verifies and echoes "
                     "the nonce")
        res = gw.coap("post", "/ota/d2/check",
                      payload='{"version":"1.0.0","nonce":"no way"}',
                      dtls=("d2", psk.decode()), content_format=50)
        checks.eq(res.code, "4.00", "coaps: a bad nonce is 4.00")

        # Ed25519, made but not active; then activated: rotation
        o = gw.otactl("--json", "key", "create", "--alg", "EdDSA")
        k2 = json.loads(o.stdout or "{}")
        checks.check(o.returncode == 0 and k2.get("alg") == "EdDSA" and
                     k2.get("current") is False and
                     len(k2.get("publicKeyRaw", "")) == 64,
                     "a second key (EdDSA) is made, not current (%s)" %
                     o.stdout)
        hdr, _, _, _, _ = jws_parts(check("n-3").body)
        checks.eq(hdr["kid"], k1["kid"], "until activated, k1 still signs")
        o = ctl_url("key", "activate", k2["kid"])
        checks.eq(o.returncode, 0, "otactl --url key activate (%s)" %
                  o.stderr)
        hdr, payload, sinput, sig, _ = jws_parts(check("n-4").body)
        checks.eq(hdr, {"alg": "EdDSA", "kid": k2["kid"]},
                  "after activation: EdDSA and the new kid")
        checks.check(ver.verify(k2["publicKeyPem"], "EdDSA", sinput, sig),
                     "openssl pkeyutl -verify accepts the Ed25519 "
                     "signature")
        checks.check(not ver.verify(pem1, "ES256", sinput, sig),
                     "the old key does not verify the new notice")
        a = ctl_url("--json", "key", "list")
        s = gw.otactl("--json", "key", "list")
        checks.check(a.returncode == 0 and a.stdout == s.stdout and
                     [k["current"] for k in json.loads(a.stdout)["keys"]]
                     == [False, True],
                     "key list: --url == --state, k2 current (%s)" %
                     a.stdout)

        # deletion: the current one only with --force
        o = gw.otactl("key", "delete", k2["kid"])
        checks.check(o.returncode == 1 and "force" in o.stderr,
                     "key delete of the current key: refused (%s)" %
                     o.stderr)
        o = gw.otactl("key", "delete", "000000000000")
        checks.check(o.returncode == 1 and "no signing key" in o.stderr,
                     "key delete of an unknown key: refused")
        o = gw.otactl("key", "activate", "bad/kid")
        checks.check(o.returncode == 1 and "bad key id" in o.stderr,
                     "key activate of a bad id: refused")
        checks.eq(gw.otactl("key", "delete", k1["kid"]).returncode, 0,
                  "key delete of an old key")
        checks.eq(ctl_url("key", "delete", "--force",
                          k2["kid"]).returncode, 0,
                  "key delete --force of the current key")
        r = check("n-5")
        checks.check(r.status == 200 and r.h("content-type") ==
                     "application/json" and
                     json.loads(r.body).get("nonce") == "n-5",
                     "no key left: plain notices again")
        checks.check(pem1 not in gw.log() and "PRIVATE" not in gw.log(),
                     "no key material in the log")
    checks.done()


main()
