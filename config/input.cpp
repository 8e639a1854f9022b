#include "config/input.hpp"

#include "config/role.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace hyperamp::config::input {

namespace {

// -- reading --

std::string errno_text(int code) {
  return std::error_code{code, std::generic_category()}.message();
}

std::string too_large() {
  return "larger than " + std::to_string(max_bytes / 1024) +
         " KiB (a role file is a few KiB)";
}

std::string file_kind(mode_t mode) {
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "neither a file nor a directory";
}

// Reads all of `fd` into `text` if it is a regular file of at most
// max_bytes; returns what is wrong otherwise ("" if nothing).
std::string read_regular(int fd, std::string& text) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return errno_text(errno);
  if (S_ISDIR(st.st_mode))
    return errno_text(EISDIR);
  if (!S_ISREG(st.st_mode))
    return "not a regular file (" + file_kind(st.st_mode) + ")";
  if (st.st_size > static_cast<off_t>(max_bytes))
    return too_large();
  // st_size is only a hint (the file may grow, /proc files say 0): read
  // at most one byte past the limit to tell.
  char buf[4096];
  while (text.size() <= max_bytes) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno_text(errno);
    if (n == 0)
      break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text.size() > max_bytes ? too_large() : std::string{};
}

// -- the pre-scan --

// Walks the text once, tracking just enough TOML to count what toml11
// would recurse or loop on: strings and comments are skipped, '[' and '{'
// in values nest, '=' (a key) and section headers are entries and so is
// each ',' in an array (an element), '.' in a key separates its parts.
class scanner {
public:
  explicit scanner(const std::string& text) : text_(text) {}

  std::optional<limit_problem> run() {
    if (text_.size() > max_bytes)
      return limit_problem{0, too_large()};
    while (i_ < text_.size() && !problem_)
      step(text_[i_++]);
    return problem_;
  }

private:
  void step(char c) {
    switch (c) {
    case '\n':
      newline();
      return;
    case ' ':
    case '\t':
    case '\r':
      return;
    case '#':
      skip_comment();
      return;
    case '"':
    case '\'':
      skip_string(c);
      break;
    case '[':
    case '{':
      open(c);
      break;
    case ']':
    case '}':
      close(c);
      break;
    case ',':
      comma();
      break;
    case '=':
      entry();
      key_ = false;
      break;
    case '.':
      dot();
      break;
    default:
      break;
    }
    line_has_content_ = true;
  }

  void newline() {
    ++line_;
    if (!nesting_.empty())
      return; // a multi-line array goes on
    line_has_content_ = false;
    in_header_ = false;
    start_key();
  }

  void start_key() {
    key_ = true;
    dots_ = 0;
  }

  void skip_comment() {
    while (i_ < text_.size() && text_[i_] != '\n')
      ++i_;
  }

  bool at(const char* s) const { return text_.compare(i_, 2, s) == 0; }

  // `q` has just been read: skips to after the closing quote (or to the
  // end of the line for an unterminated one-line string, which toml11
  // then reports).
  void skip_string(char q) {
    const bool basic = q == '"';
    if (at(basic ? "\"\"" : "''")) {
      i_ += 2;
      skip_multiline(q, basic);
      return;
    }
    while (i_ < text_.size() && text_[i_] != '\n') {
      const char c = text_[i_++];
      if (c == q)
        return;
      if (basic && c == '\\' && i_ < text_.size() && text_[i_] != '\n')
        ++i_;
    }
  }

  // After `"""` or `'''`. The closing run may be up to five quotes long
  // (TOML allows one or two quotes right before the delimiter).
  void skip_multiline(char q, bool basic) {
    while (i_ < text_.size()) {
      const char c = text_[i_++];
      if (c == '\n')
        ++line_;
      else if (basic && c == '\\' && i_ < text_.size() && text_[i_] != '\n')
        ++i_;
      else if (c == q && i_ + 1 < text_.size() && text_[i_] == q &&
               text_[i_ + 1] == q) {
        i_ += 2;
        for (int extra = 0; extra < 2 && i_ < text_.size() && text_[i_] == q;
             ++extra)
          ++i_;
        return;
      }
    }
  }

  void open(char c) {
    if (c == '[' && nesting_.empty() && !line_has_content_) {
      header();
      return;
    }
    nesting_.push_back(c);
    if (nesting_.size() > max_depth)
      fail("arrays and inline tables nested more than " +
           std::to_string(max_depth) + " deep");
    if (c == '{')
      start_key();
    else
      key_ = false;
  }

  // "[name]" or "[[name]]" at the start of a line.
  void header() {
    entry();
    in_header_ = true;
    start_key();
    if (i_ < text_.size() && text_[i_] == '[')
      ++i_;
  }

  void close(char c) {
    if (in_header_ && c == ']') {
      in_header_ = false;
      key_ = false;
      if (i_ < text_.size() && text_[i_] == ']')
        ++i_;
    } else if (!nesting_.empty()) {
      nesting_.pop_back();
      key_ = false;
    }
  }

  // Separates array elements (entries) or the pairs of an inline table
  // (counted at their '=').
  void comma() {
    if (nesting_.empty())
      return;
    if (nesting_.back() == '[')
      entry();
    else
      start_key();
  }

  void entry() {
    if (++entries_ > max_entries)
      fail("more than " + std::to_string(max_entries) +
           " keys, sections and array elements (a role file has about 40)");
  }

  void dot() {
    if (key_ && ++dots_ + 1 > max_key_parts)
      fail("dotted key with more than " + std::to_string(max_key_parts) +
           " parts");
  }

  void fail(std::string text) { problem_ = limit_problem{line_, text}; }

  const std::string& text_;
  std::size_t i_ = 0;
  std::uint32_t line_ = 1;
  // Open '[' (arrays) and '{' (inline tables) of the current value.
  std::vector<char> nesting_;
  bool line_has_content_ = false;
  bool in_header_ = false;
  // Reading a key (or a section name): dots separate its parts.
  bool key_ = true;
  std::size_t dots_ = 0;
  std::size_t entries_ = 0;
  std::optional<limit_problem> problem_;
};

} // namespace

std::string read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO that has no writer returns at once instead
  // of waiting for one; read_regular then refuses it. Regular files ignore
  // the flag.
  const int fd =
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    throw config_error("cannot open " + path + ": " + errno_text(errno));
  std::string text;
  const auto problem = read_regular(fd, text);
  ::close(fd);
  if (!problem.empty())
    throw config_error("cannot read " + path + ": " + problem);
  return text;
}

std::optional<limit_problem> prescan(const std::string& text) {
  return scanner{text}.run();
}

} // namespace hyperamp::config::input
