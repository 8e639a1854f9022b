// The wire layout of a hyperamp region: plain structs, little-endian,
// fixed-width fields, every offset asserted. This header is the single source
// of truth; docs/wire-layout.md explains it and must change with it.
//
// Region, in address order (sizes for the defaults: 256 entries, 32 clients):
//
//   0x0000  region_header         256 B  identity (line 0), queue_lock and
//                                        list heads (line 1), reserved
//   0x0100  slot[0]               192 B  the service zone
//   0x01C0  slot[1..max_clients]  192 B  each: one per attached client process
//           (entries_offset, 64-aligned)
//           entry[0..entry_count)  64 B  each: the AmpMsgQueue entries
//           (payload_offset, 4096-aligned)
//           payload area                 max_clients equal partitions,
//                                        partition i belongs to client slot i+1
//
// Each slot is three cache lines, one per writer:
//   line A: written by the slot's owner only (state, epoch, heartbeat, pid)
//   line B: the slot's completed list, written under queue_lock
//   line C: the slot's doorbell (rung by the peer, waited on by the owner)
//
// Anything that changes a size, an offset, a field's meaning or the entry
// state machine bumps k_layout_version.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace hyperamp::shm {

/// "HYPERAMP" read as a little-endian u64.
inline constexpr std::uint64_t k_magic = 0x504D415245505948ull;
inline constexpr std::uint32_t k_layout_version = 2;

/// The wire layouts a region can have. region_header::layout_version names
/// one: the layout in its high 16 bits, that layout's version in the low 16
/// (hyperamp's own layout is 0, so its value stays 2). A zone refuses a
/// region of another layout than it is configured for, naming both.
enum class wire_layout : std::uint32_t {
  hyperamp = 0,    ///< entries on lists under queue_lock (this header)
  partitioned = 1, ///< per-client SPSC rings (shm/partitioned_layout.hpp)
  /// hvisor-tool's AmpMsgQueue: never in a hyperamp header (it has none);
  /// opened by shm/v1_region.hpp.
  hvisor_v1 = 2,
};
/// The version of the partitioned layout (docs/wire-layout.md).
inline constexpr std::uint32_t k_partitioned_version = 1;

/// region_header::layout_version of a region of layout `l`.
constexpr std::uint32_t layout_version_of(wire_layout l) noexcept {
  return l == wire_layout::partitioned
             ? (std::uint32_t{1} << 16) | k_partitioned_version
             : k_layout_version;
}

/// As in the role file's region.layout.
constexpr const char* to_string(wire_layout l) noexcept {
  return l == wire_layout::partitioned ? "partitioned"
         : l == wire_layout::hvisor_v1 ? "hvisor-tool-v1"
                                       : "hyperamp";
}
inline constexpr std::size_t k_cache_line = 64;
/// Payload buffers are aligned to this.
inline constexpr std::size_t k_payload_align = 64;
/// End-of-list marker for every index link.
inline constexpr std::uint32_t k_nil = 0xFFFFFFFFu;
inline constexpr std::uint32_t k_max_entries = 65535;
inline constexpr std::uint32_t k_max_clients = 256;
/// Slot 0 is the service zone; client slots are 1..max_clients.
inline constexpr std::uint32_t k_service_slot = 0;

static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "cross-process atomics must be lock-free (address-free)");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "cross-process atomics must be lock-free (address-free)");
static_assert(sizeof(std::atomic<std::uint32_t>) == 4 &&
                  sizeof(std::atomic<std::uint64_t>) == 8,
              "atomics must have the size of the plain word on the wire");

/// Values of region_header::init_state.
enum class init_state : std::uint32_t { raw = 0, initializing = 1, ready = 2 };

/// Values of the list field of entry::tag: which list (or owner) an entry
/// belongs to. Changed under queue_lock, by compare-and-swap, first thing in
/// every list operation (after its checks), so that a crashed holder's
/// half-done operation can be repaired from the tags, and a holder that was
/// evicted while stopped and then resumes can never move an entry that
/// somebody else moved meanwhile (its CAS fails).
enum class list_id : std::uint16_t {
  none = 0,       ///< never valid on the wire
  free = 1,       ///< on the free list
  client = 2,     ///< popped from free, owned by client slot `slot`
  submitted = 3,  ///< waiting for the service
  in_service = 4, ///< taken by the service
  completed = 5,  ///< on the completed list of client slot `slot`
};
inline constexpr std::uint16_t k_list_id_max = 5;

/// Values of the state half of slot::owner.
enum class slot_state : std::uint32_t { free = 0, active = 1 };

/// Values of entry::status, written by the service before completion.
enum class wire_status : std::uint32_t {
  pending = 0,
  ok = 1,
  unknown_service = 2,
  bad_request = 3,    ///< the service found the descriptor invalid
  service_failed = 4, ///< the service ran and reported failure
  aborted = 5,        ///< a restarted service dropped work of its predecessor
};
inline constexpr std::uint32_t k_wire_status_max = 5;

/// The region header: 256 bytes, four cache lines.
struct region_header {
  // -- line 0: identity, written once by the creator before READY ----------
  std::uint64_t magic;                   // 0
  std::uint32_t layout_version;          // 8
  std::uint32_t header_size;             // 12  == sizeof(region_header)
  std::uint64_t region_size;             // 16  bytes mapped
  std::uint32_t entry_count;             // 24
  std::uint32_t entry_size;              // 28  == sizeof(entry)
  std::uint64_t entries_offset;          // 32
  std::uint64_t payload_offset;          // 40
  std::uint64_t payload_size;            // 48
  std::uint32_t max_clients;             // 56
  std::atomic<std::uint32_t> init_state; // 60  raw -> initializing -> ready
  // -- line 1: queue_lock and the shared list heads (under queue_lock) -----
  std::atomic<std::uint32_t> queue_lock; // 64  0 = free, else lock_word
  std::uint32_t lock_recoveries;         // 68  times a dead holder was evicted
  std::uint32_t free_head;               // 72
  std::uint32_t free_tail;               // 76
  std::uint32_t submitted_head;          // 80
  std::uint32_t submitted_tail;          // 84
  std::uint32_t in_service_head;         // 88
  std::uint32_t in_service_tail;         // 92
  std::uint32_t slot_size;               // 96  == sizeof(slot), set at init
  std::uint32_t slots_offset;            // 100
  std::uint64_t partition_size;          // 104 payload bytes per client slot
  std::uint64_t corrupt_found;           // 112 damage found (any zone, atomic)
  std::uint64_t repairs;                 // 120 lists rebuilt (under queue_lock)
  // -- line 2: identity, written once by the creator before READY ---------
  char channel[64]; // 128 channel name, NUL-terminated (at most 63 bytes)
  // -- line 3: reserved for growth ------------------------------------------
  std::uint8_t reserved2[64]; // 192
};

/// One participant slot: 192 bytes, three cache lines, one writer each.
struct slot {
  // -- line A: written by the owner (the owner word also by the reaper) ----
  /// bits 0-31 slot_state, bits 32-63 epoch (+1 on every claim, eviction or
  /// takeover); changed only as one word, by compare-and-swap
  /// (shm/participant.hpp has the whole protocol).
  std::atomic<std::uint64_t> owner;     // 0
  std::atomic<std::uint64_t> heartbeat; // 8   +1 periodically while alive
  std::uint32_t pid;                    // 16  host pid (diagnostics)
  std::uint32_t zone_id;                // 20
  std::uint8_t reserved_a[40];          // 24
  // -- line B: this slot's completed list, under queue_lock ----------------
  std::uint32_t completed_head; // 64
  std::uint32_t completed_tail; // 68
  std::uint8_t reserved_b[56];  // 72
  // -- line C: doorbell, rung by the peer, waited on by the owner ----------
  std::atomic<std::uint32_t> bell_seq;      // 128 futex word, +1 per ring
  std::atomic<std::uint32_t> bell_sleeping; // 132 1 while the owner sleeps
  std::uint8_t reserved_c[56];              // 136
};

/// One queue entry: the seed's MsgEntry, one cache line.
struct entry {
  // -- links and ownership, under queue_lock -------------------------------
  std::uint32_t next; // 0   k_nil ends a list
  std::uint32_t prev; // 4   k_nil at a list head
  /// The tag: bits 0-15 list_id (byte 8), bits 16-31 the owning client slot
  /// (byte 10), bits 32-63 a generation, +1 on every change (byte 12).
  /// Read and changed only as one word (tag_of, and lists.cpp's CAS).
  std::uint64_t tag; // 8
  // -- request, written by the owning client before submit -----------------
  std::uint64_t seq;              // 16 request sequence number, never 0
  std::uint32_t service_id;       // 24
  std::uint32_t payload_offset;   // 28 from the start of the payload area
  std::uint32_t payload_length;   // 32 request bytes
  std::uint32_t payload_capacity; // 36 bytes reserved; response may use all
  // -- completion, written by the service before it completes the entry ---
  std::uint64_t done_seq;      // 40 echoes seq
  std::uint32_t result_length; // 48 response bytes at payload_offset
  std::uint32_t status;        // 52 wire_status
  std::uint64_t reserved1;     // 56
};

// -- layout assertions: a failure here means a wire-format change -----------

static_assert(std::is_standard_layout_v<region_header> &&
                  std::is_standard_layout_v<slot> &&
                  std::is_standard_layout_v<entry>,
              "wire structs must be standard layout for offsetof");
static_assert(sizeof(region_header) == 256 && alignof(region_header) == 8,
              "header is four cache lines");
static_assert(offsetof(region_header, magic) == 0);
static_assert(offsetof(region_header, layout_version) == 8);
static_assert(offsetof(region_header, header_size) == 12);
static_assert(offsetof(region_header, region_size) == 16);
static_assert(offsetof(region_header, entry_count) == 24);
static_assert(offsetof(region_header, entry_size) == 28);
static_assert(offsetof(region_header, entries_offset) == 32);
static_assert(offsetof(region_header, payload_offset) == 40);
static_assert(offsetof(region_header, payload_size) == 48);
static_assert(offsetof(region_header, max_clients) == 56);
static_assert(offsetof(region_header, init_state) == 60);
static_assert(offsetof(region_header, queue_lock) == 64,
              "queue_lock starts the second cache line, away from identity");
static_assert(offsetof(region_header, lock_recoveries) == 68);
static_assert(offsetof(region_header, free_head) == 72);
static_assert(offsetof(region_header, free_tail) == 76);
static_assert(offsetof(region_header, submitted_head) == 80);
static_assert(offsetof(region_header, submitted_tail) == 84);
static_assert(offsetof(region_header, in_service_head) == 88);
static_assert(offsetof(region_header, in_service_tail) == 92);
static_assert(offsetof(region_header, slot_size) == 96);
static_assert(offsetof(region_header, slots_offset) == 100);
static_assert(offsetof(region_header, partition_size) == 104);
static_assert(offsetof(region_header, corrupt_found) == 112);
static_assert(offsetof(region_header, repairs) == 120);
static_assert(offsetof(region_header, channel) == 128);
static_assert(offsetof(region_header, reserved2) == 192);

static_assert(sizeof(slot) == 3 * k_cache_line && alignof(slot) == 8,
              "a slot is three cache lines, one per writer");
static_assert(offsetof(slot, owner) == 0,
              "state at bytes 0-3 and epoch at bytes 4-7, as one LE word");
static_assert(offsetof(slot, heartbeat) == 8);
static_assert(offsetof(slot, pid) == 16);
static_assert(offsetof(slot, zone_id) == 20);
static_assert(offsetof(slot, completed_head) == 64,
              "the lock-protected list is off the owner's line");
static_assert(offsetof(slot, completed_tail) == 68);
static_assert(offsetof(slot, bell_seq) == 128,
              "the doorbell has a line of its own");
static_assert(offsetof(slot, bell_sleeping) == 132);

static_assert(sizeof(entry) == k_cache_line && alignof(entry) == 8,
              "one entry per cache line");
static_assert(offsetof(entry, next) == 0);
static_assert(offsetof(entry, prev) == 4);
static_assert(offsetof(entry, tag) == 8 && sizeof(entry::tag) == 8,
              "list at byte 8, slot at 10, generation at 12: one LE word");
static_assert(offsetof(entry, seq) == 16);
static_assert(offsetof(entry, service_id) == 24);
static_assert(offsetof(entry, payload_offset) == 28);
static_assert(offsetof(entry, payload_length) == 32);
static_assert(offsetof(entry, payload_capacity) == 36);
static_assert(offsetof(entry, done_seq) == 40);
static_assert(offsetof(entry, result_length) == 48);
static_assert(offsetof(entry, status) == 52);
static_assert(offsetof(entry, reserved1) == 56);

/// The decoded tag of an entry.
struct entry_tag {
  std::uint16_t list = 0; ///< list_id
  std::uint16_t slot = 0; ///< owning client slot
  std::uint32_t gen = 0;  ///< +1 on every change
};

constexpr std::uint64_t pack(entry_tag t) noexcept {
  return std::uint64_t{t.list} | (std::uint64_t{t.slot} << 16) |
         (std::uint64_t{t.gen} << 32);
}

constexpr entry_tag unpack_tag(std::uint64_t w) noexcept {
  return {static_cast<std::uint16_t>(w), static_cast<std::uint16_t>(w >> 16),
          static_cast<std::uint32_t>(w >> 32)};
}

/// The tag of `e`, read once (the peer may write it).
inline entry_tag tag_of(const entry& e) noexcept {
  return unpack_tag(__atomic_load_n(&e.tag, __ATOMIC_RELAXED));
}

/// The geometry derived from the three configured numbers (and the layout).
/// Pure arithmetic, shared by the creator (to lay out) and the attacher (to
/// check).
struct geometry {
  wire_layout layout = wire_layout::hyperamp;
  std::uint32_t entry_count = 0;
  std::uint32_t max_clients = 0;
  std::uint64_t payload_size = 0; ///< requested; rounded down per partition
  std::uint64_t slots_offset = 0;
  std::uint64_t entries_offset = 0;
  std::uint64_t payload_offset = 0;
  std::uint64_t partition_size = 0;
  std::uint64_t region_size = 0;
  // -- the partitioned layout only (0 otherwise) --
  std::uint64_t summary_offset = 0; ///< ring_summary, = entries_offset
  std::uint64_t records_offset = 0; ///< service_record[entry_count]
  std::uint64_t rings_offset = 0;   ///< client slot 1's ring block
  std::uint64_t ring_stride = 0;    ///< bytes per client slot's ring block
};

constexpr std::uint64_t align_up(std::uint64_t x, std::uint64_t a) {
  return (x + a - 1) / a * a;
}

/// The partitioned layout's sizes (its structs are in
/// shm/partitioned_layout.hpp, which asserts them).
inline constexpr std::uint64_t k_summary_size = 64;
inline constexpr std::uint64_t k_record_size = 32;
inline constexpr std::uint64_t k_ring_control_size = 256;
inline constexpr std::uint64_t k_cell_size = 32;

/// Computes offsets for a region; region_size is the minimum size needed.
/// For the partitioned layout, `entries` is each client slot's ring
/// capacity and the number of requests the service may hold at once.
constexpr geometry make_geometry(std::uint32_t entries, std::uint32_t clients,
                                 std::uint64_t payload,
                                 wire_layout layout = wire_layout::hyperamp) {
  geometry g;
  g.layout = layout;
  g.entry_count = entries;
  g.max_clients = clients;
  g.slots_offset = sizeof(region_header);
  g.entries_offset =
      align_up(g.slots_offset + sizeof(slot) * (clients + 1ull), k_cache_line);
  std::uint64_t end = g.entries_offset + sizeof(entry) * entries;
  if (layout == wire_layout::partitioned) {
    g.summary_offset = g.entries_offset;
    g.records_offset = g.summary_offset + k_summary_size;
    g.rings_offset =
        align_up(g.records_offset + k_record_size * entries, k_cache_line);
    g.ring_stride = k_ring_control_size + 2 * k_cell_size * entries;
    end = g.rings_offset + g.ring_stride * clients;
  }
  g.payload_offset = align_up(end, 4096);
  g.partition_size =
      clients == 0 ? 0 : payload / clients / k_payload_align * k_payload_align;
  g.payload_size = g.partition_size * clients;
  g.region_size = g.payload_offset + g.payload_size;
  return g;
}

} // namespace hyperamp::shm
