// Bounded input: what a role file may be before toml11 sees it. Internal to
// config/ (and its tests); no toml11 here.
//
// toml11 recurses once per nested array or inline table (it overflows the
// stack at a few thousand levels) and takes quadratic time on long dotted
// keys, long arrays and big inline tables. A role file needs none of that:
// it is a few KiB with about 40 keys and sections, so the limits below are
// far under the point where toml11 gets slow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace hyperamp::config::input {

constexpr std::size_t max_bytes = 64 * 1024;
// Arrays and inline tables inside one another.
constexpr std::size_t max_depth = 16;
// Keys, section headers and array elements, all together.
constexpr std::size_t max_entries = 512;
// Parts of one dotted key or section name ("region.entries" has 2).
constexpr std::size_t max_key_parts = 8;

// The whole file at `path`, which must be a regular file of at most
// max_bytes. Never blocks on a FIFO or device: those are refused after
// fstat, before any read. Throws config_error "cannot open <path>: <why>"
// or "cannot read <path>: <why>".
std::string read_file(const std::string& path);

// The first limit `text` breaks: line (0 when the whole text is at fault)
// and what is wrong. Cheap and linear; strings and comments are skipped as
// TOML defines them, so brackets, dots and '=' inside them do not count.
struct limit_problem {
  std::uint32_t line;
  std::string text;
};
std::optional<limit_problem> prescan(const std::string& text);

} // namespace hyperamp::config::input
