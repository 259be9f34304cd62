#!/usr/bin/env python3
"""python3-paho-mqtt (the paho 1.6 API of Debian 12, MQTT v5 mode) against
mqttproto-broker: QoS 0/1/2, retained messages, a will on abrupt disconnect,
user properties and message expiry, shared subscriptions, a persistent
session, passwords and ACLs."""

import os
import queue
import signal
import subprocess
import sys
import time

import harness as h
from harness import Broker, check

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError:
    print("skipping: python3-paho-mqtt is not installed for %s (scripts/setup-deps.sh "
          "installs it)" % sys.executable)
    sys.exit(h.SKIP)

TIMEOUT = 10


class Paho:
    """A paho client run by its own network thread; callbacks feed queues."""

    def __init__(self, b, client_id, username=None, password=None, clean_start=True,
                 session_expiry=None, will=None):
        self.c = mqtt.Client(client_id, protocol=mqtt.MQTTv5)
        self.connects = queue.Queue()
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.published = queue.Queue()
        self.c.on_connect = lambda c, u, flags, rc, props: self.connects.put((rc.value, flags))
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put([r.value for r in rcs])
        self.c.on_message = lambda c, u, msg: self.messages.put(msg)
        self.c.on_publish = lambda c, u, mid: self.published.put(mid)
        if username is not None:
            self.c.username_pw_set(username, password)
        if will is not None:
            self.c.will_set(*will)
        props = None
        if session_expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry
        self.c.connect("127.0.0.1", b.port, keepalive=30, clean_start=clean_start,
                       properties=props)
        self.c.loop_start()
        self.rc, self.flags = self.connects.get(timeout=TIMEOUT)

    def subscribe(self, filt, qos=0):
        self.c.subscribe(filt, qos)
        return self.subacks.get(timeout=TIMEOUT)

    def publish(self, topic, payload, qos=0, retain=False, props=None):
        info = self.c.publish(topic, payload, qos, retain, properties=props)
        mid = self.published.get(timeout=TIMEOUT)  # after PUBACK / PUBCOMP for QoS 1 / 2
        check(mid == info.mid, "completion for mid %s, expected %s" % (mid, info.mid))

    def message(self, timeout=TIMEOUT):
        return self.messages.get(timeout=timeout)

    def no_message(self, wait=0.5):
        try:
            m = self.messages.get(timeout=wait)
        except queue.Empty:
            return
        raise h.TestFailure("unexpected message %s %r" % (m.topic, m.payload))

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_qos_round_trip(b):
    c = Paho(b, "paho-qos")
    check(c.rc == 0, "CONNACK 0x%02x" % c.rc)
    check(c.subscribe("pq/#", 2) == [2], "granted QoS")
    for q in (0, 1, 2):
        c.publish("pq/%d" % q, b"m%d" % q, qos=q)
        m = c.message()
        check((m.topic, m.payload, m.qos) == ("pq/%d" % q, b"m%d" % q, q),
              "got %s %r QoS %d" % (m.topic, m.payload, m.qos))
    c.close()


def test_retained(b):
    p = Paho(b, "paho-ret-pub")
    p.publish("pr/t", b"kept", qos=1, retain=True)
    s = Paho(b, "paho-ret-sub")
    s.subscribe("pr/#", 1)
    m = s.message()
    check((m.topic, m.payload, m.retain) == ("pr/t", b"kept", True), "got %r" % m.payload)
    p.publish("pr/t", b"", qos=1, retain=True)
    s2 = Paho(b, "paho-ret-sub2")
    s2.subscribe("pr/#", 1)
    s2.no_message()
    for c in (p, s, s2):
        c.close()


CHILD = """
import sys, time
import paho.mqtt.client as mqtt
c = mqtt.Client("paho-victim", protocol=mqtt.MQTTv5)
c.will_set("pw/victim", b"gone", 1)
c.connect("127.0.0.1", int(sys.argv[1]))
c.loop_start()
time.sleep(60)
"""


def test_will_on_abrupt_disconnect(b):
    watcher = Paho(b, "paho-watcher")
    watcher.subscribe("pw/#", 1)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(b.port)])
    try:
        b.wait_log(r"client paho-victim connected")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(TIMEOUT)
    m = watcher.message()
    check((m.topic, m.payload) == ("pw/victim", b"gone"), "got %s %r" % (m.topic, m.payload))
    polite = Paho(b, "paho-polite", will=("pw/polite", b"no", 1))
    polite.close()  # DISCONNECT 0x00: no will
    b.wait_log(r"client paho-polite .* disconnected: it sent DISCONNECT")
    watcher.no_message()
    watcher.close()


def test_user_properties_and_expiry(b):
    s = Paho(b, "paho-props-sub")
    s.subscribe("pp/#", 1)
    time.sleep(1.2)  # idle: the remaining expiry must still be right
    p = Paho(b, "paho-props-pub")
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("unit", "celsius"), ("unit", "kelvin")]
    props.MessageExpiryInterval = 60
    props.ContentType = "text/plain"
    props.CorrelationData = b"\x00\x01"
    props.ResponseTopic = "pp/reply"
    p.publish("pp/t", b"21.5", qos=1, props=props)
    m = s.message()
    got = m.properties
    check(got.UserProperty == [("unit", "celsius"), ("unit", "kelvin")],
          "user properties %r (repeated names, in order)" % got.UserProperty)
    check(got.MessageExpiryInterval in (59, 60), "expiry %r" % got.MessageExpiryInterval)
    check(got.ContentType == "text/plain" and got.CorrelationData == b"\x00\x01"
          and got.ResponseTopic == "pp/reply", "properties %r" % got)
    s.close()
    p.close()


def test_shared_subscription(b):
    members = [Paho(b, "paho-share-%d" % i) for i in range(2)]
    for m in members:
        check(m.subscribe("$share/grp/ps/t", 1) == [1], "shared SUBACK")
    p = Paho(b, "paho-share-pub")
    n = 20
    for i in range(n):
        p.publish("ps/t", b"%d" % i, qos=1)
    got = [[], []]
    deadline = time.monotonic() + TIMEOUT
    while sum(map(len, got)) < n and time.monotonic() < deadline:
        for i, m in enumerate(members):
            try:
                got[i].append(int(m.message(0.05).payload))
            except queue.Empty:
                pass
    check(sorted(got[0] + got[1]) == list(range(n)), "each once: %r" % got)
    check(got[0] and got[1], "both members should get some: %r" % got)
    for m in members:
        m.no_message(0.2)
    for m in members + [p]:
        m.close()


def test_persistent_session(b):
    s = Paho(b, "paho-durable", clean_start=True, session_expiry=300)
    check(s.flags.get("session present") == 0, "fresh session present %r" % s.flags)
    s.subscribe("pd/t", 1)
    s.close()
    b.wait_log(r"client paho-durable .* disconnected: it sent DISCONNECT")
    p = Paho(b, "paho-durable-pub")
    for i in range(3):
        p.publish("pd/t", b"q%d" % i, qos=1)
    p.close()
    s = Paho(b, "paho-durable", clean_start=False, session_expiry=300)
    check(s.flags.get("session present") == 1, "resumed session present %r" % s.flags)
    got = [s.message().payload for _ in range(3)]
    check(got == [b"q0", b"q1", b"q2"], "queued messages %r" % got)
    s.close()


def test_password(b):
    ok = Paho(b, "paho-alice", username="alice", password="wonderland")
    check(ok.rc == 0, "the right password got 0x%02x" % ok.rc)
    ok.close()
    bad = Paho(b, "paho-alice2", username="alice", password="nope")
    check(bad.rc == 0x86, "a wrong password got 0x%02x" % bad.rc)
    bad.c.loop_stop()
    anon = Paho(b, "paho-anon")
    check(anon.rc == 0x87, "an anonymous client got 0x%02x" % anon.rc)
    anon.c.loop_stop()


def test_acl(b):
    bob = Paho(b, "paho-bob", username="bob", password="builder")
    check(bob.subscribe("#", 1) == [1], "bob may read everything")
    alice = Paho(b, "paho-alice-acl", username="alice", password="wonderland")
    check(alice.subscribe("secret/#", 1) == [0x87], "alice's denied SUBSCRIBE")
    check(alice.subscribe("alice/+/x", 1) == [1], "alice's allowed SUBSCRIBE")
    alice.publish("secret/q1", b"no", qos=1)  # PUBACK 0x87
    alice.publish("secret/q2", b"no", qos=2)  # PUBREC 0x87 ends the flow
    alice.publish("secret/q0", b"no", qos=0)  # dropped
    alice.publish("alice/y/x", b"yes", qos=1)
    m = bob.message()
    check((m.topic, m.payload) == ("alice/y/x", b"yes"), "bob got %s %r" % (m.topic, m.payload))
    m = alice.message()
    check(m.topic == "alice/y/x", "alice got %s" % m.topic)
    bob.no_message()
    b.wait_log(r"publish to secret/q2 refused: NOT_AUTHORIZED \(0x87\)")
    bob.close()
    alice.close()


ACL = """\
user alice
topic readwrite alice/#
user bob
topic read #
"""


def main():
    h.require_broker()
    with Broker() as b:
        h.run([(name, lambda f=f: f(b)) for name, f in [
            ("QoS 0/1/2 round trip", test_qos_round_trip),
            ("retained message set and cleared", test_retained),
            ("will on abrupt disconnect (child killed), none on DISCONNECT",
             test_will_on_abrupt_disconnect),
            ("user properties (repeated), expiry, content type, correlation data",
             test_user_properties_and_expiry),
            ("shared subscription: each message to one member", test_shared_subscription),
            ("persistent session resumed (session present) with queued messages",
             test_persistent_session),
        ]])
    secured = Broker(config="password_file users\nacl_file acl\n")
    h.make_password_file(secured.path("users"), {"alice": "wonderland", "bob": "builder"})
    secured.write_file("acl", ACL)
    with secured as b:
        h.run([(name, lambda f=f: f(b)) for name, f in [
            ("password: 0x00, 0x86 wrong, 0x87 anonymous", test_password),
            ("ACL: SUBACK 0x87, PUBACK/PUBREC 0x87, QoS 0 dropped", test_acl),
        ]])
    return h.finish()


if __name__ == "__main__":
    raise SystemExit(main())
