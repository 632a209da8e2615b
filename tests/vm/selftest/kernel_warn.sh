# Harness self-test: a case that exits 0 but makes the kernel WARN (through
# LKDTM) must be reported FAIL, with the splat tied to it.
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT
