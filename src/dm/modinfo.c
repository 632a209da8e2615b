// SPDX-License-Identifier: GPL-2.0
/*
 * The module's version (modinfo, /sys/module/dm_remap/version), which the
 * module! macro of Linux 6.12 cannot set. Kbuild passes DM_REMAP_VERSION
 * from the workspace's Cargo.toml, the one place the version is written:
 * the tools take it from there too, and src/tool/tests/version.rs checks
 * that dkms.conf agrees.
 */
#include <linux/module.h>

MODULE_VERSION(DM_REMAP_VERSION);
