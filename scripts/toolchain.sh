# Sourced by the build scripts: the one toolchain the test kernel and the module
# are built with. Debian's rustc-web carries core sources; the rustup rustc does not.
export RUSTC=${RUSTC:-/usr/bin/rustc}
export RUSTDOC=${RUSTDOC:-/usr/bin/rustdoc}
export CLIPPY_DRIVER=${CLIPPY_DRIVER:-/usr/bin/clippy-driver}
export BINDGEN=${BINDGEN:-${CARGO_HOME:-$HOME/.cargo}/bin/bindgen}
KMAKE_VARS=(LLVM=1 "RUSTC=$RUSTC" "RUSTDOC=$RUSTDOC" "HOSTRUSTC=$RUSTC" "CLIPPY_DRIVER=$CLIPPY_DRIVER" "BINDGEN=$BINDGEN")
DM_REMAP_CACHE=${DM_REMAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dm-remap}
KERNEL_SOURCE_TARBALL=/usr/src/linux-source-6.12.tar.xz
