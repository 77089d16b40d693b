#pragma once
// A cluster CA and node certificates, made with OpenSSL, so an operator is not
// left to hand-roll them (vmrepctl pki init|issue).
//   init(dir, cluster):  dir/ca.key (0600), dir/ca.crt
//   issue(dir, node):    dir/NODE.key (0600), dir/NODE.crt signed by the CA,
//                        CN=NODE, O=CLUSTER, subjectAltName DNS:NODE,
//                        serverAuth+clientAuth. CLUSTER is the CA's O= (the
//                        `cluster` of init) unless `cluster` is given: one CA
//                        may sign for several clusters, and peers check O=
//                        against their configured cluster, so a certificate
//                        for one cluster's "h2" is refused by another's nodes.
// Keys are EC P-256. Existing files are never overwritten (std::runtime_error),
// except a certificate by renew().

#include <cstdint>
#include <string>

namespace vmrep::transport::pki {

void init(const std::string& dir, const std::string& cluster, int valid_days = 3650);
void issue(const std::string& dir, const std::string& node, int valid_days = 825, const std::string& cluster = "");

// renew(dir, node): a new dir/NODE.crt for the existing dir/NODE.key, signed by
// the CA, same CN and O=, valid `valid_days` from now; replaces the old file
// atomically (rename). A running daemon serves it from its next SIGHUP on,
// without dropping a link; peers need nothing (same CA, same name).
struct Renewal {
  std::int64_t old_not_after = 0, new_not_after = 0;  // Unix seconds
};
Renewal renew(const std::string& dir, const std::string& node, int valid_days = 825);

// Expiry. Times are Unix seconds; the caller brings the clock, so these are
// pure except certificate_not_after, which reads the file.
inline constexpr std::int64_t kExpiryWarningDays = 30;
enum class ExpiryLevel { ok, warning, expired };

// The notAfter of the PEM certificate in `cert_file`; std::runtime_error, one
// line naming the file, when it cannot be read.
std::int64_t certificate_not_after(const std::string& cert_file);
// Whole days left (rounded down; negative once expired).
std::int64_t days_left(std::int64_t not_after, std::int64_t now);
// expired after notAfter; warning while fewer than `warn_days` days are left.
ExpiryLevel expiry_level(std::int64_t not_after, std::int64_t now, std::int64_t warn_days = kExpiryWarningDays);
// "2026-12-05T21:00:00Z".
std::string rfc3339(std::int64_t unix_seconds);
// The log line for a certificate that expires soon or has expired ("" when
// neither), naming the file, notAfter, what is left and how to renew.
std::string expiry_message(const std::string& cert_file, std::int64_t not_after, std::int64_t now);

}  // namespace vmrep::transport::pki
