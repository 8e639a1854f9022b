// The code blocks of docs/adding-a-service.md are verbatim parts of the
// example files this suite compiles and runs (docs/examples/*.cpp): the doc
// shows the code the tests run.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string read(const std::string& path) {
  std::ifstream in{std::string{HYPERAMP_SOURCE_DIR} + "/" + path};
  REQUIRE_MESSAGE(in, "cannot read " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The contents of the ```cpp blocks of `md`, each with its last newline.
std::vector<std::string> cpp_blocks(const std::string& md) {
  const std::string open = "```cpp\n";
  const std::string close = "\n```";
  std::vector<std::string> out;
  auto i = md.find(open);
  while (i != std::string::npos) {
    i += open.size();
    const auto end = md.find(close, i);
    REQUIRE_MESSAGE(end != std::string::npos, "a ```cpp block never ends");
    out.push_back(md.substr(i, end + 1 - i));
    i = md.find(open, end + close.size());
  }
  return out;
}

} // namespace

TEST_CASE("example: the code shown in docs/adding-a-service.md is the code of "
          "docs/examples") {
  const auto blocks = cpp_blocks(read("docs/adding-a-service.md"));
  const std::vector<std::string> files = {"docs/examples/reverse.cpp",
                                          "docs/examples/kv_store.cpp"};
  std::vector<int> shown(files.size(), 0);
  for (const auto& b : blocks) {
    bool found = false;
    for (std::size_t f = 0; f < files.size(); ++f) {
      if (read(files[f]).find(b) != std::string::npos) {
        found = true;
        ++shown[f];
      }
    }
    CHECK_MESSAGE(found, "not in any example file:\n" << b);
  }
  for (std::size_t f = 0; f < files.size(); ++f)
    CHECK_MESSAGE(shown[f] > 0, "the doc shows nothing of " << files[f]);
}
