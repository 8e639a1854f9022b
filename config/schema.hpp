// The role-file schema: every key once, with its type, range or choices,
// one line of help and the field of role_config it fills. Internal to
// config/ and its tests; no toml11 here.
//
// Driven by it: reading (role.cpp: types, ranges, unknown keys and their
// suggestions), the per-key checks of validate() (validate.cpp), to_toml
// (role.cpp) and the key tables of docs/configuration.md (doc_table,
// compared with the file by test_config). A key's default is its value in
// role_config{}: the member initialisers in role.hpp are the one place
// defaults are written.
#pragma once

#include "config/role.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hyperamp::config::schema {

enum class kind {
  integer, // a TOML integer in lo..hi
  size,    // an integer, or a string with a unit ("8MiB"), in lo..hi
  text,    // a string, see text_rule
  choice,  // one of `choices`
};

enum class text_rule {
  any,
  non_empty,
  name,    // non-empty, no control characters, at most 63 bytes
  id_list, // service ids: "1, 2, 66" (parse_id_list), may be empty
};

// A key's value: numbers in `number`, strings and choices in `text`.
struct value {
  std::uint64_t number = 0;
  std::string text;
};

struct key {
  // Dotted, as in the file and as the member path: "region.entries".
  std::string name;
  kind type = kind::integer;
  std::int64_t lo = 0; // integer, size
  std::int64_t hi = 0;
  std::vector<std::string> choices; // choice; an enum's in value order
  text_rule rule = text_rule::any;  // text
  bool required = false;
  std::string help; // one line of Markdown
  // Docs only: appended to the default (when it depends on another key)
  // and to the range (rules that involve other keys, see validate.cpp).
  std::string default_note;
  std::string range_note;
  std::function<value(const role_config&)> get;
  // Stores `v`, which must have passed problem() for this key.
  std::function<void(role_config&, const value&)> set;

  // "region" for "region.entries", "" for a top-level key.
  std::string section() const;
  // "entries" for "region.entries".
  std::string leaf() const;
};

// Every key, in documented order.
const std::vector<key>& keys();
// "" (the top level) first, then the sections in documented order.
const std::vector<std::string>& sections();
// The key `leaf` of `section` ("" = top level), or nullptr.
const key* find(const std::string& section, const std::string& leaf);
// The key with this dotted name; throws std::logic_error if there is none.
const key& at(const std::string& name);

// region.path of the physical backend when the file does not give one.
constexpr const char* physical_path = "/dev/mem";

// -- checks shared by the reader and validate() --
// Each returns what is wrong with a value ("" if nothing), worded for
// "<file>:<line>: <key>: <problem>".

// `n` against the range of an integer or size key; `shown` is the number
// as the message shows it (as written in the file, or as stored).
std::string range_problem(const key& k, std::int64_t n,
                          const std::string& shown);
// A string against a text key's rule or a choice key's choices.
std::string text_problem(const key& k, const std::string& s);
// A stored value, any kind.
std::string problem(const key& k, const value& v);

// -- wording --

// "<file>:<line>: <key>: <text>"; line 0 = unknown, empty key = none,
// empty file = "<config>" (built in code).
std::string message(const std::string& file, std::uint32_t line,
                    const std::string& key, const std::string& text);
std::string in_quotes(const std::string& s);
// What an unknown key `leaf` of `section` most likely meant: the closest
// key (or, at the top level, section) of the same table, else the same
// name in another section ("service.workers"); "" if nothing is close.
std::string suggestion(const std::string& section, const std::string& leaf);

// -- docs --

// The Markdown table of a section's keys ("" = top level), as it stands in
// docs/configuration.md.
std::string doc_table(const std::string& section);

} // namespace hyperamp::config::schema
