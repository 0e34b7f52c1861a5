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
	swarm-up swarm-down swarm-logs keys keys-rotate keys-revoke keys-remove

docker-image: build ## build the server and client images
	@$(DOCKER_ENV) scripts/docker-cluster.sh image

docker-compose-up: docker-image ## generate data and compose file, start the cluster detached
	@$(DOCKER_ENV) scripts/docker-cluster.sh up

docker-compose-down: ## stop and remove the cluster's containers and network
	@$(DOCKER_ENV) scripts/docker-cluster.sh down

docker-compose-logs: ## follow the logs of every container of the cluster
	@$(DOCKER_ENV) scripts/docker-cluster.sh logs

# The same cluster as a Docker Swarm stack (scripts/generar-stack.sh):
# swarm-up makes this engine a single-node swarm when it is in none (and
# swarm-down leaves that swarm again), then deploys or updates the stack;
# run again with another SERVERS to scale the replicas live.
swarm-up: docker-image ## deploy the cluster as a Swarm stack (SERVERS=K CLIENTS=N)
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
