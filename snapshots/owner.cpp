#include "snapshots/owner.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "snapshots/errors.hpp"

namespace vmrep::snapshots {
namespace {

std::optional<StoreOwner>& owner_slot() {
  static std::optional<StoreOwner> owner;
  return owner;
}

// `root` is normalized already (set_store_owner).
bool under(const std::filesystem::path& path, const std::filesystem::path& root) {
  const std::string p = path.lexically_normal().string();
  const std::string& r = root.native();
  return p == r || (p.size() > r.size() && p.compare(0, r.size(), r) == 0 && (r.back() == '/' || p[r.size()] == '/'));
}

}  // namespace

void set_store_owner(std::optional<StoreOwner> owner) {
  if (owner) owner->root = owner->root.lexically_normal();
  owner_slot() = std::move(owner);
}
const std::optional<StoreOwner>& store_owner() { return owner_slot(); }

namespace detail {

void give_to_owner(const std::filesystem::path& path, int fd) {
  const auto& owner = owner_slot();
  if (!owner || !under(path, owner->root)) return;
  const int rc = fd >= 0 ? ::fchown(fd, owner->uid, owner->gid) : ::lchown(path.c_str(), owner->uid, owner->gid);
  if (rc != 0) throw_errno("cannot give to the store owner (chown)", path.string(), errno);
}

}  // namespace detail

std::uint64_t adopt_store_tree() {
  const auto& owner = owner_slot();
  if (!owner) return 0;
  std::uint64_t changed = 0;
  auto adopt = [&](const std::filesystem::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return;  // removed meanwhile
      throw_errno("cannot stat", p.string(), errno);
    }
    if (st.st_uid == owner->uid && st.st_gid == owner->gid) return;
    if (::lchown(p.c_str(), owner->uid, owner->gid) != 0)
      throw_errno("cannot give to the store owner (chown)", p.string(), errno);
    ++changed;
  };
  std::error_code ec;
  if (!std::filesystem::exists(owner->root, ec)) return 0;
  adopt(owner->root);
  // Symlinks are not followed (the default): an entry is adopted, not its target.
  for (std::filesystem::recursive_directory_iterator it(owner->root, ec), end; !ec && it != end; it.increment(ec))
    adopt(it->path());
  if (ec) throw_errno("cannot walk", owner->root.string(), ec.value());
  return changed;
}

}  // namespace vmrep::snapshots
