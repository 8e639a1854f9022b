#include "apps/inspect_view.hpp"

#include <cstdio>
#include <sstream>

namespace hyperamp::apps {

namespace {

const char* beat_text(const shm::slot_view& s) {
  if (!s.sampled)
    return "";
  return s.beats > 0 ? "beating" : "silent";
}

std::string who(const shm::slot_view& s) {
  return s.index == shm::k_service_slot ? "service"
                                        : "client " + std::to_string(s.index);
}

} // namespace

std::string render_text(const shm::region_view& v,
                        const std::string& configured_channel) {
  std::ostringstream o;
  o << "region " << v.path << ": layout " << v.layout_version << ", "
    << v.region_size << " bytes, " << v.entries << " entries, " << v.max_clients
    << " client slots, " << v.partition_size << " payload bytes per client\n";
  o << "channel \"" << v.channel << "\"";
  if (!configured_channel.empty() && configured_channel != v.channel)
    o << " (the role file says \"" << configured_channel
      << "\": its zones would be refused)";
  o << "\n";
  o << "lists: " << (v.lists.consistent ? "consistent" : "INCONSISTENT")
    << "; free " << v.lists.free << ", submitted " << v.lists.submitted
    << ", in service " << v.lists.in_service << ", completed "
    << v.lists.completed << ", held by clients " << v.lists.client << "\n";
  o << "entries by tag:";
  for (std::uint16_t i = 1; i <= shm::k_list_id_max; ++i)
    o << " " << shm::list_name(i) << " " << v.by_tag[i] << ",";
  o << " invalid " << v.by_tag[0] << "\n";
  o << (v.all_free() ? "every entry is free\n"
                     : "not every entry is free (requests in flight, or "
                       "leaked)\n");
  o << "queue_lock: ";
  if (v.lock_word == 0)
    o << "free\n";
  else
    o << "held by zone " << v.lock_zone << ", slot " << v.lock_slot << "\n";
  o << "damage found " << v.corrupt_found << ", repairs " << v.repairs
    << ", lock holders evicted " << v.lock_recoveries << "\n";
  o << "slots:\n";
  for (const auto& s : v.slots) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "  %-10s %-6s zone %-5u pid %-8u epoch %-6u heartbeat "
                  "%-10llu %s%s entries held %u, completed %u\n",
                  who(s).c_str(), s.active ? "active" : "free", s.zone_id,
                  s.pid, s.epoch, static_cast<unsigned long long>(s.heartbeat),
                  beat_text(s), s.sampled ? "," : "", s.owned, s.completed);
    o << line;
  }
  return o.str();
}

nlohmann::json render_json(const shm::region_view& v,
                           const std::string& configured_channel) {
  nlohmann::json j;
  j["path"] = v.path;
  j["channel"] = v.channel;
  j["channel_matches"] =
      configured_channel.empty() || configured_channel == v.channel;
  j["layout_version"] = v.layout_version;
  j["region_size"] = v.region_size;
  j["entries"] = v.entries;
  j["max_clients"] = v.max_clients;
  j["payload_size"] = v.payload_size;
  j["partition_size"] = v.partition_size;
  j["lists"] = {
      {"consistent", v.lists.consistent}, {"free", v.lists.free},
      {"submitted", v.lists.submitted},   {"in_service", v.lists.in_service},
      {"completed", v.lists.completed},   {"client", v.lists.client}};
  nlohmann::json tags;
  for (std::uint16_t i = 0; i <= shm::k_list_id_max; ++i)
    tags[shm::list_name(i)] = v.by_tag[i];
  j["entries_by_tag"] = tags;
  j["all_free"] = v.all_free();
  j["lock"] = {{"word", v.lock_word},
               {"held", v.lock_word != 0},
               {"zone", v.lock_zone},
               {"slot", v.lock_slot}};
  j["corrupt_found"] = v.corrupt_found;
  j["repairs"] = v.repairs;
  j["lock_recoveries"] = v.lock_recoveries;
  j["sample_seconds"] = v.sample_seconds;
  auto slots = nlohmann::json::array();
  for (const auto& s : v.slots) {
    nlohmann::json x = {
        {"index", s.index},
        {"role", s.index == shm::k_service_slot ? "service" : "client"},
        {"active", s.active},
        {"state_word", s.state_word},
        {"epoch", s.epoch},
        {"zone_id", s.zone_id},
        {"pid", s.pid},
        {"heartbeat", s.heartbeat},
        {"entries_held", s.owned},
        {"completed", s.completed}};
    if (s.sampled)
      x["beating"] = s.beats > 0;
    slots.push_back(x);
  }
  j["slots"] = slots;
  return j;
}

} // namespace hyperamp::apps
