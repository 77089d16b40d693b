# Shared by scripts/test and scripts/demo. Sourced, not run.

# Installs the Debian packages named in "$@" that are missing; quiet when all
# are present. Needs root (CI runs as root) or sudo.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What every build needs.
VMREP_BUILD_PACKAGES=(g++ cmake ninja-build pkg-config libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libboost-dev libprotobuf-dev protobuf-compiler
  libssl-dev python3 libzstd-dev
  libvirt-dev libxml2-dev libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils busybox-static cpio
  libssh2-1-dev openssh-server openssh-client rsync iproute2 iptables)
# Fuzzing (libFuzzer ships with clang's runtime).
VMREP_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

jobs() { nproc 2>/dev/null || echo 2; }

# configure_and_build DIR [cmake args...]
configure_and_build() {
  local dir="$1"
  shift
  cmake -S "$VMREP_ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$(jobs)"
}
