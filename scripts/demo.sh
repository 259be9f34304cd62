#!/usr/bin/env bash
# Install what is missing, build libmqttproto in build/, then show it at
# work: start mqttproto-broker on 127.0.0.1:1883, subscribe with
# mqttproto-sub, publish with mqttproto-pub at QoS 0, 1 and 2 and a retained
# message, print what the subscriber received, and stop the broker by its
# PID. Last, run the codec demonstration (examples/codec_demo.c).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build
fi
meson compile -C build

broker=build/examples/broker/mqttproto-broker
pub=build/examples/client/mqttproto-pub
sub=build/examples/client/mqttproto-sub
for exe in "$broker" "$pub" "$sub"; do
    if [ ! -x "$exe" ]; then
        echo "demo: $exe was not built (are libuv1-dev and libssl-dev installed?)" >&2
        exit 1
    fi
done

work=$(mktemp -d)
broker_pid=
sub_pid=
cleanup()
{
    if [ -n "$sub_pid" ]; then kill "$sub_pid" 2>/dev/null || true; fi
    if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo
echo "== mqttproto-broker on 127.0.0.1:1883 (stopped after 30 s at most)"
timeout 30 "$broker" --listen 127.0.0.1:1883 --log-level info 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 1 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
        break
    fi
    if ! kill -0 "$broker_pid" 2>/dev/null; then
        echo "demo: the broker did not start:" >&2
        cat "$work/broker.log" >&2
        exit 1
    fi
    sleep 0.1
done

echo "== mqttproto-sub -v -t 'demo/#' -C 4 (QoS 2)"
timeout 20 "$sub" -h 127.0.0.1 -p 1883 -t 'demo/#' -q 2 -v -C 4 >"$work/received" &
sub_pid=$!
sleep 0.5

for q in 0 1 2; do
    echo "== mqttproto-pub -t demo/qos$q -m 'hello at QoS $q' -q $q"
    timeout 10 "$pub" -h 127.0.0.1 -p 1883 -t "demo/qos$q" -m "hello at QoS $q" -q "$q"
done
echo "== mqttproto-pub -t demo/status -m online -r (retained)"
timeout 10 "$pub" -h 127.0.0.1 -p 1883 -t demo/status -m online -r -q 1

wait "$sub_pid"
sub_pid=
echo
echo "== the subscriber received:"
cat "$work/received"

echo "== a new subscriber gets the retained message:"
timeout 10 "$sub" -h 127.0.0.1 -p 1883 -t demo/status -v -C 1

kill -TERM "$broker_pid"
wait "$broker_pid" || true
broker_pid=
echo
echo "== the broker's log:"
cat "$work/broker.log"

echo
echo "== the codec demonstration (examples/codec_demo.c)"
build/examples/codec_demo
