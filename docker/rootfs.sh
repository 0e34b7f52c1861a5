#!/bin/sh
# Stages the root file system of one image: the programs, every shared
# object the dynamic loader needs for the dynamic ones (as ldd reports them, plus the
# loader itself), a static busybox with the applets named in APPLETS when
# there are any, and the handful of files in /etc that glibc reads.  The
# images are built FROM scratch, so this directory is all they hold.
#
# usage: [APPLETS="sh wc ..."] docker/rootfs.sh DESTDIR BINARY...
# Each program lands at /NAME, NAME being the binary's base name.
set -eu

BUSYBOX=${BUSYBOX:-/bin/busybox}
APPLETS=${APPLETS:-}

usage() {
	echo "usage: $0 DESTDIR BINARY..." >&2
	exit 2
}

[ $# -ge 2 ] || usage
dest=$1
shift
for bin in "$@"; do
	[ -f "$bin" ] && [ -x "$bin" ] ||
	    { echo "$0: $bin: not an executable" >&2; exit 1; }
done

rm -rf "$dest"
mkdir -p "$dest/etc" "$dest/tmp" "$dest/data" "$dest/shared-volume"
chmod 1777 "$dest/tmp"

if [ -n "$APPLETS" ]; then
	[ -x "$BUSYBOX" ] ||
	    { echo "$0: $BUSYBOX missing (apt-get install busybox-static)" >&2; exit 1; }
	# A dynamic busybox would need its own libraries; refuse it early.
	if ldd "$BUSYBOX" >/dev/null 2>&1; then
		echo "$0: $BUSYBOX is not static (install busybox-static)" >&2
		exit 1
	fi
	mkdir -p "$dest/bin"
	cp "$BUSYBOX" "$dest/bin/busybox"
	for a in $APPLETS; do
		ln -s busybox "$dest/bin/$a"
	done
fi

# ldd prints "name => /path (addr)" for libraries and "/path (addr)" for
# the loader; both are copied to the same path inside the image, following
# symlinks so the file itself is copied.
for bin in "$@"; do
	name=$(basename "$bin")
	cp "$bin" "$dest/$name"
	strip --strip-unneeded "$dest/$name" 2>/dev/null || true
	# A static program (ldd: "not a dynamic executable") needs nothing.
	deps=$(ldd "$bin" 2>&1) || case $deps in
		*"not a dynamic executable"*) continue ;;
		*) echo "$0: $bin: ldd: $deps" >&2; exit 1 ;;
	esac
	libs=$(printf '%s\n' "$deps" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }')
	[ -n "$libs" ] || { echo "$0: $bin: ldd found no libraries" >&2; exit 1; }
	for lib in $libs; do
		mkdir -p "$dest$(dirname "$lib")"
		cp -L "$lib" "$dest$lib"
	done
done

# glibc 2.34 and later carries the files and dns NSS modules inside
# libc.so.6, so this file is all name resolution needs to reach the
# Docker DNS server named in the /etc/resolv.conf Docker mounts.
printf 'hosts: files dns\npasswd: files\ngroup: files\n' >"$dest/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    >"$dest/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dest/etc/group"
