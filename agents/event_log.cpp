#include "agents/event_log.hpp"

#include <ctime>

#include <nlohmann/json.hpp>

#include "text/utf8.hpp"

namespace vmrep::agents {

std::string format_time(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

void EventLog::record(std::string service, std::string kind, std::string detail, EventFields fields) {
  // Details carry peers' and libvirt's text; kept valid UTF-8 here so that no
  // entry can make /v1/events fail to render while it ages out.
  for (std::string* t : {&detail, &fields.from, &fields.to, &fields.version, &fields.peer, &fields.reason, &fields.failure})
    if (!text::is_valid_utf8(*t)) *t = text::to_valid_utf8(*t);
  records_.push_back(EventRecord{next_seq_++, clock_.wall(), std::move(service), std::move(kind), std::move(detail),
                                 std::move(fields)});
  while (records_.size() > capacity_) records_.pop_front();
}

nlohmann::json EventLog::to_json(std::uint64_t since, std::size_t limit) const {
  nlohmann::json out = nlohmann::json::array();
  std::size_t skip = 0;
  std::size_t newer = 0;
  for (const auto& r : records_) newer += r.seq > since ? 1 : 0;
  if (newer > limit) skip = newer - limit;
  for (const auto& r : records_) {
    if (r.seq <= since) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    nlohmann::json e{{"seq", r.seq},
                     {"time", format_time(r.time)},
                     {"service", r.service},
                     {"kind", r.kind},
                     {"detail", r.detail}};
    const std::pair<const char*, const std::string*> fields[] = {{"from", &r.fields.from},
                                                                 {"to", &r.fields.to},
                                                                 {"version", &r.fields.version},
                                                                 {"peer", &r.fields.peer},
                                                                 {"reason", &r.fields.reason},
                                                                 {"failure", &r.fields.failure}};
    for (const auto& [key, value] : fields)
      if (!value->empty()) e[key] = *value;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace vmrep::agents
