#pragma once
// Helpers shared by the config tests: files written as one string per line
// (so the line numbers that messages carry are visible in the test) and the
// lines a load fails with.

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace vmrep::config::test {

// Lines joined with '\n' (and a final one): element i is line i + 1.
inline std::string yaml(std::initializer_list<const char*> lines) {
  std::string s;
  for (const char* line : lines) s.append(line).append("\n");
  return s;
}

// The ConfigError lines of loading `text` as "cluster.yaml"; a failure (and
// no lines) if it loads.
inline std::vector<std::string> errors_of(const std::string& text) {
  try {
    load_string(text, "cluster.yaml");
  } catch (const ConfigError& e) {
    return e.lines();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << text;
  return {};
}

using Lines = std::vector<std::string>;

// Three nodes and TLS files on lines 1..9: a valid start for error tests.
inline constexpr const char* kHead[] = {
    /* 1 */ "nodes:",
    /* 2 */ "  - name: h1",
    /* 3 */ "    address: 10.0.0.1",
    /* 4 */ "  - name: h2",
    /* 5 */ "    address: 10.0.0.2",
    /* 6 */ "  - name: h3",
    /* 7 */ "    address: 10.0.0.3",
    /* 8 */ "tls: {ca: /etc/vmrep/ca.crt, cert: '/etc/vmrep/{node}.crt', key: '/etc/vmrep/{node}.key'}",
    /* 9 */ "log_level: info",
};

// kHead followed by `rest` (whose first element is line 10).
inline std::string with_head(std::initializer_list<const char*> rest) {
  std::string s;
  for (const char* line : kHead) s.append(line).append("\n");
  for (const char* line : rest) s.append(line).append("\n");
  return s;
}

}  // namespace vmrep::config::test
