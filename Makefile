# zonegrid — see README.md. Every target works from a fresh clone with only Go
# installed (and, for `make bench`, apt-get for the peer servers).

GO        ?= go
BIN       := $(CURDIR)/bin
MODULES   := . ./pkg ./proto ./edge ./e2e
PKGS      := ./... ./pkg/... ./proto/... ./edge/... ./e2e/...
FUZZTIME  ?= 20s
BUF_VERSION            := v1.75.0
PROTOC_GEN_GO_VERSION  := v1.36.12
PROTOC_GEN_GRPC_VERSION := v1.6.2

.PHONY: all build run test test-unit test-e2e fuzz vet proto proto-check bench bench-go chaos soak clean tidy

all: build

## build: compile the binaries into ./bin
build:
	$(GO) build -o $(BIN)/ ./controlplane/cmd/controlplane ./controlplane/cmd/dnsctl
	$(GO) build -o $(BIN)/ ./edge/cmd/edge
	$(GO) build -o $(BIN)/ ./e2e/cmd/testparent

## run: the whole system on this machine: embedded etcd and NATS, the control
## plane (gRPC 127.0.0.1:50051) and one edge (DNS 127.0.0.1:8053, UDP and TCP).
run: build
	deploy/local/run.sh

## test: unit tests of every module, then the end-to-end tests.
test: vet
	$(GO) test -count=1 $(PKGS)

test-unit:
	$(GO) test -count=1 ./... ./pkg/... ./proto/... ./edge/...

test-e2e:
	$(GO) test -count=1 -v ./e2e/...

## fuzz: short runs of the fuzz targets: the edge's query handler, its NOTIFY
## handler, its transfer listener, its pre-signed answers and its zone loader
## (a large zone's object is indexed before its signature is checked), the control
## plane's RDATA parser, the zone-file reader (cf_tags= grammar) and the
## zone-transfer reader. (.ci/fuzz-one: go1.26's end-of-run deadline race,
## go.dev/issue/75804, is not a failure when no failing input was written.)
fuzz:
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) '^FuzzServeDNS$$' ./edge/dnsserver
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) '^FuzzServeNotify$$' ./edge/dnsserver
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) '^FuzzHandle$$' ./edge/xfrout
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) '^FuzzPresignedAnswer$$' ./edge/answer
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) '^FuzzStream$$' ./edge/zonecache
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) FuzzParse ./services/records/rdata
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) FuzzParseAttributes ./services/records/zonefile
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) FuzzRead ./services/records/zonefile
	GO=$(GO) .ci/fuzz-one $(FUZZTIME) FuzzParseTransfer ./controlplane/xfrin

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }

## proto: lint the API and regenerate the Go code (committed).
proto:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GRPC_VERSION)
	cd proto && PATH=$(BIN):$$PATH buf lint && PATH=$(BIN):$$PATH buf generate

## proto-check: fail when the committed generated code is stale.
proto-check: proto
	git diff --exit-code -- proto pkg/snapshot

## bench: our edge next to NSD, Knot and CoreDNS (installs them; root for apt-get).
## Longer runs: make bench BENCH_FLAGS='--duration 60'. Figures: docs/BENCHMARKS.md.
bench:
	deploy/bench/run.sh $(BENCH_FLAGS)

## bench-go: the Go benchmarks (propagation, flips, throughput).
bench-go:
	$(GO) test -run='^$$' -bench=. -benchtime=200x ./e2e/...

## chaos: the chaos suite at full length on a real cluster layout (3 etcd, 3 NATS,
## 2 control planes, 3 edges as processes); `make test` runs a short form.
chaos:
	CHAOS_FULL=1 $(GO) test -count=1 -v -run '^TestChaos' -timeout 90m ./e2e/...

## soak: 10 minutes at 80% of the edge's measured peak with a write every 100 ms
## (docs/BENCHMARKS.md, "Soak"). Longer: make soak SOAK_FLAGS='--duration 30m'.
soak: build
	deploy/soak/run.sh $(SOAK_FLAGS)

tidy:
	for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

clean:
	rm -rf $(BIN) .data
