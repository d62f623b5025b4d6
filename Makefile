# Warren's front door. Service-backed targets (test, bench) bring RabbitMQ, FerretDB and Jaeger
# up with scripts/services.sh, and stop afterwards only what they started themselves.

GO        ?= go
SERVICES  := scripts/services.sh
FUZZTIME  ?= 30s

# Tests that need a service fail (instead of skipping) when CI is set; pass it on to them.
ifdef CI
export CI
endif

.PHONY: all build check services-up services-down services-status cluster-up cluster-down test chaos sim bench bench-fleet bench-suite bench-starts bench-peer bench-compare fuzz demo clean

all: build

# The binaries land in bin/; cmd/ may not exist yet in an early checkout.
build:
	$(GO) build ./...
	@if [ -d cmd ]; then mkdir -p bin && echo "$(GO) build -o bin/ ./cmd/..." && $(GO) build -o bin/ ./cmd/...; fi

# The checks CI runs before the tests, each failing on any finding: modules tidy (the main
# one, deploy/ and the staticcheck pin), gofmt, go vet, and staticcheck at the version
# pinned in tools/staticcheck (a module of its own, so its dependencies stay out of go.mod).
check:
	$(GO) mod tidy -diff
	cd deploy && $(GO) mod tidy -diff
	cd tools/staticcheck && $(GO) mod tidy -diff
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...
	cd tools/staticcheck && $(GO) build -o $(CURDIR)/bin/staticcheck honnef.co/go/tools/cmd/staticcheck
	bin/staticcheck ./...
	cd deploy && $(CURDIR)/bin/staticcheck ./...

services-up:
	@$(SERVICES) up

services-down:
	@$(SERVICES) down

services-status:
	@$(SERVICES) status

# A local three-node RabbitMQ cluster (AMQP 5681-5683) beside the broker, for failover runs.
cluster-up:
	@$(SERVICES) cluster-up

cluster-down:
	@$(SERVICES) cluster-down

# The last line tests deploy/ (Kubernetes manifests, Grafana dashboard), a module of its own
# so that the Kubernetes and KEDA API types stay out of the main module.
# -p 1: one package at a time. Under CI, queues' broker-restart test stops the broker's app
# (rabbitmqctl stop_app), which broke whichever other package was testing against it at the
# same moment (dispatcher, integration) when packages ran side by side.
# scripts/chromium.sh installs Chromium for the dashboard's browser tests when it is missing;
# their screenshots land in .artifacts/screenshots.
test:
	@scripts/chromium.sh
	@WARREN_SCREENSHOT_DIR=$${WARREN_SCREENSHOT_DIR:-$(CURDIR)/.artifacts/screenshots} SIM_SEEDS=$${SIM_SEEDS:-300} $(SERVICES) run $(GO) test -p 1 ./... -count=1 -timeout 25m
	cd deploy && $(GO) test ./... -count=1

# The long versions of the fault tests on the real services (a node of a three-node cluster
# killed twice, FerretDB killed on SQLite and PostgreSQL, toxiproxy faults between the
# workers and the services, 1,000 poison messages, a broker that stops answering); each
# prints its figures. `make test` runs the short version of each. They run on FerretDB's
# PostgreSQL backend, as the benchmarks do: on SQLite every keyed read scans its collection,
# and the thousands of instances a long run leaves make each scan take seconds
# (TestStoreDiesMidRun starts its own FerretDB on each backend).
CHAOS_TESTS := TestClusterNodeKilledMidRun|TestStoreDiesMidRun|TestNetworkFaultsBetweenWorkersAndServices|TestPoisonMessagesAreDeadLetteredWhileTheRunGoesOn|TestWedgedBroker
chaos:
	@WARREN_CHAOS_LONG=1 WARREN_FERRETDB_BACKEND=$${WARREN_FERRETDB_BACKEND:-postgresql} $(SERVICES) run $(GO) test -p 1 ./integration -run '^($(CHAOS_TESTS))$$' -count=1 -v -timeout 90m

# The deterministic simulation of a whole fleet (internal/sim), no services needed:
# SIM_SEEDS seeds from 1 (default 300), or from SIM_SEED=n (one seed, to replay one run
# exactly, unless SIM_SEEDS is given too).
SIM_SEEDS ?= $(if $(SIM_SEED),1,300)
sim:
	SIM_SEEDS=$(SIM_SEEDS) $(GO) test ./internal/sim -run '^TestSimulation$$' -count=1 -v -timeout 0

# docs/design.md section 10: benchmarks run on FerretDB's PostgreSQL backend (set
# WARREN_FERRETDB_BACKEND=sqlite on a machine without PostgreSQL).
bench:
	@WARREN_FERRETDB_BACKEND=$${WARREN_FERRETDB_BACKEND:-postgresql} \
		$(SERVICES) run $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# Fleet throughput of HelloSequence with and without tracing (scripts/bench-fleet.sh).
bench-fleet:
	@WARREN_FERRETDB_BACKEND=$${WARREN_FERRETDB_BACKEND:-postgresql} $(SERVICES) run scripts/bench-fleet.sh

# The benchmark suite (scripts/bench-suite.sh): hello throughput on a fresh store and with
# 10,000 instances in it, idle latency, a 1,000-activity fan-out and 100 sub-orchestrations,
# each with CPU per process and store operations per orchestration.
bench-suite:
	@WARREN_FERRETDB_BACKEND=$${WARREN_FERRETDB_BACKEND:-postgresql} $(SERVICES) run scripts/bench-suite.sh

# The dispatcher's starts per second, this tree against BASE (default 2f89e03^) by turns,
# with the CPU per start of each serving process (scripts/bench-starts.sh).
bench-starts:
	@WARREN_FERRETDB_BACKEND=$${WARREN_FERRETDB_BACKEND:-postgresql} $(SERVICES) run scripts/bench-starts.sh

# The go-workflows peer on Redis (scripts/bench-peer.sh), and one table beside the suite's
# last results.
bench-peer:
	@scripts/bench-peer.sh

# The suite, then the peer in the same sitting: the figures the README cites.
bench-compare:
	@WARREN_FERRETDB_BACKEND=$${WARREN_FERRETDB_BACKEND:-postgresql} $(SERVICES) run scripts/bench-suite.sh
	@scripts/bench-peer.sh

# Runs every Fuzz function of the main module for FUZZTIME each (go test -fuzz takes one
# function of one package at a time).
fuzz:
	@found=0; for pd in $$($(GO) list -e -f '{{.ImportPath}}={{.Dir}}' ./...); do \
		pkg=$${pd%%=*}; dir=$${pd#*=}; \
		for fn in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
			found=1; echo "$(GO) test -run '^$$' -fuzz '^$$fn$$' -fuzztime $(FUZZTIME) $$pkg"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done; [ $$found = 1 ] || echo "fuzz: no Fuzz functions yet"

# The seed scenario on a local fleet (dispatcher + 3 workers), services up for its length.
demo:
	@$(SERVICES) run scripts/demo.sh

clean:
	rm -rf bin
