#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 for the session-resumption test.

Usage: drop_proxy.py TARGET_PORT PORT_FILE

Listens on a free port of 127.0.0.1 (written to PORT_FILE once listening)
and forwards every connection to 127.0.0.1:TARGET_PORT. On SIGUSR1 it cuts
every open connection (both sides), as a network failure would, and goes
on accepting new ones. It ends on SIGTERM, and by itself after 120 s.
"""
import os
import signal
import socket
import sys
import threading

target = int(sys.argv[1])
port_file = sys.argv[2]
lock = threading.Lock()
open_socks = []


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def cut(signum, frame):
    with lock:
        for s in open_socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        open_socks.clear()


signal.signal(signal.SIGUSR1, cut)
signal.alarm(120)
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.getsockname()[1])
os.rename(port_file + ".tmp", port_file)

while True:
    client, _ = srv.accept()
    try:
        upstream = socket.create_connection(("127.0.0.1", target), timeout=5)
    except OSError:
        client.close()
        continue
    upstream.settimeout(None)
    with lock:
        open_socks.extend([client, upstream])
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
