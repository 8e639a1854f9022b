// A mapped hyperamp region: created once, attached by everyone else.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/layout.hpp"
#include "shm/v1_layout.hpp"

namespace hyperamp::shm {

enum class region_backend { file, physical };

/// Which wire layout the region speaks (shm/layout.hpp's wire_layout):
/// hyperamp's own and the partitioned one live in a `region`;
/// hvisor-tool's AmpMsgQueue (shm/v1_layout.hpp) is opened by
/// shm/v1_region.hpp instead. shm/ports.cpp picks the ports.
using region_layout = wire_layout;

/// How to find the region. `auto_` creates it when absent (or RAW), attaches
/// otherwise; `create` insists on making a new file; `attach` never creates.
enum class create_mode { auto_, create, attach };

struct region_options {
  /// The wire layout: a creator lays the region out in it, an attacher
  /// refuses a region of another.
  region_layout layout = region_layout::hyperamp;
  region_backend backend = region_backend::file;
  /// File path (file backend) or memory device (physical backend).
  std::string path = "/dev/shm/hyperamp";
  /// Physical address (physical backend): the mmap offset into `path`.
  /// hvisor_v1 with the file backend: the physical address the file's
  /// byte 0 stands for (0: the lowest window address).
  std::uint64_t phys_addr = 0;
  /// Bytes to map; 0 = the minimum the geometry needs (file backend only).
  /// hvisor_v1 with the file backend: the file's size (0: up to the end of
  /// the highest window).
  std::uint64_t size = 0;
  std::uint32_t entries = 256;
  std::uint32_t max_clients = 32;
  std::uint64_t payload_size = 8u << 20;
  create_mode create = create_mode::auto_;
  /// How long an attacher waits for the file to appear and reach READY.
  std::chrono::milliseconds attach_timeout{5000};
  /// The channel: written by the creator, checked by every attacher (at
  /// most 63 bytes; empty: not checked, for tools that only look).
  std::string channel = "default";
  /// Map read-only and never create (for tools that only look: inspect).
  bool read_only = false;
  /// hvisor_v1 only: where its three windows are. entries, max_clients,
  /// payload_size, channel and read_only do not apply to it.
  v1::layout_options v1;
};

/// Why open() failed; each has its own message.
enum class open_error {
  none,
  missing,      ///< the file does not exist (attach mode, after waiting)
  exists,       ///< create mode found an existing file
  io,           ///< open/ftruncate/mmap failed (errno in the message)
  too_small,    ///< the file or range is smaller than the layout needs
  bad_magic,    ///< not a hyperamp region
  bad_version,  ///< another layout version
  bad_geometry, ///< sizes/offsets inconsistent or not what we asked for
  not_ready,    ///< the creator did not publish READY in time
  bad_options,  ///< the options themselves are impossible
  other_layout, ///< a region of another wire layout than configured
};

const char* to_string(open_error e) noexcept;

class region {
public:
  struct result;

  /// Creates or attaches as `opts` says. Never re-initialises a READY region.
  static result open(const region_options& opts);

  ~region();
  region(const region&) = delete;
  region& operator=(const region&) = delete;

  // -- accessors (all offsets were validated by open) ------------------------

  region_header& header() noexcept { return *hdr_; }
  slot& slot_at(std::uint32_t i) noexcept { return slots_[i]; }
  entry& entry_at(std::uint32_t i) noexcept { return entries_[i]; }
  std::uint8_t* payload() noexcept { return payload_; }
  const geometry& geo() const noexcept { return geo_; }
  std::uint32_t entry_count() const noexcept { return geo_.entry_count; }
  std::uint32_t max_clients() const noexcept { return geo_.max_clients; }
  /// True if this process initialised the region.
  bool created() const noexcept { return created_; }
  std::uint64_t mapped_size() const noexcept { return size_; }
  std::uint8_t* base() noexcept { return base_; }
  const std::string& path() const noexcept { return path_; }

  /// Writes a fresh layout into `mem` (exposed for tests and fuzzing) in
  /// `g.layout`; `channel` is cut to 63 bytes.
  static void initialise(std::uint8_t* mem, const geometry& g,
                         const std::string& channel = "default");

  /// Checks a mapped header against the rules of the layout it names
  /// (exposed for fuzzing).
  static open_error check(const std::uint8_t* mem, std::uint64_t mapped,
                          std::string* why);

private:
  region(std::uint8_t* base, std::uint64_t size, bool created, std::string p);

  std::uint8_t* base_;
  std::uint64_t size_;
  bool created_;
  std::string path_;
  geometry geo_;
  region_header* hdr_;
  slot* slots_;
  entry* entries_;
  std::uint8_t* payload_;
};

struct region::result {
  std::unique_ptr<region> value;
  open_error error = open_error::none;
  std::string message; ///< human-readable, names the path
  explicit operator bool() const noexcept { return value != nullptr; }
};

} // namespace hyperamp::shm
