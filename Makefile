# SPDX-License-Identifier: GPL-2.0
# dm-remap: build the module against a Rust-enabled kernel, run the demo and
# the tests. The module's objects are listed in Kbuild.
#
#   make [KDIR=<kernel build dir>]   build dm-remap.ko (default: running kernel)
#   make CLIPPY=1                    the same, linted by clippy
#   make clean
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

demo:
	./scripts/demo.sh

check:
	./scripts/check.sh

.PHONY: all modules clean demo check
