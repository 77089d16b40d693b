#pragma once
// A manifest describes one version of one service: what the version is, what
// it came from, and every file of the checkpoint as an ordered list of chunks.
// A version exists exactly when its manifest does (Store::publish).
//
// On disk it is one JSON object (keys in this order; parse accepts any order
// but refuses unknown, missing or duplicate keys):
//   {"format":"vmrep-manifest/1","service":"web","version":{"term":3,"seq":12},
//    "parent":{"term":3,"seq":11} | null,"created_unix_ms":1700000000000,
//    "domain_xml":"<domain>...</domain>",
//    "files":[{"name":"memory","size":20480,"chunks":[["<64 hex>",8192],...]}],
//    "mac":"<64 hex>"}
//
// The MAC is HMAC-SHA256 with the cluster key over canonical_encoding(), not
// over the JSON text, so it does not depend on spacing or key order:
//   "vmrep-manifest/1"                       (16 bytes, domain separation)
//   str(service)                             str = u32 length, then the bytes
//   u64 term, u64 seq
//   u8 has_parent, [u64 term, u64 seq]
//   i64 created_unix_ms
//   str(domain_xml)
//   u32 file count, then per file: str(name), u64 size, u32 chunk count,
//     then per chunk: 32-byte id, u32 size
// All integers big-endian.
//
// Pure: no I/O; the Store reads and writes the files.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snapshots/hash.hpp"

namespace vmrep::snapshots {

// (term, seq): term is the election epoch of the primary that made it, seq
// counts checkpoints within the term. Ordered lexicographically.
struct Version {
  std::uint64_t term = 0;
  std::uint64_t seq = 0;
  friend auto operator<=>(const Version&, const Version&) = default;
};

// Terms and sequence numbers stay below 2^62, like the consensus's epochs
// (kEpochLimit): a running cluster cannot reach it, so a version past it only
// comes from corruption or a liar, and refusing it keeps `term + 1` and
// `seq + 1` from ever wrapping.
inline constexpr std::uint64_t version_part_limit = std::uint64_t{1} << 62;
constexpr bool valid_version(Version v) { return v.term < version_part_limit && v.seq < version_part_limit; }

std::string to_string(Version v);  // "3.12"
// Exactly "TERM.SEQ" in decimal without leading zeros (one spelling per
// version, so one file name per version).
std::optional<Version> parse_version(std::string_view text);

struct ChunkRef {
  ChunkId id;
  std::uint32_t size = 0;  // plain bytes, 1..chunk_bytes_limit
  friend bool operator==(const ChunkRef&, const ChunkRef&) = default;
};

struct FileEntry {
  std::string name;  // valid_file_name()
  std::vector<ChunkRef> chunks;
  std::uint64_t size() const;  // sum of the chunk sizes
  friend bool operator==(const FileEntry&, const FileEntry&) = default;
};

struct Manifest {
  std::string service;  // valid_service_name()
  Version version;
  std::optional<Version> parent;  // older than version; none for a first version
  std::int64_t created_unix_ms = 0;
  std::string domain_xml;        // UTF-8, at most domain_xml_bytes_max
  std::vector<FileEntry> files;  // 1..manifest_files_max, unique names

  std::uint64_t total_bytes() const;
  friend bool operator==(const Manifest&, const Manifest&) = default;
};

inline constexpr std::string_view manifest_format = "vmrep-manifest/1";
inline constexpr std::size_t manifest_bytes_max = std::size_t{64} << 20;  // ~800k chunks: 6 GiB at 8 KiB
inline constexpr std::size_t manifest_files_max = 64;
inline constexpr std::size_t domain_xml_bytes_max = std::size_t{1} << 20;

// [A-Za-z0-9][A-Za-z0-9._-]{0,62}: a directory name in the store.
bool valid_service_name(std::string_view name);
// [A-Za-z0-9][A-Za-z0-9._-]{0,127}: a file name in a rebuild target, so no
// '/', no "..", nothing hidden.
bool valid_file_name(std::string_view name);

// The first rule `m` breaks, as {field, problem}; nullopt when valid.
struct FieldProblem {
  std::string field;
  std::string problem;
};
std::optional<FieldProblem> check_manifest(const Manifest& m);

Bytes canonical_encoding(const Manifest& m);
Mac manifest_mac(const Manifest& m, const MacKey& key);

// The JSON text with its MAC. SnapshotError when `m` breaks a rule.
std::string serialize_manifest(const Manifest& m, const MacKey& key);

// Refuses anything but a well-formed manifest whose MAC verifies with `key`,
// with a ManifestError "manifest FILE: field FIELD: PROBLEM" (one line);
// `file` is what the message calls the input.
Manifest parse_manifest(std::string_view text, const std::string& file, const MacKey& key);

}  // namespace vmrep::snapshots
