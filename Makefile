# Aisle: common tasks. `make test` is the test command CI runs.
GO ?= go
FUZZTIME ?= 10s

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

# A short run of every fuzz target (each parser of outside input). Go's
# fuzzer sometimes ends a timed run with "context deadline exceeded" and no
# failing input (a known flake of time-bounded runs); such a run is retried
# once. A real finding writes its input under testdata/fuzz and fails.
# Targets are found by reading the test files (no test binary is linked
# just to list them).
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go); do \
	    echo "fuzz $$dir $$f"; \
	    for try in 1 2; do \
	      if $(GO) test $$dir -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) >/tmp/aisle-fuzz.log 2>&1; then break; fi; \
	      if [ $$try = 1 ] && grep -q 'context deadline exceeded' /tmp/aisle-fuzz.log && ! grep -q 'Failing input written' /tmp/aisle-fuzz.log; then \
	        echo "  (fuzzer stopped with a deadline and no failing input: retrying once)"; continue; fi; \
	      echo "FAIL fuzz $$dir $$f"; tail -40 /tmp/aisle-fuzz.log; exit 1; \
	    done; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	$(GO) run ./cmd/aisle demo
