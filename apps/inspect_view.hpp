// amp-node inspect: a region_view (shm/inspect.hpp) as text or JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "shm/inspect.hpp"

namespace hyperamp::apps {

/// The view for people: a few lines, the problems first.
std::string render_text(const shm::region_view& v,
                        const std::string& configured_channel);

/// The view for scripts (every field, names as in docs/reliability.md).
nlohmann::json render_json(const shm::region_view& v,
                           const std::string& configured_channel);

} // namespace hyperamp::apps
