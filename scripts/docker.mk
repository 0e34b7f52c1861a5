# Docker Compose cluster targets, included by the Makefile.  The work is
# done by scripts/docker-cluster.sh; settings come from .env (created from
# .env.example by docker-compose-up).  CLIENTS and SERVERS given here, e.g.
# `make docker-compose-up SERVERS=4 CLIENTS=10`, win over .env.  The images
# take the binaries from DOCKER_BIN.

CLIENTS	?=
SERVERS	?=
DOCKER_BIN ?= $(OUT)/bin
DOCKER_ENV := CLIENTS="$(CLIENTS)" SERVERS="$(SERVERS)" BIN_DIR="$(DOCKER_BIN)" \
	      OUT="$(OUT)"

.PHONY: docker-image docker-compose-up docker-compose-down docker-compose-logs \
	new-lottery docker-bench swarm-up swarm-down swarm-logs keys keys-rotate keys-revoke \
	keys-remove docker-bins

# scripts/deps.sh asks dpkg about every package it wants (about a second):
# here it runs again only when the package database or the script changed.
DEPS_STAMP := $(OUT)/.deps
$(DEPS_STAMP): scripts/deps.sh $(wildcard /var/lib/dpkg/status)
	@scripts/deps.sh
	@mkdir -p $(@D) && touch $@

# The binaries, from a fresh make so pkg-config sees what deps installed.
# The images are built by the script, each only when its inputs (the
# binaries, its Dockerfile, rootfs.sh, its tag) changed: a stamp per image
# in $(OUT)/docker/ records them with the image's id.
docker-bins: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory bins

docker-image: docker-bins ## build the server and client images (those whose inputs changed)
	@$(DOCKER_ENV) scripts/docker-cluster.sh image

docker-compose-up: docker-bins ## images, data and compose file, then start the cluster detached
	@$(DOCKER_ENV) scripts/docker-cluster.sh up

new-lottery: ## remove the Compose cluster and clear the shared state (bets, closings, agency count)
	@$(DOCKER_ENV) scripts/docker-cluster.sh new-lottery

# The Docker figures of docs/performance.md (scripts/docker_bench.sh):
# medians of DBENCH_RUNS runs from make docker-compose-up to the last
# agency's exit, 5 and 100 agencies, and integration_test.sh 10.
docker-bench: docker-bins ## time docker-compose-up to every agency done, and the integration test
	@$(DOCKER_ENV) scripts/docker_bench.sh

docker-compose-down: ## stop and remove the cluster's containers and network
	@$(DOCKER_ENV) scripts/docker-cluster.sh down

docker-compose-logs: ## follow the logs of every container of the cluster
	@$(DOCKER_ENV) scripts/docker-cluster.sh logs

# The same cluster as a Docker Swarm stack (scripts/generar-stack.sh):
# swarm-up makes this engine a single-node swarm when it is in none (and
# swarm-down leaves that swarm again), then deploys or updates the stack;
# run again with another SERVERS to scale the replicas live.
swarm-up: docker-bins ## deploy the cluster as a Swarm stack (SERVERS=K CLIENTS=N)
	@$(DOCKER_ENV) scripts/docker-cluster.sh swarm-up

swarm-down: ## remove the stack; leave the swarm if swarm-up made it
	@$(DOCKER_ENV) scripts/docker-cluster.sh swarm-down

swarm-logs: ## follow the logs of every service of the stack
	@$(DOCKER_ENV) scripts/docker-cluster.sh swarm-logs

# The agencies' keys (docs/security.md), in KEYS_DIR of .env (./.keys).
# docker-compose-up makes the missing ones itself; these targets are for
# the operator.  AGENCY=N picks the agency to rotate or revoke.
AGENCY	?=
keys: ## make the missing agency keys for CLIENTS agencies (kept otherwise)
	@$(DOCKER_ENV) scripts/docker-cluster.sh keys

keys-rotate: ## a new key for agency AGENCY=N; restart replicas and agency N
	@$(DOCKER_ENV) scripts/docker-cluster.sh keys-rotate "$(AGENCY)"

keys-revoke: ## agency AGENCY=N may no longer authenticate; restart replicas
	@$(DOCKER_ENV) scripts/docker-cluster.sh keys-revoke "$(AGENCY)"

keys-remove: ## delete every agency key (docker-compose-up makes new ones)
	@$(DOCKER_ENV) scripts/docker-cluster.sh keys-remove
