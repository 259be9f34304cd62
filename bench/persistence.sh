#!/usr/bin/env bash
# What persistence costs: QoS 1 throughput and latency of mqttproto-broker
# without persistence, with `persistence_mode periodic` and with
# `persistence_mode sync`, and of mosquitto with `persistence true`, all in
# one run, with bench/persist_load (publishers to subscribers that hold
# persistent sessions, so every message a broker acknowledges is one it must
# store). Loopback only.
#
# Build (a release build; examples on, for the broker; tests may be off):
#
#   meson setup build-rel --buildtype=release      # needs libuv1-dev, libsqlite3-dev, ...
#   #   (an existing build-rel made with -Dexamples=false: meson configure build-rel -Dexamples=true)
#   meson compile -C build-rel examples/broker/mqttproto-broker bench/persist_load
#   bash bench/persistence.sh [BROKER]
#
# BROKER (argument or environment): the mqttproto-broker binary, default
# build-rel/examples/broker/mqttproto-broker. Other environment:
#   LOAD       persist_load binary (default: bench/persist_load of BROKER's build directory)
#   MOSQUITTO  mosquitto binary (default /usr/sbin/mosquitto; "none" skips it)
#   MOSQUITTO_OFF=1  also mosquitto with `persistence false`, for reference
#   REPS (3)   persist_load runs per broker, each on the same broker process
#   SECS (5)   measured seconds per run
#   PUBS (4), SUBS (1), WINDOW (100), QOS (1), SUB_QOS (1), SIZE (64): persist_load -P -S -w -q -Q -s
#   AUTOSAVE (1)  autosave_interval of `periodic` and of mosquitto, in seconds (their
#              defaults are 60 and 1800: with those neither would save during a run)
#   TMPBASE    where the temporary directories go (default ${TMPDIR:-/tmp}); the data
#              directories are there, so it must be a real disk for `sync` to mean anything
#   KEEP=1     keep the temporary directory (configs, logs, stores) at the end
#
# Each broker gets a fresh temporary directory (config, log, data directory)
# and a free port on 127.0.0.1; the script waits until the port accepts
# connections, runs persist_load REPS times, stops the broker with SIGTERM by
# its PID (SIGKILL after 20 s) and prints the medians side by side.
# mqttproto-broker gets max_queued_messages 100000 and mosquitto
# max_queued_messages 0 (no limit): persist_load's window bounds the
# messages not yet delivered, but not the deliveries whose PUBACK the broker
# has not read yet; and mosquitto 2.0.11 dropped messages for the subscriber
# ("Outgoing messages are being dropped") with its default of 1000 at the
# start of runs, and with 32 publishers even with 100000.
#
# With the defaults a run takes about 70 s (90 s with MOSQUITTO_OFF=1).
#
# Exit status: 0; 1 when a broker did not start or a run failed (the table
# is printed all the same, with what ran); 2 for a usage error.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

BROKER=${1:-${BROKER:-$ROOT/build-rel/examples/broker/mqttproto-broker}}
[ $# -gt 1 ] && { echo "usage: $0 [BROKER]" >&2; exit 2; }
if [ -d "$(dirname "$BROKER")" ]; then
  BROKER=$(cd "$(dirname "$BROKER")" && pwd)/$(basename "$BROKER")
fi
LOAD=${LOAD:-$(dirname "$(dirname "$(dirname "$BROKER")")")/bench/persist_load}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
REPS=${REPS:-3}
SECS=${SECS:-5}
PUBS=${PUBS:-4}
SUBS=${SUBS:-1}
WINDOW=${WINDOW:-100}
QOS=${QOS:-1}
SUB_QOS=${SUB_QOS:-1}
SIZE=${SIZE:-64}
AUTOSAVE=${AUTOSAVE:-1}
TMPBASE=${TMPBASE:-${TMPDIR:-/tmp}}
KEEP=${KEEP:-0}
MOSQUITTO_OFF=${MOSQUITTO_OFF:-0}

for v in REPS SECS PUBS SUBS WINDOW QOS SUB_QOS SIZE AUTOSAVE; do
  case ${!v} in '' | *[!0-9]*) echo "$0: $v must be a number" >&2; exit 2 ;; esac
done
[ -x "$BROKER" ] || { echo "$0: no broker at $BROKER (build it: see the comment at the top)" >&2; exit 2; }
[ -x "$LOAD" ] || { echo "$0: no persist_load at $LOAD (set LOAD)" >&2; exit 2; }
if [ "$MOSQUITTO" != none ] && [ ! -x "$MOSQUITTO" ]; then
  echo "$0: no mosquitto at $MOSQUITTO (apt-get install mosquitto, or MOSQUITTO=none)" >&2
  exit 2
fi

WORK=$(mktemp -d "$TMPBASE/persistence-bench.XXXXXX") || exit 2
BPID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  stop_broker
  if [ "$KEEP" = 1 ]; then
    echo "kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port on 127.0.0.1 that nothing listens on (the kernel's choice).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null && return
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}

# start_broker LOG CMD...: runs CMD in the background, waits (10 s at most)
# until PORT accepts connections.
start_broker() {
  local log=$1
  shift
  "$@" >>"$log" 2>&1 &
  BPID=$!
  for _ in $(seq 200); do
    if ! kill -0 "$BPID" 2>/dev/null; then
      wait "$BPID" 2>/dev/null
      echo "broker exited at start (status $?); its log:" >&2
      tail -n 20 "$log" >&2
      BPID=
      return 1
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "broker did not accept connections on 127.0.0.1:$PORT within 10 s" >&2
  stop_broker
  return 1
}

# Stops the broker we started, by its PID: SIGTERM, then SIGKILL after 20 s.
stop_broker() {
  [ -n "$BPID" ] || return 0
  kill -TERM "$BPID" 2>/dev/null
  for _ in $(seq 200); do
    kill -0 "$BPID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$BPID" 2>/dev/null; then
    echo "broker $BPID still running 20 s after SIGTERM: SIGKILL" >&2
    kill -KILL "$BPID" 2>/dev/null
  fi
  wait "$BPID" 2>/dev/null
  BSTATUS=$?
  BPID=
}

FAILED=0
NAMES=()
declare -A LABEL

# run_config NAME LABEL: start the broker NAME (set up in $DIR), run the load.
run_config() {
  local name=$1 label=$2 log=$DIR/broker.log
  NAMES+=("$name")
  LABEL[$name]=$label
  echo "== $label (port $PORT, $DIR)"
  shift 2
  if ! start_broker "$log" "$@"; then
    FAILED=1
    return
  fi
  local r rc
  for r in $(seq "$REPS"); do
    timeout $((SECS + 60)) "$LOAD" -p "$PORT" -P "$PUBS" -S "$SUBS" -w "$WINDOW" -q "$QOS" \
      -Q "$SUB_QOS" -s "$SIZE" -t "$SECS" >"$OUT/$name.$r.log" 2>&1
    rc=$?
    echo "  run $r: $(grep '^persist_load ' "$OUT/$name.$r.log" || tail -n 3 "$OUT/$name.$r.log")"
    if [ "$rc" -ne 0 ]; then
      echo "  run $r: persist_load exit status $rc" >&2
      grep -v '^persist_load ' "$OUT/$name.$r.log" | head -n 5 >&2
      FAILED=1
    fi
  done
  stop_broker
  [ "$BSTATUS" -eq 0 ] || { echo "  broker exit status $BSTATUS (log: $log)" >&2; FAILED=1; }
  local db
  db=$(du -sk "$DIR/data" 2>/dev/null | cut -f1)
  [ -n "$db" ] && echo "  data directory after the stop: ${db} KiB"
  return 0
}

OUT=$WORK/logs
mkdir -p "$OUT"

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); data on $(df -T "$WORK" | awk 'NR==2 {print $2, $1}')"
# 200 synchronous 4 KiB writes (O_DSYNC): about what one commit waits for, at least.
dd if=/dev/zero of="$WORK/fsync-probe" bs=4k count=200 oflag=dsync 2>&1 |
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) t = $(i-1); printf "disk probe (dd oflag=dsync): %.0f us per 4 KiB synchronous write\n", t / 200 * 1e6 }'
rm -f "$WORK/fsync-probe"
echo "broker: $BROKER ($("$BROKER" --version 2>&1 | head -n 1))"
[ "$MOSQUITTO" != none ] && echo "mosquitto: $MOSQUITTO ($("$MOSQUITTO" -h 2>&1 | head -n 1))"
echo "load: persist_load -P $PUBS -S $SUBS -w $WINDOW -q $QOS -Q $SUB_QOS -s $SIZE -t $SECS, $REPS runs per broker"
echo

for mode in off periodic sync; do
  DIR=$WORK/ours-$mode
  mkdir -p "$DIR"
  PORT=$(free_port) || { echo "no free port" >&2; exit 1; }
  {
    echo "listener 127.0.0.1:$PORT"
    echo "max_queued_messages 100000"
    if [ "$mode" != off ]; then
      echo "persistence_mode $mode"
      [ "$mode" = periodic ] && echo "autosave_interval $AUTOSAVE"
    fi
  } >"$DIR/broker.conf"
  args=(-c "$DIR/broker.conf")
  [ "$mode" != off ] && args+=(--data-dir "$DIR/data")
  case $mode in
  off) label="mqttproto-broker, persistence off" ;;
  periodic) label="mqttproto-broker, periodic (autosave_interval $AUTOSAVE)" ;;
  sync) label="mqttproto-broker, sync" ;;
  esac
  run_config "ours-$mode" "$label" "$BROKER" "${args[@]}"
done

MQ_MODES=()
if [ "$MOSQUITTO" != none ]; then
  MQ_MODES=(true)
  [ "$MOSQUITTO_OFF" = 1 ] && MQ_MODES+=(false)
fi
for p in "${MQ_MODES[@]}"; do
  DIR=$WORK/mosquitto-$p
  mkdir -p "$DIR/data"
  PORT=$(free_port) || { echo "no free port" >&2; exit 1; }
  {
    echo "listener $PORT 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence $p"
    if [ "$p" = true ]; then
      echo "persistence_location $DIR/data/"
      echo "autosave_interval $AUTOSAVE"
    fi
    echo "max_queued_messages 0"
    echo "log_dest file $DIR/mosquitto.log"
    echo "user $(id -un)"
  } >"$DIR/mosquitto.conf"
  if [ "$p" = true ]; then
    label="mosquitto, persistence true (autosave_interval $AUTOSAVE)"
  else
    label="mosquitto, persistence false"
  fi
  run_config "mosquitto-$p" "$label" "$MOSQUITTO" -c "$DIR/mosquitto.conf"
done

median() { sort -g | awk '{v[NR]=$1} END { if (NR == 0) { print "-"; exit } if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'; }
field() { grep '^persist_load ' | grep -o " $1=[^ ]*" | head -n 1 | cut -d= -f2; }
med() { for f in "$OUT/$1".*.log; do [ -f "$f" ] && field "$2" <"$f"; done | median; }

echo
echo "== medians over $REPS runs (persist_load -P $PUBS -S $SUBS -w $WINDOW -q $QOS -Q $SUB_QOS -s $SIZE -t $SECS)"
row() { printf '| %-50s | %9s | %10s | %8s | %15s | %16s | %8s |\n' "$@"; }
row broker acked/s received/s "off / it" "p50 / p99 us" "ack p50 / p99 us" lost/dup
row "$(printf -- '-%.0s' $(seq 50))" "--------:" "---------:" "-------:" "--------------:" "---------------:" "-------:"
int() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.0f", v }'; }
base=$(med ours-off acked_per_s)
for n in "${NAMES[@]}"; do
  a=$(med "$n" acked_per_s)
  ratio=-
  if [ "$a" != - ] && [ "$base" != - ]; then
    ratio=$(awk -v a="$a" -v b="$base" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }')
  fi
  lost=$(for f in "$OUT/$n".*.log; do [ -f "$f" ] && field lost <"$f"; done | awk '{s+=$1} END {print s+0}')
  dup=$(for f in "$OUT/$n".*.log; do [ -f "$f" ] && field dup <"$f"; done | awk '{s+=$1} END {print s+0}')
  row "${LABEL[$n]}" "$(int "$a")" "$(int "$(med "$n" received_per_s)")" "$ratio" \
    "$(int "$(med "$n" p50_us)") / $(int "$(med "$n" p99_us)")" \
    "$(int "$(med "$n" ack_p50_us)") / $(int "$(med "$n" ack_p99_us)")" "$lost/$dup"
done
echo "(acked/s: acknowledgements to the publishers per second; received/s: messages the"
echo " subscribers received per second; off / it: acked/s without persistence over this row's;"
echo " p50/p99: publish to delivery; ack: publish to its PUBACK (PUBCOMP at QoS 2);"
echo " lost/dup: summed over the runs)"
exit "$FAILED"
