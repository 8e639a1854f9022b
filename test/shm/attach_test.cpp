// region::open: every way an attach can fail has its own error and its own
// message naming the path; two creators racing produce exactly one
// initialisation; a READY region is never initialised again; the physical
// backend maps a range of a file at an offset.
#include "shm/queue.hpp"
#include "shm/region.hpp"
#include "shm/zone_lock.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <set>
#include <string>
#include <vector>

using namespace hyperamp::shm;
using hyperamp::shm::test::list_of;
using hyperamp::shm::test::set_list;
using hyperamp::shm::test::set_slot;
using hyperamp::shm::test::slot_of;
using namespace std::chrono_literals;
namespace t = hyperamp::shm::test;

namespace {

/// Attach options for the default small test geometry, with a short
/// deadline: the tests that reach it expect it to pass.
region_options attach_opts(const std::string& path) {
  region_options o = t::small_options(path);
  o.create = create_mode::attach;
  o.attach_timeout = 50ms;
  return o;
}

/// Creates a region at `path`, lets `edit` change its header through the
/// mapping, and unmaps it again.
template <class F>
void make_and_edit(const std::string& path, F edit) {
  auto res = region::open(t::small_options(path));
  REQUIRE(res);
  edit(*res.value);
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& b,
                std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  REQUIRE(::pwrite(fd, b.data(), b.size(), 0) ==
          static_cast<ssize_t>(b.size()));
  ::close(fd);
}

bool contains(const std::string& s, const char* what) {
  return s.find(what) != std::string::npos;
}

/// Checks error kind, the path and a telling phrase; returns the message.
std::string expect_error(const region::result& res, open_error e,
                         const std::string& path, const char* phrase) {
  INFO("message: " << res.message);
  CHECK_FALSE(res);
  CHECK(res.value == nullptr);
  CHECK(res.error == e);
  CHECK(contains(res.message, path.c_str()));
  CHECK(contains(res.message, phrase));
  return res.message;
}

// -- one function per failure, shared by the tests below --------------------

std::string bad_magic(const std::string& p) {
  make_and_edit(p, [](region& r) { r.header().magic ^= 1; });
  return expect_error(region::open(attach_opts(p)), open_error::bad_magic, p,
                      "not a hyperamp region (bad magic)");
}

std::string bad_version(const std::string& p) {
  make_and_edit(p, [](region& r) { r.header().layout_version = 7; });
  return expect_error(region::open(attach_opts(p)), open_error::bad_version, p,
                      "has layout version 7, this build speaks version 2");
}

std::string shorter_than_header(const std::string& p) {
  write_file(p, std::vector<std::uint8_t>(100, 'x'), 100);
  return expect_error(region::open(attach_opts(p)), open_error::too_small, p,
                      "is 100 bytes, too small");
}

std::string shorter_than_geometry(const std::string& p) {
  const geometry g = make_geometry(16, 4, 4 * 4096);
  make_and_edit(p, [](region&) {});
  REQUIRE(::truncate(p.c_str(), static_cast<off_t>(g.payload_offset)) == 0);
  return expect_error(region::open(attach_opts(p)), open_error::too_small, p,
                      ("needs " + std::to_string(g.region_size) +
                       " bytes but only " + std::to_string(g.payload_offset) +
                       " are mapped")
                          .c_str());
}

std::string size_option_too_small(const std::string& p) {
  region_options o = t::small_options(p);
  o.size = 4096;
  return expect_error(region::open(o), open_error::too_small, p,
                      "is smaller than the");
}

std::string stuck_initializing(const std::string& p) {
  const geometry g = make_geometry(16, 4, 4 * 4096);
  std::vector<std::uint8_t> hdr(sizeof(region_header), 0);
  hdr[offsetof(region_header, init_state)] = 1; // INITIALIZING, little-endian
  write_file(p, hdr, g.region_size);
  region_options o = attach_opts(p);
  o.create = create_mode::auto_; // would create if it were RAW: it is not
  return expect_error(region::open(o), open_error::not_ready, p,
                      "not ready after 50 ms (INITIALIZING");
}

std::string stuck_raw(const std::string& p) {
  const geometry g = make_geometry(16, 4, 4 * 4096);
  write_file(p, {}, g.region_size);
  return expect_error(region::open(attach_opts(p)), open_error::not_ready, p,
                      "RAW: nobody is creating it");
}

std::string missing(const std::string& p) {
  return expect_error(region::open(attach_opts(p)), open_error::missing, p,
                      "does not exist (waited 50 ms");
}

std::string exists(const std::string& p) {
  make_and_edit(p, [](region&) {});
  return expect_error(region::open(t::small_options(p)), open_error::exists, p,
                      "already exists");
}

std::string geometry_mismatch(const std::string& p) {
  make_and_edit(p, [](region&) {});
  region_options o = attach_opts(p);
  o.entries = 128;
  return expect_error(region::open(o), open_error::bad_geometry, p,
                      "has 16 entries, 4 client slots, 4096 payload bytes per "
                      "slot; this zone is configured for 128 entries");
}

std::string inconsistent_offsets(const std::string& p) {
  make_and_edit(p, [](region& r) { r.header().payload_offset += 4096; });
  return expect_error(region::open(attach_opts(p)), open_error::bad_geometry, p,
                      "offsets that do not match its own counts");
}

std::string inconsistent_sizes(const std::string& p) {
  make_and_edit(p, [](region& r) { r.header().entry_size = 32; });
  return expect_error(region::open(attach_opts(p)), open_error::bad_geometry, p,
                      "inconsistent header (struct sizes or counts)");
}

std::string bad_options(const std::string& p) {
  region_options o = attach_opts(p);
  o.entries = 1;
  return expect_error(region::open(o), open_error::bad_options, p,
                      "entries must be in 2..65535, got 1");
}

std::string io_error(const std::string& p) {
  region_options o = t::small_options(p + ".d/region"); // no such directory
  return expect_error(region::open(o), open_error::io, p, "cannot create");
}

} // namespace

TEST_CASE("attach: wrong magic") {
  t::temp_path p;
  bad_magic(p.path);
}

TEST_CASE("attach: wrong layout version") {
  t::temp_path p;
  bad_version(p.path);
}

TEST_CASE("attach: too small") {
  t::temp_path p;
  SUBCASE("file shorter than the header") {
    shorter_than_header(p.path);
  }
  SUBCASE("file shorter than its geometry") {
    shorter_than_geometry(p.path);
  }
  SUBCASE("size option below the layout") {
    size_option_too_small(p.path);
  }
}

TEST_CASE("attach: not ready in time") {
  t::temp_path p;
  SUBCASE("stuck at INITIALIZING") {
    stuck_initializing(p.path);
  }
  SUBCASE("RAW and attach-only") {
    stuck_raw(p.path);
  }
}

TEST_CASE("attach: missing file") {
  t::temp_path p;
  missing(p.path);
}

TEST_CASE("attach: create on an existing file") {
  t::temp_path p;
  exists(p.path);
}

TEST_CASE("attach: geometry") {
  t::temp_path p;
  SUBCASE("attacher asks for other sizes") {
    geometry_mismatch(p.path);
  }
  SUBCASE("header offsets disagree with its counts") {
    inconsistent_offsets(p.path);
  }
  SUBCASE("header struct sizes are wrong") {
    inconsistent_sizes(p.path);
  }
}

TEST_CASE("attach: bad options") {
  t::temp_path p;
  bad_options(p.path);
  region_options o = attach_opts(p.path);
  o.entries = 70000;
  expect_error(region::open(o), open_error::bad_options, p.path,
               "entries must be in 2..65535, got 70000");
  o = attach_opts(p.path);
  o.max_clients = 0;
  expect_error(region::open(o), open_error::bad_options, p.path,
               "max_clients must be in 1..256, got 0");
  o = attach_opts(p.path);
  o.max_clients = 257;
  expect_error(region::open(o), open_error::bad_options, p.path,
               "max_clients must be in 1..256, got 257");
  o = attach_opts(p.path);
  o.payload_size = 4 * 63;
  expect_error(region::open(o), open_error::bad_options, p.path,
               "leaves less than 64 bytes per client slot");
  o = attach_opts(p.path);
  o.backend = region_backend::physical;
  o.phys_addr = 8192 + 64;
  expect_error(region::open(o), open_error::bad_options, p.path,
               "phys_addr must be 4096-aligned");
  // Nothing was created by any of these.
  CHECK(::access(p.path.c_str(), F_OK) != 0);
}

TEST_CASE("attach: io error") {
  t::temp_path p;
  io_error(p.path);
}

TEST_CASE("attach: every failure has its own message") {
  using fn = std::string (*)(const std::string&);
  const fn all[] = {bad_magic,
                    bad_version,
                    shorter_than_header,
                    shorter_than_geometry,
                    size_option_too_small,
                    stuck_initializing,
                    stuck_raw,
                    missing,
                    exists,
                    geometry_mismatch,
                    inconsistent_offsets,
                    inconsistent_sizes,
                    bad_options,
                    io_error};
  std::set<std::string> seen;
  for (auto f : all) {
    t::temp_path p;
    std::string msg = f(p.path);
    // Compare without the (unique) path.
    msg.erase(0, msg.find(p.path) + p.path.size());
    CHECK(seen.insert(msg).second);
  }
  CHECK(seen.size() == std::size(all));
  std::set<std::string> names;
  for (auto e : {open_error::none, open_error::missing, open_error::exists,
                 open_error::io, open_error::too_small, open_error::bad_magic,
                 open_error::bad_version, open_error::bad_geometry,
                 open_error::not_ready, open_error::bad_options})
    CHECK(names.insert(to_string(e)).second);
}

namespace {

struct race_report {
  std::atomic<int> ok{0};
  std::atomic<int> created{0};
  std::uint64_t region_size = 0, entries_offset = 0, payload_offset = 0,
                partition_size = 0;
  std::uint32_t entry_count = 0, max_clients = 0;
};

} // namespace

TEST_CASE("attach: two processes race to create with auto_") {
  const std::size_t rounds = t::scaled(20, 5);
  for (std::size_t round = 0; round < rounds; ++round) {
    CAPTURE(round);
    t::temp_path p("race");
    t::shared_array<race_report> rep(2);
    t::event_pipe go;
    pid_t kids[2];
    for (int k = 0; k < 2; ++k)
      kids[k] = t::spawn([&, k] {
        go.close_write();
        go.wait(); // end of file: both start together
        region_options o = t::small_options(p.path);
        o.create = create_mode::auto_;
        o.attach_timeout = 10s; // a failure guard, not a wait
        auto res = region::open(o);
        if (!res)
          return 1;
        region& r = *res.value;
        race_report& me = rep[static_cast<std::size_t>(k)];
        me.created = r.created() ? 1 : 0;
        me.region_size = r.header().region_size;
        me.entries_offset = r.header().entries_offset;
        me.payload_offset = r.header().payload_offset;
        me.partition_size = r.header().partition_size;
        me.entry_count = r.header().entry_count;
        me.max_clients = r.header().max_clients;
        me.ok = 1;
        return 0;
      });
    go.close_write();
    CHECK(t::wait_child(kids[0]) == 0);
    CHECK(t::wait_child(kids[1]) == 0);
    CHECK(rep[0].ok.load() == 1);
    CHECK(rep[1].ok.load() == 1);
    CHECK(rep[0].created.load() + rep[1].created.load() == 1);
    CHECK(rep[0].region_size == rep[1].region_size);
    CHECK(rep[0].entries_offset == rep[1].entries_offset);
    CHECK(rep[0].payload_offset == rep[1].payload_offset);
    CHECK(rep[0].partition_size == rep[1].partition_size);
    CHECK(rep[0].entry_count == 16);
    CHECK(rep[1].entry_count == 16);
    CHECK(rep[0].max_clients == rep[1].max_clients);
    // And the file is a READY, valid region for a third party.
    auto third = region::open(attach_opts(p.path));
    REQUIRE(third);
    CHECK_FALSE(third.value->created());
  }
}

TEST_CASE("attach: a READY region is never re-initialised") {
  t::temp_path p;
  auto first = region::open(t::small_options(p.path));
  REQUIRE(first);
  region& r = *first.value;
  null_lock nl;
  test::test_queue<null_lock> q(r, nl);
  std::uint32_t mine[3];
  REQUIRE(q.acquire(1, mine, 3).count == 3);
  r.entry_at(mine[2]).seq = 0xC0FFEE;
  std::memcpy(r.payload(), "marker", 6);
  const std::uint32_t free_head = r.header().free_head;

  const auto intact = [&](region& other) {
    CHECK_FALSE(other.created());
    CHECK(other.entry_at(mine[2]).seq == 0xC0FFEE);
    CHECK(std::memcmp(other.payload(), "marker", 6) == 0);
    CHECK(other.header().free_head == free_head);
    CHECK(list_of(other.entry_at(mine[0])) ==
          static_cast<std::uint16_t>(list_id::client));
  };
  SUBCASE("auto_ while the creator is mapped") {
    region_options o = t::small_options(p.path);
    o.create = create_mode::auto_;
    auto again = region::open(o);
    REQUIRE(again);
    intact(*again.value);
  }
  SUBCASE("attach while the creator is mapped") {
    auto again = region::open(attach_opts(p.path));
    REQUIRE(again);
    intact(*again.value);
  }
  SUBCASE("auto_ after the creator unmapped") {
    first.value.reset();
    region_options o = t::small_options(p.path);
    o.create = create_mode::auto_;
    auto again = region::open(o);
    REQUIRE(again);
    CHECK_FALSE(again.value->created());
    CHECK(again.value->entry_at(mine[2]).seq == 0xC0FFEE);
    CHECK(std::memcmp(again.value->payload(), "marker", 6) == 0);
    CHECK(again.value->header().free_head == free_head);
  }
}

TEST_CASE("attach: physical backend against a regular file at phys_addr 8192") {
  t::temp_path p("phys");
  const geometry g = make_geometry(16, 4, 4 * 4096);
  // 8 KiB of something else before the region, as on a board.
  write_file(p.path, std::vector<std::uint8_t>(8192, 0xAB),
             8192 + g.region_size);
  region_options o = t::small_options(p.path);
  o.backend = region_backend::physical;
  o.phys_addr = 8192;
  o.create = create_mode::auto_;
  auto res = region::open(o);
  INFO(res.message);
  REQUIRE(res);
  region& r = *res.value;
  CHECK(r.created());
  CHECK(r.mapped_size() == g.region_size);
  r.entry_at(5).seq = 0xFEED;
  // Through the file: the region starts at byte 8192, nothing before moved.
  const int fd = ::open(p.path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  std::vector<std::uint8_t> head(8192 + 8);
  REQUIRE(::pread(fd, head.data(), head.size(), 0) ==
          static_cast<ssize_t>(head.size()));
  ::close(fd);
  CHECK(std::count(head.begin(), head.begin() + 8192, 0xAB) == 8192);
  CHECK(std::memcmp(head.data() + 8192, "HYPERAMP", 8) == 0);

  SUBCASE("a second mapping attaches, does not initialise") {
    o.create = create_mode::attach;
    auto again = region::open(o);
    REQUIRE(again);
    CHECK_FALSE(again.value->created());
    CHECK(again.value->entry_at(5).seq == 0xFEED);
  }
  SUBCASE("a range past the end of the file is too small") {
    o.phys_addr = 4 * 8192;
    expect_error(region::open(o), open_error::too_small, p.path,
                 "at offset 32768");
  }
  SUBCASE("a missing device fails at once: nobody will create it") {
    o.path += ".none";
    // An hour: a build that waited for the device would run into the
    // test's ctest timeout instead of passing (no clock read here).
    o.attach_timeout = std::chrono::hours(1);
    const auto msg = expect_error(region::open(o), open_error::missing, o.path,
                                  "memory device");
    CHECK(msg.find("waited") == std::string::npos);
  }
}

TEST_CASE("attach: a path that is no shared file is refused, not mapped") {
  region_options o = t::small_options("/dev/zero");
  SUBCASE("file backend, creating") {
    o.create = create_mode::auto_;
    expect_error(region::open(o), open_error::bad_options, "/dev/zero",
                 "is a character device, not a regular file");
  }
  SUBCASE("file backend, attaching") {
    o.create = create_mode::attach;
    expect_error(region::open(o), open_error::bad_options, "/dev/zero",
                 "is a character device, not a regular file");
  }
  SUBCASE("physical backend: /dev/zero is no memory device") {
    o.backend = region_backend::physical;
    o.create = create_mode::auto_;
    expect_error(region::open(o), open_error::bad_options, "/dev/zero",
                 "not the memory device or a file");
  }
  SUBCASE("a directory") {
    o.path = "/tmp";
    o.create = create_mode::attach;
    // open(2) itself refuses a directory for writing.
    expect_error(region::open(o), open_error::io, "/tmp", "Is a directory");
  }
  SUBCASE("a FIFO does not block the open") {
    t::temp_path p("fifo");
    REQUIRE(::mkfifo(p.path.c_str(), 0600) == 0);
    o.path = p.path;
    o.create = create_mode::attach;
    expect_error(region::open(o), open_error::bad_options, p.path, "is a FIFO");
  }
}

TEST_CASE("attach: the channel written by the creator is checked") {
  t::temp_path p;
  region_options o = t::small_options(p.path);
  o.channel = "sensors";
  auto created = region::open(o);
  REQUIRE(created);
  CHECK(std::string(created.value->header().channel) == "sensors");
  region_options a = attach_opts(p.path);
  SUBCASE("the same channel attaches") {
    a.channel = "sensors";
    CHECK(region::open(a));
  }
  SUBCASE("another channel is refused, naming both") {
    a.channel = "default";
    const auto msg = expect_error(region::open(a), open_error::bad_geometry,
                                  p.path, "is for channel \"sensors\"");
    CHECK(contains(msg, "configured for channel \"default\""));
  }
  SUBCASE("an empty channel looks without checking") {
    a.channel.clear();
    CHECK(region::open(a));
  }
}

TEST_CASE("attach: a long channel name is cut to 63 bytes on both sides") {
  t::temp_path p;
  region_options o = t::small_options(p.path);
  o.channel = std::string(80, 'c');
  REQUIRE(region::open(o));
  region_options a = attach_opts(p.path);
  a.channel = std::string(80, 'c');
  auto again = region::open(a);
  REQUIRE(again);
  CHECK(std::string(again.value->header().channel) == std::string(63, 'c'));
}

TEST_CASE("attach: read_only maps without write access and never creates") {
  t::temp_path p;
  region_options o = attach_opts(p.path);
  o.read_only = true;
  o.create = create_mode::auto_;
  expect_error(region::open(o), open_error::missing, p.path, "does not exist");
  CHECK(::access(p.path.c_str(), F_OK) != 0);
  REQUIRE(region::open(t::small_options(p.path)));
  REQUIRE(::chmod(p.path.c_str(), 0400) == 0);
  auto ro = region::open(o);
  INFO(ro.message);
  REQUIRE(ro);
  CHECK_FALSE(ro.value->created());
  CHECK(ro.value->header().magic == k_magic);
}
