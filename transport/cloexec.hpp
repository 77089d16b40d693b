#pragma once
// Boost.Asio opens and accepts sockets without SOCK_CLOEXEC (1.74 calls plain
// socket(2) and accept(2)). Every descriptor the daemon holds must be
// close-on-exec, or a hook's background child keeps the daemon's ports after
// it exits. The call sites mark each socket right after open/accept; the short
// window before that is covered by the hook runner, which closes every
// descriptor above 2 in the child before execve.

#include <fcntl.h>

namespace vmrep::transport {

// Sets FD_CLOEXEC on `fd`; false if fcntl failed (the caller logs, the socket
// still works).
inline bool set_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

}  // namespace vmrep::transport
