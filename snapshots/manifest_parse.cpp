// parse_manifest(): strict reading of the JSON form described in
// manifest.hpp. Every refusal is one ManifestError naming the field.

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "snapshots/chunker.hpp"
#include "snapshots/errors.hpp"
#include "snapshots/manifest.hpp"

namespace vmrep::snapshots {
namespace {

using Json = nlohmann::json;

// A valid manifest nests 5 deep (root, files, file, chunks, chunk).
constexpr int depth_max = 8;

struct Refusal {
  std::string field;
  std::string problem;
};

std::string got(const Json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return "a negative number";
  if (v.is_number_float()) return "a fractional or huge number";
  return std::string(v.is_array() || v.is_object() ? "an " : "a ") + v.type_name();
}

class Reader {
 public:
  [[noreturn]] static void fail(std::string field, std::string problem) {
    throw Refusal{std::move(field), std::move(problem)};
  }

  // Refuses keys outside `keys` and keys of `keys` that are absent.
  static void expect_keys(const Json& obj, const std::string& at, std::initializer_list<std::string_view> keys) {
    const auto field = [&](std::string_view k) { return at.empty() ? std::string(k) : at + "." + std::string(k); };
    if (!obj.is_object()) fail(at.empty() ? "(document)" : at, "expected an object, got " + got(obj));
    for (const auto& [k, v] : obj.items()) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) fail(field(k), "unknown field");
    }
    for (const std::string_view k : keys) {
      if (!obj.contains(k)) fail(field(k), "missing");
    }
  }

  static std::uint64_t u64(const Json& v, const std::string& field) {
    if (!v.is_number_unsigned()) fail(field, "expected an unsigned integer, got " + got(v));
    return v.get<std::uint64_t>();
  }

  static std::string str(const Json& v, const std::string& field) {
    if (!v.is_string()) fail(field, "expected a string, got " + got(v));
    return v.get<std::string>();
  }

  static Version version(const Json& v, const std::string& field) {
    expect_keys(v, field, {"term", "seq"});
    return Version{u64(v["term"], field + ".term"), u64(v["seq"], field + ".seq")};
  }

  static ChunkRef chunk(const Json& v, const std::string& field) {
    if (!v.is_array() || v.size() != 2) fail(field, "expected [\"<64 hex id>\", size]");
    const std::string hex = str(v[0], field + "[0]");
    const auto id = ChunkId::from_hex(hex);
    if (!id) fail(field + "[0]", "'" + printable(hex, 70) + "' is not 64 lowercase hex digits");
    const std::uint64_t size = u64(v[1], field + "[1]");
    if (size == 0 || size > chunk_bytes_limit) {
      fail(field + "[1]",
           "size " + std::to_string(size) + " is not a chunk size (1.." + std::to_string(chunk_bytes_limit) + ")");
    }
    return ChunkRef{*id, static_cast<std::uint32_t>(size)};
  }

  static FileEntry file(const Json& v, const std::string& at) {
    expect_keys(v, at, {"name", "size", "chunks"});
    FileEntry f;
    f.name = str(v["name"], at + ".name");
    const Json& chunks = v["chunks"];
    if (!chunks.is_array()) fail(at + ".chunks", "expected an array, got " + got(chunks));
    f.chunks.reserve(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      f.chunks.push_back(chunk(chunks[i], at + ".chunks[" + std::to_string(i) + "]"));
    }
    const std::uint64_t size = u64(v["size"], at + ".size");
    if (size != f.size()) {
      fail(at + ".size",
           std::to_string(size) + " does not match its chunks (they sum to " + std::to_string(f.size()) + ")");
    }
    return f;
  }

  static Manifest manifest(const Json& doc, Mac& mac) {
    expect_keys(doc, "", {"format", "service", "version", "parent", "created_unix_ms", "domain_xml", "files", "mac"});
    if (const std::string format = str(doc["format"], "format"); format != manifest_format) {
      fail("format", "'" + printable(format) + "' is not " + std::string(manifest_format));
    }
    Manifest m;
    m.service = str(doc["service"], "service");
    m.version = version(doc["version"], "version");
    if (!doc["parent"].is_null()) m.parent = version(doc["parent"], "parent");
    const Json& created = doc["created_unix_ms"];
    if (!created.is_number_integer()) fail("created_unix_ms", "expected an integer, got " + got(created));
    if (created.is_number_unsigned() && created.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max()) {
      fail("created_unix_ms", "out of range");
    }
    m.created_unix_ms = created.get<std::int64_t>();
    m.domain_xml = str(doc["domain_xml"], "domain_xml");
    const Json& files = doc["files"];
    if (!files.is_array()) fail("files", "expected an array, got " + got(files));
    if (files.size() > manifest_files_max) fail("files", std::to_string(files.size()) + " files, more than allowed");
    for (std::size_t i = 0; i < files.size(); ++i)
      m.files.push_back(file(files[i], "files[" + std::to_string(i) + "]"));
    const std::string hex = str(doc["mac"], "mac");
    const auto mac_bytes = ChunkId::from_hex(hex);  // same spelling: 32 bytes, 64 lowercase hex
    if (!mac_bytes) fail("mac", "expected 64 lowercase hex digits");
    mac = mac_bytes->bytes;
    if (const auto p = check_manifest(m)) fail(p->field, p->problem);
    return m;
  }
};

// Parses JSON refusing duplicate keys (nlohmann keeps the last silently) and
// nesting deeper than depth_max (bounded work for hostile input).
Json parse_json(std::string_view text) {
  std::vector<std::set<std::string>> open_objects;
  const Json::parser_callback_t guard = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > depth_max) Reader::fail("(document)", "nested deeper than " + std::to_string(depth_max));
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second) {
          Reader::fail(printable(parsed.get<std::string>()), "appears twice in its object");
        }
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  return Json::parse(text.begin(), text.end(), guard);
}

std::string short_json_error(const Json::parse_error& e) {
  std::string what = e.what();  // "[json.exception.parse_error.101] parse error at line 1, ..."
  if (const auto end = what.find("] "); what.starts_with("[json.exception") && end != std::string::npos) {
    what = what.substr(end + 2);
  }
  return what;
}

}  // namespace

Manifest parse_manifest(std::string_view text, const std::string& file, const MacKey& key) {
  if (text.size() > manifest_bytes_max) {
    throw ManifestError(
        file, "(document)",
        std::to_string(text.size()) + " bytes, more than the " + std::to_string(manifest_bytes_max) + " allowed");
  }
  if (text.empty()) throw ManifestError(file, "(document)", "empty");
  Manifest m;
  Mac mac{};
  try {
    m = Reader::manifest(parse_json(text), mac);
  } catch (const Refusal& r) {
    throw ManifestError(file, r.field, r.problem);
  } catch (const Json::parse_error& e) {
    throw ManifestError(file, "(document)", "not JSON: " + short_json_error(e));
  } catch (const Json::exception& e) {
    throw ManifestError(file, "(document)", std::string("unreadable: ") + e.what());
  }
  if (!mac_equal(mac, manifest_mac(m, key))) {
    throw ManifestError(file, "mac",
                        "does not verify with the cluster key (tampered, corrupt, or made with another key)");
  }
  return m;
}

}  // namespace vmrep::snapshots
