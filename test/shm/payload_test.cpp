// payload_allocator: 64-byte alignment, full as a status, release of what
// was not allocated is refused without side effects, and concurrent
// allocate/free never hands out overlapping blocks.
#include "shm/payload.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

using namespace hyperamp::shm;
namespace t = hyperamp::shm::test;

namespace {

/// Allocates 64-byte blocks until full; the offsets it got. Two allocators
/// with the same state give the same answer (bitmap, hint and count).
std::vector<std::uint32_t> drain(payload_allocator& a) {
  std::vector<std::uint32_t> v;
  payload_block b;
  while (a.allocate(64, b) == status::ok)
    v.push_back(b.offset);
  return v;
}

} // namespace

TEST_CASE("payload: blocks are 64-byte aligned, rounded up, inside the range") {
  payload_allocator a(4096, 64 * 100);
  CHECK(a.size() == 6400);
  CHECK(a.in_use() == 0);
  struct want {
    std::uint32_t bytes, capacity;
  };
  for (auto w : {want{0, 64}, want{1, 64}, want{63, 64}, want{64, 64},
                 want{65, 128}, want{1000, 1024}, want{4096, 4096}}) {
    CAPTURE(w.bytes);
    payload_block b;
    REQUIRE(a.allocate(w.bytes, b) == status::ok);
    CHECK(b.offset % k_payload_align == 0);
    CHECK(b.capacity == w.capacity);
    CHECK(b.offset >= 4096);
    CHECK(b.offset + b.capacity <= 4096 + 6400);
    CHECK(a.in_use() == b.capacity);
    CHECK(a.release(b) == status::ok);
    CHECK(a.in_use() == 0);
  }
}

TEST_CASE("payload: full is a status") {
  payload_allocator a(0, 64 * 8);
  std::vector<payload_block> live;
  payload_block b;
  for (int i = 0; i < 8; ++i) {
    REQUIRE(a.allocate(1, b) == status::ok);
    live.push_back(b);
  }
  CHECK(a.in_use() == 512);
  CHECK(a.allocate(1, b) == status::full);
  CHECK(a.allocate(0, b) == status::full);
  // Free every other granule: 4 free, but no two adjacent.
  for (std::size_t i = 0; i < live.size(); i += 2)
    REQUIRE(a.release(live[i]) == status::ok);
  CHECK(a.in_use() == 256);
  CHECK(a.allocate(65, b) == status::full);     // fragmentation, not size
  CHECK(a.allocate(64 * 9, b) == status::full); // bigger than everything
  CHECK(a.in_use() == 256);
  CHECK(a.allocate(64, b) == status::ok);
  CHECK(a.in_use() == 320);

  payload_allocator none(0, 0);
  CHECK(none.allocate(1, b) == status::full);
}

TEST_CASE("payload: release of what is not allocated is corrupt, changes "
          "nothing") {
  // `a` gets every bad release; its twin `ref` the same history without
  // them. Afterwards both must behave identically.
  payload_allocator a(1024, 64 * 16), ref(1024, 64 * 16);
  payload_block x, y, rx, ry;
  REQUIRE(a.allocate(128, x) == status::ok);
  REQUIRE(a.allocate(64, y) == status::ok);
  REQUIRE(ref.allocate(128, rx) == status::ok);
  REQUIRE(ref.allocate(64, ry) == status::ok);
  REQUIRE(a.in_use() == 192);

  const payload_block bad[] = {
      {x.offset + 64 * 8, 64}, // never allocated
      {y.offset, 128},         // runs into free space
      {x.offset + 1, 64},      // misaligned offset
      {x.offset, 63},          // capacity not a multiple of 64
      {x.offset, 0},           // empty
      {0, 64},                 // below the managed range
      {1024 + 64 * 16, 64},    // past the end
      {1024 + 64 * 15, 128},   // straddles the end
      {0xFFFFFFC0u, 64},       // far away
      {x.offset, 64},          // the first half of x
      {x.offset + 64, 64},     // the second half of x
      {x.offset + 64, 128},    // the end of x and all of y
  };
  for (const auto& b : bad) {
    CAPTURE(b.offset);
    CAPTURE(b.capacity);
    CHECK(a.release(b) == status::corrupt);
    CHECK(a.in_use() == 192);
  }
  // Double free: the second release is refused.
  REQUIRE(a.release(y) == status::ok);
  REQUIRE(ref.release(ry) == status::ok);
  CHECK(a.release(y) == status::corrupt);
  CHECK(a.in_use() == 128);
  SUBCASE("same state as the twin") {
    CHECK(drain(a) == drain(ref));
  }
  SUBCASE("x is still allocated, exactly once") {
    CHECK(a.release(x) == status::ok);
    CHECK(a.release(x) == status::corrupt);
    CHECK(a.in_use() == 0);
    payload_block all;
    CHECK(a.allocate(64 * 16, all) == status::ok);
    CHECK(all.offset == 1024);
  }
}

TEST_CASE("payload: concurrent allocate/free never overlaps") {
  // The vector stands for the payload area. Each thread fills its blocks
  // with its own byte and checks them before freeing: an overlap shows as a
  // foreign byte (and, under TSan, as a race on the vector).
  constexpr std::uint64_t base = 4096;
  constexpr std::uint64_t size = 64 * 256; // small enough to run full
  payload_allocator a(base, size);
  std::vector<std::uint8_t> area(size, 0);
  constexpr int threads = 8;
  const std::size_t ops = t::scaled(100'000, 10'000);
  std::atomic<std::uint64_t> overlaps{0}, bad_blocks{0}, fulls{0},
      release_errors{0}, done{0};
  std::vector<std::thread> ts;
  for (int id = 0; id < threads; ++id)
    ts.emplace_back([&, id] {
      std::mt19937 rng(static_cast<std::uint32_t>(id) * 7919u + 1u);
      const auto mark = static_cast<std::uint8_t>(id + 1);
      std::vector<payload_block> mine;
      auto free_one = [&](std::size_t k) {
        const payload_block b = mine[k];
        std::uint8_t* p = area.data() + (b.offset - base);
        for (std::uint32_t i = 0; i < b.capacity; ++i)
          if (p[i] != mark)
            ++overlaps;
        if (a.release(b) != status::ok)
          ++release_errors;
        mine[k] = mine.back();
        mine.pop_back();
      };
      for (std::size_t op = 0; op < ops; ++op) {
        if (mine.size() < 8 && (mine.empty() || rng() % 2 == 0)) {
          payload_block b;
          const auto bytes = static_cast<std::uint32_t>(rng() % 600);
          if (a.allocate(bytes, b) != status::ok) {
            ++fulls;
            if (!mine.empty())
              free_one(0);
            continue;
          }
          if (b.offset % 64 != 0 || b.offset < base ||
              b.offset + b.capacity > base + size || b.capacity < bytes)
            ++bad_blocks;
          std::memset(area.data() + (b.offset - base), mark, b.capacity);
          mine.push_back(b);
        } else {
          free_one(rng() % mine.size());
        }
      }
      while (!mine.empty())
        free_one(0);
      ++done;
    });
  for (auto& th : ts)
    th.join();
  CHECK(done.load() == threads);
  CHECK(overlaps.load() == 0);
  CHECK(bad_blocks.load() == 0);
  CHECK(release_errors.load() == 0);
  CHECK(a.in_use() == 0);
  // Nothing leaked and nothing fragmented for good: one block takes it all.
  payload_block all;
  CHECK(a.allocate(static_cast<std::uint32_t>(size), all) == status::ok);
  CHECK(all.offset == base);
  MESSAGE("allocator: full " << fulls.load() << " times in " << threads * ops
                             << " operations");
}
