// Host-side disk image work through qemu-img (qemu-utils), run as a child process
// without a shell. Blocking: call from a worker thread (see vm_adapter.hpp).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "vmadapters/vm_adapter.hpp"

namespace vmrep::vmadapters {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or on timeout
  std::string output;  // stdout and stderr, at most output_bytes_max
  bool timed_out = false;
};
inline constexpr std::size_t process_output_bytes_max = 64 * 1024;

// Runs argv[0] (looked up in PATH) with argv; waits at most timeout, then kills
// it. Throws VmError(failed) only when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// The qemu-img "json:" file name that opens chain (base first) with each layer's
// backing taken from this list instead of from the image headers.
std::string chain_json(const std::vector<DiskLayer>& chain);

// See VmAdapter::flatten. Writes output.tmp, then renames it over output.
void flatten_chain(const std::vector<DiskLayer>& chain, const std::filesystem::path& output,
                   std::chrono::milliseconds timeout = std::chrono::minutes(30));

// Creates a qcow2 overlay at overlay whose backing file is backing.
void create_overlay(const DiskLayer& backing, const std::filesystem::path& overlay);

}  // namespace vmrep::vmadapters
