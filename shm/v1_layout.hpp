// The hvisor-tool-v1 wire layout: the AmpMsgQueue of hvisor-tool's HyperAMP
// (the 12-byte header without a queue lock), as the C client and service
// (`hvisor shm hyper_amp*`) lay it out. This header is the only place its
// structs, offsets and values are written down; docs/compatibility.md
// explains the protocol around them. Little-endian, 4-byte aligned, nothing
// packed; every offset is asserted below.
//
// Three physical windows, each where the config puts it (the addresses are
// those of hvisor-tool's shm_config.json for the Phytium Pi):
//
//   buffer  (linux-2-npucore-buf, zone0_ram_ipa)  0xde000000, 4 MiB
//   +-----------------------------------------------------------------+
//   | payload bytes; a message is [offset, offset + length), the last  |
//   | byte a NUL, the service transforms the length - 1 bytes before it |
//   +-----------------------------------------------------------------+
//
//   queue   (linux-2-npucore-msg, zone0_ram_ipa)  0xde400000, 4 KiB
//   0x000 +-------------------------------------------+
//         | queue_header                       12 B   |
//   0x00c +-------------------------------------------+
//         | msg_entry[0 .. buf_size)         16 B each |  buf_size =
//         |   msg  : flag service_id offset length     |  (size - 12) / 16
//         |   cur_idx nxt_idx                          |  = 255 for 4 KiB
//   0xffc +-------------------------------------------+
//
//   ready   (linux-2-npucore-msg, zonex_ram_ipa)  0xde410000, one page
//   0x000 +-------------------------------------------+
//         | u32 0xEEEEEEEE while a service is up       |  only this word
//         +-------------------------------------------+
//
// Three lists threaded through nxt_idx, heads in the header, each ended by
// the value buf_size: empty_h (free entries), wait_h (sent, not yet handed
// over; hyperamp does not use it) and proc_ing_h (handed to the service).
// working_mark is the hand-over: the client writes BUSY when it hands
// entries over and rings, the service writes IDLE when it has taken them.
// A finished entry has deal_state = 1 and its result in the same 16-bit
// flag word; there is no completion interrupt, the client polls the flag.
//
// Nothing here is trusted: every field the peer writes is read once,
// checked against the mapped sizes and only then used (shm/v1_ports.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace hyperamp::shm::v1 {

// -- values -------------------------------------------------------------------

/// queue_header::working_mark.
inline constexpr std::uint32_t k_mark_idle = 0xBBBBBBBBu;
inline constexpr std::uint32_t k_mark_busy = 0xFFFFFFFFu;
/// The readiness word (offset 0 of the ready page) of a running service.
/// hvisor-tool's client also accepts k_mark_idle there.
inline constexpr std::uint32_t k_ready = 0xEEEEEEEEu;

/// msg::flag: bit 0 deal_state, bits 1-2 service_result, bits 3-15 unused.
inline constexpr std::uint16_t k_deal_state = 0x0001;
inline constexpr unsigned k_result_shift = 1;
inline constexpr std::uint16_t k_result_mask = 0x0006;

/// service_result values (two bits; hvisor-tool's WAIT = 4 does not fit).
enum class result : std::uint16_t {
  none = 0,
  success = 1,
  fail = 2,
  not_exists = 3, ///< hvisor-tool spells it NOT_EXITS
};

constexpr std::uint16_t done_flag(result r) noexcept {
  return static_cast<std::uint16_t>(
      k_deal_state | (static_cast<std::uint16_t>(r) << k_result_shift));
}
constexpr bool is_done(std::uint16_t flag) noexcept {
  return (flag & k_deal_state) != 0;
}
constexpr result result_of(std::uint16_t flag) noexcept {
  return static_cast<result>((flag & k_result_mask) >> k_result_shift);
}

// -- structs ------------------------------------------------------------------

/// struct Msg: 12 bytes.
struct msg {
  std::uint16_t flag;       // 0  deal_state (bit 0), service_result (1-2)
  std::uint16_t service_id; // 2
  std::uint32_t offset;     // 4  from the start of the buffer window
  std::uint32_t length;     // 8  payload bytes including the trailing NUL
};

/// struct MsgEntry: 16 bytes; `m` first (hvisor-tool casts between them).
struct msg_entry {
  msg m;                 // 0
  std::uint16_t cur_idx; // 12 the entry's own index, set by queue init
  std::uint16_t nxt_idx; // 14 next on its list; buf_size ends the list
};

/// struct AmpMsgQueue without its flexible array: 12 bytes, entries follow.
struct queue_header {
  std::uint32_t working_mark; // 0  k_mark_idle / k_mark_busy
  std::uint16_t buf_size;     // 4  entries; also the end-of-list value
  std::uint16_t empty_h;      // 6  free list
  std::uint16_t wait_h;       // 8  sent, not handed over
  std::uint16_t proc_ing_h;   // 10 handed to the service
};

static_assert(std::is_standard_layout_v<msg> &&
                  std::is_standard_layout_v<msg_entry> &&
                  std::is_standard_layout_v<queue_header>,
              "wire structs must be standard layout for offsetof");
static_assert(sizeof(msg) == 12 && alignof(msg) == 4);
static_assert(offsetof(msg, flag) == 0);
static_assert(offsetof(msg, service_id) == 2);
static_assert(offsetof(msg, offset) == 4);
static_assert(offsetof(msg, length) == 8);
static_assert(sizeof(msg_entry) == 16 && alignof(msg_entry) == 4);
static_assert(offsetof(msg_entry, m) == 0);
static_assert(offsetof(msg_entry, cur_idx) == 12);
static_assert(offsetof(msg_entry, nxt_idx) == 14);
static_assert(sizeof(queue_header) == 12 && alignof(queue_header) == 4,
              "the 12-byte header of hvisor-tool's main branch (no lock)");
static_assert(offsetof(queue_header, working_mark) == 0);
static_assert(offsetof(queue_header, buf_size) == 4);
static_assert(offsetof(queue_header, empty_h) == 6);
static_assert(offsetof(queue_header, wait_h) == 8);
static_assert(offsetof(queue_header, proc_ing_h) == 10);

/// Entries start right after the 12-byte header.
inline constexpr std::size_t k_entries_offset = sizeof(queue_header);
/// Indices are 16-bit and buf_size itself ends a list.
inline constexpr std::uint32_t k_max_entries = 0xFFFF;

/// Entries a queue window of `bytes` holds: floor((bytes - 12) / 16), at
/// most 65535; 0 if not even one fits.
constexpr std::uint32_t entries_for(std::uint64_t bytes) noexcept {
  if (bytes < k_entries_offset + sizeof(msg_entry))
    return 0;
  const std::uint64_t n = (bytes - k_entries_offset) / sizeof(msg_entry);
  return n > k_max_entries ? k_max_entries : static_cast<std::uint32_t>(n);
}
static_assert(entries_for(4096) == 255, "a 4 KiB queue page holds 255");

// -- where the windows are ----------------------------------------------------

/// One physical window: its address and length in bytes.
struct window {
  std::uint64_t addr = 0;
  std::uint64_t size = 0;
};

/// The three windows and the client's re-ring interval. Defaults: the
/// Phytium Pi addresses of hvisor-tool's shm_config.json.
struct layout_options {
  window buffer{0xde000000u, 0x400000u};
  window queue{0xde400000u, 0x1000u};
  /// The readiness word's page (zonex_ram_ipa of the msg region).
  std::uint64_t ready_addr = 0xde410000u;
  /// Client: ring again after this long if the service has not taken the
  /// handed-over entry (a ring sent before the service listened is lost).
  std::uint32_t rering_ms = 200;
};

/// The client keeps buffer bytes [0, 64) free: hvisor-tool's service writes
/// "Test\0" there when it starts.
inline constexpr std::uint32_t k_buffer_reserved = 64;

} // namespace hyperamp::shm::v1
