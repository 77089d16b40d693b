#include "snapshots/manifest.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "snapshots/chunker.hpp"
#include "snapshots/errors.hpp"

namespace vmrep::snapshots {
namespace {

bool valid_name(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front())) return false;
  for (const char c : s) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_u64(Bytes& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_str(Bytes& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string to_string(Version v) { return std::to_string(v.term) + "." + std::to_string(v.seq); }

std::optional<Version> parse_version(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto term = parse_u64(text.substr(0, dot));
  const auto seq = parse_u64(text.substr(dot + 1));
  if (!term || !seq || !valid_version(Version{*term, *seq})) return std::nullopt;
  return Version{*term, *seq};
}

std::uint64_t FileEntry::size() const {
  std::uint64_t total = 0;
  for (const ChunkRef& c : chunks) total += c.size;
  return total;
}

std::uint64_t Manifest::total_bytes() const {
  std::uint64_t total = 0;
  for (const FileEntry& f : files) total += f.size();
  return total;
}

bool valid_service_name(std::string_view name) { return valid_name(name, 63); }
bool valid_file_name(std::string_view name) { return valid_name(name, 128); }

std::optional<FieldProblem> check_manifest(const Manifest& m) {
  if (!valid_service_name(m.service)) {
    return FieldProblem{"service",
                        "'" + printable(m.service) + "' is not a service name ([A-Za-z0-9][A-Za-z0-9._-]{0,62})"};
  }
  if (!valid_version(m.version)) {
    return FieldProblem{"version", to_string(m.version) + " is past the limit (term and seq below 2^62)"};
  }
  if (m.parent && !valid_version(*m.parent)) {
    return FieldProblem{"parent", to_string(*m.parent) + " is past the limit (term and seq below 2^62)"};
  }
  if (m.parent && *m.parent >= m.version) {
    return FieldProblem{"parent", to_string(*m.parent) + " is not older than version " + to_string(m.version)};
  }
  if (m.created_unix_ms < 0) return FieldProblem{"created_unix_ms", "is negative"};
  if (m.domain_xml.size() > domain_xml_bytes_max) {
    return FieldProblem{"domain_xml", std::to_string(m.domain_xml.size()) + " bytes, more than the " +
                                          std::to_string(domain_xml_bytes_max) + " allowed"};
  }
  if (m.files.empty() || m.files.size() > manifest_files_max) {
    return FieldProblem{"files",
                        std::to_string(m.files.size()) + " files, need 1.." + std::to_string(manifest_files_max)};
  }
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    const FileEntry& f = m.files[i];
    const std::string at = "files[" + std::to_string(i) + "]";
    if (!valid_file_name(f.name)) {
      return FieldProblem{at + ".name",
                          "'" + printable(f.name) + "' is not a file name ([A-Za-z0-9][A-Za-z0-9._-]{0,127})"};
    }
    if (!names.insert(f.name).second) return FieldProblem{at + ".name", "'" + f.name + "' appears twice"};
    for (std::size_t j = 0; j < f.chunks.size(); ++j) {
      const std::uint32_t size = f.chunks[j].size;
      if (size == 0 || size > chunk_bytes_limit) {
        return FieldProblem{
            at + ".chunks[" + std::to_string(j) + "]",
            "size " + std::to_string(size) + " is not a chunk size (1.." + std::to_string(chunk_bytes_limit) + ")"};
      }
    }
  }
  return std::nullopt;
}

Bytes canonical_encoding(const Manifest& m) {
  Bytes out(manifest_format.begin(), manifest_format.end());
  std::size_t chunks = 0;
  for (const FileEntry& f : m.files) chunks += f.chunks.size();
  out.reserve(256 + m.domain_xml.size() + chunks * 36);
  put_str(out, m.service);
  put_u64(out, m.version.term);
  put_u64(out, m.version.seq);
  out.push_back(m.parent ? 1 : 0);
  if (m.parent) {
    put_u64(out, m.parent->term);
    put_u64(out, m.parent->seq);
  }
  put_u64(out, static_cast<std::uint64_t>(m.created_unix_ms));
  put_str(out, m.domain_xml);
  put_u32(out, static_cast<std::uint32_t>(m.files.size()));
  for (const FileEntry& f : m.files) {
    put_str(out, f.name);
    put_u64(out, f.size());
    put_u32(out, static_cast<std::uint32_t>(f.chunks.size()));
    for (const ChunkRef& c : f.chunks) {
      out.insert(out.end(), c.id.bytes.begin(), c.id.bytes.end());
      put_u32(out, c.size);
    }
  }
  return out;
}

Mac manifest_mac(const Manifest& m, const MacKey& key) { return hmac_sha256(key, canonical_encoding(m)); }

std::string serialize_manifest(const Manifest& m, const MacKey& key) {
  if (const auto p = check_manifest(m)) {
    throw SnapshotError("manifest of " + printable(m.service) + " " + to_string(m.version) + ": field " + p->field +
                        ": " + p->problem);
  }
  using Json = nlohmann::ordered_json;
  const auto version = [](Version v) { return Json{{"term", v.term}, {"seq", v.seq}}; };
  Json files = Json::array();
  for (const FileEntry& f : m.files) {
    Json chunks = Json::array();
    for (const ChunkRef& c : f.chunks) chunks.push_back(Json::array({c.id.hex(), c.size}));
    files.push_back(Json{{"name", f.name}, {"size", f.size()}, {"chunks", std::move(chunks)}});
  }
  Json doc;
  doc["format"] = manifest_format;
  doc["service"] = m.service;
  doc["version"] = version(m.version);
  doc["parent"] = m.parent ? version(*m.parent) : Json(nullptr);
  doc["created_unix_ms"] = m.created_unix_ms;
  doc["domain_xml"] = m.domain_xml;
  doc["files"] = std::move(files);
  doc["mac"] = to_hex(manifest_mac(m, key));
  try {
    return doc.dump() + "\n";
  } catch (const nlohmann::json::exception&) {
    throw SnapshotError("manifest of " + m.service + " " + to_string(m.version) +
                        ": field domain_xml: is not valid UTF-8");
  }
}

}  // namespace vmrep::snapshots
