// The command line of the benchmark programs (CLI11), set up alike: --help
// and -h print the program's own usage text, --quick and --json FILE are in
// both, an option given twice takes the last value, and a usage error
// prints "<tool>: <message><hint>" and exits with 2.
#pragma once

#include <cstdio>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "bench/common/report.hpp"

namespace hyperamp::bench {

inline CLI::Validator non_empty() {
  return {[](std::string& s) { return s.empty() ? "needs a value" : ""; }, ""};
}

/// A decimal number in lo..hi (CLI11 alone reads "010" as octal).
inline CLI::Validator decimal(long lo, long hi) {
  return {[lo, hi](std::string& s) -> std::string {
            const bool digits = !s.empty() && s.size() < 10 &&
                                s.find_first_not_of("0123456789") == s.npos;
            const long v = digits ? std::stol(s) : -1;
            if (v < lo || v > hi)
              return "'" + s + "' is not a number in " + std::to_string(lo) +
                     ".." + std::to_string(hi);
            s = std::to_string(v);
            return "";
          },
          "N"};
}

struct command_line {
  CLI::App app;
  bool help = false;
  bool quick = false;
  std::string json; ///< --json FILE

  explicit command_line(std::string json_default)
      : json(std::move(json_default)) {
    app.set_help_flag();
    app.option_defaults()->multi_option_policy(
        CLI::MultiOptionPolicy::TakeLast);
    app.add_flag("-h,--help", help);
    app.add_flag("--quick", quick);
    app.add_option("--json", json)->check(non_empty());
  }

  /// -1 to go on, or the exit code: 0 after printing `usage` (--help), 2
  /// after a usage error.
  int parse(int argc, char** argv, const std::string& usage,
            const std::string& hint) {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      std::fprintf(stderr, "%s: %s%s\n", tool_name, e.what(), hint.c_str());
      return 2;
    }
    if (help)
      std::fputs(usage.c_str(), stdout);
    return help ? 0 : -1;
  }
};

} // namespace hyperamp::bench
