#!/usr/bin/env python3
"""MQTT.js (npm package mqtt, version 5, installed into build-npm/ by
scripts/setup-npm.sh) against mqttproto-broker's ws: listener: a node
script connects with protocolVersion 5, subscribes and publishes at QoS 1
and waits for its message. Skipped (exit 77) without node or MQTT.js."""

import os
import re
import shutil
import subprocess
import sys

import harness as h
from harness import Broker, check

NPM_DIR = os.environ.get("MQTTPROTO_NPM_DIR", "")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mqttjs_client.js")


def test_mqttjs_ws(b):
    m = re.search(r"listening on ws:127\.0\.0\.1:(\d+)", b.log())
    check(m is not None, "no ws listener in the log")
    env = dict(os.environ)
    env["NODE_PATH"] = os.path.join(NPM_DIR, "node_modules")
    r = subprocess.run(["node", SCRIPT, "ws://127.0.0.1:%s/mqtt" % m.group(1)],
                       capture_output=True, text=True, timeout=30, env=env)
    check(r.returncode == 0, "the MQTT.js client failed (%d): %s %s"
          % (r.returncode, r.stdout, r.stderr))
    check("received mqttjs/t hello from MQTT.js qos 1" in r.stdout, "output %r" % r.stdout)
    b.wait_log(r"client mqttjs-client connected")


def main():
    h.require_broker()
    if shutil.which("node") is None:
        print("skipping: node is not installed (Debian: nodejs)")
        return h.SKIP
    if not NPM_DIR or not os.path.isfile(os.path.join(NPM_DIR, "node_modules", "mqtt",
                                                      "package.json")):
        print("skipping: MQTT.js is not in %r (scripts/setup-npm.sh installs it)" % NPM_DIR)
        return h.SKIP
    with Broker(extra_args=["--listen", "ws:127.0.0.1:0"]) as b:
        h.run([("MQTT.js over WebSocket: subscribe and publish at QoS 1",
                lambda: test_mqttjs_ws(b))])
    return h.finish()


if __name__ == "__main__":
    sys.exit(main())
