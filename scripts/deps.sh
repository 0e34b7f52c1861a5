#!/bin/sh
# deps.sh: makes sure the Debian packages the build and the tests need are
# installed.  Silent when they all are; installs the missing ones when run
# as root, otherwise prints the command to run and fails.  clang's fuzzer
# and sanitizer runtimes come in a package named after clang's major
# version, so they are looked for once clang itself is there.  With
# --bench it also wants what `make bench` alone needs (gnuplot draws the
# sweep's plot); with --browser only Chromium, for scripts/browser_test.sh.
set -eu

pkgs="build-essential make gcc pkg-config libbsd-dev libinih-dev libyaml-dev
libcmocka-dev libsodium-dev libmicrohttpd-dev libcurl4-gnutls-dev curl
busybox-static clang
libfuse3-dev fuse3 gdb"
[ "${1:-}" != --bench ] || pkgs="$pkgs gnuplot-nox"
# The browser test alone wants Chromium (a large package): only then.
[ "${1:-}" != --browser ] || pkgs=chromium

# missing PKG...: print the ones not installed.
missing() {
	for p in "$@"; do
		# dpkg -s also lists removed packages whose config files remain.
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || st=
		case $st in
		*" installed") ;;
		*) printf ' %s' "$p" ;;
		esac
	done
}

# install PKG...: install them, or say how when not root.
install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages:$*" >&2
		echo "run: sudo apt-get install -y$*" >&2
		exit 1
	fi
	echo "installing:$*"
	[ -n "${updated:-}" ] || apt-get update
	updated=1
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends "$@"
}

# rt_pkg: the runtime package of the installed clang (libclang-rt-14-dev
# for clang 14), or nothing when that release ships none of its own (before
# clang 14 the runtimes came with libclang-common-N-dev, a clang dependency).
rt_pkg() {
	major=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
	[ -n "$major" ] || return 0
	[ "$major" -ge 14 ] 2>/dev/null || return 0
	echo "libclang-rt-$major-dev"
}

# shellcheck disable=SC2086 # word splitting of the lists is wanted
set -- $(missing $pkgs)
[ $# -eq 0 ] || install "$@"
rt=$(rt_pkg)
[ -n "$rt" ] || exit 0
set -- $(missing "$rt")
[ $# -eq 0 ] || install "$@"
