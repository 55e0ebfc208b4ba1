#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""h2seeds.py: writes the HTTP/2 seeds of the relay and h2 fuzz targets.

The relay target (fuzz/fuzz_relay.c) reads, after its mode byte, the
bytes an upstream server sends on a connection after the client preface;
the h2 target (fuzz/fuzz_h2.c) reads, after its read-size byte, what a
client sends after its preface.  Those are binary frames that nobody
edits by hand, so this script writes them: fuzz/corpus/relay/h2-* and
fuzz/corpus/h2/*.  Run it from anywhere; it writes next to
itself.  Header blocks use HPACK literals without Huffman coding (RFC 7541
6.2.2), or the static table for :status 200/204/206/304/400/404/500, so
that the strings stay visible to the fuzzer's mutations.

Standard library only, like every Python file of the project.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "relay")
OUT_SERVER = os.path.join(HERE, "corpus", "h2")

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = 0, 1, 2, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20

# HPACK static table indexes of ":status" values (RFC 7541 appendix A)
STATUS_INDEX = {200: 8, 204: 9, 206: 10, 304: 11, 400: 12, 404: 13,
                500: 14}


def frame(ftype, flags, stream, payload=b""):
    """One frame: 24-bit length, type, flags, 31-bit stream id."""
    return (struct.pack(">I", len(payload))[1:] +
            struct.pack(">BBI", ftype, flags, stream) + payload)


def hpack_int(value, prefix_bits, first):
    """An HPACK integer with its first byte's high bits set to first."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(s):
    b = s.encode() if isinstance(s, str) else s
    return hpack_int(len(b), 7, 0) + b


def literal(name, value):
    """Literal header field without indexing, new name."""
    return b"\x00" + hpack_str(name) + hpack_str(value)


def status(code):
    if code in STATUS_INDEX:
        return hpack_int(STATUS_INDEX[code], 7, 0x80)
    # literal without indexing, indexed name :status (index 8)
    return hpack_int(8, 4, 0) + hpack_str(str(code))


def headers(stream, code, fields=(), end_stream=False):
    block = status(code) + b"".join(literal(n, v) for n, v in fields)
    flags = END_HEADERS | (END_STREAM if end_stream else 0)
    return frame(HEADERS, flags, stream, block)


def data(stream, payload, end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, stream, payload)


PREFACE = frame(SETTINGS, 0, 0) + frame(SETTINGS, ACK, 0)
SEP = b"\n--next--\n"
RELAY, FETCH = b"2", b"3"	# mode bytes: HTTP/2 framing

SEEDS = {
    "h2-relay-200": RELAY + PREFACE + headers(1, 200, end_stream=True),
    "h2-relay-503": RELAY + PREFACE +
    headers(1, 503, [("retry-after", "5"), ("content-type", "text/plain")]) +
    data(1, b"busy", end_stream=True),
    "h2-relay-400": RELAY + PREFACE +
    headers(1, 400, [("content-type", "application/json")]) +
    data(1, b'{"error":"bad_request","message":"seq 3"}', end_stream=True),
    "h2-relay-interim": RELAY + PREFACE + headers(1, 100) +
    headers(1, 204, end_stream=True),
    "h2-relay-rst": RELAY + PREFACE +
    frame(RST_STREAM, 0, 1, struct.pack(">I", 8)),
    "h2-relay-goaway": RELAY + PREFACE +
    frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)),
    "h2-relay-ping-window": RELAY + PREFACE + frame(PING, 0, 0, b"12345678") +
    frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 65535)) +
    headers(1, 202, end_stream=True),
    "h2-fetch-200": FETCH + PREFACE +
    headers(1, 200, [("content-length", "10")]) +
    data(1, b"0123456789", end_stream=True),
    "h2-fetch-206": FETCH + PREFACE +
    headers(1, 206, [("content-range", "bytes 0-4/10"),
                     ("content-length", "5")]) +
    data(1, b"01234", end_stream=True),
    "h2-fetch-resume": FETCH + PREFACE +
    headers(1, 200, [("content-length", "8")]) + data(1, b"abcd") + SEP +
    PREFACE + headers(1, 206, [("content-range", "bytes 4-7/8")]) +
    data(1, b"efgh", end_stream=True),
    "h2-fetch-padded": FETCH + PREFACE + headers(1, 200) +
    frame(DATA, PADDED | END_STREAM, 1, b"\x03abc\x00\x00\x00"),
    "h2-fetch-404": FETCH + PREFACE + headers(1, 404, end_stream=True),
}


def request(stream, method, path, fields=(), end_stream=True):
    """A client's HEADERS frame: the pseudo-fields, then fields."""
    block = (literal(":method", method) + literal(":scheme", "https") +
             literal(":path", path) + literal(":authority", "gw") +
             b"".join(literal(n, v) for n, v in fields))
    flags = END_HEADERS | (END_STREAM if end_stream else 0)
    return frame(HEADERS, flags, stream, block)


def settings(*pairs):
    return frame(SETTINGS, 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in pairs))


# Read-size bytes: 0x40 all at once, 0x00 one byte at a time, 0x0f 16.
ALL, BYTE, SIXTEEN = b"\x40", b"\x00", b"\x0f"
CLIENT = settings((4, 65535), (2, 0)) + frame(SETTINGS, ACK, 0)
AUTH = [("authorization", "Bearer s3cret"), ("x-device-id", "lamp-1")]
CHECK = b'{"versions":{"default":"1.0.0"}}'
SPLIT = request(1, "GET", "/x", AUTH)

SERVER_SEEDS = {
    "get": ALL + CLIENT + request(1, "GET", "/x?a=1", AUTH),
    "get-bytewise": BYTE + CLIENT + request(1, "GET", "/x", AUTH),
    "range": SIXTEEN + CLIENT + request(1, "GET", "/fw/1", AUTH +
                                        [("range", "bytes=0-4095")]),
    "post": ALL + CLIENT +
    request(1, "POST", "/ota/lamp-1/check",
            AUTH + [("content-length", str(len(CHECK)))], False) +
    data(1, CHECK, end_stream=True),
    "post-too-big": ALL + CLIENT +
    request(1, "POST", "/x", [("content-length", "5000")], False) +
    data(1, b"a" * 4096) + data(1, b"b" * 904, end_stream=True),
    "stream": SIXTEEN + CLIENT + request(3, "PUT", "/stream", (), False) +
    data(3, b"x" * 100) + data(3, b"y" * 100, end_stream=True),
    "respond": ALL + CLIENT +
    request(1, "POST", "/respond", [("content-length", "100000")], False) +
    data(1, b"z" * 1000),
    "defer": SIXTEEN + CLIENT + request(1, "GET", "/defer") +
    frame(PING, 0, 0, b"12345678") + request(3, "GET", "/x"),
    "defer-reset": BYTE + CLIENT + request(1, "GET", "/defer") +
    frame(RST_STREAM, 0, 1, struct.pack(">I", 8)),
    "many-streams": ALL + CLIENT +
    b"".join(request(i, "GET", "/x") for i in range(1, 40, 2)),
    "continuation": ALL + CLIENT +
    frame(HEADERS, END_STREAM, 1, SPLIT[9:20]) +
    frame(CONTINUATION, 0, 1, SPLIT[20:30]) +
    frame(CONTINUATION, END_HEADERS, 1, SPLIT[30:]),
    "padded-priority": ALL + CLIENT +
    frame(HEADERS, END_HEADERS | END_STREAM | PADDED | PRIO, 1,
          b"\x02" + struct.pack(">IB", 0, 15) + SPLIT[9:] + b"\0\0") +
    frame(PRIORITY, 0, 3, struct.pack(">IB", 1, 7)),
    "window-goaway": ALL + CLIENT +
    frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20)) +
    request(1, "GET", "/x") +
    frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)),
    "tiny-window": ALL + settings((4, 1), (5, 16384)) +
    request(1, "GET", "/x") + frame(WINDOW_UPDATE, 0, 1,
                                    struct.pack(">I", 100)),
    "bad-frame": SIXTEEN + CLIENT + frame(DATA, 0, 0, b"x") +
    request(1, "GET", "/x"),
}


def write(out, seeds):
    os.makedirs(out, exist_ok=True)
    for name, blob in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


def main():
    write(OUT, SEEDS)
    write(OUT_SERVER, SERVER_SEEDS)


if __name__ == "__main__":
    main()
