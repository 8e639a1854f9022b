// amp-node's command line: parsing (with CLI11) and payload decoding,
// without CAF, so it can be unit-tested. Usage errors are cli_error (exit
// code 2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hyperamp::apps {

class cli_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class command { run, serve, call, gateway, inspect, help };

struct options {
  command cmd = command::help;
  std::string role_file;  ///< empty for call --remote
  std::string help_topic; ///< for command::help: "", "serve", "call", ...
  std::string data;       ///< call: data|@file|hex:HEX as given
  std::uint32_t service_id = 0;
  std::optional<std::uint32_t> threads;  ///< call: client actors
  std::optional<std::uint32_t> requests; ///< call: total requests
  std::optional<std::uint32_t> workers;  ///< serve: workers per service
  std::optional<std::uint32_t> watch;    ///< inspect: seconds between looks
  std::optional<std::string> expect;     ///< call: the response every
                                         ///< request must get (as data)
  bool json = false;
  bool quiet = false; ///< call: no per-request lines
  /// call through hyper_amp or hyper_amp_test: print the result as
  /// hvisor-tool does ("Result: [...] (N bytes)", "Hex format: ...").
  bool hvisor_output = false;
  std::string remote; ///< call --remote: the gateway, HOST:PORT as given
  std::string tls_ca, tls_cert, tls_key; ///< call --remote: TLS files
  std::optional<std::uint32_t> port;     ///< gateway --port
  std::optional<std::string> bind;       ///< gateway --bind
};

/// HOST:PORT (or [IPv6]:PORT) split; cli_error if it is not that.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};
host_port parse_host_port(const std::string& text);

/// Parses argv (argv[0] may be an alias name such as hyper_amp_test).
/// Throws cli_error with a message fit for the user.
options parse(const std::vector<std::string>& args);

/// The help text for a topic ("" = overview).
std::string help(const std::string& topic);

/// The most bytes a payload may have, and how messages name that bound
/// ("payload of N bytes exceeds <name>").
struct payload_limit {
  /// 1 GiB: the largest client.max_message a role file may set.
  std::size_t bytes = std::size_t{1} << 30;
  std::string name = "the payload limit (1073741824 bytes)";
};

/// amp-node's bound: client.max_message of the role file `source`.
payload_limit max_message_limit(std::uint32_t max_message,
                                const std::string& source);

/// Decodes `data|@file|hex:HEX` (hvisor-tool's convention: a file whose
/// content starts with "hex:" is hex too, one trailing newline stripped).
/// A payload of more than limit.bytes (hex measured after decoding) is a
/// cli_error; so is an @file that is not a regular file (a directory, a
/// FIFO, a device): a file is only read as far as the limit allows.
std::vector<std::uint8_t> decode_payload(const std::string& spec,
                                         const payload_limit& limit = {});

/// The longest line the stdin client takes ("<service_id> <data>"): a
/// payload of `max_message` bytes as hex (two digits a byte), and 4096
/// bytes more for the service id, spaces and "hex:", or for an @path.
std::size_t max_line_length(std::uint32_t max_message);

/// Cuts input into newline-terminated lines of at most `max_line` bytes
/// and never holds more than that of a line: a longer one comes out once,
/// as too_long, as soon as it is known to be too long, and the rest of it
/// is skipped up to the next newline.
class line_splitter {
public:
  struct line {
    std::string text;      ///< without its newline; empty if too_long
    bool too_long = false; ///< more than max_line bytes, skipped
  };

  explicit line_splitter(std::size_t max_line) : max_line_(max_line) {}

  /// Adds `n` bytes of input.
  void feed(const char* data, std::size_t n);
  /// The end of the input: a last line without a newline is a line too.
  void finish();
  /// The next line cut so far, if any.
  std::optional<line> next();

private:
  std::size_t max_line_;
  std::string partial_; ///< the start of the current line
  bool skipping_ = false;
  std::deque<line> ready_;
};

/// Printable text as text, anything else as lowercase hex.
std::string render_payload(const std::vector<std::uint8_t>& data);

/// hvisor-tool's result lines for a result of `data`: "Result: [...] (N
/// bytes)" (bytes 32..126 as they are, \n \r \t escaped, others \xNN) and
/// "Hex format: ..." (lowercase), each showing at most the first 64 bytes
/// of a result longer than 256, then "... (showing first 64 of N bytes)".
/// Two lines, each ending in a newline.
std::string hvisor_result_lines(const std::vector<std::uint8_t>& data);

/// `s` escaped for the inside of a JSON string ("\"", "\\", \u00XX).
std::string json_escape(const std::string& s);

/// Lowercase hex of the bytes.
std::string to_hex(const std::vector<std::uint8_t>& data);

/// A positive integer argument, or cli_error naming `what`.
std::uint32_t parse_count(const std::string& text, const std::string& what,
                          std::uint32_t min, std::uint32_t max);

} // namespace hyperamp::apps
