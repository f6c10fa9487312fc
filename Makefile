# aegis-deploy: build, test, and the operator's targets (each a thin call of
# the binary).  `make clean` is the product's full teardown; `make distclean`
# removes build output.

CC      ?= cc
PKGS    := yaml-0.1 libcurl jansson libgit2 openssl libcrypt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
# The binary is linked without libcurl and libgit2: lib/util/lazylib.c loads
# them (dlopen) when a command first uses them, so that render, plan and the
# other local commands do not pay for loading and relocating them and the ~30
# libraries they pull in at every start (docs/benchmarks.md).  Their sonames,
# as this machine has them, tell lazylib.c what to load.  --as-needed drops
# libraries nothing references; -O1 and the GNU hash only speed up symbol
# lookup in the dynamic loader.
LEAN_PKGS  := yaml-0.1 jansson openssl libcrypt
BIN_LIBS   := -Wl,-O1 -Wl,--as-needed -Wl,--hash-style=gnu \
	$(shell pkg-config --libs $(LEAN_PKGS) 2>/dev/null) -ldl -lpthread -lm
soname = $(shell readelf -d $$(pkg-config --variable=libdir $(1) 2>/dev/null)/$(2) 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
LIBCURL_SONAME := $(call soname,libcurl,libcurl.so)
LIBGIT2_SONAME := $(call soname,libgit2,libgit2.so)
LAZY_DEFS := $(if $(LIBCURL_SONAME),-DAEGIS_LIBCURL_SONAME='"$(LIBCURL_SONAME)"') \
	$(if $(LIBGIT2_SONAME),-DAEGIS_LIBGIT2_SONAME='"$(LIBGIT2_SONAME)"')

CFLAGS  ?= -O2 -g
WARN    := -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS_ALL := -Iorchestrator -Iorchestrator/lib -D_GNU_SOURCE $(PKG_CFLAGS) $(LAZY_DEFS)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC := $(sort $(wildcard orchestrator/lib/*/*.c))
CMD_SRC := $(sort $(wildcard orchestrator/cmd/*.c orchestrator/*.c))
HDRS    := $(wildcard orchestrator/*.h orchestrator/lib/*/*.h)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_HARNESS := tests/unit/harness.c tests/unit/harness.h

BIN      := build/aegis-deploy
ASAN_BIN := build/asan/aegis-deploy
TEST_BINS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(TEST_SRC))

AEGIS    ?= $(BIN)
PROFILE_ARG = $(if $(PROFILE),--profile $(PROFILE))
POD_ARG     = $(if $(POD),$(POD))

.PHONY: all test unit tsan setup distclean deploy validate status teardown redeploy logs clean \
	registry-login generate-keys plan render config init check-deps \
	bootstrap-secrets bootstrap-keycloak demo demo-down demo-images

all: $(BIN)

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing build dependencies ($(PKGS)): run 'make setup' (scripts/setup.sh)" >&2; exit 2; }

$(BIN): $(LIB_SRC) $(CMD_SRC) $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) -o $@ $(LIB_SRC) $(CMD_SRC) $(BIN_LIBS)

# The sanitizer build compiles the core library once (build/asan/libaegis.a)
# and links the binary and every unit test against it.
ASAN_OBJ := $(patsubst orchestrator/lib/%.c,build/asan/obj/%.o,$(LIB_SRC))
ASAN_LIB := build/asan/libaegis.a

build/asan/obj/%.o: orchestrator/lib/%.c $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS_ALL) -c -o $@ $<

$(ASAN_LIB): $(ASAN_OBJ)
	rm -f $@
	ar rcs $@ $^

$(ASAN_BIN): $(CMD_SRC) $(HDRS) $(ASAN_LIB) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS_ALL) -o $@ $(CMD_SRC) $(ASAN_LIB) $(BIN_LIBS)

build/asan/tests/%: tests/unit/%.c $(ASAN_LIB) $(HDRS) $(TEST_HARNESS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS_ALL) -Itests/unit -o $@ $< tests/unit/harness.c $(ASAN_LIB) $(PKG_LIBS)

# ThreadSanitizer build of the whole binary (it cannot be combined with
# ASan): tests/integration/36-tsan.sh drives its threaded paths (rollout,
# probes, validate, the live reporter, teardown) against real Podman.
TSAN_BIN := build/tsan/aegis-deploy
TSAN    := -fsanitize=thread -fno-omit-frame-pointer

$(TSAN_BIN): $(LIB_SRC) $(CMD_SRC) $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(TSAN) $(CPPFLAGS_ALL) -o $@ $(LIB_SRC) $(CMD_SRC) $(BIN_LIBS)

tsan: $(TSAN_BIN)
# The edge and SEAL-key checks run against a deployed edge by
# tests/integration/55-edge-tls.sh.
EDGE_PROBE := build/asan/tests/edge-probe
$(EDGE_PROBE): tests/podman/edge-probe.c $(ASAN_LIB) $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS_ALL) -o $@ $< $(ASAN_LIB) $(PKG_LIBS)
test: $(EDGE_PROBE)

# The one test command: sanitizer build, unit tests, then integration tests
# (real Podman included).  Ends with "N passed, N failed[, N skipped]".
test: $(ASAN_BIN) $(BIN) $(TEST_BINS) $(TSAN_BIN)
	@bash tests/run.sh

unit: $(TEST_BINS)
	@AEGIS_TEST_ONLY=unit bash tests/run.sh

setup:
	bash scripts/setup.sh

distclean:
	rm -rf build

# --- operator targets -------------------------------------------------------
deploy: $(BIN)
	$(AEGIS) deploy $(PROFILE_ARG) $(ARGS)
validate: $(BIN)
	$(AEGIS) validate $(PROFILE_ARG) $(ARGS)
status: $(BIN)
	$(AEGIS) status $(PROFILE_ARG) $(ARGS)
teardown: $(BIN)
	$(AEGIS) teardown $(PROFILE_ARG) $(ARGS)
redeploy: $(BIN)
	@test -n "$(POD)" || { echo "usage: make redeploy POD=<name>" >&2; exit 2; }
	$(AEGIS) redeploy $(PROFILE_ARG) $(POD) $(ARGS)
logs: $(BIN)
	@test -n "$(POD)" || { echo "usage: make logs POD=<name>" >&2; exit 2; }
	$(AEGIS) logs $(PROFILE_ARG) --follow $(POD) $(ARGS)
clean: $(BIN)
	$(AEGIS) clean $(ARGS)
registry-login: $(BIN)
	$(AEGIS) registry-login $(ARGS)
generate-keys: $(BIN)
	$(AEGIS) generate-keys $(ARGS)
plan: $(BIN)
	$(AEGIS) plan $(PROFILE_ARG) $(ARGS)
render: $(BIN)
	$(AEGIS) render $(PROFILE_ARG) $(ARGS)
config: $(BIN)
	$(AEGIS) config $(PROFILE_ARG) $(ARGS)
init: $(BIN)
	$(AEGIS) init $(ARGS)
bootstrap-secrets: $(BIN)
	$(AEGIS) bootstrap-secrets $(PROFILE_ARG) $(ARGS)
bootstrap-keycloak: $(BIN)
	$(AEGIS) bootstrap-keycloak $(ARGS)

# --- the demo: the whole platform offline (scripts/demo.sh) ---------------------
# `make demo-down IMAGES=1` also removes the demo images.
demo:
	@bash scripts/demo.sh up
demo-down:
	@IMAGES=$(IMAGES) bash scripts/demo.sh down
demo-images:
	@bash scripts/demo-images.sh --force

# --- install and the service user (README "Service") -----------------------
# `make install [PREFIX=/usr/local] [DESTDIR=]`: the binary and the data it
# reads (kube/, profiles/, .env.example) under $(PREFIX)/share/aegis-deploy,
# where the binary finds them when it is not run from a checkout.
PREFIX  ?= /usr/local
SHAREDIR = $(DESTDIR)$(PREFIX)/share/aegis-deploy
SETUP_USER_ARGS = $(if $(SERVICE_USER),--user $(SERVICE_USER))

.PHONY: install uninstall setup-user

# The man page, generated from the binary's own help texts.
MANPAGE := build/aegis-deploy.1
$(MANPAGE): $(BIN) scripts/manpage.sh
	bash scripts/manpage.sh $(BIN) >$@.tmp && mv $@.tmp $@

install: $(BIN) $(MANPAGE)
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(SHAREDIR) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/aegis-deploy
	install -m 0644 $(MANPAGE) $(DESTDIR)$(PREFIX)/share/man/man1/aegis-deploy.1
	rm -rf $(SHAREDIR)/kube $(SHAREDIR)/profiles
	cp -R kube profiles $(SHAREDIR)/
	install -m 0644 .env.example $(SHAREDIR)/.env.example
	chmod -R u=rwX,go=rX $(SHAREDIR)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/aegis-deploy $(DESTDIR)$(PREFIX)/share/man/man1/aegis-deploy.1
	rm -rf $(SHAREDIR)

setup-user: $(BIN)
	$(AEGIS) setup-user $(SETUP_USER_ARGS) $(ARGS)
