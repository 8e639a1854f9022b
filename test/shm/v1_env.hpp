// The hvisor-tool layout's test setup, shared by its shm tests: a window
// file standing for the physical windows and a FIFO doorbell.
#pragma once

#include <chrono>
#include <cstdint>

#include "shm/ports.hpp"
#include "test_util.hpp"

namespace hyperamp::shm::test {

/// A window file and a FIFO of one test, removed at the end.
struct v1_env {
  temp_path file{"v1win"};
  temp_path fifo{"v1bell"};

  zone_options zone(std::uint32_t rering_ms = 200) const {
    zone_options o;
    o.region.layout = region_layout::hvisor_v1;
    o.region.backend = region_backend::file;
    o.region.path = file.path;
    o.region.phys_addr = 0x10000000;
    o.region.v1.buffer = {0x10000000, 0x10000};
    o.region.v1.queue = {0x10010000, 0x1000};
    o.region.v1.ready_addr = 0x10011000;
    o.region.v1.rering_ms = rering_ms;
    o.bell.kind = bell_kind::fifo;
    o.bell.fifo_path = fifo.path;
    o.bell.spin = std::chrono::microseconds{0};
    return o;
  }
};

} // namespace hyperamp::shm::test
