#!/bin/bash
# Syscalls (strace -c) and CPU per unit for HAProxy and kpath userspace mode on each native relay
# engine (KPATH_RELAY=uring, epoll), wrk -t1 -c32 for 3 s per target, keepalive and Connection:
# close. Uses the configurations a kept bench run wrote:
#   ip netns add kb-NAME && ip -n kb-NAME link set lo up
#   ip netns exec kb-NAME node bench/proxy/run.mjs --rounds 1 --duration 1 --only close \
#       --modes userspace,userspace@epoll --no-bare --keep          # prints "kept WORKDIR"
#   bench/proxy/syscalls.sh kb-NAME WORKDIR dist [strace|cpu] [rounds]
# SECOND='KPATH_RELAY=uring KPATH_RELAY_MULTISHOT=0' (env assignments) runs the second kpath with
# those instead of KPATH_RELAY=epoll (reported as "second").
# strace: syscalls per connection (close; normalised by accept4) and per request (keepalive).
# cpu: CPU µs per unit from /proc/PID/stat (tick-rounded), the targets alternating, `rounds` times.
set -u
NSNAME=$1; W=$2; DIST=$(realpath "$3"); WHAT=${4:-strace}; ROUNDS=${5:-3}
NS="ip netns exec $NSNAME"; H=$(ulimit -Hn); LIM="prlimit --nofile=$H:$H"; OUT=$(mktemp -d)
cd "$W"
$NS $LIM nginx -p "$W" -c "$W/nginx.conf" -e "$W/nginx-error.log" &
sleep 1
# ip netns exec, prlimit, env and taskset all exec: these pids are the proxies'.
$NS $LIM taskset -c 1 haproxy -db -f "$W/haproxy.cfg" > "$OUT/haproxy.log" 2>&1 &
HAP=$!
SECOND=${SECOND:-}
up() { exec $NS $LIM env $1 taskset -c 1 node "$DIST/cli/bin.js" up -f "$W/$2" --mode userspace \
  --health-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 --no-watch --api-address '' --log-level warn; }
up KPATH_RELAY=uring cluster-userspace.yaml > "$OUT/kp-uring.log" 2>&1 &
KU=$!
up "${SECOND:-KPATH_RELAY=epoll}" cluster-userspace_epoll.yaml > "$OUT/kp-epoll.log" 2>&1 &
KE=$!
trap 'kill $HAP $KU $KE; kill $(cat "$W/nginx.pid"); cat "$OUT"/kp-*.log; rm -rf "$OUT"' EXIT
sleep 6
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # name pid url [wrk args]
  local name=$1 pid=$2 url=$3; shift 3
  if [ "$WHAT" = strace ]; then
    $NS taskset -c 0 wrk -t1 -c32 -d2s "$@" "$url" > /dev/null
    timeout -s INT 3.5 strace -c -f -p "$pid" -o "$OUT/st" 2>/dev/null &
    local sp=$!; sleep 0.3
    $NS taskset -c 0 wrk -t1 -c32 -d3s "$@" "$url" > "$OUT/wrk"; wait $sp
    local req=$(awk '/requests in/ {print $1}' "$OUT/wrk")
    python3 - "$name" "$req" "$OUT/st" <<'PY'
import sys
name, req, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rows = {}
for l in open(path):
    p = l.split()
    if len(p) >= 5 and p[-1] not in ('total', 'syscall') and p[0][0].isdigit():
        rows[p[-1]] = int(p[3])
rows.pop('futex', None)  # Node's worker threads waiting
unit = rows.get('accept4', req) if name.startswith('close') else req
print(f"{name}: {sum(rows.values()) / unit:.2f} syscalls per {'connection' if name.startswith('close') else 'request'}:",
      ', '.join(f'{k} {v / unit:.2f}' for k, v in sorted(rows.items(), key=lambda kv: -kv[1]) if v / unit >= 0.01))
PY
  else
    local c0=$(cpu "$pid")
    $NS taskset -c 0 wrk -t1 -c32 -d3s "$@" "$url" > "$OUT/wrk"
    local c1=$(cpu "$pid") req=$(awk '/requests in/ {print $1}' "$OUT/wrk")
    echo "$name: $req requests, $(python3 -c "print(round(($c1-$c0)*1e4/$req,1))") µs CPU per unit, load $(cut -d' ' -f1 /proc/loadavg)"
  fi
}
[ "$WHAT" = strace ] && ROUNDS=1
EP=$(grep -m1 clusterIP "$W/cluster-userspace_epoll.yaml" | awk '{print $2}' | cut -d. -f3)
for _ in $(seq "$ROUNDS"); do
  for t in keepalive close; do
    extra=(); [ $t = close ] && extra=(-H 'Connection: close')
    run $t-haproxy $HAP http://127.77.0.80:80/ "${extra[@]}"
    run $t-uring $KU http://127.96.1.80:80/ "${extra[@]}"
    run $t-"$([ -n "$SECOND" ] && echo second || echo epoll)" $KE "http://127.96.$EP.80:80/" "${extra[@]}"
  done
done
