#!/bin/sh
# deps.sh: makes sure the Debian packages the build and the tests need are
# installed.  Silent when they all are; installs the missing ones when run
# as root, otherwise prints the command to run and fails.
set -eu

pkgs="build-essential make gcc pkg-config libbsd-dev libinih-dev libyaml-dev
libcmocka-dev busybox-static clang libfuse3-dev fuse3"

missing=
for p in $pkgs; do
	# dpkg -s also lists removed packages whose config files remain.
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || st=
	case $st in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
