#!/bin/sh
# fetch-kernel.sh VERSION - fetch a Debian kernel for the VM tests.
#
# VERSION is 5.10 (bullseye), 6.1 (bookworm) or 6.12 (bookworm-backports).
# Downloads the newest matching linux-image .deb through apt, extracts
# /boot/vmlinuz-* and /boot/config-* into the cache and prints the vmlinuz
# path.  A second run reuses the cache without touching the network
# (set VMTEST_REFRESH=1 to look for a newer kernel).
#
# Env: VMTEST_CACHE (default /var/cache/connstate-vmtest).
set -eu

usage() { echo "usage: $0 5.10|6.1|6.12" >&2; exit 2; }
[ $# -eq 1 ] || usage
version=$1
cache=${VMTEST_CACHE:-/var/cache/connstate-vmtest}
sources=/etc/apt/sources.list.d/connstate-vmtest.sources
prefs=/etc/apt/preferences.d/connstate-vmtest
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# Suites to refresh and the package-name pattern for each version.  5.10
# kernels are updated in bullseye-security (LTS), 6.1 in bookworm-security,
# and newer 6.12 builds than backports' also appear in bookworm-security,
# so those suites are included to get the newest build.
case $version in
5.10) suites="bullseye bullseye-security"
      pattern='^linux-image-5\.10\.0-[0-9]+-amd64(-unsigned)?$' ;;
6.1)  suites="bookworm bookworm-security"
      pattern='^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' ;;
6.12) suites="bookworm-backports bookworm-security"
      pattern='^linux-image-6\.12\.[0-9]+\+(bpo|deb12)-amd64(-unsigned)?$' ;;
*) usage ;;
esac

dir=$cache/$version
log() { echo "fetch-kernel: $*" >&2; }

cached() {
	for f in "$dir"/vmlinuz-*; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

if [ "${VMTEST_REFRESH:-0}" != 1 ] && cached; then
	exit 0
fi

[ "$(id -u)" = 0 ] || { log "need root for apt (cache miss in $dir)"; exit 1; }

# Our own sources file, so the suites the test needs are known to apt-get
# download.  bookworm and bookworm-security are already in debian.sources.
if [ ! -f "$sources" ]; then
	log "adding $sources"
	cat >"$sources" <<EOF
# Added by connstate tests/vm/fetch-kernel.sh: kernels for VM tests.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye bookworm-backports
Components: main
Signed-By: $keyring

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bullseye-security
Components: main
Signed-By: $keyring
EOF
fi
# Keep bullseye from ever winning over bookworm for normal installs.
if [ ! -f "$prefs" ]; then
	cat >"$prefs" <<'EOF'
# Added by connstate tests/vm/fetch-kernel.sh: bullseye only for test kernels.
Package: *
Pin: release n=bullseye
Pin-Priority: 100

Package: *
Pin: release n=bullseye-security
Pin-Priority: 100
EOF
fi

# Refresh only the lists of the suites this version needs: a temporary
# sources dir holding just those suites, and no list cleanup so the other
# suites' lists stay as they are.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # reachable for apt-get download (user _apt)
mkdir "$tmp/parts"
main_suites='' sec_suites=''
for s in $suites; do
	case $s in
	*-security) sec_suites="$sec_suites $s" ;;
	*) main_suites="$main_suites $s" ;;
	esac
done
{
	if [ -n "$main_suites" ]; then
		printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites:%s\nComponents: main\nSigned-By: %s\n\n' "$main_suites" "$keyring"
	fi
	if [ -n "$sec_suites" ]; then
		printf 'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites:%s\nComponents: main\nSigned-By: %s\n' "$sec_suites" "$keyring"
	fi
} >"$tmp/parts/vmtest.sources"

log "apt-get update ($suites)"
n=0
until apt-get -q update \
	-o Dir::Etc::sourcelist=/dev/null \
	-o Dir::Etc::sourceparts="$tmp/parts" \
	-o APT::Get::List-Cleanup=0 >"$tmp/update.log" 2>&1; do
	# Another apt may hold the lists lock; wait a little and retry.
	n=$((n + 1))
	if [ $n -ge 10 ]; then cat "$tmp/update.log" >&2; exit 1; fi
	sleep 6
done

# Newest ABI first; prefer the -unsigned package (same vmlinuz, no
# Secure Boot signature, which qemu -kernel does not need).
names=$(apt-cache pkgnames linux-image- | grep -E "$pattern" || true)
[ -n "$names" ] || { log "no package matching $pattern"; exit 1; }
# Only real packages with a candidate version (one apt-cache call: each
# costs about a second).
# shellcheck disable=SC2086  # one package name per word
pkg=$(apt-cache policy $names | awk '
	/^[^ ]/ { p = $1; sub(/:$/, "", p) }
	/^ +Candidate:/ && $2 != "(none)" { print p }' | sed 's/-unsigned$/ 1/; s/-amd64$/-amd64 0/' | sort -V -k1,1 -k2,2 | tail -n 1 |
	sed 's/ 1$/-unsigned/; s/ 0$//')
[ -n "$pkg" ] || { log "no package matching $pattern"; exit 1; }
ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
log "picked $pkg $ver"
# A refresh that finds the cached build again need not download it.
for f in "$dir"/package-*; do
	if [ -f "$f" ] && [ "$(cat "$f")" = "$pkg $ver" ] && [ -f "$dir/vmlinuz-${f##*/package-}" ]; then
		echo "$dir/vmlinuz-${f##*/package-}"
		exit 0
	fi
done

# apt-get download fetches as user _apt, so let it write there.
mkdir "$tmp/dl"
chown _apt "$tmp/dl" 2>/dev/null || chmod 777 "$tmp/dl"
cd "$tmp/dl"
apt-get -q download "$pkg=$ver" >&2
cd "$tmp"
# Only ./boot is needed; skipping the modules makes this much faster.
mkdir root
dpkg-deb --fsys-tarfile dl/*.deb | tar -x -C root ./boot
set -- root/boot/vmlinuz-*
[ -f "$1" ] || { log "no /boot/vmlinuz-* in $pkg"; exit 1; }
kver=${1#root/boot/vmlinuz-}
grep -qx 'CONFIG_DEBUG_INFO_BTF=y' "root/boot/config-$kver" ||
	log "WARNING: $kver has no CONFIG_DEBUG_INFO_BTF=y"

# Replace the cache entry atomically-ish: new files first, then old ones go.
mkdir -p "$dir"
cp "root/boot/config-$kver" "$dir/config-$kver"
echo "$pkg $ver" >"$dir/package-$kver"
cp "root/boot/vmlinuz-$kver" "$dir/vmlinuz-$kver.tmp"
mv "$dir/vmlinuz-$kver.tmp" "$dir/vmlinuz-$kver"
for f in "$dir"/vmlinuz-* "$dir"/config-* "$dir"/package-*; do
	case $f in *"-$kver") ;; *) rm -f "$f" ;; esac
done
echo "$dir/vmlinuz-$kver"
