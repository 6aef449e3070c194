# husk: the two commands a fresh Debian machine needs, as root: `make demo` and `make test`.
CARGO ?= cargo
HUSK := target/debug/husk
DEMO := /tmp/husk-demo

.PHONY: install uninstall order print-release-rustflags docgen deb test-install deps-install release fuzz all build deps deps-cgroupv2 deps-checkpoint deps-systemd deps-clients deps-bench deps-lxcfs demo test test-stress test-procfs bench-procfs bench-seccomp bench-cgroupv2 test-cgroupv2 test-checkpoint test-systemd test-clients test-conformance conformance checker check unit e2e bench clean

all: build

build:
	$(CARGO) build -p husk

# What the demo, the tests and the benchmarks need from Debian, installed when missing
# (integration/deps.sh says what each group holds, and why qemu comes from bookworm-backports).
deps:
	@sh integration/deps.sh base

deps-checkpoint:
	@sh integration/deps.sh checkpoint

deps-cgroupv2:
	@sh integration/deps.sh guest

deps-systemd:
	@sh integration/deps.sh systemd

deps-clients:
	@sh integration/deps.sh clients

deps-install:
	@sh integration/deps.sh install

deps-lxcfs:
	@sh integration/deps.sh lxcfs

# Build husk, make a busybox bundle, run it and show its output.
demo: deps build
	rm -rf $(DEMO) && mkdir -p $(DEMO)/rootfs/bin $(DEMO)/rootfs/proc $(DEMO)/rootfs/sys $(DEMO)/rootfs/dev $(DEMO)/rootfs/tmp
	cp "$$(command -v busybox)" $(DEMO)/rootfs/bin/busybox
	for a in $$(busybox --list); do [ "$$a" = busybox ] || ln -sf busybox $(DEMO)/rootfs/bin/$$a; done
	cd $(DEMO) && $(CURDIR)/$(HUSK) spec
	python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["process"]["terminal"]=False; c["process"]["args"]=["sh","-c","echo hello from a husk container; hostname; id; ls /"]; json.dump(c,open(p,"w"),indent=2)' $(DEMO)/config.json
	$(HUSK) run --bundle $(DEMO) husk-demo-$$$$

# Formatting and lints, then unit tests, then the end-to-end tests (as root). The workspace
# includes the CRI check (integration/clients/cri), whose build needs protoc (make deps).
check: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: deps
	$(CARGO) test --workspace --exclude husk-e2e

e2e: deps build
	HUSK_BIN=$(CURDIR)/$(HUSK) $(CARGO) test -p husk-e2e -- --test-threads=2

# The long runs (tests/stress.rs): 1,000 cycles, 200 containers at once, racing commands.
test-stress: deps build
	HUSK_BIN=$(CURDIR)/$(HUSK) $(CARGO) test -p husk-e2e --test stress -- --ignored --test-threads=1 --nocapture

# cargo fuzz (nightly): config.json parsing + validation, the seccomp compiler, mount options,
# FUZZ_SECONDS each (docs/reliability.md). Not part of `make test`. Corpus in fuzz/corpus/,
# crash inputs in fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := config seccomp mount_options
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  $(CARGO) +nightly fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 || exit 1; \
	done

# tests/cgroups.rs again, inside a pure cgroup v2 guest (see integration/cgroupv2/run.sh), with
# procfs, netDevices and the sealed binary (an older kernel: Debian 12's 6.1).
test-cgroupv2: deps-cgroupv2 build
	tests=$$($(CARGO) test -p husk-e2e --test cgroups --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1); \
	  test -n "$$tests" && sh integration/cgroupv2/run.sh $(CURDIR)/$(HUSK) "$$tests"
	tests=$$($(CARGO) test -p husk-e2e --test procfs --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1); \
	  test -n "$$tests" && sh integration/cgroupv2/run.sh $(CURDIR)/$(HUSK) "$$tests" \
	    --skip the_same_files_as_lxcfs --skip a_hundred_containers
	tests=$$($(CARGO) test -p husk-e2e --test container_env --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1); \
	  test -n "$$tests" && sh integration/cgroupv2/run.sh $(CURDIR)/$(HUSK) "$$tests" net_devices
	tests=$$($(CARGO) test -p husk-e2e --test security --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1); \
	  test -n "$$tests" && sh integration/cgroupv2/run.sh $(CURDIR)/$(HUSK) "$$tests" husk_is_sealed_by

# husk's procfs daemon beside lxcfs (the same files, side by side), and 100 containers reading
# their meminfo for 30 s (tests/procfs.rs's ignored cases; the others run in e2e).
test-procfs: deps-lxcfs build
	HUSK_BIN=$(CURDIR)/$(HUSK) $(CARGO) test -p husk-e2e --test procfs -- --ignored --test-threads=1 --nocapture

# Checkpoint and restore (tests/checkpoint.rs) in a cgroup v2 guest with CRIU: Debian's criu
# 3.17 cannot run on these machines' own kernel (docs/checkpoint.md).
test-checkpoint: deps-checkpoint build
	tests=$$($(CARGO) test -p husk-e2e --test checkpoint --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1); \
	  test -n "$$tests" && sh integration/cgroupv2/run.sh --checkpoint $(CURDIR)/$(HUSK) "$$tests" --include-ignored

# The systemd cgroup driver (tests/systemd_cgroup.rs) in a cgroup v2 guest that boots the
# host's systemd as PID 1: these machines run none.
test-systemd: deps-systemd build
	tests=$$($(CARGO) test -p husk-e2e --test systemd_cgroup --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1); \
	  test -n "$$tests" && sh integration/cgroupv2/run.sh --systemd $(CURDIR)/$(HUSK) "$$tests" --include-ignored

# containerd, podman and docker driving husk, and containerd's CRI plugin driven as kubelet
# drives it, with husk and runc handlers (integration/clients).
CRI_CHECK := target/debug/husk-cri-check
test-clients: deps-clients build
	$(CARGO) build -p husk-cri-check
	bash integration/clients/containerd.sh $(CURDIR)/$(HUSK)
	bash integration/clients/podman.sh $(CURDIR)/$(HUSK)
	bash integration/clients/docker.sh $(CURDIR)/$(HUSK)
	bash integration/clients/cri.sh $(CURDIR)/$(HUSK) $(CURDIR)/$(CRI_CHECK)

test: check unit e2e test-stress test-procfs test-conformance test-cgroupv2 test-checkpoint test-systemd test-clients test-install

# The conformance suite (integration/conformance): the checker, built statically so that it
# runs inside a busybox rootfs, and the driver. `make conformance RUNTIME=/path` runs it
# against that runtime; by default against husk and runc side by side. `make test` runs it
# against husk and fails on any husk failure.
CHECKER := target/x86_64-unknown-linux-gnu/release/conformance-checker
checker:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release -p husk-conformance-checker --target x86_64-unknown-linux-gnu

test-conformance: deps build checker
	python3 integration/conformance/run.py --checker $(CHECKER) --runtime husk=$(CURDIR)/$(HUSK)

conformance: deps build checker
	@command -v runc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc; }
	python3 integration/conformance/run.py --checker $(CHECKER) \
	  $(if $(RUNTIME),--runtime $(notdir $(RUNTIME))=$(RUNTIME),--runtime husk=$(CURDIR)/$(HUSK) --runtime runc=$$(command -v runc)) \
	  --table docs/conformance-table.md

# husk against runc and crun (Debian's), release build, same bundle, same run (bench/bench.py;
# docs/performance.md has the method and the latest table). RUNTIMES="NAME=PATH ..." adds
# others, such as a newer runc or crun built locally.
deps-bench:
	@sh integration/deps.sh bench

# The binary to ship: release profile (lto, one codegen unit, panic=abort), linked statically
# so that no dynamic loader runs at each of husk's starts (0.35 ms of 1.5 here; exec starts
# twice, see sealed_exe.rs), with its 11,600 relative relocations packed as RELR (glibc 2.36),
# which the static-pie startup applies faster. --target keeps crt-static off build scripts
# and proc macros. The link puts the functions the commands run side by side
# (crates/cli/link/ordered-cc), which halves the resident size of each husk process.
RELEASE := target/x86_64-unknown-linux-gnu/release/husk
RELEASE_RUSTFLAGS := -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs \
  -C linker=$(CURDIR)/crates/cli/link/ordered-cc
release: deps
	RUSTFLAGS="$(RELEASE_RUSTFLAGS) -C strip=symbols" $(CARGO) build --release -p husk --target x86_64-unknown-linux-gnu

# bench.py's v2 view in the pure cgroup v2 guest: a real v2 host, every controller, limits set
# (integration/cgroupv2/bench.sh; about 25 minutes with five runtimes). RUNTIMES as for bench.
bench-cgroupv2: release
	@sh integration/deps.sh bench-guest
	mkdir -p bench/build
	gcc -O2 -static -o bench/build/floor bench/floor.c
	gcc -O2 -static -o bench/build/rss bench/rss.c
	sh integration/cgroupv2/bench.sh $(CURDIR)/$(RELEASE) \
	  bench/results/cgroupv2-$$(date -u +%Y%m%dT%H%M%SZ).json $(RUNTIMES)

# The release flags but for stripping, for bench/order.py.
print-release-rustflags:
	@echo "$(RELEASE_RUSTFLAGS)"

# Remake crates/cli/link/husk.order from traced runs of the commands, on this host and in the
# v2 guest (bench/order.py; about 25 minutes). Not part of the build: run it when the start path has changed much.
order: deps-bench
	@sh integration/deps.sh bench-guest
	mkdir -p bench/build
	gcc -O2 -static -o bench/build/steptrace bench/steptrace.c
	gcc -O2 -static -o bench/build/floor bench/floor.c
	gcc -O2 -static -o bench/build/rss bench/rss.c
	python3 bench/order.py --steptrace $(CURDIR)/bench/build/steptrace

bench: deps-bench release
	mkdir -p bench/build
	gcc -O2 -static -o bench/build/floor bench/floor.c
	gcc -O2 -static -o bench/build/rss bench/rss.c
	gcc -shared -fPIC -o bench/build/memlock-shim.so bench/memlock-shim.c -ldl
	python3 bench/bench.py --husk $(CURDIR)/$(RELEASE) $(addprefix --runtime=,$(RUNTIMES)) \
	  --out bench/results/$$(date -u +%Y%m%dT%H%M%SZ).json
	$(MAKE) bench-procfs
	$(MAKE) bench-seccomp

# The cost of a system call under Docker's seccomp profile: husk's filter against libseccomp's
# (runc's and crun's), and without a filter (bench/seccomp.py; docs/performance.md).
bench-seccomp: deps-bench release
	mkdir -p bench/build
	gcc -O2 -static -o bench/build/syscall bench/syscall.c
	python3 bench/seccomp.py --husk $(CURDIR)/$(RELEASE) --syscall bench/build/syscall \
	  $(addprefix --runtime=,$(RUNTIMES)) \
	  --out bench/results/seccomp-$$(date -u +%Y%m%dT%H%M%SZ).json

# husk's procfs daemon against lxcfs: the time of one read of meminfo in a container, and
# each daemon's memory (bench/procfs.py; docs/procfs.md has the latest table).
bench-procfs: deps-lxcfs release
	mkdir -p bench/build
	gcc -O2 -static -o bench/build/procread bench/procread.c
	python3 bench/procfs.py --husk $(CURDIR)/$(RELEASE) --procread bench/build/procread \
	  --out bench/results/procfs-$$(date -u +%Y%m%dT%H%M%SZ).json

clean:
	$(CARGO) clean

# Installing like runc (docs/install.md): the static release binary, man pages and shell
# completions generated from the clap definitions (crates/docgen), under PREFIX, into DESTDIR
# for packagers. `make uninstall` removes exactly what `make install` put there
# (integration/install/install.sh lists it).
PREFIX ?= /usr/local
DESTDIR ?=
GENERATED := target/generated
docgen:
	$(CARGO) build -p husk-docgen
	rm -rf $(GENERATED) && target/debug/husk-docgen man $(GENERATED)/man && target/debug/husk-docgen completions $(GENERATED)/completions

install: release docgen
	sh integration/install/install.sh install "$(DESTDIR)" "$(PREFIX)" $(RELEASE) $(GENERATED)

uninstall: docgen
	sh integration/install/install.sh uninstall "$(DESTDIR)" "$(PREFIX)" $(RELEASE) $(GENERATED)

# A Debian package of the same files (integration/install/deb.sh), in target/deb.
deb: release docgen
	sh integration/install/deb.sh $(RELEASE) $(GENERATED) target/deb

# The install, the man pages, the completions, the package (and lintian), and husk called by
# the name runc: a container, and containerd's checks with --runc-binary at a runc symlink.
test-install: deps-install deps-clients deb
	bash integration/install/test.sh $(CURDIR)/$(RELEASE) $(GENERATED) $$(ls target/deb/husk_*_amd64.deb | tail -1)
	mkdir -p target/runc-name && ln -sf $(CURDIR)/$(RELEASE) target/runc-name/runc
	bash integration/clients/containerd.sh $(CURDIR)/target/runc-name/runc
