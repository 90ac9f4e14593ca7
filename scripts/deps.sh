#!/bin/sh
# Install the Debian packages flbench needs, or say exactly what to install.
set -eu
PKGS="build-essential libuv1-dev libcjson-dev node-llhttp libopenblas-dev check gnuplot-nox
dataset-fashion-mnist faketime zlib1g-dev pkg-config curl"
# used only by `make bench` (small-request rate, peak memory); installed with the rest so the
# benchmark figures are measured everywhere
PKGS="$PKGS wrk time"
# tests/shell/deploy_manifests.sh reads the Kubernetes manifests with it
PKGS="$PKGS python3-yaml"
# libFuzzer for `make fuzz` and the fuzz step of `make test` (clang-14 comes with it)
PKGS="$PKGS libfuzzer-14-dev"
# the device protocol: MindSpore's FlatBuffers schema compiled by flatc, its C++ runtime, and the
# Python bindings of tests/python (issue 16)
PKGS="$PKGS flatbuffers-compiler libflatbuffers-dev python3-flatbuffers g++"
# TLS (OpenSSL), the cluster secret's HMAC and secure aggregation's X25519 and PRG (libsodium)
PKGS="$PKGS libssl-dev libsodium-dev"
missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root:  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
