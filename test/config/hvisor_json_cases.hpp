// Malformed and incomplete shm_config.json files, each with a part of the
// one-line error it must give. Shared by test/config (the parser) and
// test/integration (amp-node: exit code 2, the message, no crash).
#pragma once

#include <string>
#include <vector>

namespace hvisor_json_cases {

struct bad_case {
  const char* name;
  std::string text;
  std::string expected; ///< a part of the message
};

/// A region object; the fields given as written (already quoted).
inline std::string region(const std::string& flag, const std::string& zone0,
                          const std::string& zonex, const std::string& size) {
  return R"({"region_flag": )" + flag + R"(, "zone0_ram_ipa": )" + zone0 +
         R"(, "zonex_ram_ipa": )" + zonex + R"(, "mem_size": )" + size + "}";
}

inline std::string buf_region(const std::string& size = R"("0x400000")") {
  return region(R"("linux-2-npucore-buf")", R"("0xde000000")",
                R"("0xde000000")", size);
}

inline std::string msg_region(const std::string& zone0 = R"("0xde400000")",
                              const std::string& zonex = R"("0xde410000")",
                              const std::string& size = R"("0x1000")") {
  return region(R"("linux-2-npucore-msg")", zone0, zonex, size);
}

inline std::string config(const std::string& regions) {
  return "{\n  \"shm_regions\": [\n    " + regions + "\n  ]\n}\n";
}

/// hvisor-tool's own file for the Phytium Pi.
inline std::string good() {
  return config(buf_region() + ",\n    " + msg_region());
}

inline std::vector<bad_case> cases() {
  const std::string buf = buf_region();
  const std::string msg = msg_region();
  std::string deep;
  for (int i = 0; i < 20000; ++i)
    deep += '[';
  for (int i = 0; i < 20000; ++i)
    deep += ']';
  return {
      {"empty", "", "not valid JSON"},
      {"truncated", "{\n  \"shm_regions\": [\n",
       "line 3, column 1: not valid JSON"},
      {"trailing garbage", good() + "x", "not valid JSON"},
      {"an array", "[]", "expected a JSON object with \"shm_regions\""},
      {"deep nesting", deep, "expected a JSON object"},
      {"no shm_regions", "{}", "shm_regions: missing key \"shm_regions\""},
      {"misspelled shm_regions", R"({"shm_region": []})",
       "missing key \"shm_regions\" (found \"shm_region\": a misspelling?)"},
      {"shm_regions an object", R"({"shm_regions": {}})",
       "shm_regions: expected an array of regions, got an object"},
      {"shm_regions empty", R"({"shm_regions": []})", "shm_regions: is empty"},
      {"a region a number", config("1"),
       "shm_regions[0]: expected an object, got a number"},
      {"no region_flag", config(R"({"zone0_ram_ipa": "0x0"})"),
       "shm_regions[0]: missing key \"region_flag\""},
      {"region_flag a number",
       config(region("5", R"("0x0")", R"("0x0")", R"("0x1000")")),
       "shm_regions[0].region_flag: expected a string, got a number"},
      {"unknown region_flag",
       config(region(R"("sel4-tx-queue-ch0")", R"("0x0")", R"("0x0")",
                     R"("0x1000")")),
       "shm_regions[0].region_flag: \"sel4-tx-queue-ch0\" is not a region "
       "hyperamp knows"},
      {"no zone0_ram_ipa",
       config(R"({"region_flag": "linux-2-npucore-buf", "zonex_ram_ipa": )"
              R"("0x0", "mem_size": "0x1000"})"),
       "shm_regions[0]: missing key \"zone0_ram_ipa\""},
      {"misspelled mem_size",
       config(R"({"region_flag": "linux-2-npucore-buf", "zone0_ram_ipa": )"
              R"("0x0", "zonex_ram_ipa": "0x0", "mem_szie": "0x1000"})"),
       "missing key \"mem_size\" (found \"mem_szie\": a misspelling?)"},
      {"an address as a number",
       config(region(R"("linux-2-npucore-buf")", "3724541952",
                     R"("0xde000000")", R"("0x400000")") +
              "," + msg),
       "shm_regions[0].zone0_ram_ipa: expected a hex string such as "
       "\"0xde000000\", got a number"},
      {"an address null",
       config(buf + "," + msg_region(R"("0xde400000")", "null", R"("0x1000")")),
       "shm_regions[1].zonex_ram_ipa: expected a hex string such as "
       "\"0xde000000\", got null"},
      {"not hex", config(buf_region(R"("0x40000g")") + "," + msg),
       "shm_regions[0].mem_size: \"0x40000g\" is not a hex number"},
      {"only 0x", config(buf_region(R"("0x")") + "," + msg),
       "shm_regions[0].mem_size: \"0x\" is not a hex number"},
      {"a sign", config(buf_region(R"("-0x1000")") + "," + msg),
       "\"-0x1000\" is not a hex number"},
      {"blanks", config(buf_region(R"(" 0x1000")") + "," + msg),
       "\" 0x1000\" is not a hex number"},
      {"beyond 64 bits",
       config(buf_region(R"("0x1ffffffffffffffff")") + "," + msg),
       "is not a hex number (expected e.g. \"0xde000000\": hex digits, an "
       "optional 0x, at most 64 bits)"},
      {"no msg region", config(buf),
       "shm_regions: has no region with \"region_flag\": "
       "\"linux-2-npucore-msg\" (the request queue)"},
      {"no buf region", config(msg),
       "shm_regions: has no region with \"region_flag\": "
       "\"linux-2-npucore-buf\" (the payload buffer)"},
      {"two buf regions", config(buf + "," + buf + "," + msg),
       "shm_regions[1].region_flag: \"linux-2-npucore-buf\" appears twice "
       "(first at shm_regions[0])"},
      {"msg size 0",
       config(buf + "," +
              msg_region(R"("0xde400000")", R"("0xde410000")", R"("0x0")")),
       "shm_regions[1].mem_size: is 0; hvisor-tool skips such a region, but "
       "the request queue is needed"},
      {"queue too small",
       config(buf + "," +
              msg_region(R"("0xde400000")", R"("0xde410000")", R"("0x10")")),
       "shm_regions[1].mem_size: 0x10 is out of range for the request queue"},
      {"buffer too small", config(buf_region(R"("0x100")") + "," + msg),
       "shm_regions[0].mem_size: 0x100 is out of range for the payload "
       "buffer"},
      {"buffer beyond 4 GiB",
       config(buf_region(R"("0x200000000")") + "," + msg),
       "out of range for the payload buffer (0x1000 to 0x100000000"},
      {"queue inside the buffer",
       config(buf + "," + msg_region(R"("0xde100000")")),
       "shm_regions[1].zone0_ram_ipa: 0xde100000..+0x1000 overlaps "
       "shm_regions[0].zone0_ram_ipa 0xde000000..+0x400000"},
      {"readiness word inside the queue",
       config(buf + "," + msg_region(R"("0xde400000")", R"("0xde400800")")),
       "shm_regions[1].zonex_ram_ipa: 0xde400800..+0x4 overlaps "
       "shm_regions[1].zone0_ram_ipa"},
      {"queue not aligned", config(buf + "," + msg_region(R"("0xde400002")")),
       "shm_regions[1].zone0_ram_ipa: 0xde400002 is not 4-byte aligned"},
      {"beyond 52 bits",
       config(buf + "," + msg_region(R"("0xfff0000000000000")")),
       "shm_regions[1].zone0_ram_ipa: 0xfff0000000000000 is beyond the "
       "52-bit physical space"},
  };
}

} // namespace hvisor_json_cases
