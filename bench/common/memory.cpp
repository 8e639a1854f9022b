#include "bench/common/memory.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/common/report.hpp"

namespace hyperamp::bench {

shm::region_options region_options(const std::string& path,
                                   std::uint32_t entries,
                                   std::uint32_t max_clients,
                                   std::uint64_t payload_size,
                                   shm::create_mode mode,
                                   std::chrono::milliseconds attach_timeout) {
  shm::region_options o;
  o.path = path;
  o.entries = entries;
  o.max_clients = max_clients;
  o.payload_size = payload_size;
  o.create = mode;
  o.attach_timeout = attach_timeout;
  return o;
}

std::string region_path() {
  return "/dev/shm/hyperamp-bench-" + std::to_string(::getpid());
}

std::string fresh_region_path() {
  static int n = 0;
  return region_path() + "-" + std::to_string(n++);
}

region_file::~region_file() {
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
    progress("cannot remove " + path_ + ": " + std::strerror(errno));
}

} // namespace hyperamp::bench
