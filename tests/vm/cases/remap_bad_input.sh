# Bad remap messages change nothing and say why; a full spare gives ENOSPC.
main=$(mkloop main 16)
spare=$(mkloop spare 2)          # 4096 sectors: 2 x 288 for metadata, 3520 spare blocks
dev=$(remap_create r "$main" "$spare")
n=$(sectors "$main")

expect_message_refused r "Invalid argument" remap "$n"
expect_message_refused r "Invalid argument" remap $((n - 4)) 8
expect_message_refused r "Invalid argument" remap 18446744073709551615 2
expect_message_refused r "Invalid argument" remap abc
expect_message_refused r "Invalid argument" remap -5
expect_message_refused r "Invalid argument" remap 10 0
expect_message_refused r "Invalid argument" remap 10 -1
expect_message_refused r "Invalid argument" remap
expect_message_refused r "Invalid argument" remap 1 2 3
expect_message_refused r "Invalid argument" list_remaps 5
assert_eq "$(info_field r spare_total)" 3520 "spare pool blocks"
assert_eq "$(dmsetup message r 0 remap 0 3500)" "remapped 3500 lost 0" "remap that fits (on both sides of region B)"
expect_message_refused r "No space left on device" remap 4000 100
assert_eq "$(info_field r remaps)" 3500 "remaps after the refused ones"
assert_eq "$(dmsetup message r 0 remap 4000 20)" "remapped 20 lost 0" "remap of the last free blocks"
expect_message_refused r "No space left on device" remap 8000 1
dd if=/dev/zero of="$dev" bs=4k count=1 seek=100 oflag=direct status=none
