#!/usr/bin/env bash
# Interoperability test: mqttproto-broker serving MQTT 3.1, 3.1.1 and 5
# clients at once.
#
# Usage: interop_broker_versions.sh <path to mqttproto-broker>
#
# Starts the broker on a free port of 127.0.0.1, then:
# - mosquitto_sub in 3.1.1 and in 5 on the same filter; mosquitto_pub in
#   3.1, 3.1.1 and 5 (the MQTT 5 one with a Message Expiry Interval and a
#   User Property): every subscriber gets every message at the QoS asked,
#   and only the MQTT 5 subscriber sees the properties;
# - a retained message published in 3.1.1 reaches a later 3.1 subscriber;
# - a refused 3.1 CONNECT is answered with a 3.1 return code;
# - python3-paho-mqtt in 3.1.1 mode publishes at QoS 1 and 2 and receives
#   its own messages.
# The broker is stopped by its PID on exit. Exit status: 0 pass, 1 fail,
# 77 skip (mosquitto-clients missing; scripts/setup-deps.sh installs them).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 <mqttproto-broker>" >&2
    exit 2
fi
broker=$1
for tool in mosquitto_pub mosquitto_sub; do
    if ! command -v "$tool" >/dev/null; then
        echo "interop_broker_versions: $tool not installed; skipping"
        exit 77
    fi
done
# Debian's interpreter: the one python3-paho-mqtt is installed for.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/interop_versions.XXXXXX")
broker_pid=
pids=()
cleanup()
{
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$broker_pid" ]; then
        kill "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die()
{
    echo "interop_broker_versions: FAIL: $*" >&2
    local f
    for f in "$tmp"/*.out "$tmp"/*.err "$tmp/broker.log"; do
        if [ -s "$f" ]; then
            echo "----- ${f##*/} -----" >&2
            cat "$f" >&2
        fi
    done
    exit 1
}

free_port()
{
    "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

port=
for attempt in 1 2 3 4 5; do
    candidate=$(free_port)
    timeout 60 "$broker" --listen "127.0.0.1:$candidate" --log-level info 2>"$tmp/broker.log" &
    broker_pid=$!
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
            port=$candidate
            break
        fi
        kill -0 "$broker_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] && break
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=
    echo "interop_broker_versions: the broker did not start on port $candidate (attempt $attempt)"
done
[ -n "$port" ] || die "the broker did not start"

common=(-h 127.0.0.1 -p "$port")
prefix="versions/$$"

# Two subscribers, 3.1.1 and 5, each waiting for the three messages.
timeout 20 mosquitto_sub "${common[@]}" -V mqttv311 -t "$prefix/#" -q 2 -C 3 \
    -F '%t %q %p' >"$tmp/sub311.out" 2>"$tmp/sub311.err" &
pids+=($!)
sub311=$!
timeout 20 mosquitto_sub "${common[@]}" -V mqttv5 -t "$prefix/#" -q 2 -C 3 \
    -F '%t %q %p exp=%E up=%P' >"$tmp/sub5.out" 2>"$tmp/sub5.err" &
pids+=($!)
sub5=$!
sleep 1

timeout 10 mosquitto_pub "${common[@]}" -V mqttv31 -t "$prefix/v31" -m from-31 -q 1 ||
    die "the MQTT 3.1 publisher failed"
timeout 10 mosquitto_pub "${common[@]}" -V mqttv311 -t "$prefix/v311" -m from-311 -q 2 ||
    die "the MQTT 3.1.1 publisher failed"
timeout 10 mosquitto_pub "${common[@]}" -V mqttv5 -t "$prefix/v5" -m from-5 -q 2 \
    -D publish message-expiry-interval 120 -D publish user-property origin five ||
    die "the MQTT 5 publisher failed"

wait "$sub311" || die "the MQTT 3.1.1 subscriber did not get 3 messages"
wait "$sub5" || die "the MQTT 5 subscriber did not get 3 messages"
pids=()

# Delivered QoS is the lower of the published and the subscribed QoS.
for line in "$prefix/v31 1 from-31" "$prefix/v311 2 from-311" "$prefix/v5 2 from-5"; do
    grep -qFx -- "$line" "$tmp/sub311.out" || die "the 3.1.1 subscriber lacks '$line'"
done
grep -qFx -- "$prefix/v31 1 from-31 exp= up=" "$tmp/sub5.out" ||
    die "the 5 subscriber lacks the 3.1 message without properties"
grep -qFx -- "$prefix/v311 2 from-311 exp= up=" "$tmp/sub5.out" ||
    die "the 5 subscriber lacks the 3.1.1 message without properties"
grep -qE -- "^$prefix/v5 2 from-5 exp=1(19|20) up=origin:five\$" "$tmp/sub5.out" ||
    die "the 5 subscriber did not get the MQTT 5 message with its expiry and user property"

# A retained message from 3.1.1 reaches a later 3.1 subscriber.
timeout 10 mosquitto_pub "${common[@]}" -V mqttv311 -t "$prefix/kept" -m retained-311 -q 1 -r ||
    die "the retained publish failed"
timeout 10 mosquitto_sub "${common[@]}" -V mqttv31 -t "$prefix/kept" -C 1 -F '%t %r %p' \
    >"$tmp/sub31.out" 2>"$tmp/sub31.err" || die "the 3.1 subscriber got no retained message"
grep -qFx -- "$prefix/kept 1 retained-311" "$tmp/sub31.out" ||
    die "the 3.1 subscriber did not get the retained message with RETAIN 1"

# paho in 3.1.1 mode, when installed.
if "$PYTHON" -c 'import paho.mqtt.client' 2>/dev/null; then
    PORT=$port PREFIX="$prefix/paho" timeout 20 "$PYTHON" - >"$tmp/paho.out" 2>"$tmp/paho.err" <<'EOF' ||
import os, sys, threading
import paho.mqtt.client as mqtt

port = int(os.environ["PORT"])
prefix = os.environ["PREFIX"]
got = []
done = threading.Event()
subscribed = threading.Event()

def on_connect(client, userdata, flags, rc):
    if rc != 0:
        print("connect refused", rc)
        sys.exit(1)
    client.subscribe(prefix + "/#", qos=2)

def on_subscribe(client, userdata, mid, granted_qos):
    subscribed.set()

def on_message(client, userdata, msg):
    got.append((msg.topic, msg.qos, msg.payload.decode()))
    if len(got) == 2:
        done.set()

c = mqtt.Client(client_id="paho-311-%d" % os.getpid(), protocol=mqtt.MQTTv311, clean_session=True)
c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = on_message
c.connect("127.0.0.1", port, keepalive=30)
c.loop_start()
if not subscribed.wait(10):
    print("no SUBACK")
    sys.exit(1)
c.publish(prefix + "/one", "paho-q1", qos=1).wait_for_publish()
c.publish(prefix + "/two", "paho-q2", qos=2).wait_for_publish()
if not done.wait(10):
    print("got", got)
    sys.exit(1)
c.disconnect()
c.loop_stop()
for t in sorted(got):
    print("%s %d %s" % t)
EOF
        die "paho in 3.1.1 mode failed"
    grep -qFx -- "$prefix/paho/one 1 paho-q1" "$tmp/paho.out" || die "paho lacks its QoS 1 message"
    grep -qFx -- "$prefix/paho/two 2 paho-q2" "$tmp/paho.out" || die "paho lacks its QoS 2 message"
else
    echo "interop_broker_versions: python3-paho-mqtt not installed; its part skipped"
fi

if grep -qiE "protocol error|malformed" "$tmp/broker.log"; then
    die "the broker logged a protocol error"
fi

# A refused MQTT 3.1 CONNECT gets a 3.1 CONNACK return code: a client
# identifier over 23 bytes is "identifier rejected" (return code 2).
if timeout 10 mosquitto_pub "${common[@]}" -V mqttv31 -i abcdefghijklmnopqrstuvwxy \
    -t "$prefix/x" -m refused >"$tmp/refused.out" 2>"$tmp/refused.err"; then
    die "a 25-byte MQTT 3.1 client identifier was accepted"
fi
grep -qF "identifier rejected" "$tmp/refused.err" ||
    die "the refused MQTT 3.1 client did not read return code 2 (identifier rejected)"
echo "interop_broker_versions: PASS"
