#!/bin/sh
# bin/netem-proxy in front of a TCP echo server (the binary's own --echo-server test aid):
# byte-exact forwarding of 64 MiB both ways, rules applied per source host (latency, slicing,
# partition with release and with reset), and the control API's answers to bad input.
# Uses $BIN (set by scripts/run-shell-tests.sh), ports picked by the kernel, and kills what it
# starts.
set -eu
NAME=netem_proxy
. "$(dirname "$0")/../lib/harness.sh"
P="$BIN/netem-proxy"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$P" --echo-server 127.0.0.1:0 >"$T/echo.out" 2>&1 &
pids="$pids $!"
EPORT=$(wait_line "$T/echo.out" 's/^echo 127\.0\.0\.1:\([0-9]*\)$/\1/p') || fail "echo server did not start"

"$P" --seed 7 --host client=127.0.0.5 --proxy "node,127.0.0.1:0,127.0.0.1:$EPORT" \
	>"$T/proxy.out" 2>&1 &
PPID_=$!
pids="$pids $PPID_"
CPORT=$(wait_line "$T/proxy.out" 's/^control 127\.0\.0\.1:\([0-9]*\)$/\1/p') || fail "proxy did not start"
PPORT=$(wait_line "$T/proxy.out" 's/^proxy node 127\.0\.0\.1:\([0-9]*\) .*/\1/p') || fail "no proxy line"
API="http://127.0.0.1:$CPORT"

# ---- byte-exact forwarding, both directions ----
head -c 67108864 /dev/urandom >"$T/in.bin"
"$P" --pipe-client "127.0.0.1:$PPORT" <"$T/in.bin" >"$T/out.bin" || fail "pipe client failed"
a=$(sha256sum <"$T/in.bin"); b=$(sha256sum <"$T/out.bin")
[ "$a" = "$b" ] || fail "64 MiB through the proxy and back differ ($(wc -c <"$T/out.bin") bytes back)"
ok "64 MiB of random bytes forwarded byte-exactly both ways"

# ---- control API: good and bad requests ----
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
[ "$(code "$API/proxies")" = 200 ] || fail "GET /proxies"
grep -q '"name":"node"' "$T/body" || fail "GET /proxies does not list node: $(cat "$T/body")"
grep -q '"bytes_in":67108864' "$T/body" || fail "byte counters: $(cat "$T/body")"
[ "$(code -X POST "$API/rules" -d '{"latency": ')" = 400 ] || fail "bad JSON not 400"
grep -q '"error_message":"bad JSON' "$T/body" || fail "bad JSON message: $(cat "$T/body")"
[ "$(code -X POST "$API/rules" -d '{"latency": 250}')" = 400 ] || fail "bad field not 400"
grep -q 'latency:' "$T/body" || fail "bad field message does not name the field: $(cat "$T/body")"
[ "$(code -X POST "$API/rules" -d '{"latncy": "1ms"}')" = 400 ] || fail "unknown key not 400"
grep -q 'unknown key' "$T/body" || fail "unknown key message: $(cat "$T/body")"
[ "$(code -X DELETE "$API/rules/99")" = 400 ] || fail "unknown rule not 400"
grep -q 'unknown rule' "$T/body" || fail "unknown rule message: $(cat "$T/body")"
[ "$(code -X PATCH "$API/rules/abc" -d '{}')" = 400 ] || fail "bad rule id not 400"
[ "$(code "$API/nowhere")" = 404 ] || fail "unknown path not 404"
[ "$(code -X POST "$API/rules" -d '[{"latency":"1ms"},{"loss":7}]')" = 400 ] || fail "bad array not 400"
grep -q 'rules\[1\]: loss' "$T/body" || fail "array error does not name the element: $(cat "$T/body")"
[ "$(code "$API/rules")" = 200 ] || fail "GET /rules"
[ "$(cat "$T/body")" = '{"rules":[]}' ] || fail "a failed request added rules: $(cat "$T/body")"
ok "control API answers bad JSON, bad fields and unknown rules with 400 and a message"

# ---- endpoints added and removed at run time ----
[ "$(code -X POST "$API/proxies" -d "{\"name\":\"extra/1\",\"listen\":\"127.0.0.1:0\",\"target\":\"127.0.0.1:$EPORT\"}")" = 201 ] ||
	fail "POST /proxies: $(cat "$T/body")"
XPORT=$(sed -n 's/.*"listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$T/body")
[ "$(echo extra | "$P" --pipe-client "127.0.0.1:$XPORT")" = extra ] || fail "added endpoint does not forward"
[ "$(code -X POST "$API/proxies" -d '{"name":"x","listen":"127.0.0.1:0"}')" = 400 ] || fail "POST /proxies without target not 400"
[ "$(code -X DELETE "$API/proxies/extra/1")" = 200 ] || fail "DELETE /proxies/extra/1: $(cat "$T/body")"
if echo gone | "$P" --pipe-client "127.0.0.1:$XPORT" >/dev/null 2>&1; then fail "removed endpoint still listens"; fi
[ "$(code -X DELETE "$API/proxies/extra/1")" = 400 ] || fail "DELETE of an unknown proxy not 400"
ok "endpoints added and removed through the control API"

# ---- latency applies per source host, and rules can be changed and removed ----
[ "$(code -X POST "$API/rules" -d '{"from":"client","to":"node","latency":"300ms","one_way":true}')" = 201 ] ||
	fail "add latency rule: $(cat "$T/body")"
id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$T/body")
t0=$(now_ms)
echo ping | "$P" --pipe-client "127.0.0.1:$PPORT" --bind 127.0.0.5 >"$T/ping" || fail "client failed"
dt=$(( $(now_ms) - t0 ))
[ "$(cat "$T/ping")" = ping ] || fail "ping came back as $(cat "$T/ping")"
[ "$dt" -ge 290 ] || fail "latency rule not applied to client: round trip ${dt} ms"
[ "$(code -X PATCH "$API/rules/$id" -d '{"latency":"1ms"}')" = 200 ] || fail "PATCH: $(cat "$T/body")"
grep -q '"latency":"1ms"' "$T/body" || fail "PATCH did not change latency: $(cat "$T/body")"
[ "$(code -X DELETE "$API/rules/$id")" = 200 ] || fail "DELETE rule"
ok "latency rule applied to its source host (${dt} ms round trip), changed and removed"

# ---- bandwidth: 1 MB one way at 1 MB/s takes at least a second ----
[ "$(code -X POST "$API/rules" -d '{"from":"client","to":"node","one_way":true,"bandwidth":"8mbit","queue":"64KiB"}')" = 201 ] ||
	fail "add bandwidth rule: $(cat "$T/body")"
head -c 1000000 /dev/urandom >"$T/mb.bin"
t0=$(now_ms)
"$P" --pipe-client "127.0.0.1:$PPORT" --bind 127.0.0.5 <"$T/mb.bin" >"$T/mb.out" || fail "client failed (bandwidth)"
dt=$(( $(now_ms) - t0 ))
cmp -s "$T/mb.bin" "$T/mb.out" || fail "bandwidth shaping changed the bytes"
[ "$dt" -ge 950 ] || fail "1 MB at 1 MB/s took only ${dt} ms"
[ "$(code -X POST "$API/reset")" = 200 ] || fail "reset"
ok "bandwidth enforced: 1 MB at 8 mbit/s in ${dt} ms, bytes intact"

# ---- slicing and jitter keep bytes and order ----
head -c 4194304 /dev/urandom >"$T/small.bin"
[ "$(code -X POST "$API/rules" -d '{"latency":"2ms","jitter":"2ms","distribution":"normal","slices":5,"slice_gap":"100us"}')" = 201 ] ||
	fail "add slicing rule: $(cat "$T/body")"
"$P" --pipe-client "127.0.0.1:$PPORT" <"$T/small.bin" >"$T/small.out" || fail "client failed (slices)"
cmp -s "$T/small.bin" "$T/small.out" || fail "slicing/jitter changed the bytes"
[ "$(code -X POST "$API/reset")" = 200 ] || fail "reset"
grep -q '"removed":1' "$T/body" || fail "reset did not remove the rule: $(cat "$T/body")"
ok "sliced, jittered writes arrive whole and in order"

# ---- a partition holds bytes; healing releases them ----
[ "$(code -X POST "$API/rules" -d '{"from":"client","to":"node","partition":true}')" = 201 ] ||
	fail "add partition: $(cat "$T/body")"
id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$T/body")
echo held | "$P" --pipe-client "127.0.0.1:$PPORT" --bind 127.0.0.5 >"$T/held" 2>&1 &
cpid=$!
pids="$pids $cpid"
sleep 1
[ ! -s "$T/held" ] || fail "bytes crossed a partition: $(cat "$T/held")"
kill -0 "$cpid" 2>/dev/null || fail "client gave up during the partition"
# other hosts are not partitioned
echo free | "$P" --pipe-client "127.0.0.1:$PPORT" --bind 127.0.0.6 >"$T/free" || fail "unpartitioned client failed"
[ "$(cat "$T/free")" = free ] || fail "unpartitioned client got $(cat "$T/free")"
[ "$(code -X DELETE "$API/rules/$id")" = 200 ] || fail "heal"
wait "$cpid" || fail "held client failed after healing"
[ "$(cat "$T/held")" = held ] || fail "held bytes came back as $(cat "$T/held")"
ok "partition held the client's bytes for 1 s; healing released them"

# ---- an established connection: bytes written into a partition wait for the healing ----
mkfifo "$T/fifo"
"$P" --pipe-client "127.0.0.1:$PPORT" --bind 127.0.0.5 <"$T/fifo" >"$T/live" 2>&1 &
cpid=$!
pids="$pids $cpid"
exec 3>"$T/fifo"
echo before >&3
wait_line "$T/live" '/^before$/p' >/dev/null || fail "established connection does not forward"
[ "$(code -X POST "$API/rules" -d '{"from":"node","to":"client","partition":true}')" = 201 ] ||
	fail "add partition: $(cat "$T/body")"
id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$T/body")
echo during >&3
sleep 1
[ "$(cat "$T/live")" = before ] || fail "bytes crossed the partition: $(cat "$T/live")"
[ "$(code -X DELETE "$API/rules/$id")" = 200 ] || fail "heal"
wait_line "$T/live" '/^during$/p' >/dev/null || fail "held bytes were not released"
exec 3>&-
wait "$cpid" || fail "client failed after healing"
[ "$(printf 'before\nduring')" = "$(cat "$T/live")" ] || fail "after healing got $(cat "$T/live")"
ok "bytes written into a partition on an open connection were held, then released in order"

# ---- a partition that heals by resetting, with an expiry ----
[ "$(code -X POST "$API/rules" -d '{"from":"client","to":"node","partition":true,"heal":"reset","for":"500ms"}')" = 201 ] ||
	fail "add expiring partition: $(cat "$T/body")"
if echo gone | "$P" --pipe-client "127.0.0.1:$PPORT" --bind 127.0.0.5 >"$T/gone" 2>"$T/gone.err"; then
	fail "a partition healing by reset let the client finish: $(cat "$T/gone")"
fi
[ ! -s "$T/gone" ] || fail "bytes crossed a resetting partition"
[ "$(code "$API/rules")" = 200 ] && [ "$(cat "$T/body")" = '{"rules":[]}' ] ||
	fail "the expired rule is still listed: $(cat "$T/body")"
echo back | "$P" --pipe-client "127.0.0.1:$PPORT" --bind 127.0.0.5 >"$T/back" || fail "client after expiry"
[ "$(cat "$T/back")" = back ] || fail "after expiry got $(cat "$T/back")"
ok "expiring partition reset the held connection at healing, then stopped applying"

# ---- orderly exit ----
kill -TERM "$PPID_"
wait "$PPID_" || fail "proxy exited with an error on SIGTERM: $(cat "$T/proxy.out")"
ok "proxy stops on SIGTERM"
