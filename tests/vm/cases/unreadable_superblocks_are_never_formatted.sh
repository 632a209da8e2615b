# A spare whose superblocks cannot be read is not a blank spare: the
# constructor refuses it ("Cannot read the metadata") and writes nothing,
# although every other place region B could start reads as zeros; once the
# superblocks read again, the table loads. (It used to be formatted, its
# table wiped: the survey counted the zeros and not the failed reads.)
main=$(mkloop main 32)
spare=$(mkdust sdust 8)
remap_create r "$main" "$spare" >/dev/null
dmsetup message r 0 remap 100 1 >/dev/null
dmsetup message r 0 remap 300 2 >/dev/null
list=$(dmsetup message r 0 list_remaps)
dmsetup remove r
sbs=$(grep -obUa DMREMAP1 /tmp/work/sdust-disk.img | cut -d: -f1 | while read -r o; do echo $((o / 512)); done)
[ "$(echo "$sbs" | wc -l)" -ge 2 ] || fail "superblocks not found on the spare: $sbs"
for s in $sbs; do dmsetup message sdust 0 addbadblock "$s"; done
before=$(sha256sum </tmp/work/sdust-disk.img)
expect_table_rejected "0 $(sectors "$main") remap $main $spare" "Cannot read the metadata on the spare device"
assert_eq "$(sha256sum </tmp/work/sdust-disk.img)" "$before" "spare image after the refusal"
note "refused while its $(echo "$sbs" | wc -l) superblocks cannot be read, nothing written"
for s in $sbs; do dmsetup message sdust 0 removebadblock "$s" >/dev/null; done
remap_create r "$main" "$spare" >/dev/null
assert_eq "$(dmsetup message r 0 list_remaps)" "$list" "table once the superblocks read again"
note "loads once they read again"
dmsetup remove r
