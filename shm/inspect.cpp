#include "shm/inspect.hpp"

#include <cstring>
#include <thread>

#include "shm/participant.hpp"
#include "shm/region.hpp"

namespace hyperamp::shm {

namespace {

/// A word another zone may be writing: read once, whole.
template <class T>
T peek(const T& x) noexcept {
  return __atomic_load_n(&x, __ATOMIC_RELAXED);
}

} // namespace

const char* list_name(std::uint16_t id) noexcept {
  switch (static_cast<list_id>(id)) {
  case list_id::free:
    return "free";
  case list_id::client:
    return "client";
  case list_id::submitted:
    return "submitted";
  case list_id::in_service:
    return "in_service";
  case list_id::completed:
    return "completed";
  default:
    return "invalid";
  }
}

region_view inspect(region& r) {
  region_view v;
  region_header& h = r.header();
  v.path = r.path();
  v.channel.assign(h.channel, strnlen(h.channel, sizeof h.channel));
  v.layout_version = h.layout_version;
  v.region_size = h.region_size;
  v.entries = h.entry_count;
  v.max_clients = h.max_clients;
  v.payload_size = h.payload_size;
  v.partition_size = h.partition_size;
  v.lock_word = h.queue_lock.load(std::memory_order_acquire);
  if (v.lock_word != 0) {
    v.lock_zone = v.lock_word >> 16;
    v.lock_slot = (v.lock_word & 0xFFFFu) - 1;
  }
  v.lock_recoveries = peek(h.lock_recoveries);
  v.corrupt_found = peek(h.corrupt_found);
  v.repairs = peek(h.repairs);

  lists l{r};
  v.lists = l.census();

  std::vector<slot_view> slots(v.max_clients + 1);
  for (std::uint32_t i = 0; i <= v.max_clients; ++i)
    slots[i].index = i;
  for (std::uint32_t i = 0; i < v.entries; ++i) {
    const entry_tag t = tag_of(r.entry_at(i));
    const bool client_slot = t.slot >= 1 && t.slot <= v.max_clients;
    const bool owned = t.list == static_cast<std::uint16_t>(list_id::client) ||
                       t.list == static_cast<std::uint16_t>(list_id::completed);
    if (t.list == 0 || t.list > k_list_id_max || (owned && !client_slot)) {
      ++v.by_tag[0];
      continue;
    }
    ++v.by_tag[t.list];
    if (t.list == static_cast<std::uint16_t>(list_id::client))
      ++slots[t.slot].owned;
    else if (t.list == static_cast<std::uint16_t>(list_id::completed))
      ++slots[t.slot].completed;
  }
  for (auto& s : slots) {
    slot& raw = r.slot_at(s.index);
    const std::uint64_t word = raw.owner.load(std::memory_order_acquire);
    const owner_word w = unpack(word);
    s.active = w.active();
    s.state_word = static_cast<std::uint32_t>(word);
    s.epoch = w.epoch;
    s.heartbeat = raw.heartbeat.load(std::memory_order_acquire);
    s.pid = peek(raw.pid);
    s.zone_id = peek(raw.zone_id);
    // The service slot always; others when they say anything.
    if (s.index == k_service_slot || s.active || s.heartbeat != 0 ||
        s.owned != 0 || s.completed != 0 || s.state_word != 0)
      v.slots.push_back(s);
  }
  return v;
}

void sample_heartbeats(region& r, region_view& v,
                       std::chrono::milliseconds window) {
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  const auto t1 = std::chrono::steady_clock::now();
  v.sample_seconds = std::chrono::duration<double>(t1 - t0).count();
  for (auto& s : v.slots) {
    const std::uint64_t now =
        r.slot_at(s.index).heartbeat.load(std::memory_order_acquire);
    s.beats = now - s.heartbeat;
    s.heartbeat = now;
    s.sampled = true;
  }
}

} // namespace hyperamp::shm
