#pragma once
// Internal to config/: typed reads from a yaml-cpp tree, with every problem
// reported to Errors instead of thrown. The loader (loader.cpp) describes the
// schema with these; nothing here knows a vmrep key.
//
// Contract with yaml-cpp 0.7: nodes are only ever read through const
// references, iterated, and asked Type()/Scalar()/Tag()/Mark(); never
// operator[] (it inserts on non-const nodes and throws on scalars) and never
// as<T>() (its conversions accept more than the schema does). Aliases can
// make the tree cyclic (`&a [*a]`), so nothing here recurses on its own: the
// depth of any walk is the depth of the schema.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/errors.hpp"

namespace vmrep::config::detail {

// Where a field was written: its key, and its value (for a mapping, where
// its first key is; for null or a missing value, the key again).
struct Where {
  Pos key;
  Pos value;
};

// Every field read, by path ("nodes[1].port"); a path is absent when the
// file does not set it. The root mapping is "".
using Marks = std::map<std::string, Where>;

// One value to read: the node, the position to report problems at (its
// key, or the item itself in a list), and its field path.
struct Field {
  const YAML::Node& value;
  Pos at;
  std::string path;
};

Pos pos_of(const YAML::Node& n, Pos fallback);
// 1-based; 1:1 for a null mark.
Pos pos_of_mark(const YAML::Mark& m);

// How a value reads in a message: 'text', a list, a mapping, nothing.
std::string describe(const YAML::Node& n);

// `path` + "." + `key`, or `key` at the root.
std::string join(const std::string& path, std::string_view key);

class Reader {
 public:
  // Values visited at most, counting each use of an alias anew: aliases let
  // a few KiB name millions of values, and each could add a problem.
  static constexpr std::size_t max_values = 50000;

  explicit Reader(Errors& errors) : errors_(errors) {}

  Errors& errors() { return errors_; }
  const Marks& marks() const { return marks_; }
  void error(Pos at, std::string_view path, std::string_view message) { errors_.add(at, path, message); }
  // Reports a problem with f's value and remembers that it failed.
  void reject(const Field& f, std::string_view message);

  // Scalar reads: on success write `out` and return true; else report one
  // problem at f.at and leave `out` alone.
  bool text(const Field& f, std::string& out, bool allow_empty = false);
  bool integer(const Field& f, std::int64_t min, std::int64_t max, std::int64_t& out);
  bool boolean(const Field& f, bool& out);
  // One of `options`, with a suggestion for a near miss.
  bool choice(const Field& f, const std::vector<std::string_view>& options, std::string& out);
  // A permission mode: octal when quoted or written with a leading 0 or 0o
  // ("0600", 0600, 0o600), decimal otherwise (384); at most 0777.
  bool file_mode(const Field& f, std::uint32_t& out);

  template <class T>
  bool unsigned_in(const Field& f, T min, T max, T& out) {
    std::int64_t v = 0;
    if (!integer(f, static_cast<std::int64_t>(min), static_cast<std::int64_t>(max), v)) return false;
    out = static_cast<T>(v);
    return true;
  }

  using OnField = std::function<void(std::string_view key, const Field& field)>;

  // A mapping with a fixed set of keys. Null reads as empty. Records the
  // mapping in marks() under f.path; reports non-string, duplicate and
  // unknown keys (with a suggestion from `known`, or `moved` when the key
  // belongs in another section: key -> "timing" ...); calls on_field for
  // each known key in file order. Returns false if the value is no mapping.
  bool mapping(const Field& f, const std::vector<std::string_view>& known, const OnField& on_field,
               const std::map<std::string_view, std::string_view>& moved = {});
  // A mapping whose keys are names chosen by the operator (services).
  bool named_mapping(const Field& f, const OnField& on_field);
  // A list; null reads as empty. Calls on_item for each item with path
  // f.path + "[i]" (0-based). Returns false if the value is no list.
  bool list(const Field& f, const std::function<void(std::size_t index, const Field& item)>& on_item);

  // Record a field the loader read (mapping() does this for its keys).
  void mark(const std::string& path, Where where) { marks_.emplace(path, where); }
  // Where `path` was written, if it was.
  const Where* find(const std::string& path) const;
  // True when a read of `path` failed (its value kept the default), so
  // rules relating it to other fields should stay quiet.
  bool failed(const std::string& path) const { return failed_.count(path) != 0; }

 private:
  bool walk(const Field& f, const std::vector<std::string_view>* known,
            const std::map<std::string_view, std::string_view>* moved, const OnField& on_field);
  bool scalar(const Field& f, std::string_view expected);
  // Counts one value; false (after one report) once over max_values.
  bool visit();

  Errors& errors_;
  Marks marks_;
  std::set<std::string> failed_;
  std::size_t visited_ = 0;
};

}  // namespace vmrep::config::detail
