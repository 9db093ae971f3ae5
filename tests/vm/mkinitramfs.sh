#!/bin/sh
# mkinitramfs.sh [--file SRC:DEST]... OUT.cpio.gz [BIN...]
#
# Builds a gzip'd newc initramfs for the VM tests: busybox-static with its
# applets, bash-static as /bin/bash (the oracle runner is a bash script),
# each BIN in /bin (static ones preferred; a dynamic one gets the host's
# libraries it needs), tests/lib.sh as /lib.sh, each --file SRC at DEST, and an /init
# that sets up the test environment, runs /test.sh under a time limit,
# prints "vmtest: exit RC" and powers off.
#
# /init reads from the kernel command line:
#   vmtest.timeout=SECS  limit for /test.sh (default 600)
set -eu

usage() { echo "usage: $0 [--file SRC:DEST]... OUT.cpio.gz [BIN...]" >&2; exit 2; }
log() { echo "mkinitramfs: $*" >&2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
files=$stage/files.list
: >"$files"
while [ $# -gt 0 ]; do
	case $1 in
	--file) [ $# -ge 2 ] || usage; echo "$2" >>"$files"; shift 2 ;;
	--file=*) echo "${1#--file=}" >>"$files"; shift ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
out=$1
shift

# Install the static helpers if missing (root only; apt is the only source).
need=
[ -x /bin/busybox ] || need="$need busybox-static"
[ -x /bin/bash-static ] || need="$need bash-static"
if [ -n "$need" ]; then
	log "apt-get install$need"
	# shellcheck disable=SC2086  # word splitting wanted
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >&2
fi

root=$stage/root
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
	"$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/run" \
	"$root/etc" "$root/root" "$root/var/log"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
# Applet links, as busybox would install them (bin/sh, usr/bin/wget, ...).
/bin/busybox --list-full | while read -r applet; do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
if [ -x /bin/bash-static ]; then
	rm -f "$root/bin/bash"
	cp /bin/bash-static "$root/bin/bash"
else
	log "WARNING: no /bin/bash-static; /bin/bash missing in the VM"
fi

for bin in "$@"; do
	[ -f "$bin" ] || { log "no such file: $bin"; exit 1; }
	# A dynamic binary needs its loader and libraries at the same paths.
	if file -L "$bin" | grep -q 'dynamically linked'; then
		log "$bin is dynamically linked; adding its libraries"
		ldd "$bin" | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }' |
			while read -r lib; do
				mkdir -p "$root$(dirname "$lib")"
				cp -L "$lib" "$root$lib"
			done
	fi
	dest=$root/bin/$(basename "$bin")
	rm -f "$dest"
	cp "$bin" "$dest"
	chmod 755 "$dest"
done

# the shell test helpers (tests/lib.sh), which the in-VM suites source
cp "$(dirname "$0")/../lib.sh" "$root/lib.sh"

while IFS= read -r spec; do
	src=${spec%%:*}
	dest=${spec#*:}
	case $spec in *:/*) ;; *) log "bad --file $spec (want SRC:/DEST)"; exit 1 ;; esac
	[ -e "$src" ] || { log "no such file: $src"; exit 1; }
	mkdir -p "$root$(dirname "$dest")"
	rm -f "$root$dest"
	cp -R "$src" "$root$dest"
done <"$files"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"

# The kernel opens /dev/console before running /init; without the node
# the init would have no stdout (devtmpfs is not mounted yet then).
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

cat >"$root/init" <<'EOF'
#!/bin/sh
# vmtest init: set up, run /test.sh with a time limit, report, power off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
# devtmpfs lacks these; bash needs /dev/fd for <(...).
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
hostname vmtest
# 5.10 still charges BPF maps to RLIMIT_MEMLOCK.
ulimit -l unlimited

limit=600
for arg in $(cat /proc/cmdline); do
	case $arg in vmtest.timeout=*) limit=${arg#vmtest.timeout=} ;; esac
done

read -r up _ </proc/uptime
echo "vmtest: kernel $(uname -r)"
echo "vmtest: booted in ${up}s"
if [ -x /test.sh ]; then
	timeout -s KILL "$limit" /test.sh
	rc=$?
	[ $rc -eq 137 ] && echo "vmtest: /test.sh killed after ${limit}s"
else
	echo "vmtest: no /test.sh"
	rc=127
fi
read -r up _ </proc/uptime
echo "vmtest: uptime ${up}s"
echo "vmtest: exit $rc"
sync
poweroff -f
EOF
chmod 755 "$root/init"
[ -f "$root/test.sh" ] && chmod 755 "$root/test.sh"

mkdir -p "$(dirname "$out")"
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
log "wrote $out ($(du -k "$out" | cut -f1) KiB)"
