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

.PHONY: docker-image docker-compose-up docker-compose-down docker-compose-logs

docker-image: build ## build the server and client images
	@$(DOCKER_ENV) scripts/docker-cluster.sh image

docker-compose-up: docker-image ## generate data and compose file, start the cluster detached
	@$(DOCKER_ENV) scripts/docker-cluster.sh up

docker-compose-down: ## stop and remove the cluster's containers and network
	@$(DOCKER_ENV) scripts/docker-cluster.sh down

docker-compose-logs: ## follow the logs of every container of the cluster
	@$(DOCKER_ENV) scripts/docker-cluster.sh logs
