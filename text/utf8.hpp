#pragma once
// Text that came from outside (a peer's frame, an HTTP request's path, a
// libvirt or libssh2 message) on its way into logs and JSON. nlohmann::json
// throws on invalid UTF-8 when it dumps, and an exception there is a crashed
// daemon or an API that answers 500 until the entry ages out; so every such
// string goes through one of these first.
#include <cstddef>
#include <string>
#include <string_view>

namespace vmrep::text {

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

// `s` with every byte that is not part of a well-formed UTF-8 sequence
// replaced by U+FFFD, and (when `controls` is Controls::replace) every ASCII
// control character (below 0x20, and 0x7F) by '?', so a peer cannot forge log
// lines. The result is always valid UTF-8.
enum class Controls { keep, replace };
std::string to_valid_utf8(std::string_view s, Controls controls = Controls::keep);

// At most `max_bytes` bytes of `s`, cut on a character boundary, made valid
// and free of control characters (to_valid_utf8 with Controls::replace). The
// replacement characters count against `max_bytes` too.
std::string peer_text(std::string_view s, std::size_t max_bytes);

// The longest prefix of an already valid UTF-8 `s` of at most `max_bytes`
// bytes that ends on a character boundary.
std::string_view cut_utf8(std::string_view s, std::size_t max_bytes);

}  // namespace vmrep::text
