#include "vmadapters/disk_images.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "vmadapters/errors.hpp"

extern char** environ;

namespace vmrep::vmadapters {
namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string layer_json(const std::vector<DiskLayer>& chain, std::size_t index) {
  const DiskLayer& layer = chain[index];
  std::string out = "{\"driver\":" + json_string(layer.format) + ",\"file\":{\"driver\":\"file\",\"filename\":" +
                    json_string(std::filesystem::absolute(layer.file).string()) + "}";
  if (layer.format == "qcow2") {
    out += ",\"backing\":";
    out += index == 0 ? std::string("null") : layer_json(chain, index - 1);
  }
  return out + "}";
}

int wait_child(pid_t pid, std::chrono::milliseconds timeout, int out_fd, std::string& output, bool& timed_out) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool open = true;
  char buffer[4096];
  while (open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{out_fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = read(out_fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
    } else if (output.size() < process_output_bytes_max) {
      output.append(buffer, static_cast<std::size_t>(std::min<ssize_t>(n, static_cast<ssize_t>(process_output_bytes_max - output.size()))));
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void check(const ProcessResult& result, const std::string& operation, const std::string& what) {
  if (result.exit_code == 0) return;
  std::string reason = what + (result.timed_out ? " timed out" : " exited with " + std::to_string(result.exit_code));
  std::string output = result.output;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (!output.empty()) reason += ": " + output;
  throw VmError(result.timed_out ? VmError::Kind::timeout : VmError::Kind::failed, operation, "", reason);
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw VmError(VmError::Kind::failed, "run " + argv.at(0), "", std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  // qemu-img gets no other descriptor of the daemon's (Asio's sockets are not
  // close-on-exec): a child that outlived a timeout must not hold a port.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw VmError(VmError::Kind::failed, "run " + argv.at(0), "", std::strerror(rc));
  }
  ProcessResult result;
  result.exit_code = wait_child(pid, timeout, fds[0], result.output, result.timed_out);
  close(fds[0]);
  return result;
}

std::string chain_json(const std::vector<DiskLayer>& chain) {
  if (chain.empty()) throw VmError(VmError::Kind::invalid_argument, "flatten disk", "", "empty chain");
  return "json:" + layer_json(chain, chain.size() - 1);
}

void flatten_chain(const std::vector<DiskLayer>& chain, const std::filesystem::path& output,
                   std::chrono::milliseconds timeout) {
  const std::string operation = "flatten disk into " + output.string();
  if (chain.empty()) throw VmError(VmError::Kind::invalid_argument, operation, "", "empty chain");
  for (const DiskLayer& layer : chain) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(layer.file, ec)) {
      throw VmError(VmError::Kind::invalid_argument, operation, "", "layer " + layer.file.string() + " is not a file");
    }
    if (layer.format != "qcow2" && layer.format != "raw") {
      throw VmError(VmError::Kind::unsupported, operation, "", "layer format '" + layer.format + "'");
    }
    if (layer.format == "raw" && &layer != &chain.front()) {
      throw VmError(VmError::Kind::invalid_argument, operation, "", "a raw image can only be the base of a chain");
    }
  }
  std::filesystem::path temp = output;
  temp += ".tmp";
  std::error_code ec;
  std::filesystem::remove(temp, ec);
  const ProcessResult result =
      run_process({"qemu-img", "convert", "-q", "-O", "qcow2", chain_json(chain), temp.string()}, timeout);
  if (result.exit_code != 0) std::filesystem::remove(temp, ec);
  check(result, operation, "qemu-img convert");
  // qemu-img creates 0644; the image is a guest's disk.
  std::filesystem::permissions(temp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  std::filesystem::rename(temp, output, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    throw VmError(VmError::Kind::failed, operation, "", "rename: " + ec.message());
  }
}

void create_overlay(const DiskLayer& backing, const std::filesystem::path& overlay) {
  const std::string operation = "create overlay " + overlay.string();
  const ProcessResult result =
      run_process({"qemu-img", "create", "-q", "-f", "qcow2", "-F", backing.format, "-b",
                   std::filesystem::absolute(backing.file).string(), overlay.string()},
                  std::chrono::minutes(2));
  check(result, operation, "qemu-img create");
}

}  // namespace vmrep::vmadapters
