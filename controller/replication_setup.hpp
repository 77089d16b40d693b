#pragma once
// The secret files replication reads when the daemon starts
// (controller/replication_setup.cpp); declared here so tests can reach them.
//
// A secret file group or others can read is refused, not used: the cluster
// key lets whoever reads it forge manifests every host accepts, the SSH key
// lets them log in to every peer as the replication account.

#include <filesystem>
#include <string>

#include "snapshots/hash.hpp"

namespace vmrep::controller {

// The cluster key (the HMAC key of manifests, >= 32 bytes). std::runtime_error,
// one line naming the file and the fix, when it cannot be read, is too short,
// or group or others have any access to it (mode & 077).
snapshots::MacKey read_cluster_key(const std::string& path);

// Throws std::runtime_error ("SETTING PATH: readable by group or others (mode
// 0644); fix with: chmod 600 PATH") when `path` exists and group or others
// have any access to it. An absent file is not checked here (its user
// reports that). `setting` names the configuration key, e.g.
// "replication.ssh_key".
void refuse_if_shared(const std::string& setting, const std::string& path);

// replication.store_owner: `user` (empty: none) owns DATA_DIR/snapshots and
// everything created there (snapshots/owner.hpp); an existing store is given
// to it, and data_dir made searchable (o+x, never readable) so the account
// reaches its store. std::runtime_error naming the setting for an unknown
// user, root, or a chmod/chown that fails.
void set_up_store_owner(const std::string& user, const std::filesystem::path& data_dir);

}  // namespace vmrep::controller
