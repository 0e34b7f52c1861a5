#!/bin/bash
# Builds the Compose v2 CLI plugin (`docker compose`) from its Go module at
# a pinned version, once: the binary is kept in build/tools/cli-plugins/
# and reused while its version stamp matches.  Debian ships only the
# standalone docker-compose v1; with this plugin the Docker tests can run
# through v2 as well.  Prints the plugin directory's parent, the directory
# DOCKER_CONFIG must name for `docker compose` to find the plugin.
#
# usage: scripts/compose-v2.sh [--path]
# Settings: COMPOSE_V2_VERSION (v2.28.1), GO (/usr/local/go/bin/go or go on
# PATH), TOOLS_DIR (build/tools).  Exit 1 when it cannot be built.
set -u
cd "$(dirname "$0")/.." || exit 1

version=${COMPOSE_V2_VERSION:-v2.28.1}
tools=${TOOLS_DIR:-build/tools}
plugin=$tools/cli-plugins/docker-compose
stamp=$plugin.version
mod=github.com/docker/compose/v2

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

if [ -x "$plugin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
	(cd "$tools" && pwd)
	exit 0
fi

go=${GO:-}
if [ -z "$go" ]; then
	if [ -x /usr/local/go/bin/go ]; then
		go=/usr/local/go/bin/go
	else
		go=$(command -v go) || die "no Go toolchain (set GO)"
	fi
fi

# The module is fetched through the Go module proxy into the module cache,
# then built from a writable copy: go may want to touch go.sum.
work=$(mktemp -d) || exit 1
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
echo "building docker compose $version (once; kept in $plugin)" >&2
dir=$("$go" mod download -json "$mod@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || die "cannot download $mod@$version"
cp -r "$dir" "$work/src" && chmod -R u+w "$work/src" || die "cannot copy $dir"
mkdir -p "$(dirname "$plugin")" || exit 1
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -trimpath \
    -ldflags "-s -w -X $mod/internal.Version=$version" \
    -o "$work/docker-compose" ./cmd) >&2 || die "go build of $mod@$version failed"
mv "$work/docker-compose" "$plugin" || exit 1
echo "$version" >"$stamp"
(cd "$tools" && pwd)
