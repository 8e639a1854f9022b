// Which doorbells a zone uses, opened once when the zone starts. Plain C++
// (no CAF): the ports of every layout take their bells from here.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shm/doorbell.hpp"
#include "shm/layout.hpp"

namespace hyperamp::shm {

class region;

/// How zones wake each other. futex: both directions (host). hvisor: the
/// client rings the service through /dev/hvisor, the service sleeps in
/// poll(/dev/hshm0); the board cannot interrupt the client zone, so the
/// client polls adaptively. polling: both sides poll (no interrupts).
/// fifo: the hvisor-tool-v1 layout on a host only (shm/v1_bells.hpp): the
/// client writes a byte into a named pipe the service polls.
enum class bell_kind { futex, hvisor, polling, fifo };

struct bell_settings {
  bell_kind kind = bell_kind::futex;
  std::chrono::nanoseconds spin = std::chrono::microseconds{50};
  hvisor_options hvisor;
  /// bell_kind::fifo: the named pipe (made if it does not exist).
  std::string fifo_path = "/dev/shm/hyperamp-v1-bell";
};

enum class zone_role { client, service };

/// The doorbells of one zone: the one it waits on (its own slot's) and the
/// ones it rings (indexed by slot: a client rings slot 0, a service slots
/// 1..max_clients). Never null once open_bells succeeded.
struct zone_bells {
  std::unique_ptr<doorbell> own;
  std::vector<std::unique_ptr<doorbell>> peers;

  doorbell& peer(std::uint32_t slot) noexcept { return *peers[slot]; }
};

/// Opens the bells of a zone in `role` owning slot `own_slot` of `r`; each
/// device is opened once. On failure returns false and *error names the
/// device and why ("cannot open /dev/hvisor: No such file or directory"):
/// never a silent fall back to polling.
bool open_bells(region& r, zone_role role, std::uint32_t own_slot,
                const bell_settings& s, zone_bells& out, std::string* error);

} // namespace hyperamp::shm
