#include "bench/common/machine.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace hyperamp::bench {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

/// stdout of a shell command, trimmed; empty if it failed.
std::string command_output(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr)
    return {};
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr)
    out += buf;
  return ::pclose(p) == 0 ? trim(out) : std::string{};
}

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  for (const char* key : {"model name", "Model", "Hardware", "CPU part"}) {
    in.clear();
    in.seekg(0);
    while (std::getline(in, line))
      if (line.rfind(key, 0) == 0 && line.find(':') != std::string::npos)
        return trim(line.substr(line.find(':') + 1));
  }
  return "unknown";
}

std::string first_line(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  return std::getline(in, line) ? trim(line) : "unknown";
}

double clock_cost_ns() {
  using steady = std::chrono::steady_clock;
  constexpr int n = 100'000;
  auto sink = steady::now();
  const auto t0 = steady::now();
  for (int i = 0; i < n; ++i)
    sink = std::max(sink, steady::now());
  return std::chrono::duration<double, std::nano>(sink - t0).count() / n;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

} // namespace

machine probe_machine(const std::string& git_dir, int abbrev) {
  machine m;
  m.date = utc_now();
  utsname u{};
  if (::uname(&u) == 0)
    m.uname = std::string{u.sysname} + " " + u.release + " " + u.version + " " +
              u.machine;
  m.cpu_model = cpu_model();
  m.online_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (std::size_t c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set))
        m.allowed_cpus.push_back(static_cast<int>(c));
  m.clocksource = first_line(
      "/sys/devices/system/clocksource/clocksource0/current_clocksource");
  m.clock_now_ns = clock_cost_ns();
  const std::string git =
      "git" + (git_dir.empty() ? "" : " -C '" + git_dir + "'") + " ";
  const std::string len = abbrev > 0 ? "=" + std::to_string(abbrev) : "";
  if (auto rev =
          command_output(git + "rev-parse --short" + len + " HEAD 2>/dev/null");
      !rev.empty()) {
    m.git_revision = rev;
    m.git_dirty =
        !command_output(git + "status --porcelain --untracked-files=no "
                              "2>/dev/null")
             .empty();
  }
  m.load_start = loadavg();
  return m;
}

std::string loadavg() {
  return first_line("/proc/loadavg");
}

} // namespace hyperamp::bench
