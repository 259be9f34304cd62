#!/usr/bin/env bash
# Interoperability test: client_demo against a private mosquitto broker.
#
# Usage: interop_mosquitto.sh <path to client_demo> [protocol level 5|4|3]
#
# Starts /usr/sbin/mosquitto on a free port of 127.0.0.1 with a configuration
# in a temporary directory (no persistence, log in that directory), runs
# client_demo against it and checks every line the exchange must print, and
# that the broker saw an MQTT 5 client that ended with a DISCONNECT. The
# broker is stopped by its PID on exit. Exit status: 0 pass, 1 fail, 77 skip
# (no mosquitto; scripts/setup-deps.sh installs it).
set -euo pipefail

MOSQUITTO=/usr/sbin/mosquitto
START_TIMEOUT_S=5
CLIENT_TIMEOUT_S=20

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 <client_demo> [5|4|3]" >&2
    exit 2
fi
client=$1
level=${2:-5}
case "$level" in
5)
    unsub_line="unsubscribed pid=4 rc=0x00"
    logged_level=p5
    ;;
4 | 3)
    unsub_line="unsubscribed pid=4"
    # mosquitto logs MQTT 3.1.1 as p2 and 3.1 as p1.
    logged_level=p$((level - 2))
    ;;
*)
    echo "interop_mosquitto: protocol level $level is not 3, 4 or 5" >&2
    exit 2
    ;;
esac
if [ ! -x "$MOSQUITTO" ]; then
    echo "interop_mosquitto: $MOSQUITTO not installed; skipping (scripts/setup-deps.sh installs it)"
    exit 77
fi
if [ ! -x "$client" ]; then
    echo "interop_mosquitto: $client is not an executable" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/interop_mosquitto.XXXXXX")
broker_pid=
client_pid=

cleanup()
{
    if [ -n "$client_pid" ]; then
        kill "$client_pid" 2>/dev/null || true
        wait "$client_pid" 2>/dev/null || true
    fi
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill "$broker_pid" 2>/dev/null || true
        # Bounded wait: escalate if SIGTERM is not enough within 5 s.
        for _ in $(seq 50); do
            kill -0 "$broker_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

dump_logs()
{
    local f
    for f in "$tmp/client.out" "$tmp/client.err" "$tmp/mosquitto.log" "$tmp/mosquitto.out"; do
        if [ -s "$f" ]; then
            echo "----- ${f##*/} -----"
            cat "$f"
        fi
    done
}

die()
{
    echo "interop_mosquitto: FAIL: $*" >&2
    dump_logs >&2
    exit 1
}

# A port the kernel considers free right now. Another process may take it
# before the broker binds it, so starting the broker is retried.
free_port()
{
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

port_open()
{
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_broker()
{
    local port=$1
    # Run as the invoking user: as root, mosquitto would otherwise switch to
    # the "mosquitto" user, which cannot write into the private directory.
    cat >"$tmp/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
user $(id -un)
log_dest file $tmp/mosquitto.log
log_type all
log_timestamp false
EOF
    : >"$tmp/mosquitto.log"
    "$MOSQUITTO" -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.out" 2>&1 &
    broker_pid=$!
    local _
    for _ in $(seq $((START_TIMEOUT_S * 10))); do
        if ! kill -0 "$broker_pid" 2>/dev/null; then
            wait "$broker_pid" 2>/dev/null || true
            broker_pid=
            return 1
        fi
        if port_open "$port"; then
            return 0
        fi
        sleep 0.1
    done
    die "mosquitto did not accept connections on 127.0.0.1:$port within ${START_TIMEOUT_S} s"
}

port=
for attempt in 1 2 3 4 5; do
    candidate=$(free_port)
    if start_broker "$candidate"; then
        port=$candidate
        break
    fi
    echo "interop_mosquitto: mosquitto failed to start on port $candidate (attempt $attempt)"
done
[ -n "$port" ] || die "mosquitto did not start"
echo "interop_mosquitto: mosquitto $("$MOSQUITTO" -h 2>/dev/null | head -n 1 | awk '{print $3}') pid $broker_pid on 127.0.0.1:$port"

prefix="interop/$$"
client_id="interop-demo-$$"
# In the background, so that a SIGTERM (a meson timeout) runs the traps at
# once instead of after the client ends.
timeout "$CLIENT_TIMEOUT_S" "$client" -h 127.0.0.1 -p "$port" -t "$prefix" -i "$client_id" -k 30 -V "$level" \
    >"$tmp/client.out" 2>"$tmp/client.err" &
client_pid=$!
status=0
wait "$client_pid" || status=$?
client_pid=
cat "$tmp/client.out"
[ "$status" -eq 0 ] || die "client_demo exited with status $status"
if [ -s "$tmp/client.err" ]; then
    die "client_demo wrote to stderr"
fi

# The packet ids follow from the client's allocation: SUBSCRIBE 1, the QoS 1
# and QoS 2 PUBLISH 2 and 3, UNSUBSCRIBE 4.
expected=(
    "connected session_present=0"
    "subscribed pid=1 rc=0x02"
    "received topic=$prefix/qos0 qos=0 payload=hello-qos0"
    "received topic=$prefix/qos1 qos=1 payload=hello-qos1"
    "received topic=$prefix/qos2 qos=2 payload=hello-qos2"
    "published pid=2 qos=1 rc=0x00"
    "published pid=3 qos=2 rc=0x00"
    "$unsub_line"
)
for line in "${expected[@]}"; do
    n=$(grep -cFx -- "$line" "$tmp/client.out" || true)
    [ "$n" -eq 1 ] || die "expected the line '$line' once in client_demo's output, found it $n times"
done
n=$(grep -c '^received ' "$tmp/client.out" || true)
[ "$n" -eq 3 ] || die "expected 3 received messages, got $n"
n=$(grep -c '^published ' "$tmp/client.out" || true)
[ "$n" -eq 2 ] || die "expected 2 completed publishes, got $n"
last=$(tail -n 1 "$tmp/client.out")
[ "$last" = "disconnected" ] || die "last line is '$last', expected 'disconnected'"
# Events come in protocol order: CONNACK, SUBACK, then the exchange, then UNSUBACK.
order=$(grep -nE '^(connected|subscribed|received|published|unsubscribed) ' "$tmp/client.out" |
    cut -d: -f2 | awk '{print $1}' | uniq | tr '\n' ' ')
case "$order" in
"connected subscribed "*" unsubscribed ") ;;
*) die "events out of order: $order" ;;
esac

# What the broker saw: an MQTT 5 CONNECT (p5) with clean start (c1) and the
# keep alive asked for, and a DISCONNECT rather than a dropped connection.
# Give the broker a moment to write its log after the client's exit.
for _ in $(seq 20); do
    grep -q "Client $client_id disconnected\\." "$tmp/mosquitto.log" && break
    sleep 0.1
done
grep -qF "as $client_id ($logged_level, c1, k30)" "$tmp/mosquitto.log" ||
    die "mosquitto did not log a protocol level $level connection of $client_id with clean start and keep alive 30"
grep -qF "Client $client_id disconnected." "$tmp/mosquitto.log" ||
    die "mosquitto did not log a DISCONNECT from $client_id"
if grep -qE "(protocol error|malformed)" "$tmp/mosquitto.log"; then
    die "mosquitto logged a protocol error"
fi

echo "interop_mosquitto: PASS"
