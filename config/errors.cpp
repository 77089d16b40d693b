#include "config/errors.hpp"

#include <algorithm>
#include <cstdio>

namespace vmrep::config::detail {

void Errors::add(Pos at, std::string_view path, std::string_view message) {
  std::string text = file_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": ";
  if (!path.empty()) text.append(path).append(": ");
  text.append(message);
  entries_.push_back({at, std::move(text)});
  if (entries_.size() >= 4 * max_lines) trim();
}

void Errors::trim() {
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.at.line != b.at.line) return a.at.line < b.at.line;
    return a.at.column < b.at.column;
  });
  if (entries_.size() > max_lines) {
    dropped_ += entries_.size() - max_lines;
    entries_.resize(max_lines);
  }
}

std::vector<std::string> Errors::lines() {
  trim();
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.text);
  if (dropped_ > 0) out.push_back(file_ + ": ... and " + std::to_string(dropped_) + " more problem(s)");
  if (!stopped_.empty()) out.push_back(file_ + ": " + stopped_);
  return out;
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string quoted(std::string_view s) { return "'" + printable(s) + "'"; }

}  // namespace vmrep::config::detail
