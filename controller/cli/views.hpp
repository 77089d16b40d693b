#pragma once
// Human renderings of the control API's JSON: a status screen to read at a
// glance (in the spirit of crm_mon and ha-manager status), an event list and
// a service's snapshot versions per node. Every field may be missing or null
// (an older daemon, a service that has not replicated yet): that shows as "-".

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace vmrep::cli {

std::string render_status(const nlohmann::json& status);
std::string render_events(const nlohmann::json& events);
std::string render_snapshots(const nlohmann::json& snapshots);

// "512 B", "1.5 KiB", "12.0 MiB", "1.2 GiB".
std::string human_bytes(std::uint64_t bytes);
// "850 ms", "3.2 s", "4m02s", "1h02m", "2d03h".
std::string human_ms(double ms);

}  // namespace vmrep::cli
