#!/usr/bin/env python3
"""Debian's mosquitto_pub and mosquitto_sub (-V mqttv5) against
mqttproto-broker: QoS 0/1/2, retained messages, wills, user properties and
message expiry, shared subscriptions, persistent sessions, passwords, ACLs.
Every client runs with a timeout; the will test kills its client by PID."""

import os
import signal
import subprocess
import time

import harness as h
from harness import Broker, check

CLIENT_TIMEOUT = 20


class Client:
    """A mosquitto_sub or mosquitto_pub run in the background."""

    def __init__(self, b, prog, args, stdin=None):
        self.proc = subprocess.Popen([prog, "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(b.port)]
                                     + args, stdin=subprocess.PIPE if stdin is not None else None,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stdin = stdin

    def finish(self, timeout=CLIENT_TIMEOUT):
        try:
            out, err = self.proc.communicate(self.stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise h.TestFailure("client timed out: %r %r" % (out, err))
        return self.proc.returncode, out, err


def pub(b, *args, stdin=None):
    return Client(b, "mosquitto_pub", list(args), stdin).finish()


def sub(b, client_id, *args):
    """Start mosquitto_sub; returns once the broker has its subscription."""
    c = Client(b, "mosquitto_sub", ["-i", client_id] + list(args))
    b.wait_log(r"client %s \(127\.0\.0\.1:\d+\): subscribe " % client_id)
    return c


def lines(out):
    return out.splitlines()


def test_qos_delivery(b):
    s = sub(b, "sub-qos", "-t", "q/#", "-q", "2", "-C", "3", "-F", "%q %t %p")
    for q in (0, 1, 2):
        rc, _, err = pub(b, "-i", "pub-qos%d" % q, "-q", str(q), "-t", "q/%d" % q, "-m", "m%d" % q)
        check(rc == 0, "mosquitto_pub -q %d failed: %s" % (q, err))
    rc, out, err = s.finish()
    check(rc == 0, "mosquitto_sub failed: %s" % err)
    check(lines(out) == ["0 q/0 m0", "1 q/1 m1", "2 q/2 m2"], "received %r" % out)


def test_retained(b):
    rc, _, err = pub(b, "-q", "1", "-r", "-t", "r/t", "-m", "kept")
    check(rc == 0, err)
    rc, out, err = sub(b, "sub-ret", "-t", "r/#", "-C", "1", "-F", "%r %t %p").finish()
    check(rc == 0 and lines(out) == ["1 r/t kept"], "retained: %r %r" % (out, err))
    rc, _, err = pub(b, "-q", "1", "-r", "-t", "r/t", "-n")  # empty payload clears it
    check(rc == 0, err)
    rc, out, _ = sub(b, "sub-ret2", "-t", "r/#", "-W", "1").finish()
    check(out == "", "the cleared retained message came: %r" % out)


def test_will_on_abrupt_disconnect(b):
    watcher = sub(b, "watcher", "-t", "will/#", "-q", "1", "-C", "1", "-F", "%t %p")
    victim = sub(b, "victim", "-t", "anything", "--will-topic", "will/victim",
                 "--will-payload", "gone", "--will-qos", "1")
    # -C 1 leaves with DISCONNECT 0x00 after one message: no will. (-W would
    # leave with 0x04, Disconnect with Will Message.)
    polite = sub(b, "polite", "-t", "polite/t", "--will-topic", "will/polite",
                 "--will-payload", "should not appear", "-C", "1")
    pub(b, "-t", "polite/t", "-m", "bye")
    polite.finish()
    b.wait_log(r"client polite .* disconnected: it sent DISCONNECT")
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.finish()
    rc, out, err = watcher.finish()
    check(rc == 0 and lines(out) == ["will/victim gone"], "will: %r %r" % (out, err))


def test_user_properties_and_expiry(b):
    s = sub(b, "sub-props", "-t", "p/#", "-C", "1", "-F", "%P|%E|%C|%p")
    time.sleep(1.2)  # an idle subscriber: its remaining expiry must still be right
    rc, _, err = pub(b, "-t", "p/t", "-m", "hello", "-q", "1",
                     "-D", "publish", "user-property", "unit", "celsius",
                     "-D", "publish", "message-expiry-interval", "60",
                     "-D", "publish", "content-type", "text/plain")
    check(rc == 0, err)
    rc, out, err = s.finish()
    check(rc == 0, err)
    # [MQTT-3.3.2-6] the interval sent is what came minus the time spent here.
    check(lines(out) in (["unit:celsius|60|text/plain|hello"], ["unit:celsius|59|text/plain|hello"]),
          "properties: %r" % out)


def test_shared_subscription(b):
    a = sub(b, "share-a", "-t", "$share/g/s/t", "-q", "1", "-W", "4", "-F", "%p")
    c = sub(b, "share-b", "-t", "$share/g/s/t", "-q", "1", "-W", "4", "-F", "%p")
    msgs = ["m%d" % i for i in range(10)]
    rc, _, err = pub(b, "-t", "s/t", "-q", "1", "-l", stdin="\n".join(msgs) + "\n")
    check(rc == 0, err)
    _, out_a, _ = a.finish()
    _, out_b, _ = c.finish()
    got_a, got_b = lines(out_a), lines(out_b)
    check(sorted(got_a + got_b, key=lambda m: int(m[1:])) == msgs,
          "each message once: a=%r b=%r" % (got_a, got_b))
    check(got_a and got_b, "both members should get messages: a=%r b=%r" % (got_a, got_b))


def test_persistent_session(b):
    common = ["-c", "-x", "300", "-q", "1", "-t", "d/t"]
    rc, _, err = sub(b, "durable", *common, "-E").finish()  # subscribe, then leave
    check(rc == 0, err)
    b.wait_log(r"client durable .* disconnected: it sent DISCONNECT")
    rc, _, err = pub(b, "-t", "d/t", "-q", "1", "-l", stdin="m0\nm1\nm2\n")
    check(rc == 0, err)
    rc, _, err = pub(b, "-t", "d/t", "-q", "1", "-m", "expired",
                     "-D", "publish", "message-expiry-interval", "1")
    check(rc == 0, err)
    time.sleep(1.5)
    rc, out, err = sub(b, "durable", *common, "-C", "3", "-W", "5", "-F", "%q %p").finish()
    check(rc == 0, "resume: %s" % err)
    check(lines(out) == ["1 m0", "1 m1", "1 m2"], "queued messages: %r" % out)


def test_password(b):
    rc, _, err = pub(b, "-u", "alice", "-P", "wonderland", "-t", "alice/x", "-m", "1")
    check(rc == 0, "the right password was refused: %s" % err)
    rc, _, err = pub(b, "-u", "alice", "-P", "wrong", "-t", "alice/x", "-m", "1")
    check(rc != 0, "a wrong password was accepted")
    b.wait_log(r"refused by authentication: BAD_USERNAME_OR_PASSWORD \(0x86\)")
    rc, _, err = pub(b, "-t", "alice/x", "-m", "1")
    check(rc != 0, "an anonymous client was accepted")
    b.wait_log(r"client id ''\) refused by authentication: NOT_AUTHORIZED \(0x87\)")


def test_acl(b):
    bob = sub(b, "bob-all", "-u", "bob", "-P", "builder", "-t", "#", "-q", "1", "-C", "2",
              "-W", "10", "-F", "%t %p")
    alice = ["-u", "alice", "-P", "wonderland"]
    for args in (["-t", "secret/x", "-q", "1", "-m", "denied1"],
                 ["-t", "secret/y", "-q", "0", "-m", "denied0"],
                 ["-t", "alice/ok", "-q", "1", "-m", "ok"],
                 ["-i", "alice-c", "-t", "clients/alice-c/z", "-q", "1", "-m", "pattern"]):
        pub(b, *alice, *args)
    b.wait_log(r"(?m)publish to secret/x refused: NOT_AUTHORIZED \(0x87\)$")
    b.wait_log(r"publish to secret/y refused: NOT_AUTHORIZED \(0x87\), dropped")
    rc, out, err = bob.finish()
    check(rc == 0 and lines(out) == ["alice/ok ok", "clients/alice-c/z pattern"],
          "bob received %r %r" % (out, err))
    s = Client(b, "mosquitto_sub", ["-i", "alice-sub"] + alice + ["-t", "secret/#", "-W", "3"])
    rc, out, err = s.finish()
    b.wait_log(r"client alice-sub .*: subscription to secret/# refused: NOT_AUTHORIZED \(0x87\)")
    check(out == "", "alice got %r from a denied subscription" % out)


ACL = """\
# alice owns her tree; bob reads everything; every client its own tree
user alice
topic readwrite alice/#
user bob
topic read #
pattern
topic readwrite clients/%c/#
"""


def main():
    h.require_broker()
    h.require_programs("mosquitto_pub", "mosquitto_sub")
    with Broker() as b:
        h.run([(name, lambda f=f: f(b)) for name, f in [
            ("QoS 0/1/2 delivery", test_qos_delivery),
            ("retained message set and cleared", test_retained),
            ("will on abrupt disconnect (client killed), none on DISCONNECT",
             test_will_on_abrupt_disconnect),
            ("user properties, content type and message expiry passed through",
             test_user_properties_and_expiry),
            ("shared subscription: each message to one member", test_shared_subscription),
            ("persistent session resumed with queued QoS 1 messages; expired one dropped",
             test_persistent_session),
        ]])
    secured = Broker(config="password_file users\nacl_file acl\n")
    h.make_password_file(secured.path("users"), {"alice": "wonderland", "bob": "builder"})
    secured.write_file("acl", ACL)
    with secured as b:
        h.run([(name, lambda f=f: f(b)) for name, f in [
            ("password success and failure", test_password),
            ("ACL: denied publish (QoS 1 and 0) and subscribe", test_acl),
        ]])
    return h.finish()


if __name__ == "__main__":
    raise SystemExit(main())
