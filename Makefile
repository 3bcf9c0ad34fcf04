# Aisle: common tasks. `make test` is the README's test command (CI runs it
# with three packages at a time: .ci/run).
GO ?= go
FUZZTIME ?= 10s
FUZZ_JOBS ?= 1

.PHONY: build test race fuzz bench demo

# The version, VCS revision and build date are stamped into the binary
# (`aisle version`, the aisle_build_info metric); outside a git checkout
# they fall back to what the Go toolchain records.
PKG_BUILDINFO := github.com/aisle-dev/aisle/internal/buildinfo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X $(PKG_BUILDINFO).version=$(VERSION) -X $(PKG_BUILDINFO).revision=$(REVISION) -X $(PKG_BUILDINFO).buildDate=$(BUILD_DATE)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o aisle ./cmd/aisle

# The README's test command.
test:
	$(GO) test -timeout 30m ./...

# The tests again under the race detector (needs cgo), in -short mode.
race:
	$(GO) test -race -short -count=1 -timeout 20m ./...

# A short run of every fuzz target (each parser of outside input) for
# FUZZTIME each: .ci/fuzz builds each package's fuzz-instrumented test
# binary once and runs all the package's targets from it; a deadline flake
# with no failing input is retried once, a real finding writes its input
# under the package's testdata/fuzz, prints its path and fails.
# FUZZ_JOBS=2 fuzzes two packages at a time with one worker each (shorter,
# but fewer executions per target).
fuzz:
	GO=$(GO) FUZZ_JOBS=$(FUZZ_JOBS) ./.ci/fuzz $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	$(GO) run ./cmd/aisle demo
