#!/usr/bin/env python3
"""mqttproto-broker's command line, config file, password and ACL files:
bad input gives a message naming the file and line, exit status 2, and no
listener; the passwd subcommand writes entries that verify independently."""

import base64
import hashlib
import os
import re
import socket
import stat
import subprocess
import tempfile

import harness as h
from harness import BROKER, Broker, check

HELP_MUST_MENTION = [
    "--listen", "--config", "-c", "--log-level", "--help", "--version", "passwd", "--iterations",
    "listener", "max_connections", "receive_maximum", "max_packet_size", "max_queued_messages",
    "max_queued_bytes", "max_keep_alive", "connect_timeout", "max_session_expiry",
    "max_outbound_bytes", "write_timeout", "shutdown_timeout", "password_file", "acl_file",
    "allow_anonymous", "log_level", "unix:PATH", "SIGTERM", "Exit status", "tls:HOST:PORT",
    "ws:HOST:PORT", "wss:HOST:PORT", "certfile", "keyfile", "cafile", "require_certificate",
    "use_identity_as_username", "--data-dir", "persistence", "persistence_file", "persistence_mode",
    "autosave_interval",
]


def run(args, stdin=None, timeout=20):
    return subprocess.run([BROKER] + args, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def port_in_use():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def test_help_and_version():
    r = run(["--help"])
    check(r.returncode == 0, "--help exit %d" % r.returncode)
    for word in HELP_MUST_MENTION:
        check(word in r.stdout, "--help does not mention %s" % word)
    r = run(["-V"])
    check(r.returncode == 0 and re.match(r"mqttproto-broker \d+\.\d+\.\d+", r.stdout),
          "--version printed %r" % r.stdout)


BAD_OPTIONS = [
    (["--bogus"], "unknown option '--bogus'"),
    (["-c"], "needs a value"),
    (["--listen", "127.0.0.1"], "expected HOST:PORT"),
    (["--listen", "127.0.0.1:70000"], "port must be a number"),
    (["--listen", "::1:1883"], "IPv6 address in brackets"),
    (["--listen", "unix:"], "socket path is missing"),
    (["--listen", "tls:127.0.0.1:8883"], "needs a certfile"),
    (["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"], "given twice"),
    (["--log-level", "loud"], "--log-level must be"),
    (["extra"], "unexpected argument 'extra'"),
    (["-c", "/nonexistent/broker.conf"], "cannot read the config file"),
    (["--data-dir"], "option '--data-dir' needs a value"),
    (["--data-dir", ""], "--data-dir: the directory is missing"),
    (["--data-dir", "a", "--data-dir", "b"], "--data-dir is given twice"),
    (["--data-dir", "/nonexistent/dir"], "--data-dir /nonexistent/dir: cannot create it: "
     "No such file or directory"),
]


def test_bad_options():
    for args, msg in BAD_OPTIONS:
        r = run(args)
        check(r.returncode == 2, "%r: exit %d, expected 2" % (args, r.returncode))
        check(msg in r.stderr, "%r: stderr %r lacks %r" % (args, r.stderr, msg))
        check("listening" not in r.stderr, "%r started a listener" % (args,))


BAD_CONFIGS = [
    ("log_level info\nbogus_key 3\n", 2, "unknown key 'bogus_key'"),
    ("max_connections lots\n", 1, "max_connections must be an integer from 0 to"),
    ("receive_maximum 0\n", 1, "receive_maximum must be an integer from 1 to 65535"),
    ("max_packet_size 12\n", 1, "max_packet_size must be a size in bytes"),
    ("max_packet_size 2X\n", 1, "max_packet_size must be a size in bytes"),
    ("# comment\n\nconnect_timeout 0\n", 3, "connect_timeout must be a number of seconds"),
    ("allow_anonymous yes\n", 1, "allow_anonymous must be true or false"),
    ("log_level loud\n", 1, "log_level must be error, warning, info or debug"),
    ("listener 127.0.0.1:1\nlistener bad\n", 2, "bad listener 'bad'"),
    ("max_keep_alive 10\nmax_keep_alive 20\n", 2, "max_keep_alive is already set on line 1"),
    ("write_timeout\n", 1, "write_timeout needs a value"),
    ("password_file missing-users\n", None, "cannot read the password file"),
    ("acl_file missing-acl\n", None, "cannot read the ACL file"),
    ("persistence yes\n", 1, "persistence must be true or false, not 'yes'"),
    ("persistence_mode fast\n", 1, "persistence_mode must be sync or periodic, not 'fast'"),
    ("autosave_interval 0\n", 1, "autosave_interval must be a number of seconds from 1 to 86400"),
    ("autosave_interval 86401\n", 1, "autosave_interval must be a number of seconds from 1"),
    ("persistence_mode sync\npersistence_mode periodic\n", 2,
     "persistence_mode is already set on line 1"),
    ("persistence true\n", None,
     "persistence is true but there is no persistence_file (or --data-dir)"),
    ("persistence true\npersistence_file /nonexistent/dir/x.db\n", None,
     "/nonexistent/dir/x.db: its directory /nonexistent/dir does not exist"),
]


def test_bad_config_lines():
    d = tempfile.mkdtemp(prefix="broker-cli.")
    try:
        path = os.path.join(d, "bad.conf")
        for text, line, msg in BAD_CONFIGS:
            with open(path, "w") as f:
                f.write(text)
            r = run(["-c", path])
            check(r.returncode == 2, "%r: exit %d, expected 2" % (text, r.returncode))
            where = "%s:%d: " % (path, line) if line is not None else ""
            check(where + msg in r.stderr, "%r: stderr %r lacks %r" % (text, r.stderr, where + msg))
            check("listening" not in r.stderr, "%r started a listener" % text)
    finally:
        subprocess.run(["rm", "-rf", d])


BAD_PASSWORD_FILES = [
    ("alice\n", 1, "expected NAME:$pbkdf2-sha512$"),
    ("# users\nalice:$md5$1$abc\n", 2, "the hash does not start with $pbkdf2-sha512$"),
    ("alice:$pbkdf2-sha512$lots$c2FsdHNhbHQ=$aGFzaA==\n", 1, "iteration count is not a number"),
    ("alice:$pbkdf2-sha512$10$c2FsdHNhbHQ=$aGFzaA==\n", 1, "iteration count is outside"),
    ("alice:$pbkdf2-sha512$1000$!!!!$aGFzaA==\n", 1, "salt is not base64"),
    ("alice:$pbkdf2-sha512$1000$c2FsdHNhbHQ=$aGFzaA==\n", 1, "hash is not base64 of 64 bytes"),
]

BAD_ACL_FILES = [
    ("topic read a/#\n", 1, "a topic line must follow"),
    ("user alice\ntopic readall a/#\n", 2, "expected: topic read|write|readwrite FILTER"),
    ("user alice\ntopic read a/#/b\n", 2, "not a valid topic filter"),
    ("pattern\ntopic read dev/%x/#\n", 2, "'%' must be followed by c"),
    ("pattern extra\n", 1, "'pattern' takes nothing after it"),
    ("client\n", 1, "expected: client ID"),
    ("user bob\ntopic write $share/g/a\n", 2, "without $share/GROUP/"),
    ("group admins\n", 1, "unknown keyword"),
]


def test_bad_password_and_acl_files():
    d = tempfile.mkdtemp(prefix="broker-cli.")
    try:
        conf = os.path.join(d, "broker.conf")
        for key, cases in (("password_file", BAD_PASSWORD_FILES), ("acl_file", BAD_ACL_FILES)):
            for text, line, msg in cases:
                target = os.path.join(d, "file")
                with open(target, "w") as f:
                    f.write(text)
                with open(conf, "w") as f:
                    f.write("%s file\n" % key)  # relative: from the config file's directory
                r = run(["-c", conf])
                where = "%s:%d: " % (target, line)
                check(r.returncode == 2, "%s %r: exit %d" % (key, text, r.returncode))
                check(any(ln.startswith("mqttproto-broker: " + where) and msg in ln
                          for ln in r.stderr.splitlines()),
                      "%s %r: stderr %r lacks %r" % (key, text, r.stderr, where + "..." + msg))
                check("listening" not in r.stderr, "a listener was started")
    finally:
        subprocess.run(["rm", "-rf", d])


def test_port_in_use_starts_nothing():
    busy = port_in_use()
    try:
        port = busy.getsockname()[1]
        d = tempfile.mkdtemp(prefix="broker-cli.")
        sock_path = os.path.join(d, "s.sock")
        r = run(["--listen", "unix:" + sock_path, "--listen", "127.0.0.1:%d" % port])
        check(r.returncode == 1, "exit %d, expected 1" % r.returncode)
        check("cannot listen on 127.0.0.1:%d: address already in use" % port in r.stderr,
              "stderr: %r" % r.stderr)
        check(not os.path.exists(sock_path), "the UNIX socket of the first listener is left")
        subprocess.run(["rm", "-rf", d])
    finally:
        busy.close()


def test_config_file_listener_and_override():
    with Broker(config="listener 127.0.0.1:0\nmax_keep_alive 30\n", tcp=False) as b:
        check(re.search(r"listening on 127\.0\.0\.1:\d+", b.log()), "no listener from the file")
    b = Broker(config="listener unix:/nonexistent-dir/x.sock\n")  # replaced by --listen
    with b:
        check(b.port is not None and "x.sock" not in b.log(), "--listen did not replace the file's")


def verify_entry(line, password):
    m = re.fullmatch(r"([^:]+):\$pbkdf2-sha512\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)",
                     line)
    check(m is not None, "bad entry %r" % line)
    salt = base64.b64decode(m.group(3))
    want = base64.b64decode(m.group(4))
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(m.group(2)), 64)
    return m.group(1), int(m.group(2)), len(salt), got == want


def test_passwd_subcommand():
    d = tempfile.mkdtemp(prefix="broker-passwd.")
    try:
        path = os.path.join(d, "users")
        r = run(["passwd", path, "alice"], stdin="wonderland\n", timeout=30)
        check(r.returncode == 0, "passwd failed: %s" % r.stderr)
        check("added user 'alice'" in r.stdout, "stdout %r" % r.stdout)
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "the file is not mode 0600")
        with open(path, "a") as f:
            f.write("# a comment that stays\n")
        r = run(["passwd", "--iterations", "5000", path, "bob"], stdin="builder\n")
        check(r.returncode == 0, "passwd bob failed: %s" % r.stderr)
        r = run(["passwd", path, "alice"], stdin="looking-glass\r\n", timeout=30)
        check("updated user 'alice'" in r.stdout, "stdout %r" % r.stdout)
        lines = open(path).read().splitlines()
        check(len(lines) == 3 and lines[1] == "# a comment that stays", "file: %r" % lines)
        user, its, salt_len, ok = verify_entry(lines[0], "looking-glass")
        check(user == "alice" and its == 210000 and salt_len == 16 and ok,
              "alice's entry does not verify with hashlib: %r" % lines[0])
        user, its, _, ok = verify_entry(lines[2], "builder")
        check(user == "bob" and its == 5000 and ok, "bob's entry: %r" % lines[2])
        for args, stdin, code, msg in [
            (["passwd", path], "x\n", 2, "usage:"),
            (["passwd", path, "a:b"], "x\n", 2, "must not be empty or hold ':'"),
            (["passwd", path, "carol"], "", 1, "no password on standard input"),
            (["passwd", path, "carol"], "\n", 1, "1 to 65535 bytes"),
            (["passwd", "--iterations", "5", path, "carol"], "x\n", 2, "--iterations must be"),
        ]:
            r = run(args, stdin=stdin)
            check(r.returncode == code and msg in r.stderr,
                  "%r: exit %d stderr %r" % (args, r.returncode, r.stderr))
        # The broker loads what passwd wrote and checks against it.
        with Broker(config="password_file %s\n" % path) as b:
            for user, pw, rc in [("alice", "looking-glass", 0), ("alice", "wonderland", 0x86),
                                 ("bob", "builder", 0), ("nobody", "x", 0x86), (None, None, 0x87)]:
                c = h.Conn(b.port)
                c.send(h.connect("", username=user, password=pw))
                got = c.connack()
                check(got == rc, "%s/%s: CONNACK 0x%02x, expected 0x%02x" % (user, pw, got, rc))
                c.close()
    finally:
        subprocess.run(["rm", "-rf", d])


def test_stale_unix_socket_is_replaced():
    d = tempfile.mkdtemp(prefix="broker-cli.")
    try:
        path = os.path.join(d, "stale.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()  # the file stays, nobody listens
        b = Broker(tcp=False, extra_args=["--listen", "unix:" + path])
        with b:
            check("removed the stale socket %s" % path in b.log(), "log: " + b.log())
        with open(os.path.join(d, "plain"), "w") as f:
            f.write("x")
        r = run(["--listen", "unix:" + os.path.join(d, "plain")])
        check(r.returncode == 1 and "exists and is not a socket" in r.stderr, r.stderr)
    finally:
        subprocess.run(["rm", "-rf", d])


def main():
    h.require_broker()
    h.run([
        ("--help documents every option and key; --version", test_help_and_version),
        ("bad options: message, exit 2, nothing started", test_bad_options),
        ("bad config lines: FILE:LINE, exit 2, nothing started", test_bad_config_lines),
        ("bad password and ACL files: FILE:LINE, exit 2", test_bad_password_and_acl_files),
        ("a port in use: exit 1, nothing left running", test_port_in_use_starts_nothing),
        ("config file listener; --listen replaces it", test_config_file_listener_and_override),
        ("passwd subcommand: entries verify with hashlib", test_passwd_subcommand),
        ("a stale UNIX socket file is replaced", test_stale_unix_socket_is_replaced),
    ])
    return h.finish()


if __name__ == "__main__":
    raise SystemExit(main())
