#pragma once
// Exceptions from the worker pool's jobs (libvirt, the store, qemu-img,
// hooks) turned into the policy's typed failures.
#include <exception>

#include "replication/failure.hpp"

namespace vmrep::agents {

// The kind and one-line text of `e`: VmError kinds map one to one; chunk and
// manifest errors are corrupt (a missing chunk: not_found); ENOSPC/EDQUOT
// from the store or the file system is no_space; anything else failed.
replication::Failure classify(std::exception_ptr e);

}  // namespace vmrep::agents
