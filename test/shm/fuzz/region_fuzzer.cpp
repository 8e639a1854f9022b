// libFuzzer target: the fuzz_harness.hpp round driven by fuzzer input
// (every choice the harness makes, valid operations, corruptions and
// readers, is read from the input bytes; an exhausted input reads zeros).
// Any failed property aborts; a stray access faults on the guard pages.
//
// Not part of the main build (it needs clang). To build and run by hand,
// from the repository root:
//
//   clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
//     -I. -Itest/shm test/shm/fuzz/region_fuzzer.cpp \
//     shm/region.cpp shm/lists.cpp shm/wire.cpp -o /tmp/region_fuzzer
//   mkdir -p /tmp/region_corpus
//   /tmp/region_fuzzer -max_total_time=30 /tmp/region_corpus
//
// or with CMake: see CMakeLists.txt beside this file.
#include "fuzz_harness.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace hyperamp::shm;

namespace {

/// Reads the harness's choices from the input, as few bytes as will do.
class byte_source {
public:
  byte_source(const std::uint8_t* data, std::size_t size)
      : p_(data), end_(data + size) {}

  std::uint32_t below(std::uint32_t n) {
    const std::uint32_t x = n <= 0x100     ? take(1)
                            : n <= 0x10000 ? take(2)
                                           : take(4);
    return x % n;
  }
  std::uint32_t word() { return take(4); }

private:
  std::uint32_t take(int bytes) {
    std::uint32_t x = 0;
    for (int i = 0; i < bytes && p_ != end_; ++i)
      x = x << 8 | *p_++;
    return x;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

struct abort_check {
  void operator()(bool ok, const char* what) const {
    if (!ok) {
      std::fprintf(stderr, "region_fuzzer: property failed: %s\n", what);
      std::abort();
    }
  }
};

fuzz::guarded_region& the_region() {
  static fuzz::guarded_region* g = [] {
    auto* r = new fuzz::guarded_region;
    const std::string path =
        "/dev/shm/hyperamp-fuzzer-" + std::to_string(::getpid());
    const std::string err = r->open(path); // unlinks the file at once
    if (!err.empty()) {
      std::fprintf(stderr, "region_fuzzer: %s\n", err.c_str());
      std::abort();
    }
    return r;
  }();
  return *g;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  byte_source src(data, size);
  abort_check check;
  fuzz::stats st;
  fuzz::harness<byte_source, abort_check> h(the_region().get(), src, check, st);
  h.round();
  return 0;
}
