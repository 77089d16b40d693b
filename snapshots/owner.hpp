#pragma once
// Who owns a store's files. By default the daemon's user (root) owns all,
// 0700/0600. With a store owner set (config replication.store_owner: the
// SFTP account peers push as, restricted to internal-sftp), every directory
// and file created under the store root is given to that account right after
// it is created, so pushes need no root login while other local users still
// cannot read guest memory (the modes stay 0700/0600). Set once at start,
// before any store work and before worker threads exist.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace vmrep::snapshots {

struct StoreOwner {
  uid_t uid = 0;
  gid_t gid = 0;
  std::filesystem::path root;  // only paths at or under it are given away
};

void set_store_owner(std::optional<StoreOwner> owner);
const std::optional<StoreOwner>& store_owner();

// Gives every entry at or under the owner's root that another user owns to
// the owner (symlinks themselves, never followed): a store made before the
// owner was configured. Returns how many entries changed; throws
// SnapshotError naming the path. Nothing without an owner.
std::uint64_t adopt_store_tree();

namespace detail {
// chown of what was just created at `path` (fd >= 0: fchown of it) when a
// store owner is set and `path` is under its root; SnapshotError naming the
// path otherwise failing.
void give_to_owner(const std::filesystem::path& path, int fd = -1);
}  // namespace detail

}  // namespace vmrep::snapshots
