// hvisor-tool's shm_config.json as input: the role it gives, and one clear
// message naming the key for every malformed or incomplete file.
#include "config/role.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "hvisor_json_cases.hpp"

using namespace hyperamp::config;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_hvisor_json(text, "shm_config.json", role_kind::client);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("shm_config.json: hvisor-tool's file gives the v1 layout on the "
          "board's devices") {
  const auto c = parse_hvisor_json(hvisor_json_cases::good(), "shm_config.json",
                                   role_kind::client);
  CHECK(c.role == role_kind::client);
  CHECK(c.zone_id == 0);
  CHECK(c.region.layout == region_layout::hvisor_v1);
  CHECK(c.region.backend == region_backend::physical);
  CHECK(c.region.path == "/dev/mem");
  CHECK(c.v1.buffer_addr == 0xde000000u);
  CHECK(c.v1.buffer_size == 0x400000u);
  CHECK(c.v1.queue_addr == 0xde400000u);
  CHECK(c.v1.queue_size == 0x1000u);
  CHECK(c.v1.ready_addr == 0xde410000u);
  CHECK(c.doorbell.backend == doorbell_backend::hvisor);
  CHECK(c.doorbell.hvisor_device == "/dev/hvisor");
  CHECK(c.doorbell.hshm_device == "/dev/hshm0");
  CHECK(c.doorbell.target_zone == 1);
  CHECK(c.doorbell.swi == 74);
  CHECK(c.timeouts.attach_ms == 11000);
  CHECK(c.client.max_message == 0x400000u - 128);

  const auto s = parse_hvisor_json(hvisor_json_cases::good(), "shm_config.json",
                                   role_kind::service);
  CHECK(s.role == role_kind::service);
  CHECK(s.zone_id == 1);
  // The file back as TOML reads back to the same settings.
  const auto again = parse_role(to_toml(s), "again.toml");
  CHECK(again.region.layout == region_layout::hvisor_v1);
  CHECK(again.v1.ready_addr == 0xde410000u);
}

TEST_CASE("shm_config.json: the example in config/ is hvisor-tool's") {
  const auto c =
      load_config(std::string{HYPERAMP_CONFIG_EXAMPLES} + "/shm_config.json",
                  role_kind::service);
  CHECK(c.region.layout == region_layout::hvisor_v1);
  CHECK(c.v1.queue_addr == 0xde400000u);
  CHECK(c.v1.ready_addr == 0xde410000u);
}

TEST_CASE("shm_config.json: lenient where hvisor-tool is") {
  using namespace hvisor_json_cases;
  // No 0x, upper case, the regions in either order, extra keys ignored.
  const std::string text = config(
      msg_region(R"("DE400000")", R"("0xDE410000")") + ",\n" +
      R"({"region_flag": "linux-2-npucore-buf", "zone0_ram_ipa": "0xde000000",)"
      R"( "zonex_ram_ipa": "0xde000000", "mem_size": "0x400000", "note": 1})");
  const auto c = parse_hvisor_json(text, "x.json", role_kind::client);
  CHECK(c.v1.queue_addr == 0xde400000u);
  CHECK(c.v1.ready_addr == 0xde410000u);
  CHECK(c.v1.buffer_size == 0x400000u);
}

TEST_CASE("shm_config.json: every malformed file names its problem") {
  const auto cases = hvisor_json_cases::cases();
  CHECK(cases.size() >= 20);
  for (const auto& c : cases) {
    INFO(c.name);
    const auto msg = error_of(c.text);
    CHECK_MESSAGE(msg.find(c.expected) != std::string::npos, msg);
    CHECK(msg.rfind("shm_config.json: ", 0) == 0);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("shm_config.json or a role file: told apart by the first "
          "character") {
  CHECK(looks_like_json("  \n{"));
  CHECK(looks_like_json("[1]"));
  CHECK_FALSE(looks_like_json("role = \"client\""));
  CHECK_FALSE(looks_like_json("# {\n"));
  CHECK_FALSE(looks_like_json(""));
  const std::string path =
      "/tmp/hyperamp-json-test-" + std::to_string(::getpid()) + ".json";
  {
    std::ofstream out{path};
    out << hvisor_json_cases::good();
  }
  CHECK(load_config(path, role_kind::service).role == role_kind::service);
  try {
    load_config(path, std::nullopt);
    FAIL("no error");
  } catch (const config_error& e) {
    CHECK(std::string{e.what()}.find("does not say which side this zone is: "
                                     "run `amp-node hyper_amp_service") !=
          std::string::npos);
  }
  std::remove(path.c_str());
}
