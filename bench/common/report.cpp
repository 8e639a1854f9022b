#include "bench/common/report.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>

namespace hyperamp::bench {

void progress(const std::string& line) {
  std::cerr << tool_name << ": " << line << std::endl;
}

void print_table(std::ostream& out,
                 const std::vector<std::vector<std::string>>& cells,
                 const std::vector<bool>& right) {
  std::vector<std::size_t> w(right.size(), 0);
  for (const auto& row : cells)
    for (std::size_t i = 0; i < row.size() && i < w.size(); ++i)
      w[i] = std::max(w[i], row[i].size());
  for (std::size_t k = 0; k < cells.size(); ++k) {
    const auto& row = cells[k];
    for (std::size_t i = 0; i < row.size() && i < w.size(); ++i) {
      const bool last = i + 1 == row.size();
      out << (right[i] ? std::right : std::left)
          << std::setw(last && !right[i] ? 0 : static_cast<int>(w[i])) << row[i]
          << (last ? "\n" : "  ");
    }
    if (k == 0) {
      std::size_t total = 0;
      for (auto x : w)
        total += x + 2;
      out << std::string(total - 2, '-') << "\n";
    }
  }
}

json figure(double v) {
  if (!std::isfinite(v))
    return nullptr;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

std::string make_parent_dir(const std::string& path) {
  const auto dir = std::filesystem::path{path}.parent_path();
  std::error_code ec;
  if (!dir.empty())
    std::filesystem::create_directories(dir, ec);
  return ec ? "cannot create directory " + dir.string() + ": " + ec.message()
            : "";
}

std::string write_json(const std::string& path, const json& doc) {
  if (auto err = make_parent_dir(path); !err.empty())
    return err;
  // Invalid UTF-8 (in an error message, say) is replaced, not thrown.
  auto dump = [](const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  std::string text = "{\n";
  std::size_t n = 0;
  for (const auto& [key, value] : doc.items()) {
    text += "  " + dump(key) + ": ";
    if (value.is_array() && !value.empty() && value.front().is_object()) {
      text += "[\n";
      for (std::size_t i = 0; i < value.size(); ++i)
        text += "    " + dump(value[i]) + (i + 1 < value.size() ? ",\n" : "\n");
      text += "  ]";
    } else {
      text += dump(value);
    }
    text += ++n < doc.size() ? ",\n" : "\n";
  }
  text += "}\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << text;
    if (!out.flush())
      return "cannot write " + tmp;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
  return "";
}

} // namespace hyperamp::bench
