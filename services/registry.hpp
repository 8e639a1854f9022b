// hyperamp's own service table, built from services/services.def.
#pragma once

#include <cstdint>
#include <vector>

#include "vocab/service.hpp"

namespace hyperamp::services {

using vocab::basic_service;
using vocab::job;
using vocab::job_result;
using vocab::make_actor_entry;
using vocab::make_entry;
using vocab::service_actor;
using vocab::service_entry;

/// The table of services (from services.def), sorted by id.
const std::vector<service_entry>& registry();

/// The row for `id`, or nullptr for an unknown service.
const service_entry* find(std::uint32_t id);

} // namespace hyperamp::services
