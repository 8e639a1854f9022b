// What the benchmark programs print and write: progress lines, the table,
// the JSON file (nlohmann::ordered_json: keys stay in the order written).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hyperamp::bench {

/// The program's name in its messages; each program defines it.
extern const char* const tool_name;

/// "<tool_name>: <line>" on stderr.
void progress(const std::string& line);

/// Prints `cells` as a table: the first row is the header, underlined;
/// columns two spaces apart and as wide as their widest cell; column i
/// right-aligned if `right[i]`.
void print_table(std::ostream& out,
                 const std::vector<std::vector<std::string>>& cells,
                 const std::vector<bool>& right);

using json = nlohmann::ordered_json;

/// A figure for the JSON file: six significant digits, null if not finite.
json figure(double v);

/// Creates the directories `path` goes to; empty, or why it failed.
std::string make_parent_dir(const std::string& path);

/// Writes `doc` to `path` (through `path`.tmp and a rename, after
/// make_parent_dir): one member of the top level per line, and one line
/// per element of a top-level array of objects (a result row per line).
/// Empty, or why it failed.
std::string write_json(const std::string& path, const json& doc);

} // namespace hyperamp::bench
