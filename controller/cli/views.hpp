#pragma once
// Human renderings of the control API's JSON: a status screen to read at a
// glance (in the spirit of crm_mon and ha-manager status) and an event list.

#include <string>

#include <nlohmann/json.hpp>

namespace vmrep::cli {

std::string render_status(const nlohmann::json& status);
std::string render_events(const nlohmann::json& events);

}  // namespace vmrep::cli
