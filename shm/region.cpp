#include "shm/region.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>
#include <unistd.h>

namespace hyperamp::shm {

namespace {

using clock_type = std::chrono::steady_clock;

std::string file_kind(mode_t m) {
  if (S_ISCHR(m))
    return "a character device";
  if (S_ISBLK(m))
    return "a block device";
  if (S_ISDIR(m))
    return "a directory";
  if (S_ISFIFO(m))
    return "a FIFO";
  if (S_ISSOCK(m))
    return "a socket";
  return "not a regular file";
}

std::string errno_text(const char* what, const std::string& path) {
  return std::string{what} + " " + path + ": " + std::strerror(errno);
}

region::result fail(open_error e, std::string msg) {
  region::result r;
  r.error = e;
  r.message = std::move(msg);
  return r;
}

/// Closes a descriptor on scope exit; mmap keeps its own reference.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

bool options_ok(const region_options& o, std::string* why) {
  if (o.entries < 2 || o.entries > k_max_entries) {
    *why = "entries must be in 2..65535, got " + std::to_string(o.entries);
  } else if (o.max_clients < 1 || o.max_clients > k_max_clients) {
    *why =
        "max_clients must be in 1..256, got " + std::to_string(o.max_clients);
  } else if (o.payload_size / o.max_clients < k_payload_align) {
    *why = "payload_size " + std::to_string(o.payload_size) +
           " leaves less than 64 bytes per client slot";
  } else if (o.backend == region_backend::physical && o.phys_addr % 4096) {
    *why = "phys_addr must be 4096-aligned";
  } else {
    return true;
  }
  return false;
}

/// Waits until `pred` holds or the deadline passes. Not a hot path: used
/// only while attaching, when the other zone may still be starting.
template <class Pred>
bool wait_until(clock_type::time_point deadline, Pred pred) {
  for (;;) {
    if (pred())
      return true;
    if (clock_type::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// The layout a header's layout_version names (check() vetted it).
wire_layout layout_of(std::uint32_t version) noexcept {
  return version == layout_version_of(wire_layout::partitioned)
             ? wire_layout::partitioned
             : wire_layout::hyperamp;
}

/// Entry size a header of `l` declares: the entry, or the request cell.
std::uint32_t entry_size_of(wire_layout l) noexcept {
  return l == wire_layout::partitioned
             ? static_cast<std::uint32_t>(k_cell_size)
             : static_cast<std::uint32_t>(sizeof(entry));
}

std::string describe(std::uint32_t entries, std::uint32_t clients,
                     std::uint64_t partition) {
  return std::to_string(entries) + " entries, " + std::to_string(clients) +
         " client slots, " + std::to_string(partition) +
         " payload bytes per slot";
}

} // namespace

const char* to_string(open_error e) noexcept {
  switch (e) {
  case open_error::none:
    return "none";
  case open_error::missing:
    return "missing";
  case open_error::exists:
    return "exists";
  case open_error::io:
    return "io";
  case open_error::too_small:
    return "too_small";
  case open_error::bad_magic:
    return "bad_magic";
  case open_error::bad_version:
    return "bad_version";
  case open_error::bad_geometry:
    return "bad_geometry";
  case open_error::not_ready:
    return "not_ready";
  case open_error::bad_options:
    return "bad_options";
  case open_error::other_layout:
    return "other_layout";
  }
  return "unknown";
}

region::region(std::uint8_t* base, std::uint64_t size, bool created,
               std::string p)
    : base_(base), size_(size), created_(created), path_(std::move(p)) {
  hdr_ = reinterpret_cast<region_header*>(base_);
  geo_ = make_geometry(hdr_->entry_count, hdr_->max_clients,
                       hdr_->partition_size * hdr_->max_clients,
                       layout_of(hdr_->layout_version));
  slots_ = reinterpret_cast<slot*>(base_ + geo_.slots_offset);
  entries_ = reinterpret_cast<entry*>(base_ + geo_.entries_offset);
  payload_ = base_ + geo_.payload_offset;
}

region::~region() {
  ::munmap(base_, size_);
}

void region::initialise(std::uint8_t* mem, const geometry& g,
                        const std::string& channel) {
  // Everything but init_state: the caller owns it (it holds INITIALIZING).
  auto* h = reinterpret_cast<region_header*>(mem);
  std::memset(mem + g.slots_offset, 0, g.payload_offset - g.slots_offset);
  h->magic = k_magic;
  h->layout_version = layout_version_of(g.layout);
  h->header_size = sizeof(region_header);
  h->region_size = g.region_size;
  h->entry_count = g.entry_count;
  h->entry_size = entry_size_of(g.layout);
  h->entries_offset = g.entries_offset;
  h->payload_offset = g.payload_offset;
  h->payload_size = g.payload_size;
  h->max_clients = g.max_clients;
  h->queue_lock.store(0, std::memory_order_relaxed);
  h->lock_recoveries = 0;
  h->submitted_head = h->submitted_tail = k_nil;
  h->in_service_head = h->in_service_tail = k_nil;
  h->slot_size = sizeof(slot);
  h->slots_offset = static_cast<std::uint32_t>(g.slots_offset);
  h->partition_size = g.partition_size;
  h->corrupt_found = 0;
  h->repairs = 0;
  std::memset(h->channel, 0, sizeof(h->channel));
  std::memcpy(h->channel, channel.data(),
              std::min(channel.size(), sizeof(h->channel) - 1));
  std::memset(h->reserved2, 0, sizeof(h->reserved2));
  auto* slots = reinterpret_cast<slot*>(mem + g.slots_offset);
  for (std::uint32_t i = 0; i <= g.max_clients; ++i)
    slots[i].completed_head = slots[i].completed_tail = k_nil;
  if (g.layout == wire_layout::partitioned) {
    // Rings, records and the summary are all zero (the memset above): empty
    // rings at position 0, nothing held, nothing pending.
    h->free_head = h->free_tail = k_nil;
    return;
  }
  auto* es = reinterpret_cast<entry*>(mem + g.entries_offset);
  for (std::uint32_t i = 0; i < g.entry_count; ++i) {
    es[i].prev = i == 0 ? k_nil : i - 1;
    es[i].next = i + 1 == g.entry_count ? k_nil : i + 1;
    es[i].tag =
        pack(entry_tag{static_cast<std::uint16_t>(list_id::free), 0, 0});
  }
  h->free_head = 0;
  h->free_tail = g.entry_count - 1;
}

open_error region::check(const std::uint8_t* mem, std::uint64_t mapped,
                         std::string* why) {
  if (mapped < sizeof(region_header)) {
    *why = "is " + std::to_string(mapped) + " bytes, smaller than the " +
           std::to_string(sizeof(region_header)) + "-byte header";
    return open_error::too_small;
  }
  const auto* h = reinterpret_cast<const region_header*>(mem);
  if (h->magic != k_magic) {
    *why = "is not a hyperamp region (bad magic)";
    return open_error::bad_magic;
  }
  if (h->layout_version != layout_version_of(wire_layout::hyperamp) &&
      h->layout_version != layout_version_of(wire_layout::partitioned)) {
    *why = "has layout version " + std::to_string(h->layout_version) +
           ", this build speaks version " + std::to_string(k_layout_version) +
           " (hyperamp) and " +
           std::to_string(layout_version_of(wire_layout::partitioned)) +
           " (partitioned)";
    return open_error::bad_version;
  }
  const wire_layout layout = layout_of(h->layout_version);
  const std::uint32_t entries = h->entry_count;
  const std::uint32_t clients = h->max_clients;
  const std::uint64_t part = h->partition_size;
  if (h->header_size != sizeof(region_header) ||
      h->entry_size != entry_size_of(layout) || h->slot_size != sizeof(slot) ||
      entries < 2 || entries > k_max_entries || clients < 1 ||
      clients > k_max_clients || part % k_payload_align ||
      part > (std::uint64_t{1} << 32) / clients) {
    *why = "has an inconsistent header (struct sizes or counts)";
    return open_error::bad_geometry;
  }
  const geometry g = make_geometry(entries, clients, part * clients, layout);
  if (h->slots_offset != g.slots_offset ||
      h->entries_offset != g.entries_offset ||
      h->payload_offset != g.payload_offset ||
      h->payload_size != g.payload_size || h->region_size != g.region_size) {
    *why = "has offsets that do not match its own counts";
    return open_error::bad_geometry;
  }
  if (g.region_size > mapped) {
    *why = "needs " + std::to_string(g.region_size) + " bytes but only " +
           std::to_string(mapped) + " are mapped";
    return open_error::too_small;
  }
  return open_error::none;
}

region::result region::open(const region_options& o) {
  std::string why;
  if (!options_ok(o, &why))
    return fail(open_error::bad_options, "region " + o.path + ": " + why);
  const geometry g =
      make_geometry(o.entries, o.max_clients, o.payload_size, o.layout);
  std::uint64_t size = o.size == 0 ? g.region_size : o.size;
  if (size < g.region_size)
    return fail(open_error::too_small,
                "region " + o.path + ": size " + std::to_string(size) +
                    " is smaller than the " + std::to_string(g.region_size) +
                    " bytes the layout needs (" +
                    describe(o.entries, o.max_clients, g.partition_size) + ")");
  const auto deadline = clock_type::now() + o.attach_timeout;
  const bool physical = o.backend == region_backend::physical;
  fd_guard fd;
  bool new_file = false;
  if (!physical && o.create != create_mode::attach && !o.read_only) {
    fd.fd = ::open(o.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
    if (fd.fd >= 0) {
      new_file = true;
      if (::ftruncate(fd.fd, static_cast<off_t>(size)) != 0) {
        auto msg = errno_text("cannot size", o.path);
        ::unlink(o.path.c_str());
        return fail(open_error::io, msg);
      }
    } else if (errno != EEXIST) {
      return fail(open_error::io, errno_text("cannot create", o.path));
    } else if (o.create == create_mode::create) {
      return fail(open_error::exists,
                  "region " + o.path +
                      " already exists; use create = \"auto\" to attach to "
                      "it, or remove the file");
    }
  }
  if (fd.fd < 0) {
    // O_NONBLOCK: opening a FIFO by mistake must not wait for a writer.
    const int flags = (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
                      O_NONBLOCK | (physical ? O_SYNC : 0);
    int err = 0;
    // A file the other zone creates is waited for; the memory device is
    // nobody's to create: missing, it fails at once.
    wait_until(physical ? clock_type::now() : deadline, [&] {
      fd.fd = ::open(o.path.c_str(), flags);
      err = errno;
      return fd.fd >= 0 || err != ENOENT;
    });
    if (fd.fd < 0) {
      errno = err;
      if (err == ENOENT && physical)
        return fail(open_error::missing,
                    "memory device " + o.path +
                        " does not exist (is this zone's kernel built with "
                        "the device, or the path in region.path wrong?)");
      if (err == ENOENT)
        return fail(open_error::missing,
                    "region " + o.path + " does not exist (waited " +
                        std::to_string(o.attach_timeout.count()) +
                        " ms for the other zone to create it)");
      return fail(open_error::io, errno_text("cannot open", o.path));
    }
  }
  // Map: a creator maps what it sized; an attacher maps the whole file (it
  // may have been made by a zone with other settings: check() decides).
  std::uint64_t map_size = size;
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    return fail(open_error::io, errno_text("cannot stat", o.path));
  // The file backend maps a file; the physical one the memory device (or a
  // file standing for it). Anything else (/dev/zero, a directory, a FIFO)
  // would map but never be shared.
  // Of the kernel's memory character devices (major 1) only /dev/mem
  // (minor 1) is memory; /dev/zero, /dev/null and the like map but share
  // nothing, or fault on the first touch.
  const bool memory_device = S_ISCHR(st.st_mode) && !(major(st.st_rdev) == 1 &&
                                                      minor(st.st_rdev) != 1);
  if (!S_ISREG(st.st_mode) && !(physical && memory_device))
    return fail(open_error::bad_options,
                "region " + o.path + " is " + file_kind(st.st_mode) +
                    (physical ? ", not the memory device or a file"
                              : ", not a regular file (the file backend "
                                "shares a file, e.g. under /dev/shm)"));
  if (S_ISREG(st.st_mode)) {
    if (!physical && !new_file) {
      // The creator may be between O_EXCL and ftruncate: wait for a size.
      wait_until(deadline,
                 [&] { return ::fstat(fd.fd, &st) == 0 && st.st_size > 0; });
      map_size = static_cast<std::uint64_t>(st.st_size);
    }
    const auto avail = static_cast<std::uint64_t>(st.st_size);
    const std::uint64_t start = physical ? o.phys_addr : 0;
    if (avail < start + sizeof(region_header) ||
        (physical && avail < start + size))
      return fail(open_error::too_small,
                  "region " + o.path + " is " + std::to_string(avail) +
                      " bytes, too small for a hyperamp region of " +
                      std::to_string(size) + " bytes at offset " +
                      std::to_string(start));
  }
  const int prot = o.read_only ? PROT_READ : PROT_READ | PROT_WRITE;
  void* p = ::mmap(nullptr, map_size, prot, MAP_SHARED, fd.fd,
                   static_cast<off_t>(physical ? o.phys_addr : 0));
  if (p == MAP_FAILED)
    return fail(open_error::io, errno_text("cannot map", o.path));
  auto* mem = static_cast<std::uint8_t*>(p);
  auto unmap = [&] { ::munmap(p, map_size); };
  auto* h = reinterpret_cast<region_header*>(mem);
  bool created = false;
  if (o.create != create_mode::attach && !o.read_only &&
      map_size >= g.region_size) {
    // Exactly one creator: whoever moves RAW -> INITIALIZING. acq_rel so the
    // winner's later writes are not reordered before the claim.
    auto expected = static_cast<std::uint32_t>(init_state::raw);
    if (h->init_state.compare_exchange_strong(
            expected, static_cast<std::uint32_t>(init_state::initializing),
            std::memory_order_acq_rel)) {
      initialise(mem, g, o.channel);
      // Publishes the whole layout: pairs with the attacher's acquire load.
      h->init_state.store(static_cast<std::uint32_t>(init_state::ready),
                          std::memory_order_release);
      created = true;
    }
  }
  std::uint32_t state = 0;
  const bool ready = wait_until(deadline, [&] {
    state = h->init_state.load(std::memory_order_acquire);
    return state == static_cast<std::uint32_t>(init_state::ready);
  });
  if (!ready) {
    unmap();
    std::string s = state == 0 ? "RAW: nobody is creating it"
                    : state == 1
                        ? "INITIALIZING: the creator may have died; remove it"
                        : "unknown state " + std::to_string(state);
    return fail(open_error::not_ready,
                "region " + o.path + " not ready after " +
                    std::to_string(o.attach_timeout.count()) + " ms (" + s +
                    ")");
  }
  if (auto e = check(mem, map_size, &why); e != open_error::none) {
    unmap();
    return fail(e, "region " + o.path + " " + why);
  }
  if (const wire_layout l = layout_of(h->layout_version); l != o.layout) {
    unmap();
    return fail(open_error::other_layout,
                "region " + o.path + " has the " + to_string(l) +
                    " wire layout; this zone is configured for region.layout "
                    "= \"" +
                    to_string(o.layout) +
                    "\" (make both role files agree, or remove the region)");
  }
  if (h->entry_count != o.entries || h->max_clients != o.max_clients ||
      h->partition_size != g.partition_size) {
    std::string msg =
        "region " + o.path + " has " +
        describe(h->entry_count, h->max_clients, h->partition_size) +
        "; this zone is configured for " +
        describe(o.entries, o.max_clients, g.partition_size) +
        " (make both role files agree, or remove the region)";
    unmap();
    return fail(open_error::bad_geometry, std::move(msg));
  }
  const std::string channel(h->channel, strnlen(h->channel, sizeof h->channel));
  if (!o.channel.empty() && channel != o.channel.substr(0, 63)) {
    unmap();
    return fail(open_error::bad_geometry,
                "region " + o.path + " is for channel \"" + channel +
                    "\"; this zone is configured for channel \"" + o.channel +
                    "\" (make both role files agree, or remove the region)");
  }
  region::result r;
  r.value.reset(new region(mem, map_size, created, o.path));
  return r;
}

} // namespace hyperamp::shm
