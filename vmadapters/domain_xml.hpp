// Reading and rewriting libvirt domain XML (libxml2). Pure functions on strings:
// no libvirt connection, no files touched. Throw VmError (invalid_argument or
// unsupported) with operation "parse domain XML" / "rewrite domain XML".
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "vmadapters/vm_adapter.hpp"

namespace vmrep::vmadapters::xml {

// Domain XML larger than this is refused (bound everything).
inline constexpr std::size_t domain_xml_bytes_max = 4u << 20;

// Text made safe for XML character data and attribute values (' and ").
std::string escape(const std::string& text);

std::string domain_name(const std::string& domain_xml);

// The writable file-backed disks (device='disk', type='file', not readonly) with
// their backing chains, base first, in document order.
std::vector<DiskChain> disk_chains(const std::string& domain_xml);

// Targets of the disks a checkpoint leaves out: cdroms, floppies, readonly disks.
// A writable disk that is not file-backed (block device, network) throws
// unsupported: it cannot get an external overlay and would break the checkpoint.
std::vector<std::string> excluded_disk_targets(const std::string& domain_xml);

struct SnapshotDisk {
  std::string target;
  std::filesystem::path overlay;
};
// <domainsnapshot> for a live external snapshot: memory to memory_file, each
// disk in external onto its new qcow2 overlay, each target in excluded skipped.
std::string snapshot_xml(const std::string& name, const std::filesystem::path& memory_file,
                         const std::vector<SnapshotDisk>& external, const std::vector<std::string>& excluded);

// The saved XML made fit for this host: every writable file-backed disk gets the
// image named for its target in disks (its backingStore dropped: the image's own
// header describes its chain), then path_rewrites replaces exact matches of
// file/path attributes and kernel/initrd/loader/nvram texts. Throws when a disk
// has no replacement or disks names a target the XML does not have.
std::string rewrite_for_restore(const std::string& saved_xml, const std::map<std::string, DiskLayer>& disks,
                                const std::map<std::string, std::string>& path_rewrites);

}  // namespace vmrep::vmadapters::xml
