#pragma once
// Internal to config/: the schema. load_tree() reads the document into a
// Config (types, single-field ranges, required keys, name syntax);
// validate() then applies the rules that relate fields to each other and
// fills the defaults that depend on other fields. Both only add to the
// Reader's Errors; load_string() throws once at the end.

#include <yaml-cpp/yaml.h>

#include <string_view>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace vmrep::config::detail {

// False when the document is no mapping at all (nothing else to check).
bool load_tree(Reader& r, const YAML::Node& root, Config& c);
void validate(Reader& r, Config& c);

// [A-Za-z0-9][A-Za-z0-9._-]{0,62}: node, service and cluster names.
bool valid_name(std::string_view s);

// 127.0.0.0/8 (dotted quad), ::1 (or ::ffff:127.x.y.z), "localhost".
bool is_loopback(std::string_view address);

}  // namespace vmrep::config::detail
