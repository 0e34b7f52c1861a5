#!/bin/bash
# The agencies' secret keys for a cluster, in one private directory:
# agency-N.key (64 hex digits, what agency N's container mounts) for each
# agency, and agencies.keys ("N <key>" per line, what the replicas mount
# as AGENCY_KEYS), rebuilt from them.  Keys are never changed unless asked:
# growing the count only adds keys.  Everything is mode 0600 in a 0700
# directory.  docs/security.md tells when to rotate or revoke.
#
# usage: scripts/keys.sh ensure DIR AGENCIES   keys for agencies 1..AGENCIES
#        scripts/keys.sh rotate DIR AGENCY      a new key for one agency
#        scripts/keys.sh revoke DIR AGENCY      the agency may not authenticate
set -eu
umask 077

die() {
	echo "keys.sh: $*" >&2
	exit 1
}

usage() {
	sed -n 's/^# usage: //p; s/^#        //p' "$0" | sed 's/^/usage: /' >&2
	exit 2
}

# A count or agency number: plain decimal, no leading zero.
is_num() {
	case $1 in
	'' | 0* | *[!0-9]*) return 1 ;;
	esac
	[ ${#1} -le 5 ]
}

# new_key FILE: 32 random bytes as hex, written to FILE through a
# temporary so a crash never leaves half a key.
new_key() {
	local hex
	hex=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	[ ${#hex} -eq 64 ] || die "could not read 32 random bytes"
	printf '%s\n' "$hex" >"$1.tmp"
	mv "$1.tmp" "$1"
	rm -f "${1%.key}.revoked"
}

# agencies DIR: the agency count of the current agencies.keys.
agencies() {
	[ -f "$1/agencies.keys" ] || die "$1/agencies.keys missing: run ensure first"
	grep -c '^[0-9]' "$1/agencies.keys"
}

# rebuild DIR N: agencies.keys from the agency files, 1..N, read with
# the shell's own read (no process per agency: `make docker-compose-up`
# runs this every time).  The file is replaced only when it changes.
rebuild() {
	local dir=$1 n=$2 a k
	for ((a = 1; a <= n; a++)); do
		if [ -f "$dir/agency-$a.revoked" ]; then
			echo "$a revoked"
		else
			read -r k <"$dir/agency-$a.key" || die "agency-$a.key unreadable"
			echo "$a $k"
		fi
	done >"$dir/agencies.keys.tmp"
	if cmp -s "$dir/agencies.keys.tmp" "$dir/agencies.keys"; then
		rm -f "$dir/agencies.keys.tmp"
	else
		mv "$dir/agencies.keys.tmp" "$dir/agencies.keys"
	fi
}

[ $# -eq 3 ] || usage
cmd=$1 dir=$2 n=$3
is_num "$n" || die "not a positive number: '$n'"
case $cmd in
ensure)
	mkdir -p "$dir" || die "cannot create $dir"
	chmod 700 "$dir"
	made=0
	for ((a = 1; a <= n; a++)); do
		[ -f "$dir/agency-$a.key" ] || [ -f "$dir/agency-$a.revoked" ] ||
		    { new_key "$dir/agency-$a.key"; made=$((made + 1)); }
	done
	rebuild "$dir" "$n"
	echo "keys: $n agencies in $dir ($made new)"
	;;
rotate)
	total=$(agencies "$dir")
	[ "$n" -le "$total" ] || die "agency $n: only $total agencies"
	new_key "$dir/agency-$n.key"
	rebuild "$dir" "$total"
	echo "keys: agency $n has a new key; restart the replicas and agency $n"
	;;
revoke)
	total=$(agencies "$dir")
	[ "$n" -le "$total" ] || die "agency $n: only $total agencies"
	rm -f "$dir/agency-$n.key"
	: >"$dir/agency-$n.revoked"
	rebuild "$dir" "$total"
	echo "keys: agency $n revoked; restart the replicas"
	;;
*)
	usage
	;;
esac
