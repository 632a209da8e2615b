// SPDX-License-Identifier: GPL-2.0
//! The offline commands, run as a user runs them, on spare image files.

use std::path::{Path, PathBuf};
use std::process::Command;

const SPARE_BYTES: u64 = 8 << 20;

fn tool(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dm-remap")).args(args).output().expect("run dm-remap");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn image(dir: &Path) -> PathBuf {
    let p = dir.join("spare.img");
    std::fs::File::create(&p).unwrap().set_len(SPARE_BYTES).unwrap();
    p
}

fn dump_json(extents: &str) -> String {
    // 8 MiB spare, 512-byte blocks: 15312 pool block numbers (see geometry tests).
    format!(
        r#"{{"format_version":2,"generation":3,"uuid":"00112233445566778899aabbccddeeff",
            "main_sectors":1048576,"main_logical_block_size":512,"block_bytes":512,
            "spare_sectors":16384,"pool_blocks":15312,"alloc_next":40,"extents":[{extents}]}}"#
    )
}

const EXTENTS: &str = r#"{"main_block":100,"spare_pool_block":0,"length":8,"state":"ok"},
                         {"main_block":5000,"spare_pool_block":8,"length":32,"state":"lost"}"#;

fn restored(dir: &Path) -> PathBuf {
    let img = image(dir);
    let json = dir.join("in.json");
    std::fs::write(&json, dump_json(EXTENTS)).unwrap();
    let (code, out, err) = tool(&["restore", img.to_str().unwrap(), "--input", json.to_str().unwrap()]);
    assert_eq!(code, 0, "restore failed: {out}{err}");
    img
}

fn flip_byte(path: &Path, at: u64) {
    let mut data = std::fs::read(path).unwrap();
    data[at as usize] ^= 0x5a;
    std::fs::write(path, data).unwrap();
}

#[test]
fn pool_size_in_the_fixture_matches_the_layout() {
    let l = dm_remap_core::geometry::SpareLayout::new(SPARE_BYTES / 512, 512).unwrap();
    assert_eq!(l.pool_blocks, 15312);
}

#[test]
fn restore_then_check_and_dump_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let img = restored(dir.path());
    let (code, out, _) = tool(&["check", img.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("clean: generation 4, 2 extents"), "{out}");
    let (code, out, _) = tool(&["dump", img.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["generation"], 4, "generation goes up from the dump's");
    assert_eq!(v["extents"][1]["state"], "lost");
    assert_eq!(v["extents"][1]["length"], 32);
}

#[test]
fn damaged_copy_a_is_reported_then_repaired_from_b() {
    let dir = tempfile::tempdir().unwrap();
    let img = restored(dir.path());
    flip_byte(&img, 2 * 4096 + 200); // inside copy A slot 0's first entry block
    let (code, out, _) = tool(&["check", img.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("copy A slot 0: damaged"), "{out}");
    let (code, out, _) = tool(&["dump", img.to_str().unwrap()]);
    assert_eq!(code, 0, "dump still works from copy B: {out}");
    let (code, out, err) = tool(&["repair", img.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rewrote generation 4 as generation 5 (2 of 2 copies)"), "{out}");
    assert_eq!(tool(&["check", img.to_str().unwrap()]).0, 0);
}

#[test]
fn both_copies_damaged_is_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let img = restored(dir.path());
    let l = dm_remap_core::geometry::SpareLayout::new(SPARE_BYTES / 512, 512).unwrap();
    flip_byte(&img, 100);
    flip_byte(&img, l.region_b_start * 512 + 100);
    flip_byte(&img, 4096 + 100); // the slot-1 superblocks (zeroed at restore) stay empty
    let (code, out, err) = tool(&["check", img.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    let (code, _, err) = tool(&["dump", img.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no readable dm-remap superblock") || err.contains("no valid"), "{err}");
    assert_eq!(tool(&["repair", img.to_str().unwrap()]).0, 2);
}

#[test]
fn bad_input_gets_a_clear_error_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = tool(&["check", "/nonexistent/spare.img"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/spare.img"), "{err}");

    let img = image(dir.path());
    let (code, _, err) = tool(&["check", img.to_str().unwrap()]);
    assert_eq!(code, 2, "a blank image has no metadata");
    assert!(err.contains("no readable dm-remap superblock"), "{err}");

    let json = dir.path().join("bad.json");
    std::fs::write(&json, "{not json").unwrap();
    let (code, _, err) = tool(&["restore", img.to_str().unwrap(), "--input", json.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.json"), "{err}");

    let refuse = |extents: &str, why: &str| {
        std::fs::write(&json, dump_json(extents)).unwrap();
        let (code, _, err) = tool(&["restore", img.to_str().unwrap(), "--input", json.to_str().unwrap()]);
        assert_eq!(code, 2, "restore of {extents} must fail");
        assert!(err.contains(why), "want '{why}' in: {err}");
    };
    refuse(
        r#"{"main_block":100,"spare_pool_block":0,"length":8,"state":"ok"},
           {"main_block":104,"spare_pool_block":8,"length":8,"state":"ok"}"#,
        "overlap",
    );
    refuse(
        r#"{"main_block":100,"spare_pool_block":0,"length":8,"state":"ok"},
           {"main_block":200,"spare_pool_block":4,"length":8,"state":"ok"}"#,
        "share spare blocks",
    );
    assert_eq!(tool(&["check", img.to_str().unwrap()]).0, 2, "refused restores wrote nothing");
}

#[test]
fn a_remap_of_the_partial_last_main_block_is_kept_as_the_kernel_keeps_it() {
    // 4 KiB blocks over a main device of 100 blocks and 4 sectors: the
    // kernel's target has 101 blocks, the last one partial, and loads a
    // table that remaps it.
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let l = dm_remap_core::geometry::SpareLayout::new(SPARE_BYTES / 512, 4096).unwrap();
    let json = dir.path().join("in.json");
    std::fs::write(
        &json,
        format!(
            r#"{{"format_version":2,"generation":3,"uuid":"00112233445566778899aabbccddeeff",
                "main_sectors":804,"main_logical_block_size":512,"block_bytes":4096,
                "spare_sectors":16384,"pool_blocks":{},"alloc_next":1,
                "extents":[{{"main_block":100,"spare_pool_block":0,"length":1,"state":"ok"}}]}}"#,
            l.pool_blocks
        ),
    )
    .unwrap();
    let (code, out, err) = tool(&["restore", img.to_str().unwrap(), "--input", json.to_str().unwrap()]);
    assert_eq!(code, 0, "restore of a remap of the partial last block: {out}{err}");
    let (code, out, err) = tool(&["check", img.to_str().unwrap()]);
    assert_eq!(code, 0, "check: {out}{err}");
}

#[test]
fn a_grown_spare_without_region_a_is_read_from_region_b_where_it_was_formatted() {
    // As the kernel's discovery finds it: region B stays at the power of two
    // the spare's first size gave (sector 8192 for 8 MiB), not where the
    // grown size would put it.
    let dir = tempfile::tempdir().unwrap();
    let img = restored(dir.path());
    let before = dm_remap_core::geometry::SpareLayout::new(SPARE_BYTES / 512, 512).unwrap();
    assert_eq!(before.region_b_start, 8192);
    let grown = dm_remap_core::geometry::SpareLayout::new(2 * SPARE_BYTES / 512, 512).unwrap();
    assert_ne!(grown.region_b_start, before.region_b_start, "the grown size would put region B elsewhere");
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(2 * SPARE_BYTES).unwrap();
    drop(f);
    let mut data = std::fs::read(&img).unwrap();
    data[..(before.region_sectors * 512) as usize].fill(0);
    std::fs::write(&img, data).unwrap();
    let (code, out, err) = tool(&["check", img.to_str().unwrap()]);
    assert_eq!(code, 1, "region A lost: needs repair: {out}{err}");
    assert!(out.contains("at sectors 0 and 8192"), "{out}");
    assert!(out.contains("copy B slot 0: valid, generation 4, 2 extents"), "{out}");
    let (code, out, err) = tool(&["repair", img.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = tool(&["check", img.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("at sectors 0 and 8192"), "{out}");
}

#[test]
fn restore_over_metadata_it_cannot_lay_out_goes_above_its_generation() {
    // Metadata of a larger spare (here: the image shrank) gives no layout;
    // restore lays the spare out anew, and like the kernel's format it goes
    // above every superblock on the spare, not only above the dump's.
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("spare.img");
    std::fs::File::create(&img).unwrap().set_len(2 * SPARE_BYTES).unwrap();
    let json = dir.path().join("in.json");
    let big = dump_json(EXTENTS).replace(r#""generation":3"#, r#""generation":9"#);
    let big =
        big.replace(r#""spare_sectors":16384,"pool_blocks":15312"#, r#""spare_sectors":32768,"pool_blocks":30656"#);
    std::fs::write(&json, big).unwrap();
    let (code, out, err) = tool(&["restore", img.to_str().unwrap(), "--input", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("as generation 10"), "{out}");
    std::fs::OpenOptions::new().write(true).open(&img).unwrap().set_len(SPARE_BYTES).unwrap();
    std::fs::write(&json, dump_json(EXTENTS)).unwrap();
    let (code, out, err) = tool(&["restore", img.to_str().unwrap(), "--input", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("as generation 11"), "restore must go above generation 10 still on the spare: {out}");
}

#[test]
fn dumps_carry_schema_version_1_and_restore_refuses_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture has no schema_version (dumps before it existed): read as 1.
    let img = restored(dir.path());
    let (code, out, _) = tool(&["dump", img.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.starts_with("{\n  \"schema_version\": 1,\n"), "schema_version comes first: {out}");
    let json = dir.path().join("newer.json");
    std::fs::write(&json, dump_json(EXTENTS).replacen('{', r#"{"schema_version":2,"#, 1)).unwrap();
    let (code, _, err) = tool(&["restore", image(dir.path()).to_str().unwrap(), "--input", json.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("schema_version 2 is not 1"), "{err}");
}
