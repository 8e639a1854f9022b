// Fuzz: peer-written garbage, from a seeded PRNG (see fuzz_harness.hpp for
// what a round does and how out-of-region accesses are made to fault). The
// libFuzzer target in fuzz/ runs the same harness from fuzzer input.
#include "fuzz_harness.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <random>
#include <string>

using namespace hyperamp::shm;
namespace t = hyperamp::shm::test;

namespace {

struct prng_source {
  std::mt19937_64 rng;
  explicit prng_source(std::uint64_t seed) : rng(seed) {}
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(rng() % n);
  }
  std::uint32_t word() { return static_cast<std::uint32_t>(rng()); }
};

/// Counts failures instead of asserting each of millions of properties.
struct counting_check {
  std::uint64_t checks = 0, failures = 0;
  std::string first;
  void operator()(bool ok, const char* what) {
    ++checks;
    if (!ok && failures++ == 0)
      first = what;
  }
};

} // namespace

TEST_CASE("fuzz: every reader survives peer-written garbage") {
  t::temp_path file("fuzz");
  fuzz::guarded_region g;
  const std::string err = g.open(file.path);
  INFO(err);
  REQUIRE(err.empty());
  if (!g.guard_before())
    MESSAGE("no guard page before the region (address in use)");
  const std::size_t rounds = t::scaled(50'000, 10'000);
  prng_source src(0x5eed0001);
  counting_check check;
  fuzz::stats st;
  fuzz::harness<prng_source, counting_check> h(g.get(), src, check, st);
  for (std::size_t i = 0; i < rounds && check.failures == 0; ++i)
    h.round();
  MESSAGE("rounds=" << st.rounds << " reader ops=" << st.ops
                    << " corruptions=" << st.corruptions
                    << " corrupt statuses=" << st.corrupt_statuses
                    << " requests accepted=" << st.requests_ok
                    << " checks=" << check.checks);
  INFO("first failed property: " << check.first);
  CHECK(check.failures == 0);
  CHECK(st.rounds == rounds);
  // The harness really exercised both outcomes.
  CHECK(st.corrupt_statuses > rounds / 10);
  CHECK(st.requests_ok > rounds / 100);
}

namespace {

/// True if the kernel can read one byte at `p`: write(2) from an unmapped
/// or PROT_NONE address fails with EFAULT instead of raising a signal.
bool readable(const void* p) {
  t::event_pipe sink;
  const ssize_t n = ::write(sink.fd[1], p, 1);
  return n == 1;
}

} // namespace

TEST_CASE("fuzz: the guard pages are really there") {
  t::temp_path file("guard");
  fuzz::guarded_region g;
  REQUIRE(g.open(file.path).empty());
  region& r = g.get();
  const auto* last =
      reinterpret_cast<const std::uint8_t*>(&r.entry_at(fuzz::k_entries - 1));
  const std::uint8_t* past_last = last + sizeof(entry);
  CHECK(past_last == r.payload()); // no slack between entries and payload
  CHECK(readable(r.base()));
  CHECK(readable(last + sizeof(entry) - 1));
  CHECK_FALSE(readable(past_last));
  CHECK_FALSE(readable(r.payload() + r.geo().payload_size - 1));
  CHECK_FALSE(readable(r.payload() + r.geo().payload_size)); // the extra page
  if (g.guard_before())
    CHECK_FALSE(readable(r.base() - 1));
}
