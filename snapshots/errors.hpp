#pragma once
// What snapshots/ throws. Every message is one line and names the thing that
// failed (a chunk id, a manifest file and field, a path), so a log line or a
// vmrepctl error is enough to find it.
//
//   SnapshotError      any failure of the store (I/O, a refused request)
//   ├─ ChunkMissing    a chunk a caller needs is not in the store
//   ├─ ChunkCorrupt    stored or received bytes do not hash to their id
//   ├─ ManifestError   a manifest is malformed or its MAC does not verify
//   └─ IoError         a system call failed, with its errno

#include <stdexcept>
#include <string>
#include <string_view>

#include "snapshots/hash.hpp"

namespace vmrep::snapshots {

class SnapshotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ChunkMissing : public SnapshotError {
 public:
  ChunkMissing(const ChunkId& id, const std::string& message) : SnapshotError(message), id_(id) {}
  const ChunkId& id() const { return id_; }

 private:
  ChunkId id_;
};

class ChunkCorrupt : public SnapshotError {
 public:
  ChunkCorrupt(const ChunkId& id, const std::string& message) : SnapshotError(message), id_(id) {}
  const ChunkId& id() const { return id_; }

 private:
  ChunkId id_;
};

// "manifest FILE: field FIELD: PROBLEM". `field` is a path into the document
// ("files[1].chunks[17]"), or "(document)" for problems of the whole file.
class ManifestError : public SnapshotError {
 public:
  ManifestError(std::string file, std::string field, std::string_view problem);
  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }

 private:
  std::string file_;
  std::string field_;
};

// `s` made safe for a one-line message: control and non-ASCII bytes escaped
// as \xNN, cut to `max` characters with "..." appended.
std::string printable(std::string_view s, std::size_t max = 60);

// An I/O failure with its errno, so a caller can tell a full disk (ENOSPC,
// EDQUOT) from a missing file or a refused permission.
class IoError : public SnapshotError {
 public:
  IoError(int errno_value, const std::string& message) : SnapshotError(message), errno_value_(errno_value) {}
  int errno_value() const { return errno_value_; }

 private:
  int errno_value_;
};

// Throws IoError "PREFIX PATH: strerror(errno_value)"; for I/O failures.
[[noreturn]] void throw_errno(std::string_view what, const std::string& path, int errno_value);

}  // namespace vmrep::snapshots
