#include "snapshots/pack.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "snapshots/bulk_writer.hpp"
#include "snapshots/errors.hpp"
#include "snapshots/owner.hpp"
#include "snapshots/fs_util.hpp"

namespace vmrep::snapshots {
namespace {

constexpr std::uint8_t pack_magic[8] = {'V', 'M', 'R', 'P', 'A', 'C', 'K', 0x01};

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{p[i]} << (8 * i);
  return v;
}

// Reads up to n bytes (fewer only at the end of the input).
using ReadFn = std::function<std::size_t(std::uint8_t*, std::size_t)>;

std::size_t read_full(const ReadFn& read, std::uint8_t* out, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const std::size_t got = read(out + done, n - done);
    if (got == 0) break;
    done += got;
  }
  return done;
}

[[noreturn]] void refuse(const std::string& name, std::uint64_t offset, const std::string& what) {
  throw SnapshotError("pack " + name + ": record at offset " + std::to_string(offset) + ": " + what);
}

// Records are verified and written by a BulkWriter (several threads, one
// syncfs at the end); a record it rejects is refused here with its offset,
// after the records before it were committed.
UnpackStats unpack(ChunkStore& chunks, const ReadFn& read, const std::string& name) {
  UnpackStats stats;
  std::uint8_t header[pack_header_bytes];
  if (read_full(read, header, sizeof header) < sizeof header) return stats;  // truncated: nothing taken
  if (std::memcmp(header, pack_magic, 7) != 0) refuse(name, 0, "not a pack (bad magic)");
  if (header[7] != pack_magic[7]) refuse(name, 0, "unknown pack format version " + std::to_string(header[7]));
  stats.records_declared = get_u32(header + 8);
  if (stats.records_declared > pack_records_max) {
    refuse(name, 0, "record count " + std::to_string(stats.records_declared) + " exceeds " + std::to_string(pack_records_max));
  }
  std::uint64_t at = sizeof header;
  BulkWriter writer(chunks);
  const auto fail = [&](std::uint64_t offset, const std::string& what) {
    writer.commit();  // the verified records before it stay (valid chunks)
    refuse(name, offset, what);
  };
  std::uint8_t rh[pack_record_header_bytes];
  for (;;) {
    const std::size_t got = read_full(read, rh, sizeof rh);
    if (got < sizeof rh) break;  // the end, or a truncated tail
    if (stats.ids.size() == stats.records_declared) {
      fail(at, "more records than the header's " + std::to_string(stats.records_declared));
    }
    ChunkId id;
    std::memcpy(id.bytes.data(), rh, 32);
    const std::uint32_t len = get_u32(rh + 32);
    if (len == 0 || len > pack_record_bytes_max) {
      fail(at, "chunk " + id.short_hex() + ": length " + std::to_string(len) + " out of bounds 1.." +
                   std::to_string(pack_record_bytes_max));
    }
    Bytes stored(len);
    if (read_full(read, stored.data(), len) < len) break;  // truncated tail
    stats.ids.push_back(id);
    if (!writer.add(id, std::move(stored), at)) break;
    at += sizeof rh + len;
  }
  writer.commit();
  if (const auto& r = writer.rejection()) refuse(name, r->tag, r->what);
  stats.records = stats.ids.size();
  stats.chunks_written = writer.written();
  stats.bytes = at;
  stats.complete = stats.records == stats.records_declared;
  return stats;
}

}  // namespace

ChunkId pack_digest(std::span<const ChunkId> ids) {
  Bytes all;
  all.reserve(ids.size() * 32);
  for (const auto& id : ids) all.insert(all.end(), id.bytes.begin(), id.bytes.end());
  return sha256(all);
}

PackSource::PackSource(const ChunkStore& chunks, std::vector<ChunkId> ids)
    : chunks_(chunks), ids_(std::move(ids)), digest_(pack_digest(ids_)) {
  if (ids_.size() > pack_records_max) throw SnapshotError("pack: too many chunks for one pack");
  starts_.reserve(ids_.size());
  std::uint64_t at = pack_header_bytes;
  for (const auto& id : ids_) {
    const auto bytes = chunks_.stored_bytes(id);
    if (!bytes) throw ChunkMissing(id, "pack: chunk " + id.hex() + " is not in the store");
    starts_.push_back(at);
    at += pack_record_header_bytes + *bytes;
  }
  size_ = at;
}

Bytes PackSource::header() const {
  Bytes h(pack_header_bytes);
  std::memcpy(h.data(), pack_magic, 8);
  put_u32(h.data() + 8, static_cast<std::uint32_t>(ids_.size()));
  std::memcpy(h.data() + 12, digest_.bytes.data(), 32);
  return h;
}

std::size_t PackSource::read_at(std::uint64_t offset, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size() && offset < size_) {
    if (offset < pack_header_bytes) {
      const Bytes h = header();
      const std::size_t n = std::min<std::uint64_t>(out.size() - done, pack_header_bytes - offset);
      std::memcpy(out.data() + done, h.data() + offset, n);
      done += n;
      offset += n;
      continue;
    }
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    const auto index = static_cast<std::size_t>(it - starts_.begin()) - 1;
    if (index != cached_) {
      const ChunkId& id = ids_[index];
      const Bytes stored = chunks_.read_encoded(id);
      const std::uint64_t end = index + 1 < starts_.size() ? starts_[index + 1] : size_;
      if (pack_record_header_bytes + stored.size() != end - starts_[index]) {
        throw SnapshotError("pack: chunk " + id.hex() + " changed size while packing");
      }
      record_.resize(pack_record_header_bytes + stored.size());
      std::memcpy(record_.data(), id.bytes.data(), 32);
      put_u32(record_.data() + 32, static_cast<std::uint32_t>(stored.size()));
      std::memcpy(record_.data() + pack_record_header_bytes, stored.data(), stored.size());
      cached_ = index;
    }
    const std::uint64_t within = offset - starts_[index];
    const std::size_t n = std::min<std::uint64_t>(out.size() - done, record_.size() - within);
    std::memcpy(out.data() + done, record_.data() + within, n);
    done += n;
    offset += n;
  }
  return done;
}

std::uint64_t write_pack(const ChunkStore& chunks, std::span<const ChunkId> ids, const std::filesystem::path& path) {
  PackSource source(chunks, std::vector<ChunkId>(ids.begin(), ids.end()));
  detail::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, detail::file_mode));
  if (!fd) throw_errno("pack: create", path.string(), errno);
  detail::give_to_owner(path, fd.get());
  Bytes buffer(std::size_t{1} << 20);
  std::uint64_t offset = 0;
  for (;;) {
    const std::size_t n = source.read_at(offset, buffer);
    if (n == 0) break;
    detail::write_all(fd.get(), ByteView(buffer.data(), n), path.string());
    offset += n;
  }
  return offset;
}

UnpackStats unpack_into(ChunkStore& chunks, const std::filesystem::path& pack_path) {
  detail::Fd fd(::open(pack_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("pack: open", pack_path.string(), errno);
  return unpack_fd_into(chunks, fd.get(), pack_path.string());
}

UnpackStats unpack_fd_into(ChunkStore& chunks, int fd, const std::string& name) {
  return unpack(
      chunks,
      [fd, &name](std::uint8_t* out, std::size_t n) -> std::size_t {
        for (;;) {
          const ssize_t got = ::read(fd, out, n);
          if (got >= 0) return static_cast<std::size_t>(got);
          if (errno != EINTR) throw_errno("pack: read", name, errno);
        }
      },
      name);
}

UnpackStats unpack_bytes_into(ChunkStore& chunks, ByteView pack, const std::string& name) {
  std::size_t at = 0;
  return unpack(
      chunks,
      [&](std::uint8_t* out, std::size_t n) -> std::size_t {
        const std::size_t k = std::min(n, pack.size() - at);
        if (k > 0) std::memcpy(out, pack.data() + at, k);
        at += k;
        return k;
      },
      name);
}

}  // namespace vmrep::snapshots
