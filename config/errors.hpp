#pragma once
// Internal to config/: the problem collector behind ConfigError. Every check
// adds a line instead of throwing, so the operator sees every problem of the
// file at once; lines() sorts them into file order. Single-threaded, owned by
// one load_string() call.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vmrep::config::detail {

// A position in the file, 1-based (yaml-cpp marks are 0-based).
struct Pos {
  int line = 1;
  int column = 1;
};

class Errors {
 public:
  // At most this many lines reach the operator; the rest are counted.
  static constexpr std::size_t max_lines = 200;

  explicit Errors(std::string file) : file_(std::move(file)) {}

  // `path` is the field path ("services.web.min_acks"); empty for problems
  // of the file itself (syntax). `message` must be one line.
  void add(Pos at, std::string_view path, std::string_view message);

  // Checking stopped early: `message` ends the lines as "FILE: message",
  // whatever else is cut.
  void stop(std::string message) { stopped_ = std::move(message); }

  bool empty() const { return entries_.empty() && dropped_ == 0 && stopped_.empty(); }
  const std::string& file() const { return file_; }

  // "FILE:LINE:COL: path: message", sorted by position (stable, so problems
  // found at one position keep the order they were found in).
  std::vector<std::string> lines();

 private:
  struct Entry {
    Pos at;
    std::string text;
  };
  std::string file_;
  void trim();  // keeps the first max_lines by position, counts the rest

  std::vector<Entry> entries_;
  std::size_t dropped_ = 0;  // past max_lines, already cut
  std::string stopped_;
};

// `s` made safe for a one-line message: control and non-ASCII bytes escaped
// as \xNN, cut to `max` characters with "..." appended.
std::string printable(std::string_view s, std::size_t max = 60);

// printable(s) between single quotes: 'abc'.
std::string quoted(std::string_view s);

}  // namespace vmrep::config::detail
