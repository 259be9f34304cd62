#!/usr/bin/env python3
"""mqttproto-broker against hand-made packets on raw sockets: malformed
input, CONNECT and keep-alive timeouts, clients that do not read
(back-pressure, bounded memory), 1,000 concurrent connections, shutdown,
pipelined input behind a slow authenticator, UNIX sockets, timers."""

import os
import resource
import signal
import socket
import struct
import subprocess
import threading
import time

import harness as h
from harness import Broker, Conn, check

KB = 1024
MB = 1024 * 1024


def connected(b, client_id, **kw):
    c = Conn(b.port, **{k: v for k, v in kw.items() if k in ("rcvbuf", "timeout")})
    c.send(h.connect(client_id, **{k: v for k, v in kw.items() if k not in ("rcvbuf", "timeout")}))
    rc = c.connack()
    check(rc == 0, "CONNACK 0x%02x for %s" % (rc, client_id))
    return c


def suback_codes(c):
    _, body = c.expect(9)
    plen = body[2]  # properties length (< 128 here)
    return list(body[3 + plen:])


def subscribed(b, client_id, filt, qos=0, **kw):
    c = connected(b, client_id, **kw)
    c.send(h.subscribe(1, filt, qos))
    codes = suback_codes(c)
    check(codes == [qos], "SUBACK %r for %s" % (codes, filt))
    return c


def publish_topic_payload(body, qos):
    tlen = struct.unpack(">H", body[:2])[0]
    topic = body[2:2 + tlen].decode()
    i = 2 + tlen + (2 if qos else 0)
    plen, mult = 0, 1
    while True:
        bb = body[i]
        i += 1
        plen += (bb & 0x7F) * mult
        mult *= 128
        if not bb & 0x80:
            break
    return topic, body[i + plen:]


class Witness:
    """A subscriber and a publisher that prove the broker still serves."""

    def __init__(self, b):
        self.sub = subscribed(b, "witness-sub", "witness/#")
        self.pub = connected(b, "witness-pub")
        self.n = 0

    def check(self, when):
        self.n += 1
        payload = b"alive-%d" % self.n
        self.pub.send(h.publish("witness/t", payload))
        first, body = self.sub.read_packet(5)
        check(first >> 4 == 3, "%s: the witness got first byte 0x%02x" % (when, first))
        check(publish_topic_payload(body, 0) == ("witness/t", payload),
              "%s: the witness got %r" % (when, body))


# ---- malformed input ----

BAD_AFTER_CONNECT = [
    ("PUBLISH with QoS 3", bytes([0x36, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00]), 0x81),
    ("topic name with a wildcard", h.publish("a/+", b"x"), 0x82),
    ("a second CONNECT", h.connect("again"), 0x82),
    ("remaining length of 5 bytes", bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), 0x81),
    ("packet over max_packet_size", h.publish("big", b"x" * 3000), 0x95),
    ("ill-formed UTF-8 topic", h.packet(0x30, h.mqtt_str(b"\xff\xfe") + b"\x00x"), 0x81),
    ("Topic Alias 0", h.publish("t", b"x", props=b"\x23\x00\x00"), 0x94),
    ("reserved subscription option bits",
     h.packet(0x82, b"\x00\x01\x00" + h.mqtt_str("t") + b"\xc0"), 0x81),
    ("PUBACK for a packet id never sent", bytes([0x40, 0x02, 0x00, 0x07]), 0x82),
    ("QoS 1 PUBLISH with packet id 0", h.publish("t", b"x", qos=1, packet_id=0), 0x82),
    ("SUBSCRIBE without a filter", h.packet(0x82, b"\x00\x01\x00"), 0x82),
    ("reserved packet type 0", bytes([0x00, 0x00]), 0x81),
]

BAD_CONNECTS = [
    ("protocol name MQTX", h.connect("p1", name=b"MQTX"), 0x84),
    ("protocol version 6", h.connect("p2", version=6), 0x84),
    ("reserved CONNECT flag", h.connect("p3", flags_extra=0x01), 0x81),
    ("duplicate property", h.connect("p4", props=b"\x11\x00\x00\x00\x01\x11\x00\x00\x00\x01"),
     0x82),
]


def test_malformed_packets():
    """Every case is tried; the mismatches are reported together."""
    wrong = []
    with Broker(config="max_packet_size 1024\n") as b:
        w = Witness(b)
        for name, data, rc in BAD_CONNECTS:
            c = Conn(b.port)
            c.send(data)
            got = c.wait_closed()
            if not (len(got) == 1 and got[0][0] == 0x20 and got[0][1][1] == rc):
                wrong.append("%s: expected CONNACK 0x%02x, got %r" % (name, rc, got))
            c.close()
            w.check(name)
        for i, (name, data, rc) in enumerate(BAD_AFTER_CONNECT):
            c = connected(b, "bad-%d" % i)
            c.send(data)
            got = c.wait_closed()
            if len(got) != 1 or got[0][0] != 0xE0:
                wrong.append("%s: expected one DISCONNECT, got %r" % (name, got))
            elif h.disconnect_reason(*got[0]) != rc:
                wrong.append("%s: DISCONNECT 0x%02x, expected 0x%02x"
                             % (name, h.disconnect_reason(*got[0]), rc))
            c.close()
            w.check(name)
        # Not a CONNECT first: closed with nothing sent [MQTT-3.1.0-1].
        c = Conn(b.port)
        c.send(b"\xc0\x00")
        got = c.wait_closed()
        if got != []:
            wrong.append("PINGREQ first: expected the connection closed silently, got %r" % got)
        w.check("PINGREQ first")
        b.wait_log(r"client bad-0 \(127\.0\.0\.1:\d+\): protocol error: QoS value 3; "
                   r"sent DISCONNECT 0x81")
        b.wait_log(r"protocol error: packet larger than the maximum packet size; sent DISCONNECT "
                   r"0x95")
    check(not wrong, "%d of %d cases: %s" % (len(wrong), len(BAD_CONNECTS) + len(BAD_AFTER_CONNECT)
                                             + 1, "; ".join(wrong)))


def test_garbage_burst_keeps_serving():
    """Random bytes on many connections at once; the witness still works."""
    import random
    rnd = random.Random(1234)
    with Broker(config="connect_timeout 2\n") as b:
        w = Witness(b)
        conns = []
        for i in range(50):
            c = Conn(b.port)
            if i % 2:
                c.send(h.connect("g%d" % i, keep_alive=1))
            c.send(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400))))
            conns.append(c)
        w.check("after 50 garbage connections")
        # Each ends: refused, a protocol error, or (garbage that looks like
        # the start of a long packet) the CONNECT or keep-alive timeout.
        for c in conns:
            c.wait_closed(8)
            c.close()
        w.check("after closing them")


# ---- timeouts ----

def test_connect_timeout():
    with Broker(config="connect_timeout 1\n") as b:
        half = h.connect("slow")[:7]
        a = Conn(b.port)
        a.send(half)
        silent = Conn(b.port)
        start = time.monotonic()
        check(a.wait_closed(5) == [], "a half CONNECT got an answer")
        check(silent.wait_closed(5) == [], "a silent connection got an answer")
        took = time.monotonic() - start
        check(0.8 <= took <= 3.5, "closed after %.2f s, connect_timeout is 1 s" % took)
        b.wait_log(r"closed: no CONNECT within connect_timeout", count=2)


def test_keep_alive_timeout():
    with Broker() as b:
        c = connected(b, "sleepy", keep_alive=1)
        start = time.monotonic()
        got = c.wait_closed(6)
        took = time.monotonic() - start
        check(len(got) == 1 and h.disconnect_reason(*got[0]) == 0x8D,
              "expected DISCONNECT 0x8D, got %r" % got)
        check(1.3 <= took <= 3.5, "closed after %.2f s for keep alive 1 s" % took)
        b.wait_log(r"client sleepy .* disconnected: keep alive timeout")


def test_session_takeover():
    with Broker() as b:
        a = connected(b, "twin")
        bb = connected(b, "twin")
        got = a.wait_closed()
        check(len(got) == 1 and h.disconnect_reason(*got[0]) == 0x8E,
              "expected DISCONNECT 0x8E, got %r" % got)
        bb.send(h.packet(0xC0, b""))
        bb.expect(13)  # PINGRESP: the new connection works
        b.wait_log(r"disconnected: a new connection took its session over")


def test_session_expiry_and_will_delay():
    """The broker timer: a session expires, a delayed will goes out late."""
    with Broker() as b:
        watcher = subscribed(b, "watcher", "will/#")
        expiry = b"\x11" + struct.pack(">I", 1)  # Session Expiry Interval 1 s
        c = connected(b, "short", clean=True, props=expiry)
        c.send(h.subscribe(1, "x/#", 1))
        suback_codes(c)
        c.send(h.disconnect())
        c.wait_closed()
        time.sleep(1.6)
        c = Conn(b.port)
        c.send(h.connect("short", clean=False, props=expiry))
        _, body = c.expect(2)
        check(body[0] == 0 and body[1] == 0, "the session should have expired: CONNACK %r"
              % body[:2])
        c.close()
        # A will with Will Delay Interval 1 s and a session that outlives it.
        will_props = b"\x18" + struct.pack(">I", 1)
        body = (h.mqtt_str("MQTT") + bytes([5, 0x02 | 0x04]) + struct.pack(">H", 60)
                + h.varint(5) + b"\x11" + struct.pack(">I", 30) + h.mqtt_str("delayed")
                + h.varint(len(will_props)) + will_props + h.mqtt_str("will/t") + h.mqtt_str("late"))
        d = Conn(b.port)
        d.send(h.packet(0x10, body))
        check(d.connack() == 0, "will client refused")
        b.wait_log(r"client delayed connected")
        start = time.monotonic()
        d.close()  # abrupt: no DISCONNECT, so the will goes out after its delay
        first, pbody = watcher.read_packet(5)
        took = time.monotonic() - start
        check(first >> 4 == 3 and publish_topic_payload(pbody, 0) == ("will/t", b"late"),
              "expected the will, got 0x%02x %r" % (first, pbody))
        check(0.8 <= took <= 3.0, "the will came after %.2f s, its delay is 1 s" % took)


# ---- back-pressure ----

class Reader(threading.Thread):
    """Reads a connection continuously, counting PUBLISH packets, until 'end'."""

    def __init__(self, conn, end_topic):
        super().__init__(daemon=True)
        self.conn = conn
        self.end_topic = end_topic
        self.count = 0
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            while True:
                first, body = self.conn.read_packet(60)
                if first >> 4 != 3:
                    continue
                self.count += 1
                topic, _ = publish_topic_payload(body, (first >> 1) & 3)
                if topic == self.end_topic:
                    self.done.set()
                    return
        except Exception as e:  # noqa: BLE001
            self.error = e
            self.done.set()


def flood(b, topic, total_bytes, size=KB):
    pub = connected(b, "flooder", timeout=60)
    msg = h.publish(topic, b"m" * size)
    batch = msg * 256
    sent = 0
    while sent < total_bytes:
        pub.send(batch)
        sent += len(batch)
    return pub


def memory_bound_kb():
    return (600 if h.SANITIZED else 80) * 1024


def test_non_reader_over_max_outbound_bytes():
    cfg = "max_outbound_bytes 256K\nwrite_timeout 60\n"
    with Broker(config=cfg, log_level="info") as b:
        base = b.status("VmRSS")
        w = Witness(b)
        lazy = subscribed(b, "nonreader", "flood/#", rcvbuf=4096)
        pub = flood(b, "flood/data", 64 * MB)
        b.wait_log(r"client nonreader \(127\.0\.0\.1:\d+\): \d+ bytes wait to be written, over "
                   r"max_outbound_bytes \(262144\): closing", timeout=30)
        w.check("after the flood")
        hwm = b.status("VmHWM")
        check(hwm - base < memory_bound_kb(), "peak RSS grew by %d kB (bound %d kB)"
              % (hwm - base, memory_bound_kb()))
        b.wait_log(r"client nonreader .* disconnected: its unwritten output exceeded "
                   r"max_outbound_bytes")
        # What the kernel had buffered is there to read, then the end.
        lazy.sock.settimeout(10)
        try:
            while lazy.sock.recv(1 << 20):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        pub.close()
        print("    non-reader: peak RSS +%d kB" % (hwm - base))


def test_non_reader_write_timeout():
    cfg = "write_timeout 2\nmax_queued_messages 100\n"
    with Broker(config=cfg, log_level="info") as b:
        base = b.status("VmRSS")
        w = Witness(b)
        stalled = subscribed(b, "stalled", "flood/#", rcvbuf=4096)
        start = time.monotonic()
        pub = flood(b, "flood/data", 24 * MB)
        b.wait_log(r"client stalled .* disconnected: it read nothing for 2 s \(write_timeout\)",
                   timeout=30)
        took = time.monotonic() - start
        w.check("after the stalled reader was closed")
        hwm = b.status("VmHWM")
        check(hwm - base < memory_bound_kb(), "peak RSS grew by %d kB (bound %d kB)"
              % (hwm - base, memory_bound_kb()))
        stalled.close()
        pub.close()
        print("    stalled reader closed after %.1f s; peak RSS +%d kB" % (took, hwm - base))


# ---- many connections ----

def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    check(soft >= n, "cannot raise the open file limit to %d (hard limit %d)" % (n, hard))


def test_1000_concurrent_connections():
    import selectors
    n = 1000
    raise_fd_limit(n + 200)
    with Broker(log_level="info") as b:
        socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", b.port), timeout=10)
            socks.append(s)
        for i, s in enumerate(socks):
            s.sendall(h.connect("many-%d" % i))
        sel = selectors.DefaultSelector()
        bufs = {}
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
        acked = 0
        deadline = time.monotonic() + 60
        while acked < n and time.monotonic() < deadline:
            for key, _ in sel.select(1):
                s = key.fileobj
                data = s.recv(4096)
                check(data, "a connection was closed before its CONNACK")
                bufs[s] += data
                if len(bufs[s]) >= 4:
                    check(bufs[s][0] == 0x20 and bufs[s][3] == 0,
                          "not a CONNACK 0x00: %r" % bufs[s][:8])
                    acked += 1
                    sel.unregister(s)
        check(acked == n, "%d of %d connections got CONNACK" % (acked, n))
        rss = b.status("VmRSS")
        b.wait_log(r"client many-\d+ connected", count=n)
        for s in socks:
            s.close()
        b.wait_log(r"client many-\d+ .*disconnected", count=n, timeout=30)
        print("    1000 connections CONNACKed; broker RSS %d kB with all open" % rss)


def test_max_connections():
    with Broker(config="max_connections 2\n") as b:
        a = connected(b, "one")
        c2 = connected(b, "two")
        third = Conn(b.port)
        third.send(h.connect("three"))
        check(third.wait_closed() == [], "the third connection got an answer")
        b.wait_log(r"refused: max_connections \(2\) reached")
        a.close()
        b.wait_log(r"client one .* disconnected")
        connected(b, "four").close()
        c2.close()


# ---- shutdown ----

def test_sigterm_disconnects_everyone():
    b = Broker().start()
    try:
        a = connected(b, "stay-a")
        c = connected(b, "stay-b")
        pending = Conn(b.port)
        start = time.monotonic()
        os.kill(b.pid, signal.SIGTERM)
        for conn in (a, c):
            got = conn.wait_closed(5)
            check(len(got) == 1 and h.disconnect_reason(*got[0]) == 0x8B,
                  "expected DISCONNECT 0x8B, got %r" % got)
        check(pending.wait_closed(5) == [], "a connection without CONNECT got data")
        rc = b.proc.wait(10)
        check(rc == 0, "exit status %d after SIGTERM" % rc)
        check(time.monotonic() - start < 5, "shutdown took too long")
        log = b.log()
        check("SIGTERM: shutting down, 3 connections to close" in log, "no shutdown line:\n" + log)
        check("disconnected: the server is shutting down" in log, "no disconnect reason:\n" + log)
    finally:
        b.close()


def test_shutdown_with_a_non_reader():
    """A client that does not read cannot hold the shutdown past its timeout."""
    b = Broker(config="shutdown_timeout 1\n", log_level="info").start()
    try:
        deaf = subscribed(b, "deaf", "flood/#", rcvbuf=4096)
        pub = flood(b, "flood/x", 16 * MB)
        time.sleep(0.5)
        start = time.monotonic()
        os.kill(b.pid, signal.SIGTERM)
        rc = b.proc.wait(10)
        took = time.monotonic() - start
        check(rc == 0, "exit status %d" % rc)
        check(took < 4, "shutdown took %.1f s with shutdown_timeout 1" % took)
        check("connections still open after shutdown_timeout" in b.log(),
              "the non-reader did not hold the shutdown:\n" + b.log())
        deaf.close()
        pub.close()
    finally:
        b.close()


# ---- pipelining behind a slow authenticator ----

def test_pipelined_input_behind_password_check():
    """CONNECT and 1.2 MB of PUBLISH in one write while PBKDF2 runs on the
    thread pool: the library holds what it can, the program holds the rest
    (reading stopped), and every message arrives once the CONNECT is taken."""
    b = Broker(config="password_file users\nallow_anonymous false\n")
    h.make_password_file(b.path("users"), {"u": "secret"})
    with b:
        sub = subscribed(b, "sink", "pipe/#", username="u", password="secret", timeout=30)
        reader = Reader(sub, "pipe/end")
        reader.start()
        n = 800
        data = h.connect("piper", username="u", password="secret")
        data += b"".join(h.publish("pipe/data", b"%06d" % i + b"p" * 1500) for i in range(n))
        data += h.publish("pipe/end", b"end")
        c = Conn(b.port, timeout=30)
        c.send(data)
        check(c.connack(10) == 0, "CONNACK refused")
        check(reader.done.wait(30), "the end marker did not arrive")
        check(reader.error is None, "reader failed: %s" % reader.error)
        check(reader.count == n + 1, "received %d of %d messages" % (reader.count, n + 1))
        b.wait_log(r"connection from 127\.0\.0\.1:\d+: \d+ bytes of input held until its CONNECT "
                   r"is answered")


# ---- UNIX sockets ----

def test_unix_socket_and_peer_credentials():
    with Broker(tcp=False, unix=True) as b:
        c = Conn(unix_path=b.unix_path)
        c.send(h.connect("local"))
        check(c.connack() == 0, "CONNACK refused on the UNIX socket")
        c.send(h.subscribe(1, "u/#"))
        suback_codes(c)
        c.send(h.publish("u/t", b"over unix"))
        first, body = c.read_packet()
        check(publish_topic_payload(body, 0) == ("u/t", b"over unix"), "got %r" % body)
        b.wait_log(r"client local connected from unix pid=%d uid=%d" % (os.getpid(), os.getuid()))
        c.send(h.disconnect())
        c.wait_closed()
    check(not os.path.exists(b.unix_path), "the socket file is left after exit")


def main():
    h.require_broker()
    h.run([
        ("malformed packets get the right reason code; others are served",
         test_malformed_packets),
        ("garbage on 50 connections; others are served", test_garbage_burst_keeps_serving),
        ("a CONNECT that never finishes is closed after connect_timeout", test_connect_timeout),
        ("keep alive timeout: DISCONNECT 0x8D", test_keep_alive_timeout),
        ("session takeover: DISCONNECT 0x8E", test_session_takeover),
        ("session expiry and will delay (broker timer)", test_session_expiry_and_will_delay),
        ("a client that never reads: max_outbound_bytes, bounded memory",
         test_non_reader_over_max_outbound_bytes),
        ("a client that never reads: write_timeout, bounded memory",
         test_non_reader_write_timeout),
        ("1,000 concurrent connections all CONNACKed", test_1000_concurrent_connections),
        ("max_connections", test_max_connections),
        ("SIGTERM: DISCONNECT 0x8B to every client, exit 0", test_sigterm_disconnects_everyone),
        ("SIGTERM with a client that does not read", test_shutdown_with_a_non_reader),
        ("pipelined input held behind the password check", test_pipelined_input_behind_password_check),
        ("UNIX socket listener with peer credentials", test_unix_socket_and_peer_credentials),
    ])
    return h.finish()


if __name__ == "__main__":
    raise SystemExit(main())
