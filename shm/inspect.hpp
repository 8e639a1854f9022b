// A look at a region from outside: what `amp-node inspect` shows. It never
// joins the region (no slot, no lock, no write: the region may be mapped
// read-only) and takes its snapshot without the lock, so a list being
// changed at that very moment can look inconsistent; a second look tells a
// passing state from damage.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "shm/layout.hpp"
#include "shm/lists.hpp"

namespace hyperamp::shm {

class region;

/// One participant slot as seen from outside.
struct slot_view {
  std::uint32_t index = 0; ///< 0: the service; 1..max_clients: clients
  bool active = false;
  std::uint32_t state_word = 0; ///< the raw state half of the owner word
  std::uint32_t epoch = 0;
  std::uint64_t heartbeat = 0;
  std::uint32_t pid = 0;
  std::uint32_t zone_id = 0;
  /// Entries tagged as this client's (held between acquire and submit, or
  /// between take and release) and on its completed list.
  std::uint32_t owned = 0;
  std::uint32_t completed = 0;
  /// Filled by sample_heartbeats: beats seen during its window.
  std::uint64_t beats = 0;
  bool sampled = false;
};

struct region_view {
  // -- header and geometry
  std::string path;
  std::string channel;
  std::uint32_t layout_version = 0;
  std::uint64_t region_size = 0;
  std::uint32_t entries = 0;
  std::uint32_t max_clients = 0;
  std::uint64_t payload_size = 0;
  std::uint64_t partition_size = 0;
  // -- the lock
  std::uint32_t lock_word = 0; ///< 0: free
  std::uint32_t lock_zone = 0; ///< the holder's zone id, when held
  std::uint32_t lock_slot = 0; ///< the holder's slot index, when held
  // -- what went wrong so far (counters in the header)
  std::uint32_t lock_recoveries = 0;
  std::uint64_t corrupt_found = 0;
  std::uint64_t repairs = 0;
  // -- the lists: lengths from bounded walks, and their consistency
  list_census lists;
  /// Entries by the list their tag names (index: list_id); [0] counts
  /// entries whose tag names no list or no valid slot.
  std::array<std::uint32_t, k_list_id_max + 1> by_tag{};
  /// Active slots, and inactive ones that still hold entries or beat.
  std::vector<slot_view> slots;
  /// Seconds the heartbeat sample took (0: not sampled).
  double sample_seconds = 0;

  /// Every entry on the free list, and the lists consistent: nothing in
  /// flight, nothing leaked.
  bool all_free() const noexcept {
    return lists.consistent && lists.free == entries;
  }
};

/// Name of a list id ("free", "submitted", ...), "invalid" otherwise.
const char* list_name(std::uint16_t id) noexcept;

/// Takes one snapshot of `r` (read only).
region_view inspect(region& r);

/// Reads every listed slot's heartbeat again after `window` and records
/// how many beats came (a live participant beats every tick). Sleeps for
/// `window`: a tool's wait, not a synchronisation.
void sample_heartbeats(region& r, region_view& v,
                       std::chrono::milliseconds window);

} // namespace hyperamp::shm
