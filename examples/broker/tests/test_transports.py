#!/usr/bin/env python3
"""mqttproto-broker's tls:, ws: and wss: listeners against third-party
clients and bad input:

  - mosquitto_pub/mosquitto_sub over TLS (--cafile) at QoS 0/1/2; a wrong
    CA fails; a required client certificate that is missing is refused;
    use_identity_as_username makes the certificate's CN the ACL's user;
  - python3-paho-mqtt over WebSocket, WebSocket over TLS and TLS;
  - our mqttproto-pub/mqttproto-sub over ws, wss and tls;
  - raw sockets: handshake garbage (HTTP 400), no "mqtt" subprotocol, a
    text frame (close 1003), an oversized frame (close 1009); the broker
    keeps serving others.

The certificates are made at test time with the openssl command
(examples/transport/tests/gen_certs.sh). Every broker listens on 127.0.0.1
ports the kernel picks and is stopped by its PID."""

import base64
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import time

import harness as h
from harness import Broker, check

HERE = os.path.dirname(os.path.abspath(__file__))
GEN_CERTS = os.path.join(HERE, "..", "..", "transport", "tests", "gen_certs.sh")
CLIENT_DIR = os.environ.get("MQTTPROTO_CLIENT_DIR", "")
TIMEOUT = 20

try:
    import paho.mqtt.client as mqtt
except ImportError:
    mqtt = None


def tls_broker(extra=""):
    """A broker with tls:, ws: and wss: listeners (and plain TCP)."""
    b = Broker(config="certfile pki/server.pem\nkeyfile pki/server.key\n" + extra,
               extra_args=["--listen", "tls:127.0.0.1:0", "--listen", "ws:127.0.0.1:0",
                           "--listen", "wss:127.0.0.1:0"])
    r = subprocess.run(["bash", GEN_CERTS, b.path("pki")], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "gen_certs.sh failed: %s" % r.stderr)
    return b


def ports(b):
    out = {}
    for scheme in ("tls", "ws", "wss"):
        m = re.search(r"listening on %s:127\.0\.0\.1:(\d+)" % scheme, b.log())
        check(m is not None, "no %s listener in the log:\n%s" % (scheme, b.log()))
        out[scheme] = int(m.group(1))
    return out


def pki(b, name):
    return b.path(os.path.join("pki", name))


# ---- mosquitto clients over TLS ----

def mosq(b, port, prog, args, wait=True):
    p = subprocess.Popen([prog, "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(port)] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return p
    return finish(p)


def finish(p):
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise h.TestFailure("client timed out: %r %r" % (out, err))
    return p.returncode, out, err


def test_mosquitto_tls_qos(b):
    port = ports(b)["tls"]
    ca = ["--cafile", pki(b, "ca.pem")]
    s = mosq(b, port, "mosquitto_sub", ca + ["-i", "tls-sub", "-t", "tq/#", "-q", "2", "-C", "3",
                                             "-F", "%q %t %p"], wait=False)
    b.wait_log(r"client tls-sub \(127\.0\.0\.1:\d+\): subscribe ")
    for q in (0, 1, 2):
        rc, _, err = mosq(b, port, "mosquitto_pub",
                          ca + ["-i", "tls-pub%d" % q, "-q", str(q), "-t", "tq/%d" % q,
                                "-m", "m%d" % q])
        check(rc == 0, "mosquitto_pub -q %d over TLS failed: %s" % (q, err))
    rc, out, err = finish(s)
    check(rc == 0, "mosquitto_sub over TLS failed: %s" % err)
    check(out.splitlines() == ["0 tq/0 m0", "1 tq/1 m1", "2 tq/2 m2"], "received %r" % out)


def test_mosquitto_wrong_ca(b):
    port = ports(b)["tls"]
    rc, _, err = mosq(b, port, "mosquitto_pub", ["--cafile", pki(b, "other-ca.pem"), "-t", "x",
                                                 "-m", "y"])
    check(rc != 0, "mosquitto_pub trusted a server signed by another CA")
    b.wait_log(r"TLS handshake failed")


def test_required_certificate(b):
    port = ports(b)["tls"]
    ca = ["--cafile", pki(b, "ca.pem")]
    rc, _, err = mosq(b, port, "mosquitto_pub", ca + ["-i", "nocert", "-q", "1", "-t", "x",
                                                      "-m", "y"])
    check(rc != 0, "a client without a certificate was let in")
    check("client nocert connected" not in b.log(), "the broker accepted nocert")
    rc, _, err = mosq(b, port, "mosquitto_pub",
                      ca + ["-i", "intruder", "-q", "1", "-t", "x", "-m", "y",
                            "--cert", pki(b, "other-client.pem"),
                            "--key", pki(b, "other-client.key")])
    check(rc != 0, "a certificate from another CA was let in")
    # With the right one, the CN is the user the ACL knows.
    rc, _, err = mosq(b, port, "mosquitto_pub",
                      ca + ["-i", "withcert", "-q", "1", "-t", "cn/ok", "-m", "y",
                            "--cert", pki(b, "client.pem"), "--key", pki(b, "client.key")])
    check(rc == 0, "the client certificate was refused: %s" % err)
    b.wait_log(r"client withcert connected from 127\.0\.0\.1:\d+ as user mqttproto-test-client")
    rc, _, err = mosq(b, port, "mosquitto_pub",
                      ca + ["-i", "denied", "-q", "1", "-t", "elsewhere", "-m", "y",
                            "--cert", pki(b, "client.pem"), "--key", pki(b, "client.key")])
    check(rc != 0 or "not authorized" in err.lower(), "the ACL let the CN publish elsewhere")
    # Plain TCP to the same broker still works, without TLS.
    rc, _, err = mosq(b, b.port, "mosquitto_pub", ["-i", "plain", "-t", "p", "-m", "y"])
    check(rc == 0, "plain TCP next to the TLS listener failed: %s" % err)


# ---- paho over WebSocket and TLS ----

def paho_round_trip(b, port, transport, tls):
    got = []
    c = mqtt.Client("paho-%s-%d" % (transport, port), protocol=mqtt.MQTTv5, transport=transport)
    if transport == "websockets":
        c.ws_set_options(path="/mqtt")
    if tls:
        c.tls_set(ca_certs=pki(b, "ca.pem"))
    c.on_message = lambda cl, ud, m: got.append((m.topic, m.payload, m.qos))
    subscribed = []
    c.on_subscribe = lambda *a: subscribed.append(1)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        c.subscribe("paho/#", qos=2)
        h.wait_for(lambda: subscribed, 10, "SUBACK")
        for q in (0, 1, 2):
            c.publish("paho/%d" % q, b"p%d" % q, qos=q).wait_for_publish(10)
        h.wait_for(lambda: len(got) == 3, 10, "3 messages")
    finally:
        c.disconnect()
        c.loop_stop()
    check(sorted(got) == [("paho/0", b"p0", 0), ("paho/1", b"p1", 1), ("paho/2", b"p2", 2)],
          "received %r" % got)


def test_paho_ws(b):
    paho_round_trip(b, ports(b)["ws"], "websockets", False)


def test_paho_wss(b):
    paho_round_trip(b, ports(b)["wss"], "websockets", True)


def test_paho_tls(b):
    paho_round_trip(b, ports(b)["tls"], "tcp", True)


# ---- mqttproto-pub / mqttproto-sub ----

def our_clients(b, scheme):
    port = ports(b)[scheme]
    common = ["-h", "127.0.0.1", "-p", str(port)]
    if scheme in ("ws", "wss"):
        common += ["--ws", "/mqtt"]
    if scheme in ("tls", "wss"):
        common += ["--cafile", pki(b, "ca.pem")]
    sid = "ours-sub-" + scheme
    s = subprocess.Popen([os.path.join(CLIENT_DIR, "mqttproto-sub")] + common +
                         ["-i", sid, "-t", "o/#", "-q", "2", "-C", "3", "-W", "15", "-v"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b.wait_log(r"client %s \(127\.0\.0\.1:\d+\): subscribe " % sid)
    for q in (0, 1, 2):
        r = subprocess.run([os.path.join(CLIENT_DIR, "mqttproto-pub")] + common +
                           ["-i", "ours-pub-%s-%d" % (scheme, q), "-q", str(q), "-t",
                            "o/%d" % q, "-m", "m%d" % q], capture_output=True, text=True,
                           timeout=TIMEOUT)
        check(r.returncode == 0, "mqttproto-pub over %s -q %d: %s" % (scheme, q, r.stderr))
    rc, out, err = finish(s)
    check(rc == 0, "mqttproto-sub over %s failed: %s" % (scheme, err))
    check(out.splitlines() == ["o/0 m0", "o/1 m1", "o/2 m2"], "received %r" % out)


# ---- bad input ----

def raw(port, data, timeout=5):
    """Send data, read until the broker closes; returns what it sent."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def upgrade(protocol="mqtt", path="/mqtt"):
    key = base64.b64encode(os.urandom(16)).decode()
    head = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            % (path, key))
    if protocol is not None:
        head += "Sec-WebSocket-Protocol: %s\r\n" % protocol
    return (head + "\r\n").encode()


def frame(opcode, payload, length=None):
    """A masked client frame; length overrides the announced size."""
    n = len(payload) if length is None else length
    out = bytearray([0x80 | opcode])
    if n < 126:
        out.append(0x80 | n)
    elif n < 65536:
        out.append(0x80 | 126)
        out += struct.pack(">H", n)
    else:
        out.append(0x80 | 127)
        out += struct.pack(">Q", n)
    mask = os.urandom(4)
    out += mask
    out += bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(out)


def close_code(reply):
    """The status of the close frame after the 101 answer, or None."""
    end = reply.find(b"\r\n\r\n")
    if end < 0:
        return None
    rest = reply[end + 4:]
    while len(rest) >= 2:
        op, n = rest[0] & 0x0F, rest[1] & 0x7F
        at = 2
        if n == 126:
            n, at = struct.unpack(">H", rest[2:4])[0], 4
        elif n == 127:
            n, at = struct.unpack(">Q", rest[2:10])[0], 10
        if op == 0x8:
            return struct.unpack(">H", rest[at:at + 2])[0] if n >= 2 else 1005
        rest = rest[at + n:]
    return None


def test_bad_websocket_input(b):
    port = ports(b)["ws"]
    r = raw(port, b"\x16\x03\x01garbage that is not HTTP\r\n\r\n")
    check(r.startswith(b"HTTP/1.1 400"), "handshake garbage got %r" % r[:80])
    r = raw(port, b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
    check(re.match(rb"HTTP/1\.1 4\d\d", r) is not None, "a plain GET got %r" % r[:80])
    r = raw(port, upgrade(protocol="chat"))
    check(re.match(rb"HTTP/1\.1 4\d\d", r) is not None, "no mqtt subprotocol got %r" % r[:80])
    r = raw(port, b"G" * 20000)
    check(re.match(rb"HTTP/1\.1 4\d\d", r) is not None or r == b"",
          "an endless request line got %r" % r[:80])
    r = raw(port, upgrade() + frame(0x1, b"\x10\x00 text"))
    check(r.startswith(b"HTTP/1.1 101"), "the upgrade failed: %r" % r[:80])
    check(close_code(r) == 1003, "a text frame got close %r" % close_code(r))
    big = 4 * 1024 * 1024
    r = raw(port, upgrade() + frame(0x2, b"\x30" * 100, length=big))
    check(close_code(r) == 1009, "an oversized frame got close %r" % close_code(r))
    # TLS garbage on the tls: listener: an alert or a close, no crash.
    raw(ports(b)["tls"], b"GET / HTTP/1.1\r\n\r\n" * 10)
    raw(ports(b)["wss"], os.urandom(3000))
    check(b.alive(), "the broker died")
    # The broker still serves others, over WebSocket too.
    paho_round_trip(b, port, "websockets", False)


def ws_payloads(data):
    """The payloads of the complete server frames at the start of data."""
    out = b""
    while len(data) >= 2:
        n, at = data[1] & 0x7F, 2
        if n == 126:
            n, at = struct.unpack(">H", data[2:4])[0], 4
        elif n == 127:
            n, at = struct.unpack(">Q", data[2:10])[0], 10
        if len(data) < at + n:
            break
        out += data[at:at + n]
        data = data[at + n:]
    return out


def test_ws_mqtt_spanning_frames(b):
    """A CONNECT cut across frames; then two PINGREQ in one frame."""
    port = ports(b)["ws"]
    pkt = h.connect(client_id="span")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(upgrade() + frame(0x2, pkt[:3]) + frame(0x2, pkt[3:]))
        got = b""
        while b"\r\n\r\n" not in got or not ws_payloads(got.split(b"\r\n\r\n", 1)[1]):
            chunk = s.recv(4096)
            check(chunk, "closed before CONNACK: %r" % got)
            got += chunk
        check(got.startswith(b"HTTP/1.1 101"), "the upgrade failed: %r" % got[:80])
        mqtt_bytes = ws_payloads(got.split(b"\r\n\r\n", 1)[1])
        check(mqtt_bytes[0] == 0x20 and mqtt_bytes[3] == 0, "not a CONNACK 0x00: %r" % mqtt_bytes)
        s.sendall(frame(0x2, b"\xc0\x00\xc0\x00"))
        got = b""
        while ws_payloads(got) != b"\xd0\x00\xd0\x00":
            chunk = s.recv(4096)
            check(chunk, "closed before two PINGRESP: %r" % got)
            got += chunk
            check(len(ws_payloads(got)) <= 4, "unexpected %r" % got)
        s.sendall(frame(0x2, h.disconnect()))
    finally:
        s.close()
    b.wait_log(r"client span \(127\.0\.0\.1:\d+\) disconnected: it sent DISCONNECT")


def main():
    h.require_broker()
    h.require_programs("openssl", "mosquitto_pub", "mosquitto_sub")
    if mqtt is None:
        print("skipping: python3-paho-mqtt is not installed")
        return h.SKIP
    tests = [
        ("mosquitto clients over TLS at QoS 0/1/2", test_mosquitto_tls_qos),
        ("mosquitto_pub with a wrong CA fails", test_mosquitto_wrong_ca),
        ("paho over WebSocket (ws)", test_paho_ws),
        ("paho over WebSocket over TLS (wss)", test_paho_wss),
        ("paho over TLS", test_paho_tls),
        ("WebSocket: handshake garbage, no subprotocol, text frame 1003, oversized 1009",
         test_bad_websocket_input),
        ("WebSocket: a packet across frames, two packets in one frame",
         test_ws_mqtt_spanning_frames),
    ]
    if CLIENT_DIR and os.access(os.path.join(CLIENT_DIR, "mqttproto-pub"), os.X_OK):
        for scheme in ("ws", "wss", "tls"):
            tests.append(("mqttproto-pub/sub over %s at QoS 0/1/2" % scheme,
                          lambda b, s=scheme: our_clients(b, s)))
    else:
        print("# mqttproto-pub/mqttproto-sub not built: their part is left out")
    with tls_broker() as b:
        h.run([(name, lambda f=f: f(b)) for name, f in tests])
    acl = "user mqttproto-test-client\ntopic readwrite cn/#\n"
    secured = tls_broker("cafile pki/ca.pem\nrequire_certificate true\n"
                         "use_identity_as_username true\nacl_file acl\n")
    secured.write_file("acl", acl)
    with secured as b:
        h.run([("required client certificate: missing or foreign refused; CN as user name",
                lambda: test_required_certificate(b))])
    return h.finish()


if __name__ == "__main__":
    sys.exit(main())
