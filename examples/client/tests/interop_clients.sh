#!/usr/bin/env bash
# Interoperability tests: mqttproto-pub, mqttproto-sub, the libuv client
# and the blocking library against Debian's mosquitto, started here with a
# generated configuration on free 127.0.0.1 ports (and a UNIX socket in a
# temporary directory), and stopped by its PID.
#
# Usage: interop_clients.sh CASE BUILD_CLIENT_DIR GEN_CERTS
#   CASE: tcp | tls | ws | wss | unix | bad-cert | not-authorized | resume
#   BUILD_CLIENT_DIR holds mqttproto-pub, mqttproto-sub, uv_client and
#   tests/blocking_resume; GEN_CERTS is examples/transport/tests/gen_certs.sh.
# Exit status: 0 pass, 1 fail, 77 skip (no mosquitto; scripts/setup-deps.sh
# installs it).
set -euo pipefail

MOSQUITTO=/usr/sbin/mosquitto
CMD_TIMEOUT=20

case_name=$1
bin=$2
gen_certs=$3
PUB=$bin/mqttproto-pub
SUB=$bin/mqttproto-sub
UV=$bin/uv_client
RESUME=$bin/tests/blocking_resume

if [ ! -x "$MOSQUITTO" ]; then
    echo "interop_clients: $MOSQUITTO not installed; skipping"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/interop_clients.XXXXXX")
broker_pid=
bg_pids=()

stop_broker()
{
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill "$broker_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$broker_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$broker_pid" 2>/dev/null || true
    fi
    if [ -n "$broker_pid" ]; then
        wait "$broker_pid" 2>/dev/null || true
    fi
    broker_pid=
}

cleanup()
{
    local p
    for p in "${bg_pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    stop_broker
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die()
{
    echo "interop_clients[$case_name]: FAIL: $*" >&2
    local f
    for f in "$tmp"/*.out "$tmp"/*.err "$tmp/mosquitto.log"; do
        if [ -s "$f" ]; then
            echo "----- ${f##*/} -----" >&2
            tail -n 60 "$f" >&2
        fi
    done
    exit 1
}

say()
{
    echo "interop_clients[$case_name]: $*"
}

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

# start_broker: writes mosquitto.conf from $conf_body (with @PORT@ and
# @WSPORT@ replaced) and starts mosquitto; retries with new ports if one was
# taken in between. Sets PORT (the first listener) and WSPORT.
start_broker()
{
    local attempt
    for attempt in 1 2 3 4 5; do
        PORT=$(free_port)
        WSPORT=$(free_port)
        [ "$PORT" != "$WSPORT" ] || continue
        {
            echo "per_listener_settings ${PER_LISTENER:-false}"
            echo "persistence ${PERSISTENCE:-false}"
            echo "persistence_location $tmp/"
            echo "user $(id -un)"
            echo "log_dest file $tmp/mosquitto.log"
            echo "log_type all"
            echo "log_timestamp false"
            printf '%s\n' "$conf_body" | sed -e "s/@PORT@/$PORT/g" -e "s/@WSPORT@/$WSPORT/g" \
                -e "s|@TMP@|$tmp|g"
        } >"$tmp/mosquitto.conf"
        if launch_broker; then
            return 0
        fi
        say "mosquitto did not start on ports $PORT/$WSPORT (attempt $attempt)"
    done
    die "mosquitto did not start"
}

# Starts mosquitto with the existing configuration; 0 once every TCP port
# in it accepts connections.
launch_broker()
{
    "$MOSQUITTO" -c "$tmp/mosquitto.conf" >>"$tmp/mosquitto.err" 2>&1 &
    broker_pid=$!
    local ports _ p ok
    ports=$(awk '$1 == "listener" && $2 != 0 {print $2}' "$tmp/mosquitto.conf")
    for _ in $(seq 50); do
        if ! kill -0 "$broker_pid" 2>/dev/null; then
            wait "$broker_pid" 2>/dev/null || true
            broker_pid=
            return 1
        fi
        ok=1
        for p in $ports; do
            port_open "$p" || ok=0
        done
        if [ "$ok" = 1 ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Waits until mosquitto logged the SUBACK for client $1.
wait_subscribed()
{
    local _
    for _ in $(seq 100); do
        grep -qF "Sending SUBACK to $1" "$tmp/mosquitto.log" 2>/dev/null && return 0
        sleep 0.1
    done
    die "mosquitto never sent a SUBACK to $1"
}

expect_line()
{
    local file=$1 line=$2
    grep -qxF -- "$line" "$file" || die "expected the line '$line' in ${file##*/}"
}

expect_text()
{
    local file=$1 text=$2
    grep -qF -- "$text" "$file" || die "expected '$text' in ${file##*/}"
}

# mosquitto writes its log a little after the fact: wait for a line.
expect_log()
{
    local _
    for _ in $(seq 30); do
        grep -qF -- "$1" "$tmp/mosquitto.log" 2>/dev/null && return 0
        sleep 0.1
    done
    die "expected '$1' in mosquitto.log"
}

certs()
{
    if [ ! -f "$tmp/certs/ca.pem" ]; then
        bash "$gen_certs" "$tmp/certs"
    fi
}

# pub_sub_round NAME ARGS...: mqttproto-sub receives what mqttproto-pub
# sends at QoS 0, 1 and 2 (with properties), over the connection ARGS name.
pub_sub_round()
{
    local name=$1
    shift
    local id="sub-$name-$$"
    timeout "$CMD_TIMEOUT" "$SUB" "$@" -i "$id" -t "it/$name/#" -q 2 -v -C 3 -W 15 \
        >"$tmp/sub-$name.out" 2>"$tmp/sub-$name.err" &
    local sp=$!
    bg_pids+=("$sp")
    wait_subscribed "$id"
    local q
    for q in 0 1 2; do
        timeout "$CMD_TIMEOUT" "$PUB" "$@" -i "pub-$name-$q-$$" -t "it/$name/q$q" \
            -m "hello $name qos$q" -q "$q" -D publish user-property origin mqttproto \
            -D publish message-expiry-interval 60 >"$tmp/pub-$name-$q.out" \
            2>"$tmp/pub-$name-$q.err" || die "mqttproto-pub $* -q $q failed"
    done
    local status=0
    wait "$sp" || status=$?
    [ "$status" -eq 0 ] || die "mqttproto-sub $* exited with $status"
    for q in 0 1 2; do
        expect_line "$tmp/sub-$name.out" "it/$name/q$q hello $name qos$q"
    done
    [ "$(wc -l <"$tmp/sub-$name.out")" -eq 3 ] || die "mqttproto-sub printed more than 3 lines"
    # mosquitto saw each flow at its QoS.
    expect_log "Received PUBLISH from pub-$name-1-$$ (d0, q1"
    expect_log "Received PUBREL from pub-$name-2-$$"
    expect_log "Sending PUBLISH to $id (d0, q2"
    say "pub/sub over $name at QoS 0, 1, 2: ok"
}

# A third-party subscriber (mosquitto_sub) sees the properties we sent.
properties_round()
{
    local name=$1
    shift
    command -v mosquitto_sub >/dev/null || return 0
    local id="msub-$name-$$"
    timeout "$CMD_TIMEOUT" mosquitto_sub -V 5 -h 127.0.0.1 -p "$PORT" -i "$id" -t "prop/$name" \
        -C 1 -W 15 -F '%t|%p|%P|%E' >"$tmp/msub-$name.out" 2>"$tmp/msub-$name.err" &
    local sp=$!
    bg_pids+=("$sp")
    wait_subscribed "$id"
    timeout "$CMD_TIMEOUT" "$PUB" "$@" -t "prop/$name" -m "with props" -q 1 \
        -D publish user-property origin mqttproto -D publish message-expiry-interval 60 ||
        die "mqttproto-pub with properties failed"
    wait "$sp" || die "mosquitto_sub did not get the message"
    expect_text "$tmp/msub-$name.out" "prop/$name|with props|origin:mqttproto|"
    say "properties reach mosquitto_sub over $name: ok"
}

uv_round()
{
    local name=$1
    shift
    [ -x "$UV" ] || return 0
    timeout "$CMD_TIMEOUT" "$UV" "$@" -i "uv-$name-$$" -t "uv/$name" -W 15 \
        >"$tmp/uv-$name.out" 2>"$tmp/uv-$name.err" || die "uv_client $* failed"
    local q
    for q in 0 1 2; do
        expect_line "$tmp/uv-$name.out" "received topic=uv/$name/qos$q qos=$q payload=uv-hello-qos$q"
    done
    expect_line "$tmp/uv-$name.out" "published qos=1 rc=0x00"
    expect_line "$tmp/uv-$name.out" "published qos=2 rc=0x00"
    expect_line "$tmp/uv-$name.out" "unsubscribed rc=0x00"
    [ "$(tail -n 1 "$tmp/uv-$name.out")" = "disconnected" ] || die "uv_client did not end cleanly"
    expect_log "Client uv-$name-$$ disconnected."
    say "uv_client over $name: ok"
}

# expect_failure NAME PATTERN COMMAND...: the command fails, says PATTERN.
expect_failure()
{
    local name=$1 pattern=$2
    shift 2
    local status=0
    timeout "$CMD_TIMEOUT" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || status=$?
    [ "$status" -ne 0 ] || die "$name: expected a failure, got exit status 0"
    [ "$status" -ne 124 ] || die "$name: timed out instead of failing"
    grep -qE -- "$pattern" "$tmp/$name.err" || die "$name: stderr lacks /$pattern/"
    say "$name: exit $status, $(head -n 1 "$tmp/$name.err")"
}

tls_listener()
{
    certs
    cat <<EOF
listener @WSPORT@ 127.0.0.1
cafile $tmp/certs/ca.pem
certfile $tmp/certs/server.pem
keyfile $tmp/certs/server.key
EOF
}

case "$case_name" in
tcp)
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true"
    start_broker
    pub_sub_round tcp -h 127.0.0.1 -p "$PORT"
    properties_round tcp -h 127.0.0.1 -p "$PORT"
    uv_round tcp -h 127.0.0.1 -p "$PORT"
    # A will: the subscriber with a will is killed; mosquitto publishes it.
    timeout "$CMD_TIMEOUT" "$SUB" -h 127.0.0.1 -p "$PORT" -i "will-sub-$$" -t "will/$$" -v -C 1 \
        -W 15 >"$tmp/will-watch.out" 2>"$tmp/will-watch.err" &
    watch=$!
    bg_pids+=("$watch")
    wait_subscribed "will-sub-$$"
    "$SUB" -h 127.0.0.1 -p "$PORT" -i "will-owner-$$" -t "nothing/$$" -k 5 \
        --will-topic "will/$$" --will-payload "gone" --will-qos 1 >"$tmp/will-owner.out" \
        2>"$tmp/will-owner.err" &
    owner=$!
    bg_pids+=("$owner")
    wait_subscribed "will-owner-$$"
    kill -KILL "$owner"
    wait "$owner" 2>/dev/null || true
    wait "$watch" || die "the will did not arrive"
    expect_line "$tmp/will-watch.out" "will/$$ gone"
    say "will published when its owner died: ok"
    # Payload sources: -l (a message per line), -f (a file), -n (empty).
    timeout "$CMD_TIMEOUT" "$SUB" -h 127.0.0.1 -p "$PORT" -i "src-sub-$$" -t "src/$$" -q 1 -C 4 \
        -W 15 >"$tmp/src-sub.out" 2>"$tmp/src-sub.err" &
    sp=$!
    bg_pids+=("$sp")
    wait_subscribed "src-sub-$$"
    printf 'line one\nline two\n' | timeout "$CMD_TIMEOUT" "$PUB" -h 127.0.0.1 -p "$PORT" \
        -t "src/$$" -q 1 -l || die "-l failed"
    printf 'from a file' >"$tmp/payload.txt"
    timeout "$CMD_TIMEOUT" "$PUB" -h 127.0.0.1 -p "$PORT" -t "src/$$" -q 1 -f "$tmp/payload.txt" ||
        die "-f failed"
    timeout "$CMD_TIMEOUT" "$PUB" -h 127.0.0.1 -p "$PORT" -t "src/$$" -q 1 -n || die "-n failed"
    wait "$sp" || die "the subscriber of -l/-f/-n failed"
    printf 'line one\nline two\nfrom a file\n\n' | cmp -s - "$tmp/src-sub.out" ||
        die "-l/-f/-n payloads differ"
    say "payloads from -l, -f and -n: ok"
    ;;
tls)
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true
$(tls_listener)"
    start_broker
    TLSPORT=$WSPORT
    pub_sub_round tls -h localhost -p "$TLSPORT" --cafile "$tmp/certs/ca.pem"
    uv_round tls -h localhost -p "$TLSPORT" --cafile "$tmp/certs/ca.pem"
    # The certificate also names 127.0.0.1.
    timeout "$CMD_TIMEOUT" "$PUB" -h 127.0.0.1 -p "$TLSPORT" --cafile "$tmp/certs/ca.pem" \
        -t "it/ip" -m x -q 1 || die "TLS to 127.0.0.1 failed"
    say "TLS with the IP address verified: ok"
    ;;
ws)
    # mosquitto 2.0.11 starts only with a plain listener next to a websockets one.
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true
listener @WSPORT@ 127.0.0.1
protocol websockets"
    start_broker
    pub_sub_round ws -h 127.0.0.1 -p "$WSPORT" --ws /mqtt
    uv_round ws -h 127.0.0.1 -p "$WSPORT" --ws /mqtt
    # A WebSocket client against the plain MQTT listener gets a clear error.
    expect_failure ws-to-mqtt "WebSocket|closed|reset" "$PUB" -h 127.0.0.1 -p "$PORT" --ws /mqtt \
        -t x -m y
    ;;
wss)
    certs
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true
listener @WSPORT@ 127.0.0.1
protocol websockets
cafile $tmp/certs/ca.pem
certfile $tmp/certs/server.pem
keyfile $tmp/certs/server.key"
    start_broker
    pub_sub_round wss -h localhost -p "$WSPORT" --ws /mqtt --cafile "$tmp/certs/ca.pem"
    uv_round wss -h localhost -p "$WSPORT" --ws /mqtt --cafile "$tmp/certs/ca.pem"
    expect_failure wss-wrong-ca "certificate verify failed" "$PUB" -h localhost -p "$WSPORT" \
        --ws /mqtt --cafile "$tmp/certs/other-ca.pem" -t x -m y
    ;;
unix)
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true
listener 0 @TMP@/mqtt.sock"
    start_broker
    for _ in $(seq 50); do
        [ -S "$tmp/mqtt.sock" ] && break
        sleep 0.1
    done
    pub_sub_round unix --unix "$tmp/mqtt.sock"
    uv_round unix --unix "$tmp/mqtt.sock"
    expect_failure unix-missing "No such file" "$PUB" --unix "$tmp/none.sock" -t x -m y
    ;;
bad-cert)
    certs
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true
$(tls_listener)
require_certificate false"
    start_broker
    TLSPORT=$WSPORT
    # Wrong CA: the server certificate cannot be verified.
    expect_failure wrong-ca "certificate verify failed" "$PUB" -h localhost -p "$TLSPORT" \
        --cafile "$tmp/certs/other-ca.pem" -t x -m y
    expect_failure wrong-ca-sub "certificate verify failed" "$SUB" -h localhost -p "$TLSPORT" \
        --cafile "$tmp/certs/other-ca.pem" -t x
    if [ -x "$UV" ]; then
        expect_failure wrong-ca-uv "certificate verify failed" "$UV" -h localhost -p "$TLSPORT" \
            --cafile "$tmp/certs/other-ca.pem"
    fi
    # The certificate is for localhost and 127.0.0.1, not this name.
    expect_failure wrong-name "hostname mismatch" "$PUB" -h localhost -p "$TLSPORT" \
        --cafile "$tmp/certs/ca.pem" --tls-server-name broker.example -t x -m y
    # --insecure skips the checks.
    timeout "$CMD_TIMEOUT" "$PUB" -h localhost -p "$TLSPORT" --cafile "$tmp/certs/other-ca.pem" \
        --insecure -t x -m y -q 1 || die "--insecure did not connect"
    say "--insecure: ok"
    # TLS to a plain listener, plain to a TLS listener.
    expect_failure tls-to-plain "TLS|reset|closed" "$PUB" -h localhost -p "$PORT" \
        --cafile "$tmp/certs/ca.pem" -t x -m y
    expect_failure plain-to-tls "reset|closed" "$PUB" -h localhost -p "$TLSPORT" -t x -m y
    # A CA file that does not exist.
    expect_failure missing-ca "cannot load CA certificates" "$PUB" -h localhost -p "$TLSPORT" \
        --cafile "$tmp/none.pem" -t x -m y
    stop_broker
    # Client certificates required: without one, refused; with one, accepted.
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true
$(tls_listener)
require_certificate true"
    start_broker
    TLSPORT=$WSPORT
    expect_failure no-client-cert "certificate required|alert|closed|reset" "$PUB" -h localhost \
        -p "$TLSPORT" --cafile "$tmp/certs/ca.pem" -t x -m y -q 1
    expect_failure foreign-client-cert "alert|closed|reset" "$PUB" -h localhost -p "$TLSPORT" \
        --cafile "$tmp/certs/ca.pem" --cert "$tmp/certs/other-client.pem" \
        --key "$tmp/certs/other-client.key" -t x -m y -q 1
    timeout "$CMD_TIMEOUT" "$PUB" -h localhost -p "$TLSPORT" --cafile "$tmp/certs/ca.pem" \
        --cert "$tmp/certs/client.pem" --key "$tmp/certs/client.key" -t x -m y -q 1 ||
        die "the client certificate was not accepted"
    say "client certificate accepted: ok"
    ;;
not-authorized)
    command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd missing (mosquitto package)"
    mosquitto_passwd -b -c "$tmp/passwd" alice wonderland >/dev/null 2>&1
    printf 'user alice\ntopic readwrite open/#\n' >"$tmp/acl"
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous false
password_file @TMP@/passwd
acl_file @TMP@/acl"
    start_broker
    expect_failure anonymous "connection refused: NOT_AUTHORIZED \(0x87\)" "$PUB" -h 127.0.0.1 \
        -p "$PORT" -t open/x -m y
    # mosquitto 2.0.11 answers a wrong password with 0x87 too.
    expect_failure wrong-password \
        "connection refused: (BAD_USERNAME_OR_PASSWORD \(0x86\)|NOT_AUTHORIZED \(0x87\))" "$PUB" \
        -h 127.0.0.1 -p "$PORT" -u alice -P wrong -t open/x -m y
    expect_failure anonymous-sub "connection refused: NOT_AUTHORIZED \(0x87\)" "$SUB" \
        -h 127.0.0.1 -p "$PORT" -t open/x
    if [ -x "$UV" ]; then
        expect_failure anonymous-uv "connection refused: NOT_AUTHORIZED \(0x87\)" "$UV" \
            -h 127.0.0.1 -p "$PORT"
    fi
    timeout "$CMD_TIMEOUT" "$PUB" -h 127.0.0.1 -p "$PORT" -u alice -P wonderland -t open/x -m y \
        -q 1 || die "alice could not publish"
    say "valid credentials accepted: ok"
    # The ACL forbids this topic: mosquitto answers the QoS 1 PUBLISH with 0x87.
    expect_failure acl-publish "publish failed: refused by the server: NOT_AUTHORIZED \(0x87\)" \
        "$PUB" -h 127.0.0.1 \
        -p "$PORT" -u alice -P wonderland -t closed/x -m y -q 1
    # Nothing listens on this port any more.
    stop_broker
    expect_failure refused-port "Connection refused" "$PUB" -h 127.0.0.1 -p "$PORT" -t x -m y
    ;;
resume)
    [ -x "$RESUME" ] || die "$RESUME missing"
    conf_body="listener @PORT@ 127.0.0.1
allow_anonymous true"
    start_broker
    # The client goes through a proxy that can cut its connection while the
    # broker keeps the session (Session Expiry Interval 300).
    # (No timeout(1) around it: the signal must reach the proxy; it ends
    # itself after 120 s.)
    python3 "$(dirname "$0")/drop_proxy.py" "$PORT" "$tmp/proxy.port" >"$tmp/proxy.out" \
        2>"$tmp/proxy.err" &
    proxy=$!
    bg_pids+=("$proxy")
    for _ in $(seq 50); do
        [ -s "$tmp/proxy.port" ] && break
        sleep 0.1
    done
    [ -s "$tmp/proxy.port" ] || die "the proxy did not start"
    PROXY_PORT=$(cat "$tmp/proxy.port")
    id="resume-$$"
    timeout 60 "$RESUME" 127.0.0.1 "$PROXY_PORT" "$id" "resume/$$" >"$tmp/resume.out" \
        2>"$tmp/resume.err" &
    rp=$!
    bg_pids+=("$rp")
    for _ in $(seq 100); do
        grep -qx ready "$tmp/resume.out" 2>/dev/null && break
        sleep 0.1
    done
    grep -qx ready "$tmp/resume.out" || die "blocking_resume did not get ready"
    # Cut the connection, then publish: the message waits in the session.
    kill -USR1 "$proxy"
    expect_log "Client $id closed its connection."
    timeout "$CMD_TIMEOUT" "$PUB" -h 127.0.0.1 -p "$PORT" -t "resume/$$/x" -m "after-cut" \
        -q 1 || die "publishing while the client was away failed"
    status=0
    wait "$rp" || status=$?
    [ "$status" -eq 0 ] || die "blocking_resume exited with $status"
    expect_line "$tmp/resume.out" "received topic=resume/$$/x qos=1 payload=after-cut"
    expect_line "$tmp/resume.out" "reconnects=1 session_present=1"
    expect_line "$tmp/resume.out" "published qos=2"
    expect_line "$tmp/resume.out" "disconnected"
    expect_log "as $id (p5, c0"
    say "reconnect with session resumption: ok"
    ;;
*)
    echo "usage: $0 tcp|tls|ws|wss|unix|bad-cert|not-authorized|resume BIN_DIR GEN_CERTS" >&2
    exit 2
    ;;
esac
# Under -Db_sanitize=address,undefined a report can hide behind a failure
# that was expected, or behind an exit status of 0 (UBSan): none may appear.
for f in "$tmp"/*.err; do
    if [ -f "$f" ] && grep -qE "Sanitizer|runtime error:" "$f"; then
        die "a sanitizer report in ${f##*/}"
    fi
done
say "PASS"
