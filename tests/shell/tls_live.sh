#!/bin/sh
# tls_live.sh — enable_ssl on a live fl-server: curl --cacert gets /metrics over HTTPS; a client
# trusting another CA fails its handshake (curl 60) and the server logs "unknown ca"; plain HTTP
# to the TLS port gets nothing. Certificates are made here, in a temp dir, with the openssl CLI
# (nothing committed that could expire). Standalone for now; not yet in make test.
set -eu
BIN=${BIN:-bin}
T=$(mktemp -d)
PORT=${TLS_PORT:-17443}
trap 'kill $PID 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "tls_live: FAIL: $*" >&2; cat "$T/srv.log" >&2 2>/dev/null || true; exit 1; }
cd "$T"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
	-days 1 -subj /CN=flbench-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout s.key -out s.csr \
	-subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out s.crt -days 1 \
	-extfile ext 2>/dev/null
openssl pkcs12 -export -in s.crt -inkey s.key -out server.p12 -passout pass:pw
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout o.key -out o.crt \
	-days 1 -subj /CN=other 2>/dev/null
cd - >/dev/null
"$BIN/fl-server" --scheduler_port=0 --fl_server_port="$PORT" --enable_ssl \
	--server_cert_path="$T/server.p12" --server_password=wrong --data_dir="$T/d" \
	--model=synthetic:100 >"$T/bad.log" 2>&1 && fail "a wrong server_password started"
"$BIN/fl-server" --scheduler_port=0 --fl_server_port="$PORT" --enable_ssl \
	--server_cert_path="$T/server.p12" --server_password=pw --data_dir="$T/d" \
	--model=synthetic:100 >"$T/srv.log" 2>&1 &
PID=$!
i=0
until grep -q "Server started successfully" "$T/srv.log"; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "server did not start"; sleep 0.1
done
curl -sS --cacert "$T/ca.crt" "https://127.0.0.1:$PORT/metrics" | grep -q flserver_iteration ||
	fail "curl --cacert did not get /metrics"
rc=0; curl -sS --cacert "$T/o.crt" "https://127.0.0.1:$PORT/metrics" >/dev/null 2>&1 || rc=$?
[ $rc -eq 60 ] || fail "a wrong CA gave curl exit $rc, not 60"
rc=0; curl -sS "http://127.0.0.1:$PORT/metrics" >/dev/null 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "plain HTTP was answered on the TLS port"
sleep 0.2
grep -q "unknown ca" "$T/srv.log" || fail "the failed handshake was not logged"
echo "tls_live: ok"
