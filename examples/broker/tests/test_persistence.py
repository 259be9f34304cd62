#!/usr/bin/env python3
"""mqttproto-broker's durable store (--data-dir): nothing acknowledged is
lost when the broker is killed (SIGKILL) and restarted on the same data
directory; retained messages, persistent subscriptions and wills survive;
session expiry goes on across a restart; periodic mode saves on its timer
and at shutdown; bad store files stop the start with a clear message.

Clients are raw sockets (harness.py) so that every packet identifier,
DUP flag and acknowledgement is under the test's control."""

import os
import signal
import sqlite3
import struct
import subprocess
import threading
import time

import harness as h
from harness import BROKER, Broker, Conn, check

EXPIRY_HOUR = b"\x11" + struct.pack(">I", 3600)  # Session Expiry Interval property


def expiry(seconds):
    return b"\x11" + struct.pack(">I", seconds)


class StoreBroker(Broker):
    """A broker on a data directory that outlives its process: kill() is
    a crash (SIGKILL by PID), start() again restarts it on the same
    directory. Each run logs to its own file."""

    def __init__(self, config=None, **kw):
        super().__init__(config=config, **kw)
        self.data_dir = self.path("data")
        self.extra_args += ["--data-dir", self.data_dir]
        self.runs = 0

    @property
    def store(self):
        return os.path.join(self.data_dir, "mqttproto-broker.db")

    def start(self, timeout=15):
        self.runs += 1
        self.log_path = self.path("broker-%d.log" % self.runs)
        return super().start(timeout)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log_file.close()

    def restart(self, how="kill"):
        if how == "kill":
            self.kill()
        else:
            rc = self.stop()
            check(rc == 0, "exit %s after SIGTERM:\n%s" % (rc, self.log()[-3000:]))
        return self.start()


# ---- raw MQTT helpers ----

def connect(port, client_id, clean, props=EXPIRY_HOUR, will=None):
    """A connection and its CONNACK's Session Present flag."""
    c = Conn(port, timeout=10)
    c.send(h.connect(client_id, clean=clean, props=props, will=will))
    _, body = c.expect(2, timeout=10)
    check(body[1] == 0, "%s: CONNACK 0x%02x" % (client_id, body[1]))
    return c, bool(body[0] & 1)


def pid_of(body):
    return struct.unpack(">H", body[:2])[0]


def ack(ptype, pid):
    return bytes([ptype << 4 | (2 if ptype == 6 else 0), 2]) + struct.pack(">H", pid)


def parse_publish(first, body):
    """(topic, packet id or None, properties, payload) of a PUBLISH."""
    qos = (first >> 1) & 3
    tlen = struct.unpack(">H", body[:2])[0]
    topic = body[2:2 + tlen].decode()
    i = 2 + tlen
    pid = None
    if qos:
        pid = pid_of(body[i:])
        i += 2
    plen, mult = 0, 1
    while True:
        b = body[i]
        i += 1
        plen += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return topic, pid, body[i:i + plen], body[i + plen:]


def suback(c, packet_id, filt, qos, props=b""):
    c.send(h.subscribe(packet_id, filt, qos, props=props))
    _, body = c.expect(9, timeout=10)
    plen = body[2]
    check(list(body[3 + plen:]) == [qos], "SUBACK %r for %s" % (list(body[3 + plen:]), filt))


def quit_cleanly(c):
    c.send(h.disconnect())
    c.wait_closed()


LOST = (EOFError, ConnectionError, OSError)  # the broker went away


class Publisher:
    """Publishes "NAME SEQ" at one QoS with up to 'window' messages in
    flight, and after a crash resumes its session as MQTT-4.4.0-1 says:
    a PUBLISH without its PUBREC again with DUP, a PUBREL again."""

    def __init__(self, name, qos, window=16):
        self.name, self.qos, self.window = name, qos, window
        self.topic = "seq/" + name
        self.next_seq = 0
        self.inflight = {}  # packet id -> [seq, "pub" | "rel"]
        self.acked = set()  # PUBACK or PUBCOMP received
        self.conn = None
        self.lock = threading.Lock()

    def connect(self, port, clean):
        self.conn, present = connect(port, self.name, clean)
        return present

    def _send_publish(self, seq, pid, dup=False):
        pkt = bytearray(h.publish(self.topic, ("%s %d" % (self.name, seq)).encode(),
                                  qos=self.qos, packet_id=pid))
        if dup:
            pkt[0] |= 0x08
        self.conn.send(bytes(pkt))

    def _handle(self, first, body):
        ptype = first >> 4
        pid = pid_of(body)
        rc = body[2] if len(body) > 2 else 0
        # PUBCOMP 0x92 (Packet Identifier not found) answers a PUBREL sent
        # again for a flow the broker completed before the crash.
        check(rc < 0x80 or (ptype == 7 and rc == 0x92),
              "%s: packet type %d for %d with reason 0x%02x" % (self.name, ptype, pid, rc))
        with self.lock:
            entry = self.inflight.get(pid)
            check(entry is not None, "%s: packet type %d for unknown id %d" % (self.name, ptype,
                                                                               pid))
            if ptype == 4 or ptype == 7:  # PUBACK, PUBCOMP
                check((ptype == 4) == (self.qos == 1), "%s: unexpected type %d" % (self.name,
                                                                                   ptype))
                del self.inflight[pid]
                self.acked.add(entry[0])
            elif ptype == 5:  # PUBREC
                entry[1] = "rel"
                self.conn.send(ack(6, pid))
            else:
                raise h.TestFailure("%s: unexpected packet type %d" % (self.name, ptype))

    def pump(self, stop):
        """Publish until 'stop' is set and nothing is in flight, or the
        connection is lost (then the state says where it stopped)."""
        try:
            while True:
                with self.lock:
                    while not stop.is_set() and len(self.inflight) < self.window:
                        seq = self.next_seq
                        pid = seq % 65535 + 1
                        self.inflight[pid] = [seq, "pub"]
                        self.next_seq += 1
                        self._send_publish(seq, pid)
                    if stop.is_set() and not self.inflight:
                        return
                first, body = self.conn.read_packet(timeout=15)
                self._handle(first, body)
        except LOST:
            return

    def resume(self, port):
        """Reconnect after the restart and finish what was in flight."""
        present = self.connect(port, clean=False)
        check(present, "%s: the restarted broker lost its session" % self.name)
        with self.lock:
            for pid, (seq, stage) in sorted(self.inflight.items(), key=lambda kv: kv[1][0]):
                if stage == "pub":
                    self._send_publish(seq, pid, dup=True)
                else:
                    self.conn.send(ack(6, pid))
        done = threading.Event()
        done.set()
        self.pump(done)
        check(not self.inflight, "%s: the connection was lost while finishing" % self.name)
        quit_cleanly(self.conn)


class Subscriber:
    """A QoS 2 receiver with the state a real client keeps across
    reconnects: the packet ids it sent PUBREC for and awaits PUBREL on, so
    a PUBLISH sent again (DUP) is not delivered twice."""

    def __init__(self, name):
        self.name = name
        self.got = []  # (topic, payload, qos, dup)
        self.awaiting_rel = set()
        self.conn = None

    def connect(self, port, clean):
        self.conn, present = connect(port, self.name, clean)
        return present

    def read_one(self, timeout):
        first, body = self.conn.read_packet(timeout=timeout)
        ptype = first >> 4
        if ptype == 3:
            qos = (first >> 1) & 3
            topic, pid, _, payload = parse_publish(first, body)
            if qos == 1:
                self.got.append((topic, payload.decode(), 1, bool(first & 8)))
                self.conn.send(ack(4, pid))
            elif qos == 2:
                if pid not in self.awaiting_rel:
                    self.got.append((topic, payload.decode(), 2, bool(first & 8)))
                    self.awaiting_rel.add(pid)
                self.conn.send(ack(5, pid))
            else:
                self.got.append((topic, payload.decode(), 0, False))
        elif ptype == 6:  # PUBREL
            pid = pid_of(body)
            self.awaiting_rel.discard(pid)
            self.conn.send(ack(7, pid))
        else:
            raise h.TestFailure("%s: unexpected packet type %d" % (self.name, ptype))

    def read_until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise h.TestFailure("timed out waiting for %s" % what)
            try:
                self.read_one(min(left, 1.0))
            except OSError as e:
                if "timed out" not in str(e):
                    raise

    def seqs(self, publisher):
        prefix = publisher.name + " "
        return [int(p[len(prefix):]) for (_, p, _, _) in self.got if p.startswith(prefix)]


def check_delivered(sub, pubs, acked_before):
    """Every message a publisher published arrived; those acknowledged
    before the crash in particular; QoS 2 exactly once."""
    for p in pubs:
        seqs = sub.seqs(p)
        missing = sorted(set(range(p.next_seq)) - set(seqs))
        lost = sorted(acked_before[p.name] - set(seqs))
        check(not lost, "%s: %d messages acknowledged before the crash were lost, e.g. %r"
              % (p.name, len(lost), lost[:10]))
        check(not missing, "%s: %d of %d messages never arrived, e.g. %r"
              % (p.name, len(missing), p.next_seq, missing[:10]))
        if p.qos == 2:
            dups = sorted(s for s in set(seqs) if seqs.count(s) > 1)
            check(not dups, "%s: QoS 2 messages delivered twice: %r" % (p.name, dups[:10]))


def crash_run(kill_after, online):
    """Two publishers (QoS 1 and QoS 2) stream to a subscriber with a
    persistent session (offline, or reading); SIGKILL once kill_after
    messages are acknowledged; restart; the publishers finish what they
    had in flight and the subscriber resumes its session."""
    with StoreBroker(config="max_queued_messages 100000\nreceive_maximum 64\n",
                     log_level="info") as b:
        sub = Subscriber("sub")
        sub.connect(b.port, clean=True)
        suback(sub.conn, 1, "seq/#", 2)
        reader = None
        if not online:
            quit_cleanly(sub.conn)
        else:
            def read_forever():
                try:
                    while True:
                        sub.read_one(15)
                        time.sleep(0.001)  # a slow reader: deliveries stay in flight
                except LOST:
                    pass
            reader = threading.Thread(target=read_forever, daemon=True)
            reader.start()
        pubs = [Publisher("q1", 1), Publisher("q2", 2)]
        for p in pubs:
            check(not p.connect(b.port, clean=True), "a new session was present")
        stop = threading.Event()
        threads = [threading.Thread(target=p.pump, args=(stop,), daemon=True) for p in pubs]
        for t in threads:
            t.start()
        h.wait_for(lambda: sum(len(p.acked) for p in pubs) >= kill_after, 30,
                   "%d acknowledgements" % kill_after, interval=0.001)
        b.kill()
        stop.set()
        for t in threads:
            t.join(20)
        acked_before = {p.name: set(p.acked) for p in pubs}
        if reader is not None:
            reader.join(20)
            sub.conn.close()
        b.start()
        for p in pubs:
            p.resume(b.port)
        check(sub.connect(b.port, clean=False), "the subscriber's session was lost")

        def all_there():
            return all(set(range(p.next_seq)) <= set(sub.seqs(p)) for p in pubs)
        sub.read_until(all_there, 60, "every message at the subscriber")
        # Anything still due (a duplicate QoS 2 would show now).
        try:
            while True:
                sub.read_one(0.5)
        except OSError:
            pass
        check_delivered(sub, pubs, acked_before)
        quit_cleanly(sub.conn)
        return sum(len(v) for v in acked_before.values()), sum(p.next_seq for p in pubs)


def test_crash_offline_subscriber():
    for kill_after in (1, 30, 200, 700):
        acked, sent = crash_run(kill_after, online=False)
        print("#   killed after %d acknowledgements (%d published)" % (acked, sent), flush=True)


def test_crash_online_subscriber():
    for kill_after in (20, 300):
        acked, sent = crash_run(kill_after, online=True)
        print("#   killed after %d acknowledgements (%d published)" % (acked, sent), flush=True)


def test_retained_and_subscriptions_survive():
    with StoreBroker() as b:
        # A persistent subscription with options and an identifier.
        c, _ = connect(b.port, "keeper", clean=True)
        suback(c, 1, "ps/#", 1, props=b"\x0b\x07")  # Subscription Identifier 7
        quit_cleanly(c)
        pub, _ = connect(b.port, "pub", clean=True, props=b"")
        for pid, (topic, payload) in enumerate([("keep/a", b"A"), ("keep/b", b"B"),
                                               ("keep/b", b"")], 1):
            pub.send(h.publish(topic, payload, qos=1, packet_id=pid, retain=True))
            pub.expect(4)
        quit_cleanly(pub)
        b.restart("kill")  # a crash: what was acknowledged is there
        b.restart("term")  # and a clean stop keeps it too
        b.wait_log(r"restored from .*: 1 sessions, 1 subscriptions, 1 messages, 0 deliveries, "
                   r"1 retained")
        c, present = connect(b.port, "fresh", clean=True, props=b"")
        check(not present, "a clean start had a session")
        suback(c, 1, "keep/#", 1)
        first, body = c.expect(3)
        topic, pid, _, payload = parse_publish(first, body)
        check((topic, payload) == ("keep/a", b"A") and first & 1,
              "expected the retained keep/a, got %r %r" % (topic, payload))
        c.send(ack(4, pid))
        try:
            first, body = c.read_packet(1.0)
            raise h.TestFailure("the cleared retained keep/b came back: %r" % body)
        except OSError:
            pass
        quit_cleanly(c)
        pub, _ = connect(b.port, "pub", clean=True, props=b"")
        pub.send(h.publish("ps/x", b"for keeper", qos=1, packet_id=1))
        pub.expect(4)
        quit_cleanly(pub)
        c, present = connect(b.port, "keeper", clean=False)
        check(present, "the persistent session is gone after the restarts")
        first, body = c.expect(3)
        topic, pid, props, payload = parse_publish(first, body)
        check((topic, payload) == ("ps/x", b"for keeper"), "got %r %r" % (topic, payload))
        check(b"\x0b\x07" in props, "the Subscription Identifier is lost: %r" % props)
        c.send(ack(4, pid))
        quit_cleanly(c)


def test_session_expiry_goes_on_across_a_restart():
    with StoreBroker() as b:
        for name, secs in (("short", 2), ("long", 3600)):
            c, _ = connect(b.port, name, clean=True, props=expiry(secs))
            suback(c, 1, "t/" + name, 1)
            quit_cleanly(c)
        b.stop()
        time.sleep(2.5)  # the short session's end passes while the broker is down
        b.start()
        _, present = connect(b.port, "short", clean=False, props=expiry(2))
        check(not present, "the 2 s session is still there 2.5 s after it ended")
        _, present = connect(b.port, "long", clean=False)
        check(present, "the 1 h session is gone")
        # A crash while connected: the session's expiry starts at the restart.
        c, _ = connect(b.port, "open", clean=True, props=expiry(2))
        suback(c, 1, "t/open", 1)
        b.restart("kill")
        c.close()
        _, present = connect(b.port, "open", clean=False, props=expiry(2))
        check(present, "the session of a connection open at the crash is gone at once")
        b.restart("kill")
        time.sleep(2.5)
        _, present = connect(b.port, "open", clean=False, props=expiry(2))
        check(not present, "the session outlived its 2 s after the restart")


def test_will_of_a_connection_open_at_the_crash():
    with StoreBroker() as b:
        w, _ = connect(b.port, "watcher", clean=True)
        suback(w, 1, "will/#", 1)
        quit_cleanly(w)
        will_props = b"\x18" + struct.pack(">I", 1)  # Will Delay Interval 1 s
        body = (h.mqtt_str("MQTT") + bytes([5, 0x02 | 0x04 | 0x08]) + struct.pack(">H", 60)
                + h.varint(5) + expiry(60) + h.mqtt_str("dying")
                + h.varint(len(will_props)) + will_props + h.mqtt_str("will/dying")
                + h.mqtt_str("gone"))
        d = Conn(b.port)
        d.send(h.packet(0x10, body))
        check(d.connack() == 0, "the will client was refused")
        b.restart("kill")
        d.close()
        w, present = connect(b.port, "watcher", clean=False)
        check(present, "the watcher's session is gone")
        first, body = w.expect(3, timeout=10)
        topic, pid, _, payload = parse_publish(first, body)
        check((topic, payload) == ("will/dying", b"gone"), "got %r %r" % (topic, payload))
        w.send(ack(4, pid))
        quit_cleanly(w)


def queued_for(b, name, count):
    """Publish count QoS 1 messages to t/NAME."""
    pub, _ = connect(b.port, "pub-" + name, clean=True, props=b"")
    for i in range(count):
        pub.send(h.publish("t/" + name, b"m%d" % i, qos=1, packet_id=i + 1))
        pub.expect(4)
    quit_cleanly(pub)


def offline_subscriber(b, name):
    c, _ = connect(b.port, name, clean=True)
    suback(c, 1, "t/" + name, 1)
    quit_cleanly(c)


def test_periodic_mode():
    # Saved by the autosave timer: a crash after it loses nothing.
    with StoreBroker(config="persistence_mode periodic\nautosave_interval 1\n") as b:
        offline_subscriber(b, "saved")
        queued_for(b, "saved", 3)
        time.sleep(2.5)
        b.restart("kill")
        c, present = connect(b.port, "saved", clean=False)
        check(present, "the session saved by autosave is gone")
        for i in range(3):
            first, body = c.expect(3)
            topic, pid, _, payload = parse_publish(first, body)
            check(payload == b"m%d" % i, "got %r" % payload)
            c.send(ack(4, pid))
        quit_cleanly(c)
    # What changed since the last save is lost in a crash (documented),
    # and saved by a clean stop.
    with StoreBroker(config="persistence_mode periodic\nautosave_interval 3600\n") as b:
        offline_subscriber(b, "lost")
        b.restart("kill")
        _, present = connect(b.port, "lost", clean=False)
        check(not present, "periodic mode saved a session before its first autosave")
        offline_subscriber(b, "kept")
        queued_for(b, "kept", 2)
        b.restart("term")
        c, present = connect(b.port, "kept", clean=False)
        check(present, "a clean stop did not save the session")
        for i in range(2):
            first, body = c.expect(3)
            _, pid, _, payload = parse_publish(first, body)
            check(payload == b"m%d" % i, "got %r" % payload)
            c.send(ack(4, pid))
        quit_cleanly(c)


# ---- store files that must be refused ----

def start_fails(b, reason, user=None):
    """The broker exits with status 2 naming the store and the reason,
    without listening."""
    args = [BROKER, "--listen", "127.0.0.1:0"] + b.extra_args
    kw = {}
    if user is not None:
        kw = {"user": user, "group": user}
    r = subprocess.run(args, capture_output=True, text=True, timeout=30, **kw)
    want = "mqttproto-broker: %s: %s" % (b.store, reason)
    check(r.returncode == 2, "exit %d, expected 2; stderr %r" % (r.returncode, r.stderr))
    check(want in r.stderr, "stderr %r lacks %r" % (r.stderr, want))
    check("listening" not in r.stderr, "it started a listener")


def made_store(b):
    """A store with some state, closed."""
    b.start()
    offline_subscriber(b, "s")
    queued_for(b, "s", 20)
    check(b.stop() == 0, "exit status")


def test_bad_stores():
    b = StoreBroker()
    try:
        made_store(b)
        size = os.path.getsize(b.store)
        with open(b.store, "r+b") as f:
            f.truncate(size // 2)
        start_fails(b, "the file is damaged (database disk image is malformed)")
        with open(b.store, "wb"):
            pass
        start_fails(b, "the file is empty (truncated?); move it away to start with an empty store")
        with open(b.store, "wb") as f:
            f.write(os.urandom(16384))
        start_fails(b, "not an SQLite database (file is not a database)")
        os.unlink(b.store)
        made_store(b)
        db = sqlite3.connect(b.store)
        db.execute("PRAGMA user_version=7")
        db.close()
        start_fails(b, "schema version 7 is newer than this mqttproto-broker reads (2): it was "
                       "written by a newer version")
        # A journal row that does not decode (cut short).
        os.unlink(b.store)
        made_store(b)
        db = sqlite3.connect(b.store)
        db.execute("INSERT INTO journal VALUES (7, 1, 1, x'01ff')")
        db.commit()
        db.close()
        start_fails(b, "the file is damaged (journal row 7: it ends inside a record)")
        os.unlink(b.store)
        db = sqlite3.connect(b.store)
        db.execute("CREATE TABLE other (x)")
        db.close()
        start_fails(b, "not a mqttproto-broker store (an SQLite database with application_id 0)")
        os.unlink(b.store)
        # Read-only directory: as root permissions do not apply, so the
        # broker then runs as nobody.
        made_store(b)
        user = 65534 if os.geteuid() == 0 else None
        os.chmod(b.dir, 0o755)
        os.chmod(b.store, 0o666)
        os.chmod(b.data_dir, 0o555)
        start_fails(b, "its directory %s is not writable (Permission denied): the store writes "
                       "its journal there" % b.data_dir, user=user)
        os.chmod(b.data_dir, 0o700)
        # A second broker on the same directory.
        b.start()
        start_fails(b, "in use by another process, e.g. a broker already running (database is "
                       "locked)")
        check(b.stop() == 0, "the first broker did not stop cleanly")
    except BaseException:
        print(b.log()[-4000:])
        raise
    finally:
        if os.path.isdir(b.data_dir):
            os.chmod(b.data_dir, 0o700)
        b.close()


def main():
    h.require_broker()
    h.run([
        ("crash with an offline subscriber: nothing acknowledged is lost, QoS 2 once",
         test_crash_offline_subscriber),
        ("crash with an online subscriber: nothing acknowledged is lost, QoS 2 once",
         test_crash_online_subscriber),
        ("retained messages and persistent subscriptions survive restarts",
         test_retained_and_subscriptions_survive),
        ("session expiry goes on across a restart", test_session_expiry_goes_on_across_a_restart),
        ("the will of a connection open at the crash is published",
         test_will_of_a_connection_open_at_the_crash),
        ("periodic mode: autosave, loss since the last save, clean stop",
         test_periodic_mode),
        ("bad store files: a clear message, exit 2", test_bad_stores),
    ])
    return h.finish()


if __name__ == "__main__":
    raise SystemExit(main())
