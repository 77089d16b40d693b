#include "vmadapters/domain_xml.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include <algorithm>
#include <memory>
#include <set>

#include "vmadapters/errors.hpp"

namespace vmrep::vmadapters::xml {
namespace {

const char* const parse_op = "parse domain XML";
const char* const rewrite_op = "rewrite domain XML";

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using Doc = std::unique_ptr<xmlDoc, DocFree>;

const xmlChar* bytes(const char* text) { return reinterpret_cast<const xmlChar*>(text); }

Doc parse(const std::string& text, const char* operation) {
  if (text.size() > domain_xml_bytes_max) {
    throw VmError(VmError::Kind::invalid_argument, operation, "",
                  "domain XML of " + std::to_string(text.size()) + " bytes exceeds the limit");
  }
  Doc doc(xmlReadMemory(text.data(), static_cast<int>(text.size()), "domain.xml", nullptr,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) {
    const xmlError* error = xmlGetLastError();
    std::string reason = error != nullptr && error->message != nullptr ? error->message : "not well-formed";
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    throw VmError(VmError::Kind::invalid_argument, operation, "", "not XML: " + reason);
  }
  xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || xmlStrcmp(root->name, bytes("domain")) != 0) {
    throw VmError(VmError::Kind::invalid_argument, operation, "", "the root element is not <domain>");
  }
  return doc;
}

bool named(const xmlNode* node, const char* name) {
  return node != nullptr && node->type == XML_ELEMENT_NODE && xmlStrcmp(node->name, bytes(name)) == 0;
}

xmlNode* child(xmlNode* parent, const char* name) {
  for (xmlNode* c = parent != nullptr ? parent->children : nullptr; c != nullptr; c = c->next) {
    if (named(c, name)) return c;
  }
  return nullptr;
}

std::string attr(const xmlNode* node, const char* name) {
  if (node == nullptr) return {};
  xmlChar* value = xmlGetProp(node, bytes(name));
  if (value == nullptr) return {};
  std::string result(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return result;
}

std::string text_of(const xmlNode* node) {
  xmlChar* value = xmlNodeGetContent(node);
  if (value == nullptr) return {};
  std::string result(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return result;
}

std::vector<xmlNode*> disks_of(xmlDoc* doc) {
  std::vector<xmlNode*> result;
  xmlNode* devices = child(xmlDocGetRootElement(doc), "devices");
  for (xmlNode* c = devices != nullptr ? devices->children : nullptr; c != nullptr; c = c->next) {
    if (named(c, "disk")) result.push_back(c);
  }
  return result;
}

// A disk whose content the checkpoint must capture.
bool writable_disk(xmlNode* disk) {
  const std::string device = attr(disk, "device");
  return (device.empty() || device == "disk") && child(disk, "readonly") == nullptr;
}

std::string target_of(xmlNode* disk) { return attr(child(disk, "target"), "dev"); }

DiskChain chain_of(xmlNode* disk) {
  DiskChain chain;
  chain.target = target_of(disk);
  std::string format = attr(child(disk, "driver"), "type");
  chain.layers.push_back({attr(child(disk, "source"), "file"), format.empty() ? "raw" : format});
  xmlNode* backing = child(disk, "backingStore");
  for (int depth = 0; backing != nullptr && depth < 256; ++depth) {
    const std::string file = attr(child(backing, "source"), "file");
    if (file.empty()) break;
    format = attr(child(backing, "format"), "type");
    chain.layers.push_back({file, format.empty() ? "raw" : format});
    backing = child(backing, "backingStore");
  }
  std::reverse(chain.layers.begin(), chain.layers.end());
  return chain;
}


std::string dump(xmlDoc* doc) {
  xmlChar* buffer = nullptr;
  int size = 0;
  xmlDocDumpMemory(doc, &buffer, &size);
  if (buffer == nullptr) throw VmError(VmError::Kind::failed, rewrite_op, "", "cannot serialize the XML");
  std::string result(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(size));
  xmlFree(buffer);
  return result;
}

void remove_children_named(xmlNode* parent, const char* name) {
  for (xmlNode* c = parent->children; c != nullptr;) {
    xmlNode* next = c->next;
    if (named(c, name)) {
      xmlUnlinkNode(c);
      xmlFreeNode(c);
    }
    c = next;
  }
}

void replace_disk_image(xmlNode* disk, const DiskLayer& image) {
  xmlNode* source = child(disk, "source");
  if (source == nullptr) source = xmlNewChild(disk, nullptr, bytes("source"), nullptr);
  xmlSetProp(source, bytes("file"), bytes(image.file.c_str()));
  xmlUnsetProp(source, bytes("index"));
  xmlNode* driver = child(disk, "driver");
  if (driver == nullptr) {
    driver = xmlNewChild(disk, nullptr, bytes("driver"), nullptr);
    xmlSetProp(driver, bytes("name"), bytes("qemu"));
  }
  xmlSetProp(driver, bytes("type"), bytes(image.format.c_str()));
  remove_children_named(disk, "backingStore");
}

void rewrite_paths(xmlNode* node, const std::map<std::string, std::string>& rewrites, int depth) {
  if (depth > 64) return;
  for (xmlNode* n = node; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    for (const char* name : {"file", "path"}) {
      const std::string value = attr(n, name);
      if (auto hit = rewrites.find(value); !value.empty() && hit != rewrites.end()) {
        xmlSetProp(n, bytes(name), bytes(hit->second.c_str()));
      }
    }
    if (named(n, "kernel") || named(n, "initrd") || named(n, "loader") || named(n, "nvram")) {
      if (auto hit = rewrites.find(text_of(n)); hit != rewrites.end()) {
        xmlChar* escaped = xmlEncodeSpecialChars(n->doc, bytes(hit->second.c_str()));
        xmlNodeSetContent(n, escaped);
        xmlFree(escaped);
      }
    }
    rewrite_paths(n->children, rewrites, depth + 1);
  }
}

}  // namespace

std::string escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}


std::string domain_name(const std::string& domain_xml) {
  Doc doc = parse(domain_xml, parse_op);
  xmlNode* name = child(xmlDocGetRootElement(doc.get()), "name");
  std::string result = name != nullptr ? text_of(name) : std::string();
  if (result.empty()) throw VmError(VmError::Kind::invalid_argument, parse_op, "", "the domain has no <name>");
  return result;
}

std::vector<DiskChain> disk_chains(const std::string& domain_xml) {
  Doc doc = parse(domain_xml, parse_op);
  std::vector<DiskChain> result;
  for (xmlNode* disk : disks_of(doc.get())) {
    if (writable_disk(disk) && attr(disk, "type") == "file") result.push_back(chain_of(disk));
  }
  return result;
}

std::vector<std::string> excluded_disk_targets(const std::string& domain_xml) {
  Doc doc = parse(domain_xml, parse_op);
  std::vector<std::string> result;
  for (xmlNode* disk : disks_of(doc.get())) {
    if (!writable_disk(disk)) {
      result.push_back(target_of(disk));
    } else if (attr(disk, "type") != "file") {
      throw VmError(VmError::Kind::unsupported, parse_op, domain_name(domain_xml),
                    "disk " + target_of(disk) + " is of type '" + attr(disk, "type") +
                        "': only file-backed writable disks can be checkpointed");
    }
  }
  return result;
}

std::string snapshot_xml(const std::string& name, const std::filesystem::path& memory_file,
                         const std::vector<SnapshotDisk>& external, const std::vector<std::string>& excluded) {
  std::string out = "<domainsnapshot>\n  <name>" + escape(name) + "</name>\n";
  out += "  <memory snapshot='external' file='" + escape(memory_file.string()) + "'/>\n  <disks>\n";
  for (const SnapshotDisk& disk : external) {
    out += "    <disk name='" + escape(disk.target) + "' snapshot='external' type='file'>\n";
    out += "      <driver type='qcow2'/>\n      <source file='" + escape(disk.overlay.string()) + "'/>\n";
    out += "    </disk>\n";
  }
  for (const std::string& target : excluded) {
    out += "    <disk name='" + escape(target) + "' snapshot='no'/>\n";
  }
  out += "  </disks>\n</domainsnapshot>\n";
  return out;
}

std::string rewrite_for_restore(const std::string& saved_xml, const std::map<std::string, DiskLayer>& disks,
                                const std::map<std::string, std::string>& path_rewrites) {
  Doc doc = parse(saved_xml, rewrite_op);
  xmlNode* name = child(xmlDocGetRootElement(doc.get()), "name");
  const std::string domain = name != nullptr ? text_of(name) : std::string();
  std::set<std::string> used;
  for (xmlNode* disk : disks_of(doc.get())) {
    if (!writable_disk(disk)) continue;
    const std::string target = target_of(disk);
    auto image = disks.find(target);
    if (image == disks.end()) {
      throw VmError(VmError::Kind::invalid_argument, rewrite_op, domain,
                    "the saved XML has disk " + target + " but the checkpoint files name no image for it");
    }
    if (attr(disk, "type") != "file") {
      throw VmError(VmError::Kind::unsupported, rewrite_op, domain,
                    "disk " + target + " is not file-backed and cannot be pointed at " + image->second.file.string());
    }
    replace_disk_image(disk, image->second);
    used.insert(target);
  }
  for (const auto& [target, image] : disks) {
    if (used.count(target) == 0) {
      throw VmError(VmError::Kind::invalid_argument, rewrite_op, domain,
                    "the checkpoint files name disk " + target + " (" + image.file.string() +
                        ") but the saved XML has no writable disk with that target");
    }
  }
  if (!path_rewrites.empty()) rewrite_paths(xmlDocGetRootElement(doc.get()), path_rewrites, 0);
  return dump(doc.get());
}

}  // namespace vmrep::vmadapters::xml
