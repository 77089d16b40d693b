#pragma once
// A cluster CA and node certificates, made with OpenSSL, so an operator is not
// left to hand-roll them (vmrepctl pki init|issue).
//   init(dir, cluster):  dir/ca.key (0600), dir/ca.crt
//   issue(dir, node):    dir/NODE.key (0600), dir/NODE.crt signed by the CA,
//                        CN=NODE, subjectAltName DNS:NODE, serverAuth+clientAuth
// Keys are EC P-256. Existing files are never overwritten (std::runtime_error).

#include <string>

namespace vmrep::transport::pki {

void init(const std::string& dir, const std::string& cluster, int valid_days = 3650);
void issue(const std::string& dir, const std::string& node, int valid_days = 825);

}  // namespace vmrep::transport::pki
