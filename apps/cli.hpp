// amp-node's command line: parsing (with CLI11) and payload decoding,
// without CAF, so it can be unit-tested. Usage errors are cli_error (exit
// code 2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hyperamp::apps {

class cli_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class command { run, serve, call, help };

struct options {
  command cmd = command::help;
  std::string role_file;
  std::string help_topic; ///< for command::help: "", "serve", "call", ...
  std::string data;       ///< call: data|@file|hex:HEX as given
  std::uint32_t service_id = 0;
  std::optional<std::uint32_t> threads;  ///< call: client actors
  std::optional<std::uint32_t> requests; ///< call: total requests
  std::optional<std::uint32_t> workers;  ///< serve: workers per service
  bool json = false;
  bool quiet = false; ///< call: no per-request lines
};

/// Parses argv (argv[0] may be an alias name such as hyper_amp_test).
/// Throws cli_error with a message fit for the user.
options parse(const std::vector<std::string>& args);

/// The help text for a topic ("" = overview).
std::string help(const std::string& topic);

/// The most bytes a payload may have, and how messages name that bound
/// ("payload of N bytes exceeds <name>").
struct payload_limit {
  std::size_t bytes = std::size_t{1} << 30; ///< the largest max_message
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

/// Printable text as text, anything else as lowercase hex.
std::string render_payload(const std::vector<std::uint8_t>& data);

/// `s` escaped for the inside of a JSON string ("\"", "\\", \u00XX).
std::string json_escape(const std::string& s);

/// Lowercase hex of the bytes.
std::string to_hex(const std::vector<std::uint8_t>& data);

/// A positive integer argument, or cli_error naming `what`.
std::uint32_t parse_count(const std::string& text, const std::string& what,
                          std::uint32_t min, std::uint32_t max);

} // namespace hyperamp::apps
