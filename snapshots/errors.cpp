#include "snapshots/errors.hpp"

#include <cstring>

namespace vmrep::snapshots {

ManifestError::ManifestError(std::string file, std::string field, std::string_view problem)
    : SnapshotError("manifest " + printable(file, 200) + ": field " + printable(field, 100) + ": " +
                    printable(problem, 200)),
      file_(std::move(file)),
      field_(std::move(field)) {}

std::string printable(std::string_view s, std::size_t max) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char ch : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

void throw_errno(std::string_view what, const std::string& path, int errno_value) {
  throw IoError(errno_value, std::string(what) + " " + printable(path, 300) + ": " + std::strerror(errno_value));
}

}  // namespace vmrep::snapshots
