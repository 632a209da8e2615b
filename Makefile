# SPDX-License-Identifier: GPL-2.0
# dm-remap: build the module against a Rust-enabled kernel, run the demo and
# the tests. The module's objects are listed in Kbuild.
#
#   make [KDIR=<kernel build dir>]   build dm-remap.ko (default: running kernel)
#   make CLIPPY=1                    the same, linted by clippy
#   make clean
#   make install [KDIR=...]          install the module (modules_install;
#                                    INSTALL_MOD_PATH as for the kernel)
#   make install-tools [DESTDIR=...] install dm-remap, dm-remap-monitor, the
#                                    boot unit, the monitor's unit, the scrub
#                                    timer, the events unit, the udev rule, an
#                                    example config, the Zabbix agent items and
#                                    template, dm-remap's man pages and its
#                                    bash, zsh and fish completions
#   make demo / make check           the README's two commands

KDIR ?= /lib/modules/$(shell uname -r)/build
# The module must be built by the compilers the kernel was built with.
# Defaults fit Debian 12 with rustc-web; override them for your own kernel.
LLVM ?= 1
RUSTC ?= $(firstword $(wildcard /usr/bin/rustc) rustc)
RUSTDOC ?= $(firstword $(wildcard /usr/bin/rustdoc) rustdoc)
CLIPPY_DRIVER ?= $(firstword $(wildcard /usr/bin/clippy-driver) clippy-driver)
BINDGEN ?= $(firstword $(wildcard $(HOME)/.cargo/bin/bindgen) bindgen)

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) RUSTC=$(RUSTC) \
	RUSTDOC=$(RUSTDOC) CLIPPY_DRIVER=$(CLIPPY_DRIVER) BINDGEN=$(BINDGEN)

all: modules

modules:
	$(KMAKE) modules

clean:
	$(KMAKE) clean
	rm -rf generated

SBINDIR ?= /usr/sbin
UNITDIR ?= /lib/systemd/system
UDEVDIR ?= /lib/udev
DOCDIR ?= /usr/share/doc/dm-remap
MANDIR ?= /usr/share/man
BASHCOMPDIR ?= /usr/share/bash-completion/completions
ZSHCOMPDIR ?= /usr/share/zsh/vendor-completions
FISHCOMPDIR ?= /usr/share/fish/vendor_completions.d
# Completions and man pages, written from dm-remap's clap definition by
# src/tool/examples/gen-docs.rs (not linked into the binary).
GENDOCS = target/gen-docs

install:
	$(KMAKE) modules_install INSTALL_MOD_DIR=updates

install-tools:
	cargo build --release --quiet -p dm-remap-tool -p dm-remap-monitor
	rm -rf $(GENDOCS)
	cargo run --release --quiet -p dm-remap-tool --example gen-docs -- $(GENDOCS)
	install -D -m 0755 target/release/dm-remap $(DESTDIR)$(SBINDIR)/dm-remap
	install -D -m 0755 target/release/dm-remap-monitor $(DESTDIR)$(SBINDIR)/dm-remap-monitor
	install -D -m 0644 scripts/boot/dm-remap-activate.service $(DESTDIR)$(UNITDIR)/dm-remap-activate.service
	install -D -m 0644 scripts/boot/dm-remap-monitor.service $(DESTDIR)$(UNITDIR)/dm-remap-monitor.service
	install -m 0644 scripts/boot/dm-remap-scrub.service scripts/boot/dm-remap-scrub.timer \
		scripts/boot/dm-remap-events.service $(DESTDIR)$(UNITDIR)/
	install -D -m 0644 scripts/boot/61-dm-remap.rules $(DESTDIR)$(UDEVDIR)/rules.d/61-dm-remap.rules
	rm -f $(DESTDIR)$(UDEVDIR)/rules.d/60-dm-remap.rules
	install -D -m 0644 scripts/zabbix/dm-remap.conf $(DESTDIR)/etc/zabbix/zabbix_agentd.d/dm-remap.conf
	install -D -m 0644 scripts/zabbix/dm-remap-template.yaml $(DESTDIR)$(DOCDIR)/zabbix/dm-remap-template.yaml
	install -D -m 0644 scripts/boot/devices.conf.example $(DESTDIR)/etc/dm-remap/devices.conf.example
	install -D -m 0644 $(GENDOCS)/completions/dm-remap.bash $(DESTDIR)$(BASHCOMPDIR)/dm-remap
	install -D -m 0644 $(GENDOCS)/completions/_dm-remap $(DESTDIR)$(ZSHCOMPDIR)/_dm-remap
	install -D -m 0644 $(GENDOCS)/completions/dm-remap.fish $(DESTDIR)$(FISHCOMPDIR)/dm-remap.fish
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(GENDOCS)/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 Documentation/*.rst Documentation/*.yaml $(DESTDIR)$(DOCDIR)/

demo:
	./scripts/demo.sh

check:
	./scripts/check.sh

.PHONY: all modules clean install install-tools demo check
