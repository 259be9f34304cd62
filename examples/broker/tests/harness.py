"""Start and stop mqttproto-broker for the tests, and run test functions.

Every broker listens on 127.0.0.1 with a port the kernel picks (--listen
127.0.0.1:0; the port is read from the log line "listening on ...") and/or
on a UNIX socket in its own temporary directory. It is stopped by its PID:
SIGTERM, then SIGKILL if it does not exit in time (which fails the test).

The broker under test is $MQTTPROTO_BROKER; $MQTTPROTO_SANITIZED is "1" when
it was built with sanitizers (memory bounds are then relaxed).
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

BROKER = os.environ.get("MQTTPROTO_BROKER", "")
SANITIZED = os.environ.get("MQTTPROTO_SANITIZED", "0") == "1"
SKIP = 77


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def wait_for(pred, timeout, what, interval=0.02):
    """Poll pred() until it is true; fail with 'what' after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Broker:
    """One mqttproto-broker process with its own directory."""

    def __init__(self, config=None, tcp=True, unix=False, log_level="debug", extra_args=(),
                 env=None):
        self.dir = tempfile.mkdtemp(prefix="mqttproto-broker-test.")
        self.config = config
        self.tcp = tcp
        self.unix_path = os.path.join(self.dir, "broker.sock") if unix else None
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "broker.log")
        self.returncode = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_file(self, name, text, mode=0o600):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def start(self, timeout=15):
        args = [BROKER, "--log-level", self.log_level]
        if self.config is not None:
            args += ["-c", self.write_file("broker.conf", self.config)]
        if self.tcp:
            args += ["--listen", "127.0.0.1:0"]
        if self.unix_path:
            args += ["--listen", "unix:" + self.unix_path]
        args += self.extra_args
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, env=env)

        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("the broker exited with %d at start:\n%s"
                                  % (self.proc.returncode, self.log()))
            return " ready (" in self.log()
        wait_for(ready, timeout, "the broker to start")
        if self.tcp:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log())
            check(m is not None, "no TCP listener in the log:\n" + self.log())
            self.port = int(m.group(1))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10, count=1):
        """Wait until the regex pattern matches count times in the log."""
        rx = re.compile(pattern)
        return wait_for(lambda: len(rx.findall(self.log())) >= count, timeout,
                        "the log to show %r (x%d)" % (pattern, count))

    def status(self, field):
        """A field of /proc/PID/status in kB (VmRSS, VmHWM...)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise TestFailure("no %s in /proc/%d/status" % (field, self.pid))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM by PID; returns the exit status (fails if it hangs)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = self.proc.returncode
                raise TestFailure("the broker did not exit within %d s of SIGTERM:\n%s"
                                  % (timeout, self.log()[-4000:]))
        self.returncode = self.proc.returncode
        self.log_file.close()
        return self.returncode

    def close(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        try:
            if et is None:
                rc = self.stop()
                check(rc == 0, "the broker exited with %s after SIGTERM:\n%s"
                      % (rc, self.log()[-4000:]))
        finally:
            if et is not None and self.proc is not None:
                sys.stderr.write("----- broker log (last 6000 characters) -----\n%s\n"
                                 % self.log()[-6000:])
            self.close()
        return False


def make_password_file(path, users, iterations=None):
    """users: {name: password}, written with 'mqttproto-broker passwd'."""
    for name, pw in users.items():
        args = [BROKER, "passwd"]
        if iterations is not None:
            args += ["--iterations", str(iterations)]
        r = subprocess.run(args + [path, name], input=pw + "\n", capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 0, "passwd failed: %s" % r.stderr)
    return path


# ---- raw MQTT 5 packets ----

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def mqtt_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect(client_id="", keep_alive=60, clean=True, username=None, password=None,
            props=b"", will=None, version=5, name=b"MQTT", flags_extra=0):
    flags = (0x02 if clean else 0) | flags_extra
    payload = mqtt_str(client_id)
    if will is not None:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += varint(0) + mqtt_str(topic) + mqtt_str(msg)
    if username is not None:
        flags |= 0x80
        payload += mqtt_str(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_str(password)
    body = mqtt_str(name) + bytes([version, flags]) + struct.pack(">H", keep_alive)
    body += varint(len(props)) + props + payload
    return packet(0x10, body)


def subscribe(packet_id, filt, qos=0, props=b""):
    body = struct.pack(">H", packet_id) + varint(len(props)) + props + mqtt_str(filt) + bytes([qos])
    return packet(0x82, body)


def publish(topic, payload, qos=0, packet_id=1, retain=False, props=b""):
    first = 0x30 | (qos << 1) | (1 if retain else 0)
    body = mqtt_str(topic)
    if qos > 0:
        body += struct.pack(">H", packet_id)
    body += varint(len(props)) + props + payload
    return packet(first, body)


def disconnect(rc=0):
    return bytes([0xE0, 1, rc]) if rc else bytes([0xE0, 0])


class Conn:
    """A raw MQTT connection: send bytes, read whole packets."""

    def __init__(self, port=None, unix_path=None, timeout=5.0, rcvbuf=None):
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = unix_path
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = ("127.0.0.1", port)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(target)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_packet(self, timeout=5.0):
        """(first byte, body) of the next packet; EOFError when closed."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                n, mult, i = 0, 1, 1
                complete = False
                while i < len(self.buf) and i <= 4:
                    b = self.buf[i]
                    n += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        complete = True
                        break
                if complete and len(self.buf) >= i + n:
                    first, body = self.buf[0], self.buf[i:i + n]
                    self.buf = self.buf[i + n:]
                    return first, body
            self._fill(deadline)

    def expect(self, ptype, timeout=5.0):
        first, body = self.read_packet(timeout)
        check(first >> 4 == ptype, "expected packet type %d, got first byte 0x%02x body %r"
              % (ptype, first, body[:40]))
        return first, body

    def connack(self, timeout=5.0):
        """The CONNACK's reason code."""
        _, body = self.expect(2, timeout)
        return body[1]

    def wait_closed(self, timeout=5.0):
        """Read until the broker closes; returns the packets read before."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                got.append(self.read_packet(max(0.01, deadline - time.monotonic())))
            except (EOFError, ConnectionResetError):
                return got
            except socket.timeout:
                raise TestFailure("the broker did not close the connection within %.1f s"
                                  % timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def disconnect_reason(first, body):
    check(first == 0xE0, "expected DISCONNECT, got first byte 0x%02x" % first)
    return body[0] if body else 0


# ---- running tests ----

_totals = {"passed": 0, "failed": 0}


def run(tests):
    """Run [(name, function)] in order, one line each; returns the failures.
    finish() prints the summary of every run() call."""
    passed = failed = 0
    for name, fn in tests:
        start = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            print("not ok - %s (%.1f s): %s" % (name, time.monotonic() - start, e), flush=True)
            if not isinstance(e, TestFailure):
                traceback.print_exc()
        else:
            passed += 1
            print("ok - %s (%.1f s)" % (name, time.monotonic() - start), flush=True)
    _totals["passed"] += passed
    _totals["failed"] += failed
    return failed


def finish():
    """Print "N passed, N failed" for the whole script; the exit status."""
    print("%d passed, %d failed" % (_totals["passed"], _totals["failed"]), flush=True)
    return 1 if _totals["failed"] else 0


def require_broker():
    if not BROKER or not os.access(BROKER, os.X_OK):
        print("MQTTPROTO_BROKER is not an executable: %r" % BROKER)
        sys.exit(1)


def require_programs(*names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        print("skipping: %s not installed (scripts/setup-deps.sh installs them)"
              % ", ".join(missing))
        sys.exit(SKIP)
