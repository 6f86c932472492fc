# Postel: `make run` starts the development server, `make test` runs the tests.
GO ?= go
BIN := bin/postel

.PHONY: all build run test test-short vet fmt bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/postel

# Development default: loopback ports 2525/2587/2465 (SMTP), 1143/1993
# (IMAP), 1110/1995 (POP3), self-signed certificate, data in ./data.
run: build
	./$(BIN) serve

# The whole suite: unit, transcript, real-client and integration tests,
# with the race detector (about a minute on two cores).
test: vet
	$(GO) test -race -timeout 20m ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# Benchmarks are on demand, never part of `make test`; see BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Short fuzzing pass over every Fuzz target (FUZZTIME per target).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
