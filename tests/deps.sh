#!/bin/bash
# Installs, with apt-get, the Debian packages that building and testing
# connstate need and that are not installed yet. Quiet and quick when all are.
set -eu

pkgs=(
	make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev # build
	libmicrohttpd-dev                                                     # --metrics
	libnghttp2-dev                                                        # HPACK decoder
	libcapstone-dev                                                       # Go TLS: RETs
	libcmocka-dev libclang-rt-14-dev                                      # unit tests, fuzzer
	golang-go golang-golang-x-net-dev                                     # the Go oracles
	nginx-light busybox-static python3 curl                               # real servers
	openssl jq                                                            # tls: certificate, JSON
	util-linux iproute2                                                   # setpriv, unshare
	man-db prometheus                                                     # man -l; a real scrape of --metrics
	strace                                                                # load: partial attach
	nghttp2-client nghttp2-server jq                                      # h2servers: nghttp, h2load, nghttpd
	wrk                                                                   # load: faults, soak
	python3-h2                                                            # tls_h2: its h2 server (for /usr/bin/python3)
)
if [ "${BENCH:-0}" = 1 ]; then
	pkgs+=(wrk bpftrace)
fi
if [ "${VMTEST:-0}" = 1 ]; then
	pkgs+=(qemu-system-x86 bash-static cpio)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
# A newer Go for the Go TLS oracle (oracle_tls_go1.23): only in
# bookworm-backports, added in a sources file of our own if apt lacks it.
if ! dpkg-query -W -f='${Status}' golang-1.23-go 2>/dev/null | grep -q 'install ok installed' &&
	[ "$(id -u)" -eq 0 ]; then
	if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
		printf '%s\n' '# Added by connstate tests/deps.sh: golang-1.23-go' 'Types: deb' \
			'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
			'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
			>/etc/apt/sources.list.d/connstate-backports.sources
		apt-get update -qq
	fi
	echo "  APT      golang-1.23-go (bookworm-backports)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-t bookworm-backports golang-1.23-go >/dev/null
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "connstate: missing packages: ${missing[*]}; run as root to install them with apt-get" >&2
	exit 1
fi
echo "  APT      ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
