# gluster-lib.sh: the GlusterFS replica-3 volume of the test stages that
# need one (gluster3_test.sh, swarm_gluster_test.sh), sourced, not run.
# Owns the three storage hosts (a network namespace each, 10.x.y.1-3,
# with its own mount namespace in which /run, /var/lib/glusterd and
# /var/log/glusterfs are its own: the gluster CLI reaches glusterd only
# through /run/glusterd.socket, so that is what lets three glusterd share
# one machine), the hub namespace (NET.100, a bridge to the hosts) where
# the FUSE mounts' clients run, the volume's settings, the mounts, and
# taking all of it down again.  Every function is prefixed gl_.
#
# The caller defines skip REASON (prints it, exits 77) and sets, before
# gl_pool: NS (the namespaces' name prefix, unique to the run), NET (the
# first three octets of a /24 no other stage uses) and G (the run's
# directory, made already).
# HOLDER, MPID and MNT are this file's.  docs/operations.md explains the
# volume settings.

HOLDER=()		# per host: the process that holds its mount namespace
declare -A MPID		# mount point: its client
MNT=()

# gl_require: root, FUSE and the namespace tools, and GlusterFS's server
# and client, installed when missing; skips otherwise.
gl_require() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network and mount namespaces, FUSE, glusterd)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v ip >/dev/null && command -v nsenter >/dev/null &&
	    command -v unshare >/dev/null || skip "needs ip, nsenter and unshare"
	command -v glusterd >/dev/null && command -v glusterfs >/dev/null &&
	    return 0
	echo "installing glusterfs-server and glusterfs-client"
	gl_pkgs() {
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
		    --no-install-recommends glusterfs-server glusterfs-client \
		    >/dev/null 2>&1
	}
	gl_pkgs || { apt-get update >/dev/null 2>&1 && gl_pkgs; } ||
	    skip "glusterfs-server and glusterfs-client cannot be installed"
}

# gl_kill_mounts: SIGKILL to the mounts' clients.  First when taking
# down: a process stuck in a request its mount never answers goes only
# when the mount's connection is gone.
gl_kill_mounts() {
	local p
	for p in "${MPID[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
}

# gl_cleanup: the mounts, glusterd, the bricks, the self-heal daemons and
# the holders (all in the hosts' namespaces), the namespaces themselves,
# and the volumes' files under /var/run/gluster.  VOLUME... are the
# volumes made.  Safe to call twice.
gl_cleanup() {
	local p h v
	gl_kill_mounts
	for h in 1 2 3 hub; do
		for p in $(ip netns pids "$NS-$h" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
	for p in "${MNT[@]}"; do
		umount -l "$p" 2>/dev/null
	done
	for h in 1 2 3 hub; do
		ip netns del "$NS-$h" 2>/dev/null
	done
	for v in "$@"; do
		rm -rf "/var/run/gluster/vols/$v"
	done
}

# gl_on_host H CMD...: CMD on storage host H (its network and mount
# namespaces).
gl_on_host() {
	local h=$1
	shift
	nsenter -t "${HOLDER[$h]}" -m -n "$@"
}

# gl_cli H ARG...: the gluster CLI of host H.
gl_cli() {
	local h=$1
	shift
	gl_on_host "$h" gluster --mode=script "$@"
}

# gl_host_up H: make host H's namespaces and its private directories; sets
# HOLDER[H].
gl_host_up() {
	local h=$1 i
	mkdir -p "$G/h$h/lib" "$G/h$h/log" "$G/h$h/run" || return 1
	cp -a /var/lib/glusterd/groups "$G/h$h/lib/" 2>/dev/null
	mkdir -p "$G/h$h/lib/hooks"
	ip netns add "$NS-$h" || return 1
	ip -n "$NS-hub" link add "h$h" type veth peer name eth0 netns "$NS-$h" &&
	    ip -n "$NS-hub" link set "h$h" master br0 up &&
	    ip -n "$NS-$h" addr add "$NET.$h/24" dev eth0 &&
	    ip -n "$NS-$h" link set eth0 up && ip -n "$NS-$h" link set lo up ||
	    return 1
	# The holder makes the mount namespace and sleeps in it: nsenter
	# execs unshare, which execs sh, which execs sleep, so $! is it.
	nsenter --net="/run/netns/$NS-$h" unshare -m --propagation private \
	    sh -c 'mount --bind "$1/run" /run && mkdir -p /run/gluster &&
	        mount --bind "$1/lib" /var/lib/glusterd &&
	        mount --bind "$1/log" /var/log/glusterfs && exec sleep 100000' \
	    sh "$G/h$h" >>"$G/h$h/holder.log" 2>&1 &
	HOLDER[$h]=$!
	disown $!
	for ((i = 0; i < 50; i++)); do
		[ "$(cat "/proc/${HOLDER[$h]}/comm" 2>/dev/null)" = sleep ] && return 0
		kill -0 "${HOLDER[$h]}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# gl_glusterd_start H: glusterd on host H; 0 once its CLI answers (10 s).
gl_glusterd_start() {
	local i
	gl_on_host "$1" glusterd -f "$G/glusterd.vol" -p /run/glusterd.pid || return 1
	for ((i = 0; i < 100; i++)); do
		gl_cli "$1" volume list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# gl_host_kill H: SIGKILL to every process of host H but its holder:
# glusterd, the bricks, the self-heal daemon.  Prints their names.
gl_host_kill() {
	local p names=
	for p in $(ip netns pids "$NS-$1"); do
		[ "$p" = "${HOLDER[$1]}" ] && continue
		names="$names $(cat "/proc/$p/comm" 2>/dev/null)"
		kill -9 "$p"
	done
	echo "${names# }"
}

# gl_pool: the hub, the three hosts with their glusterd, and the trusted
# pool of the three.  Skips when this machine cannot make namespaces or
# start glusterd; exits 1 when the pool does not form.
gl_pool() {
	local h
	ip netns add "$NS-hub" || skip "cannot create a network namespace"
	ip -n "$NS-hub" link add br0 type bridge && ip -n "$NS-hub" link set br0 up &&
	    ip -n "$NS-hub" addr add "$NET.100/24" dev br0 && ip -n "$NS-hub" link set lo up ||
	    skip "cannot make a bridge in a network namespace"
	# The peers notice a dead or cut-off peer within seconds
	# (keepalive), not the default tens of seconds.
	sed -e 's|\(option transport.socket.keepalive-time\).*|\1 2|' \
	    -e 's|\(option transport.socket.keepalive-interval\).*|\1 1|' \
	    /etc/glusterfs/glusterd.vol >"$G/glusterd.vol" || exit 1
	for h in 1 2 3; do
		gl_host_up "$h" || skip "cannot make storage host $h (veth, mount namespace)"
		gl_glusterd_start "$h" ||
		    { tail "$G/h$h/log/glusterd.log" >&2; skip "glusterd does not start on host $h"; }
	done
	for h in 2 3; do
		gl_cli 1 peer probe "$NET.$h" >/dev/null ||
		    { echo "peer probe $NET.$h failed" >&2; exit 1; }
	done
	# The pool is whole once host 1 sees both peers connected.
	for _ in $(seq 100); do
		[ "$(gl_cli 1 pool list 2>/dev/null | grep -c Connected)" -eq 3 ] && break
		sleep 0.2
	done
	[ "$(gl_cli 1 pool list 2>/dev/null | grep -c Connected)" -eq 3 ] ||
	    { echo "the trusted pool did not form" >&2; gl_cli 1 pool list >&2; exit 1; }
}

# What the replicas need of any volume (docs/operations.md): nothing
# cached or deferred on the client, strict locks, short timeouts.
GL_OPTS="performance.write-behind=off performance.flush-behind=off
performance.stat-prefetch=off performance.quick-read=off
performance.open-behind=off client.strict-locks=on network.ping-timeout=5
server.tcp-user-timeout=5 server.keepalive-time=2 server.keepalive-interval=1
server.keepalive-count=3"
# And of three copies: a write goes through only while two bricks take it
# (client quorum, fixed at 2 of 3, so a lone brick is never written and
# no two copies can take different writes); a host whose glusterd sees
# fewer than half the pool stops its bricks (server quorum); no copy is
# ever picked as the winner of a split brain by itself.
GL_ROPTS="cluster.quorum-type=fixed cluster.quorum-count=2
cluster.server-quorum-type=server cluster.favorite-child-policy=none
cluster.self-heal-daemon=on"
# Without the quorums (a test's switch, to see its checks fail): a lone
# brick goes on taking writes.
GL_ROPTS_NOQUORUM="cluster.quorum-type=none cluster.server-quorum-type=none
cluster.favorite-child-policy=none cluster.self-heal-daemon=on"

# gl_volume VOLUME KIND: create, set and start VOLUME.  KIND replica3: its
# bricks on the three hosts ($G/hH/brick), with the quorums;
# replica3-noquorum: the same without them; single: one brick on host 1
# ($G/h1/single).  Exits 1 when gluster refuses a step.
gl_volume() {
	local v=$1 o opts
	case $2 in
	replica3*)
		gl_cli 1 volume create "$v" replica 3 "$NET.1:$G/h1/brick" \
		    "$NET.2:$G/h2/brick" "$NET.3:$G/h3/brick" force >/dev/null
		;;
	single)
		gl_cli 1 volume create "$v" "$NET.1:$G/h1/single" force >/dev/null
		;;
	esac || { echo "volume create $v failed" >&2; exit 1; }
	case $2 in
	replica3) opts="$GL_OPTS $GL_ROPTS" ;;
	replica3-noquorum) opts="$GL_OPTS $GL_ROPTS_NOQUORUM" ;;
	*) opts=$GL_OPTS ;;
	esac
	for o in $opts; do
		gl_cli 1 volume set "$v" "${o%%=*}" "${o#*=}" >/dev/null ||
		    { echo "volume set $v $o failed" >&2; exit 1; }
	done
	if [ "$2" = replica3 ]; then
		gl_cli 1 volume set all cluster.server-quorum-ratio 51% >/dev/null ||
		    { echo "volume set all cluster.server-quorum-ratio failed" >&2; exit 1; }
	fi
	gl_cli 1 volume start "$v" >/dev/null || { echo "volume start $v failed" >&2; exit 1; }
}

# gl_mount VOLUME DIR: a FUSE mount of VOLUME on DIR, its client in the
# hub's network namespace and this mount namespace (so the mount is seen
# here, and by Docker); the client is a process of this script
# (MPID[DIR]).  Every host is a volfile server; no attribute, entry or
# page is cached by the kernel.
GL_MOPTS="--direct-io-mode=enable --attribute-timeout=0 --entry-timeout=0 --negative-timeout=0"
gl_mount() {
	local i
	mkdir -p "$2"
	# nsenter execs glusterfs, so $! is the client.
	# shellcheck disable=SC2086
	nsenter --net="/run/netns/$NS-hub" glusterfs -N --volfile-server="$NET.1" --volfile-server="$NET.2" \
	    --volfile-server="$NET.3" --volfile-id="$1" $GL_MOPTS \
	    -l "$G/$(basename "$2").log" "$2" &
	MPID[$2]=$!
	disown $!
	MNT+=("$2")
	for ((i = 0; i < 100; i++)); do
		grep -qs " $2 fuse.glusterfs " /proc/mounts && return 0
		sleep 0.1
	done
	echo "mount of $1 on $2 failed" >&2
	tail "$G/$(basename "$2").log" >&2
	return 1
}

# gl_umount DIR: DIR's client killed and DIR unmounted.
gl_umount() {
	kill -9 "${MPID[$1]}" 2>/dev/null
	umount -l "$1" 2>/dev/null
	unset "MPID[$1]"
}

# gl_remount DIR: DIR's client killed, DIR unmounted and mounted again.
gl_remount() {
	local v
	v=$(sed -n 's/.*--volfile-id=\([^ ]*\).*/\1/p' "/proc/${MPID[$1]}/cmdline" 2>/dev/null |
	    tr '\0' ' ' | awk '{ print $1 }')
	kill -9 "${MPID[$1]}" 2>/dev/null
	umount -l "$1" 2>/dev/null
	gl_mount "${v:-$VOL}" "$1"
}

# gl_heal_done VOLUME: every brick connected and no entry left to heal.
gl_heal_done() {
	local info
	info=$(gl_cli 1 volume heal "$1" info 2>/dev/null) || return 1
	[ "$(echo "$info" | grep -c '^Status: Connected')" -eq 3 ] &&
	    [ "$(echo "$info" | grep -c '^Number of entries: 0$')" -eq 3 ]
}

# gl_wait_heal VOLUME SECONDS: gl_heal_done within SECONDS, asking for an
# index heal now and then.
gl_wait_heal() {
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		gl_heal_done "$1" && return 0
		[ $((i % 10)) -eq 0 ] && gl_cli 1 volume heal "$1" >/dev/null 2>&1
		sleep 0.5
	done
	return 1
}

# gl_same_bricks: the state files are the same on the three bricks of the
# replica-3 volume.  Prints the differences; 1 when there is any.
gl_same_bricks() {
	local f h bad=0
	for f in bets.csv agencies_closed.txt cluster.meta; do
		for h in 2 3; do
			cmp -s "$G/h1/brick/$f" "$G/h$h/brick/$f" ||
			    { echo "brick $h's $f differs from brick 1's"; bad=1; }
		done
	done
	return $bad
}
