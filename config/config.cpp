// The public face of config/: parse, load, validate, throw once.
#include "config/config.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>

#include "config/errors.hpp"
#include "config/loader.hpp"
#include "config/reader.hpp"

namespace vmrep::config {
namespace {

// A cluster file is a few KiB; this only bounds what a mistake can cost.
constexpr std::size_t max_file_bytes = 1 << 20;

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& line : lines) s.append(s.empty() ? "" : "\n").append(line);
  return s;
}

// The text of line `line` (0-based), for hints about a syntax error.
std::string_view line_at(const std::string& text, int line) {
  std::size_t begin = 0;
  for (int i = 0; i < line; ++i) {
    begin = text.find('\n', begin);
    if (begin == std::string::npos) return {};
    ++begin;
  }
  const std::size_t end = text.find('\n', begin);
  return std::string_view(text).substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

void syntax_error(detail::Errors& errors, const std::string& text, const YAML::Mark& mark, std::string message) {
  const detail::Pos at = detail::pos_of_mark(mark);
  const std::string_view line = line_at(text, at.line - 1);
  const std::string_view indent = line.substr(0, line.find_first_not_of(" \t"));
  if (indent.find('\t') != std::string_view::npos) message += " (tabs are not allowed in indentation)";
  errors.add(at, "", "syntax error: " + detail::printable(message, 200));
}

// Records where each document starts; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The syntax pass. yaml-cpp 0.7 leaves a token it cannot place at the top
// level (",", or "!tag ,") unconsumed and starts a new empty document at
// it, again and again: YAML::LoadAll() never returns (yaml-cpp issue #1040,
// fixed upstream after 0.8). So: parse at most three documents by hand; two
// starting at the same byte mean the parser is stuck there; a second one
// that makes progress is a second document, which a cluster file may not
// have. Returns false when it reported a problem.
bool check_documents(detail::Errors& errors, const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts docs;
  for (int i = 0; i < 3 && parser.HandleNextDocument(docs); ++i) {
  }
  for (std::size_t i = 1; i < docs.starts.size(); ++i) {
    const YAML::Mark& m = docs.starts[i];
    if (m.pos == docs.starts[i - 1].pos) {
      const std::size_t at = static_cast<std::size_t>(std::max(m.pos, 0));
      syntax_error(errors, text, m, "unexpected " + detail::quoted(at < text.size() ? text.substr(at, 1) : ""));
      return false;
    }
  }
  if (docs.starts.size() > 1) {
    errors.add(detail::pos_of_mark(docs.starts[1]), "", "only one YAML document is allowed (found another here)");
    return false;
  }
  return true;
}

// The document of `text` (null when empty), or nothing with a syntax error
// reported.
std::optional<YAML::Node> parse(detail::Errors& errors, const std::string& text) {
  try {
    if (!check_documents(errors, text)) return std::nullopt;
    return YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    syntax_error(errors, text, e.mark, "nesting too deep");
  } catch (const YAML::ParserException& e) {
    syntax_error(errors, text, e.mark, e.msg);
  }
  return std::nullopt;
}

Config load_checked(const std::string& text, const std::string& name, detail::Errors& errors) {
  Config c;
  c.source = name;
  if (text.size() > max_file_bytes) {
    errors.add(detail::Pos{}, "", "file too large (more than " + std::to_string(max_file_bytes) + " bytes)");
    return c;
  }
  const std::optional<YAML::Node> root = parse(errors, text);
  if (!root) return c;
  detail::Reader reader(errors);
  if (detail::load_tree(reader, *root, c)) detail::validate(reader, c);
  return c;
}

}  // namespace

std::uint32_t Config::node_id(const std::string& name) const {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].name == name) return static_cast<std::uint32_t>(i + 1);
  return 0;
}

ConfigError::ConfigError(std::vector<std::string> lines, bool internal)
    : std::runtime_error(joined(lines)), lines_(std::move(lines)), internal_(internal) {}

Config load_string(const std::string& text, const std::string& name) {
  detail::Errors errors(name);
  Config c;
  bool internal = false;
  try {
    c = load_checked(text, name, errors);
  } catch (const YAML::Exception& e) {
    // A yaml-cpp failure outside parsing is a bug here; say so, with its mark.
    errors.add(detail::pos_of_mark(e.mark), "", "internal error (please report): " + detail::printable(e.what(), 200));
    internal = true;
  } catch (const std::exception& e) {
    // Includes std::bad_alloc. The contract is "only ConfigError leaves".
    errors.add(detail::Pos{}, "", "internal error (please report): " + detail::printable(e.what(), 200));
    internal = true;
  }
  if (!errors.empty()) throw ConfigError(errors.lines(), internal);
  return c;
}

Config load_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rbe"), &std::fclose);
  if (!file) throw ConfigError({path + ": cannot read: " + std::strerror(errno)});
  std::string text;
  char buf[8192];
  while (text.size() <= max_file_bytes) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, file.get());
    text.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(file.get())) throw ConfigError({path + ": cannot read: " + std::strerror(errno)});
  return load_string(text, path);
}

namespace {

std::uint32_t ceil_ticks(std::uint32_t ms, std::uint32_t tick_ms) {
  const std::uint64_t tick = std::max<std::uint32_t>(tick_ms, 1);
  const std::uint64_t ticks = (static_cast<std::uint64_t>(ms) + tick - 1) / tick;
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(ticks, 1));
}

}  // namespace

namespace {

std::string replace_node(std::string s, const std::string& node) {
  for (auto pos = s.find("{node}"); pos != std::string::npos; pos = s.find("{node}", pos + node.size()))
    s.replace(pos, 6, node);
  return s;
}

}  // namespace

Config resolve_for_node(Config c, const std::string& node) {
  c.tls.cert = replace_node(c.tls.cert, node);
  c.tls.key = replace_node(c.tls.key, node);
  c.control_socket = replace_node(c.control_socket, node);
  c.data_dir = replace_node(c.data_dir, node);
  c.replication.ssh_key = replace_node(c.replication.ssh_key, node);
  return c;
}

std::string Config::data_dir_of(const std::string& name) const { return replace_node(data_dir_pattern, name); }

TickTiming to_ticks(const Timing& t) {
  return TickTiming{ceil_ticks(t.heartbeat_interval_ms, t.tick_ms), ceil_ticks(t.suspect_timeout_ms, t.tick_ms),
                    ceil_ticks(t.suspect_timeout_max_ms, t.tick_ms)};
}

}  // namespace vmrep::config
