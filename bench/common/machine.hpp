// What the benchmark programs record about the machine and the build.
#pragma once

#include <string>
#include <vector>

namespace hyperamp::bench {

struct machine {
  std::string date;              ///< UTC, e.g. 2026-11-26T08:07:38Z
  std::string uname;             ///< sysname release version machine
  std::string cpu_model;         ///< from /proc/cpuinfo, or "unknown"
  long online_cpus = 0;          ///< sysconf(_SC_NPROCESSORS_ONLN)
  std::vector<int> allowed_cpus; ///< the CPUs this process may run on
  std::string clocksource;       ///< the kernel's, or "unknown"
  double clock_now_ns = 0;       ///< cost of one steady_clock::now()
  std::string git_revision = "unknown";
  bool git_dirty = false; ///< tracked files differ from the revision
  std::string load_start; ///< /proc/loadavg when probed
  std::string load_end;   ///< /proc/loadavg at the end (set by the program)
};

/// Probes the machine. The git revision is that of the work tree at
/// `git_dir` ("" = the current directory), `abbrev` hex digits long (0:
/// git's default).
machine probe_machine(const std::string& git_dir, int abbrev);

/// /proc/loadavg's line.
std::string loadavg();

} // namespace hyperamp::bench
