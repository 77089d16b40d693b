#include "agents/vm_host.hpp"
#include "vmadapters/errors.hpp"

#include "agents/clock.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>

#include "snapshots/ingest.hpp"
#include "snapshots/rebuild.hpp"
#include "snapshots/standby.hpp"

namespace vmrep::agents {
namespace fs = std::filesystem;
namespace {

// Directories that hold a running or restoring VM's files: the owner's, and
// search (not list) for others, since qemu may run as another user
// (libvirt-qemu) and must reach its disk files by path. The files in them are
// 0600 (and chowned to qemu's user by libvirt), so nothing is readable.
constexpr fs::perms kVmDirPerms = fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec;


using Steady = std::chrono::steady_clock;

std::string layer_name(const std::string& target, std::size_t index, const std::string& format) {
  return "disk." + target + "." + std::to_string(index) + "." + format;
}

struct LayerName {
  std::string target;
  std::size_t index = 0;
  std::string format;
};

// Inverse of layer_name(); nullopt for anything else ("memory").
std::optional<LayerName> parse_layer(const std::string& name) {
  if (name.rfind("disk.", 0) != 0) return std::nullopt;
  auto last = name.rfind('.');
  auto mid = name.rfind('.', last - 1);
  if (mid == std::string::npos || mid <= 5 || last == name.size() - 1) return std::nullopt;
  LayerName l;
  l.target = name.substr(5, mid - 5);
  l.format = name.substr(last + 1);
  try {
    l.index = std::stoul(name.substr(mid + 1, last - mid - 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (l.format != "qcow2" && l.format != "raw") return std::nullopt;
  return l;
}

}  // namespace

VmHost::VmHost(vmadapters::VmAdapter& vm, snapshots::Store& store, std::string service, std::string domain,
               fs::path work_dir)
    : vm_(vm), store_(store), service_(std::move(service)), domain_(std::move(domain)), work_(std::move(work_dir)) {
  fs::create_directories(work_);
  fs::permissions(work_, kVmDirPerms);
}

bool VmHost::running() {
  if (!vm_.exists(domain_)) return false;
  auto s = vm_.state(domain_);
  return s == vmadapters::DomainState::running || s == vmadapters::DomainState::paused ||
         s == vmadapters::DomainState::blocked;
}

bool VmHost::startable() { return vm_.exists(domain_) && !running(); }

void VmHost::start() { vm_.start(domain_); }

void VmHost::power_off() {
  if (running()) vm_.destroy(domain_);
}

void VmHost::suspend() { vm_.suspend(domain_); }

void VmHost::resume() {
  if (!vm_.exists(domain_) || vm_.state(domain_) != vmadapters::DomainState::paused) return;
  try {
    vm_.resume(domain_);
  } catch (const vmadapters::VmError&) {
    // A domain being started shows as paused until libvirt resumes it
    // itself (QEMU starts stopped); ours then fails with "already running".
    // Running is what was asked for.
    if (vm_.state(domain_) == vmadapters::DomainState::running) return;
    throw;
  }
}

CheckpointOutcome VmHost::checkpoint(snapshots::Version v, std::optional<snapshots::Version> parent,
                                     std::int64_t created_unix_ms, bool shorten_chain) {
  CheckpointOutcome out;
  out.version = v;
  const fs::path dir = work_ / ("ck-" + snapshots::to_string(v));
  fs::remove_all(dir);  // a leftover of a checkpoint that died before its version existed
  auto t0 = Steady::now();
  vmadapters::CheckpointResult ck = vm_.checkpoint(domain_, dir);
  out.checkpoint_ms = ms_since(t0);
  out.downtime_ms = ck.downtime_ms;

  snapshots::NewVersion nv;
  nv.service = service_;
  nv.version = v;
  nv.parent = parent;
  nv.created_unix_ms = created_unix_ms;
  nv.domain_xml = ck.domain_xml;
  nv.files.push_back({"memory", ck.memory_file});
  for (const auto& d : ck.disks)
    for (std::size_t i = 0; i < d.chain.size(); ++i)
      nv.files.push_back({layer_name(d.target, i, d.chain[i].format), d.chain[i].file});
  t0 = Steady::now();
  snapshots::IngestStats stats;
  snapshots::write_version(store_, chunker_, nv, &stats);
  out.ingest_ms = ms_since(t0);
  out.plain_bytes = stats.bytes;
  out.new_bytes = stats.new_bytes;
  out.new_chunks = stats.new_chunks;
  fs::remove(ck.memory_file);

  if (shorten_chain && vm_.capabilities().block_commit) {
    t0 = Steady::now();
    vm_.commit_chain(domain_, vmadapters::CommitMode::into_base);
    out.commit_ms = ms_since(t0);
  }
  prune_work();
  return out;
}

RestoreOutcome VmHost::restore(snapshots::Version v, bool paused) {
  if (running()) throw std::runtime_error("restore " + domain_ + ": the domain is already running");
  RestoreOutcome out;
  out.version = v;
  const fs::path dir = work_ / ("restore-" + snapshots::to_string(v));
  fs::remove_all(dir);
  auto t0 = Steady::now();
  {
    std::lock_guard lock(standby_mutex_);
    out.from_standby = standby_ && standby_->version == v;
    standby_.reset();
  }
  if (out.from_standby) {
    fs::rename(work_ / "standby", dir);
  } else {
    snapshots::rebuild_version(store_, service_, v, dir, false);
  }
  out.rebuild_ms = ms_since(t0);

  std::map<std::string, std::map<std::size_t, vmadapters::DiskLayer>> chains;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (auto l = parse_layer(entry.path().filename().string()))
      chains[l->target][l->index] = vmadapters::DiskLayer{entry.path(), l->format};
  }
  vmadapters::CheckpointFiles files;
  files.memory_file = dir / "memory";
  t0 = Steady::now();
  for (const auto& [target, layers] : chains) {
    std::vector<vmadapters::DiskLayer> chain;
    for (const auto& [i, layer] : layers) chain.push_back(layer);
    const fs::path flat = dir / (target + ".qcow2");
    vm_.flatten(chain, flat);
    for (const auto& layer : chain) fs::remove(layer.file);
    files.disks[target] = vmadapters::DiskLayer{flat, "qcow2"};
  }
  out.flatten_ms = ms_since(t0);
  // Built private (0700), opened for search only now that every file in it is
  // 0600: qemu may run as another user and reaches its disk by path.
  fs::permissions(dir, kVmDirPerms);
  t0 = Steady::now();
  vmadapters::RestoreOptions options;
  options.start_paused = paused;
  vm_.restore(files, options);
  out.restore_ms = ms_since(t0);
  fs::remove(files.memory_file);
  prune_work();
  return out;
}

std::uint64_t VmHost::prepare_standby(snapshots::Version v) {
  std::optional<snapshots::Manifest> previous;
  {
    std::lock_guard lock(standby_mutex_);
    previous.swap(standby_);
  }
  const snapshots::Pin pin = store_.pin(service_, v);
  snapshots::Manifest m = store_.load(service_, v);
  const fs::path dir = work_ / "standby";
  try {
    auto stats = snapshots::update_standby(store_.chunks(), m, previous ? &*previous : nullptr, dir);
    std::lock_guard lock(standby_mutex_);
    standby_ = std::move(m);
    return stats.bytes_written;
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    throw;
  }
}

std::optional<snapshots::Version> VmHost::standby_version() const {
  std::lock_guard lock(standby_mutex_);
  return standby_ ? std::optional<snapshots::Version>(standby_->version) : std::nullopt;
}

void VmHost::prune_work() {
  std::set<fs::path> keep;
  if (vm_.exists(domain_) && running()) {
    for (const auto& chain : vm_.disk_chains(domain_))
      for (const auto& layer : chain.layers) keep.insert(layer.file.lexically_normal());
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(work_, ec)) {
    const fs::path p = entry.path().lexically_normal();
    if (p.filename() == "standby") continue;  // prepare_standby()/restore() own it
    bool used = std::any_of(keep.begin(), keep.end(), [&](const fs::path& f) {
      auto rel = f.lexically_relative(p);
      return !rel.empty() && *rel.begin() != "..";
    });
    if (!used) fs::remove_all(p, ec);
  }
}

}  // namespace vmrep::agents
