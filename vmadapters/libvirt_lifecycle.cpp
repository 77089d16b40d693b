// State, define/create/start/stop/destroy/undefine, listing.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>

#include "vmadapters/domain_xml.hpp"
#include "vmadapters/errors.hpp"
#include "vmadapters/libvirt_internal.hpp"

namespace vmrep::vmadapters {

using detail::DomainHandle;
using detail::lookup;

std::string_view to_string(DomainState state) {
  switch (state) {
    case DomainState::no_state: return "no-state";
    case DomainState::running: return "running";
    case DomainState::blocked: return "blocked";
    case DomainState::paused: return "paused";
    case DomainState::shutting_down: return "shutting-down";
    case DomainState::shut_off: return "shut-off";
    case DomainState::crashed: return "crashed";
    case DomainState::pm_suspended: return "pm-suspended";
  }
  return "no-state";
}

std::string_view to_string(DomainEvent::Kind kind) {
  using K = DomainEvent::Kind;
  switch (kind) {
    case K::defined: return "defined";
    case K::undefined: return "undefined";
    case K::started: return "started";
    case K::suspended: return "suspended";
    case K::resumed: return "resumed";
    case K::stopped: return "stopped";
    case K::shutdown: return "shutdown";
    case K::crashed: return "crashed";
    case K::pm_suspended: return "pm-suspended";
    case K::block_job_completed: return "block-job-completed";
    case K::block_job_failed: return "block-job-failed";
    case K::block_job_canceled: return "block-job-canceled";
    case K::block_job_ready: return "block-job-ready";
    case K::connection_lost: return "connection-lost";
    case K::connection_restored: return "connection-restored";
    case K::other: return "other";
  }
  return "other";
}

DomainState LibvirtAdapter::state(const std::string& domain) {
  auto conn = connection("get state", domain);
  DomainHandle dom = lookup(*conn, "get state", domain);
  int state = 0;
  int reason = 0;
  if (virDomainGetState(dom.get(), &state, &reason, 0) < 0) throw libvirt_error("get state", domain);
  switch (state) {
    case VIR_DOMAIN_RUNNING: return DomainState::running;
    case VIR_DOMAIN_BLOCKED: return DomainState::blocked;
    case VIR_DOMAIN_PAUSED: return DomainState::paused;
    case VIR_DOMAIN_SHUTDOWN: return DomainState::shutting_down;
    case VIR_DOMAIN_SHUTOFF: return DomainState::shut_off;
    case VIR_DOMAIN_CRASHED: return DomainState::crashed;
    case VIR_DOMAIN_PMSUSPENDED: return DomainState::pm_suspended;
    default: return DomainState::no_state;
  }
}

bool LibvirtAdapter::exists(const std::string& domain) {
  auto conn = connection("look up", domain);
  DomainHandle dom(virDomainLookupByName(conn->get(), domain.c_str()));
  if (dom) return true;
  VmError error = libvirt_error("look up", domain);
  if (error.kind() == VmError::Kind::not_found) return false;
  throw error;
}

std::vector<std::string> LibvirtAdapter::list_domains() {
  auto conn = connection("list domains", "");
  virDomainPtr* domains = nullptr;
  const int count = virConnectListAllDomains(conn->get(), &domains, 0);
  if (count < 0) throw libvirt_error("list domains", "");
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    const char* name = virDomainGetName(domains[i]);
    if (name != nullptr) names.emplace_back(name);
    virDomainFree(domains[i]);
  }
  std::free(domains);
  std::sort(names.begin(), names.end());
  return names;
}

std::string LibvirtAdapter::domain_xml(const std::string& domain) {
  auto conn = connection("get XML", domain);
  DomainHandle dom = lookup(*conn, "get XML", domain);
  char* xml = virDomainGetXMLDesc(dom.get(), 0);
  if (xml == nullptr) throw libvirt_error("get XML", domain);
  return detail::take_string(xml);
}

std::string LibvirtAdapter::define(const std::string& xml) {
  const std::string name = xml::domain_name(xml);
  auto conn = connection("define", name);
  DomainHandle dom(virDomainDefineXML(conn->get(), xml.c_str()));
  if (!dom) throw libvirt_error("define", name);
  return name;
}

std::string LibvirtAdapter::create(const std::string& xml) {
  const std::string name = xml::domain_name(xml);
  auto conn = connection("create", name);
  DomainHandle dom(virDomainCreateXML(conn->get(), xml.c_str(), 0));
  if (!dom) throw libvirt_error("create", name);
  return name;
}

namespace {

// Every one-call lifecycle operation: look the domain up, call, name a failure.
void call_on(const detail::Connection& conn, const char* op, const std::string& domain, int (*call)(virDomainPtr)) {
  DomainHandle dom = lookup(conn, op, domain);
  if (call(dom.get()) < 0) throw libvirt_error(op, domain);
}

int undefine_with_managed_save(virDomainPtr dom) {
  return virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE);
}

}  // namespace

void LibvirtAdapter::start(const std::string& domain) {
  call_on(*connection("start", domain), "start", domain, virDomainCreate);
}

void LibvirtAdapter::stop(const std::string& domain) {
  call_on(*connection("shut down", domain), "shut down", domain, virDomainShutdown);
}

void LibvirtAdapter::destroy(const std::string& domain) {
  call_on(*connection("destroy", domain), "destroy", domain, virDomainDestroy);
}

void LibvirtAdapter::undefine(const std::string& domain) {
  call_on(*connection("undefine", domain), "undefine", domain, undefine_with_managed_save);
}

void LibvirtAdapter::suspend(const std::string& domain) {
  call_on(*connection("suspend", domain), "suspend", domain, virDomainSuspend);
}

void LibvirtAdapter::resume(const std::string& domain) {
  call_on(*connection("resume", domain), "resume", domain, virDomainResume);
}

}  // namespace vmrep::vmadapters
