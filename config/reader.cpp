#include "config/reader.hpp"

#include <algorithm>
#include <limits>

#include "config/suggest.hpp"

namespace vmrep::config::detail {
namespace {

bool lower_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? static_cast<char>(x - 'A' + 'a') : x) == y;
         });
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Digits in `base` (8 or 10) into a value; false on a bad digit or when the
// value passes `limit` (so long inputs cannot overflow).
bool parse_digits(std::string_view s, unsigned base, std::uint64_t limit, std::uint64_t& out) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c >= static_cast<char>('0' + base)) return false;
    v = v * base + static_cast<unsigned>(c - '0');
    if (v > limit) return false;
  }
  out = v;
  return true;
}

std::string octal(std::uint64_t v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + (v & 7)));
    v >>= 3;
  } while (v != 0);
  return "0" + s;
}

std::string range_text(std::int64_t min, std::int64_t max) {
  if (max == std::numeric_limits<std::int64_t>::max() || max == std::numeric_limits<std::uint32_t>::max())
    return "must be >= " + std::to_string(min);
  return "must be between " + std::to_string(min) + " and " + std::to_string(max);
}

}  // namespace

Pos pos_of(const YAML::Node& n, Pos fallback) {
  const YAML::Mark m = n.Mark();
  if (m.is_null() || m.line < 0 || m.column < 0) return fallback;
  return Pos{m.line + 1, m.column + 1};
}

Pos pos_of_mark(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0 || m.column < 0) return Pos{};
  return Pos{m.line + 1, m.column + 1};
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return quoted(n.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string join(const std::string& path, std::string_view key) {
  std::string k = printable(key, 128);
  return path.empty() ? k : path + "." + k;
}

void Reader::reject(const Field& f, std::string_view message) {
  error(f.at, f.path, message);
  failed_.insert(f.path);
}

const Where* Reader::find(const std::string& path) const {
  auto it = marks_.find(path);
  return it == marks_.end() ? nullptr : &it->second;
}

bool Reader::scalar(const Field& f, std::string_view expected) {
  if (f.value.IsScalar()) return true;
  reject(f, "expected " + std::string(expected) + ", got " + describe(f.value));
  return false;
}

bool Reader::text(const Field& f, std::string& out, bool allow_empty) {
  if (allow_empty && (f.value.IsNull() || !f.value.IsDefined())) {
    out.clear();
    return true;
  }
  if (!scalar(f, "a string")) return false;
  if (f.value.Scalar().empty() && !allow_empty) {
    reject(f, "must not be empty");
    return false;
  }
  out = f.value.Scalar();
  return true;
}

bool Reader::integer(const Field& f, std::int64_t min, std::int64_t max, std::int64_t& out) {
  if (!scalar(f, "an integer")) return false;
  const std::string& s = f.value.Scalar();
  std::string_view digits = s;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) digits.remove_prefix(1);
  if (!is_digits(digits)) {
    reject(f, "expected an integer, got " + quoted(s));
    return false;
  }
  std::uint64_t magnitude = 0;
  const bool fits = parse_digits(digits, 10, std::numeric_limits<std::int64_t>::max(), magnitude);
  const std::int64_t v = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  if (!fits || v < min || v > max) {
    reject(f, range_text(min, max) + ", got " + printable(s));
    return false;
  }
  out = v;
  return true;
}

bool Reader::boolean(const Field& f, bool& out) {
  if (!scalar(f, "true or false")) return false;
  const std::string& s = f.value.Scalar();
  for (std::string_view yes : {"true", "yes", "on"})
    if (lower_equal(s, yes)) return out = true, true;
  for (std::string_view no : {"false", "no", "off"})
    if (lower_equal(s, no)) return out = false, true;
  reject(f, "expected true or false, got " + quoted(s));
  return false;
}

bool Reader::choice(const Field& f, const std::vector<std::string_view>& options, std::string& out) {
  std::string all;
  for (std::string_view o : options) all.append(all.empty() ? "" : ", ").append(o);
  if (!scalar(f, "one of " + all)) return false;
  const std::string& s = f.value.Scalar();
  if (std::find(options.begin(), options.end(), s) != options.end()) {
    out = s;
    return true;
  }
  std::string message = "expected one of " + all + ", got " + quoted(s);
  if (auto near = closest(s, options)) message += " (did you mean '" + *near + "'?)";
  reject(f, message);
  return false;
}

bool Reader::file_mode(const Field& f, std::uint32_t& out) {
  if (!scalar(f, "an octal mode like \"0600\"")) return false;
  const std::string& s = f.value.Scalar();
  std::string_view body = s;
  unsigned base = 10;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
    body.remove_prefix(2);
    base = 8;
  } else if (f.value.Tag() == "!" || (body.size() > 1 && body[0] == '0')) {
    base = 8;  // quoted, or a leading zero: the way chmod reads it
  }
  if (!is_digits(body)) {
    reject(f, "expected an octal mode like \"0600\", got " + quoted(s));
    return false;
  }
  if (base == 8 && body.find_first_of("89") != std::string_view::npos) {
    reject(f, "expected an octal mode like \"0600\", got " + quoted(s) + " (8 and 9 are not octal digits)");
    return false;
  }
  std::uint64_t v = 0;
  constexpr std::uint64_t limit = 1u << 20;  // far above 0777; only bounds the parse
  if (!parse_digits(body, base, limit, v)) v = limit + 1;
  if (v > 0777) {
    std::string message = "must be at most 0777, got " + (base == 8 && v <= limit ? octal(v) : printable(s));
    if (base == 10) message += " (decimal; write octal as \"0" + printable(s) + "\")";
    reject(f, message);
    return false;
  }
  out = static_cast<std::uint32_t>(v);
  return true;
}

bool Reader::visit() {
  if (++visited_ <= max_values) return true;
  if (visited_ == max_values + 1)
    errors_.stop("too many values (more than " + std::to_string(max_values) +
                 ", counting each use of an alias); checking stopped there");
  return false;
}

bool Reader::walk(const Field& f, const std::vector<std::string_view>* known,
                  const std::map<std::string_view, std::string_view>* moved, const OnField& on_field) {
  if (f.value.IsNull() || !f.value.IsDefined()) return true;
  if (!f.value.IsMap()) {
    reject(f, "expected a mapping, got " + describe(f.value));
    return false;
  }
  std::map<std::string, int> first_line;  // key -> line it was first written on
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    // Copies: it-> returns a proxy that dies with the statement.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const Pos key_at = pos_of(key, f.at);
    if (!visit()) return true;
    if (!key.IsScalar() || key.Scalar().empty()) {
      error(key_at, f.path, "keys must be non-empty strings, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string path = join(f.path, name);
    auto [seen, fresh] = first_line.emplace(name, key_at.line);
    if (!fresh) {
      error(key_at, path, "duplicate key (first at line " + std::to_string(seen->second) + ")");
      continue;
    }
    if (known != nullptr && std::find(known->begin(), known->end(), name) == known->end()) {
      std::string message = "unknown key";
      if (auto m = moved->find(name); m != moved->end()) {
        message += " (did you mean '" + std::string(m->second) + "." + name + "'?)";
      } else if (auto near = closest(name, *known)) {
        message += " (did you mean '" + *near + "'?)";
      }
      error(key_at, path, message);
      continue;
    }
    const Pos value_at = value.IsNull() || !value.IsDefined() ? key_at : pos_of(value, key_at);
    mark(path, Where{key_at, value_at});
    on_field(name, Field{value, key_at, path});
  }
  return true;
}

bool Reader::mapping(const Field& f, const std::vector<std::string_view>& known, const OnField& on_field,
                     const std::map<std::string_view, std::string_view>& moved) {
  return walk(f, &known, &moved, on_field);
}

bool Reader::named_mapping(const Field& f, const OnField& on_field) { return walk(f, nullptr, nullptr, on_field); }

bool Reader::list(const Field& f, const std::function<void(std::size_t index, const Field& item)>& on_item) {
  if (f.value.IsNull() || !f.value.IsDefined()) return true;
  if (!f.value.IsSequence()) {
    reject(f, "expected a list, got " + describe(f.value));
    return false;
  }
  std::size_t index = 0;
  Pos previous = pos_of(f.value, f.at);  // a block list: its first '-'
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++index) {
    const YAML::Node item = *it;
    // yaml-cpp marks an empty item where the next token starts, maybe lines
    // later; the item before it (or the list) keeps messages in file order.
    const Pos at = item.IsNull() ? previous : pos_of(item, f.at);
    previous = at;
    if (!visit()) return true;
    const std::string path = f.path + "[" + std::to_string(index) + "]";
    mark(path, Where{at, at});
    on_item(index, Field{item, at, path});
  }
  return true;
}

}  // namespace vmrep::config::detail
