// SPDX-License-Identifier: GPL-2.0
//! `badblocks import|export`: the badblocks(8) list format (one block
//! number per line, in blocks of `--block-size` bytes, 1024 by default as
//! badblocks and `e2fsck -l` use), so a surface scan can seed remaps and the
//! remap table can be handed to tools that read such lists.

/// Sector runs `(first sector, sectors)` covering the listed blocks, merged
/// where they touch. Blank lines and `#` comments are skipped.
pub fn parse_list(text: &str, block_size: u64) -> Result<Vec<(u64, u64)>, String> {
    if block_size < 512 || !block_size.is_multiple_of(512) {
        return Err(format!("block size {block_size} is not a multiple of 512"));
    }
    let per = block_size / 512;
    let mut blocks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let word = line.split('#').next().unwrap_or("").trim();
        if word.is_empty() {
            continue;
        }
        let b: u64 = word.parse().map_err(|_| format!("line {}: '{word}' is not a block number", i + 1))?;
        blocks.push(b.checked_mul(per).ok_or_else(|| format!("line {}: block {b} is too large", i + 1))?);
    }
    blocks.sort_unstable();
    blocks.dedup();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for s in blocks {
        match runs.last_mut() {
            Some((start, len)) if *start + *len == s => *len += per,
            _ => runs.push((s, per)),
        }
    }
    Ok(runs)
}

/// The most bytes of range words one `remap_list` message carries (dmsetup
/// takes them as arguments: well under the 2 MiB execve allows).
pub const MESSAGE_BYTES: usize = 512 << 10;

/// The `remap_list` messages (their range words) that remap `runs`: at most
/// `MAX_REMAP_LIST` ranges and [`MESSAGE_BYTES`] each, in list order.
pub fn remap_list_batches(runs: &[(u64, u64)]) -> Vec<Vec<String>> {
    use dm_remap_core::message::{encode_range, MAX_REMAP_LIST};
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for &(sector, sectors) in runs {
        let mut word = String::new();
        let _ = encode_range(sector, sectors, &mut word);
        match batches.last_mut() {
            Some(b) if b.len() < MAX_REMAP_LIST && bytes + word.len() < MESSAGE_BYTES => {
                bytes += word.len() + 1;
                b.push(word);
            }
            _ => {
                bytes = word.len() + 1;
                batches.push(vec![word]);
            }
        }
    }
    batches
}

/// The blocks of `block_size` bytes that hold remapped sectors, from a
/// `list_remaps` output of a target with `remap_block_bytes` blocks (lines
/// `<main_block> <spare_block> <length> <state>`; pending lines are left
/// out: they are not remapped).
pub fn export(list: &str, remap_block_bytes: u64, block_size: u64) -> Result<Vec<u64>, String> {
    if block_size < 512 || !block_size.is_multiple_of(512) || remap_block_bytes < 512 {
        return Err(format!("block size {block_size} is not a multiple of 512"));
    }
    let mut out = Vec::new();
    for line in list.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [main, _spare, len, state] = w.as_slice() else { continue };
        if *state == "pending" {
            continue;
        }
        let (main, len): (u64, u64) = match (main.parse(), len.parse()) {
            (Ok(m), Ok(l)) => (m, l),
            _ => return Err(format!("malformed list line: '{line}'")),
        };
        let first_byte = main * remap_block_bytes;
        let end_byte = (main + len) * remap_block_bytes;
        out.extend(first_byte / block_size..end_byte.div_ceil(block_size));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_merged_sector_runs() {
        let text = "# from badblocks -b 4096\n10\n11\n\n5\n11\n20 # end\n";
        assert_eq!(parse_list(text, 4096), Ok(vec![(40, 8), (80, 16), (160, 8)]));
        assert!(parse_list("12x\n", 1024).unwrap_err().contains("line 1"));
        assert!(parse_list("1\n", 1000).is_err());
    }

    #[test]
    fn imports_batch_into_remap_list_messages_the_target_takes() {
        use dm_remap_core::message::{Message, MAX_REMAP_LIST};
        let runs: Vec<(u64, u64)> = (0..40_000u64).map(|i| (i * 20, if i % 3 == 0 { 8 } else { 1 })).collect();
        let batches = remap_list_batches(&runs);
        assert_eq!(batches.len(), 3, "40000 ranges in messages of at most {MAX_REMAP_LIST}");
        let mut back = vec![];
        for b in &batches {
            let words: Vec<&[u8]> = std::iter::once(&b"remap_list"[..]).chain(b.iter().map(|w| w.as_bytes())).collect();
            assert!(b.iter().map(|w| w.len() + 1).sum::<usize>() <= MESSAGE_BYTES);
            match Message::parse(&words) {
                Ok(Message::RemapList(list)) => back.extend(list.iter()),
                other => panic!("a batch the target refuses: {other:?}"),
            }
        }
        assert_eq!(back, runs, "the ranges the messages carry");
        assert!(remap_list_batches(&[]).is_empty());
    }

    #[test]
    fn remaps_export_as_blocks() {
        let list = "100 992 8 ok\n2048 1000 1 lost\n5000 - 1 pending\n";
        // 512-byte remap blocks 100..108 are 1 KiB blocks 50..54.
        assert_eq!(export(list, 512, 1024), Ok(vec![50, 51, 52, 53, 1024]));
        assert!(export("1 x y z\n", 512, 1024).is_err());
    }
}
