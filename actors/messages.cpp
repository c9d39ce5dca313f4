#include "actors/messages.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace p2p {

namespace {
constexpr caf::atom_value p2p_category = caf::atom("p2p");
} // namespace

const char* to_string(dl_state s) {
  switch (s) {
    case dl_state::queued: return "queued";
    case dl_state::running: return "running";
    case dl_state::complete: return "complete";
    case dl_state::failed: return "failed";
    case dl_state::cancelled: return "cancelled";
  }
  return "failed";
}

bool is_final(const download_info& d) {
  return d.state == dl_state::complete || d.state == dl_state::failed
         || d.state == dl_state::cancelled;
}

const char* ec_code(ec x) {
  switch (x) {
    case ec::none: return "none";
    case ec::not_found: return "not_found";
    case ec::ambiguous: return "ambiguous";
    case ec::exists: return "exists";
    case ec::io_error: return "io_error";
    case ec::failed: return "failed";
    case ec::bad_request: return "bad_request";
    case ec::internal: return "internal";
  }
  return "internal";
}

caf::error make_error(ec x, std::string message) {
  return caf::make_error(x, std::move(message));
}

std::pair<std::string, std::string> describe(const caf::error& err) {
  if (err.category() == p2p_category) {
    std::string msg;
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      msg = ctx.get_as<std::string>(0);
    return {ec_code(static_cast<ec>(err.code())), msg};
  }
  if (err.category() == caf::atom("system")
      && err.code() == static_cast<uint8_t>(caf::sec::request_timeout))
    return {"timeout", "the daemon did not answer in time"};
  return {"internal", caf::to_string(err)};
}

} // namespace p2p

// -- JSON views (actors/json.hpp) ----------------------------------------------

#include <cstdio>

#include "actors/json.hpp"
#include "storage/names.hpp"

namespace p2p {

// Names, paths and messages are bytes; name_to_json makes them JSON text.

nlohmann::json to_json(const share_info& x) {
  return {{"name", name_to_json(x.name)},
          {"size", x.size},
          {"id", x.id_hex},
          {"path", name_to_json(x.path)}};
}

nlohmann::json to_json(const share_result& x) {
  auto skipped = nlohmann::json::array();
  for (const auto& s : x.skipped)
    skipped.push_back({{"path", name_to_json(s.path)}, {"reason", s.reason}});
  return {{"shares", to_json(x.shares)}, {"skipped", std::move(skipped)}};
}

nlohmann::json to_json(const file_offer& x) {
  return {{"name", name_to_json(x.name)},
          {"size", x.size},
          {"id", x.id_hex},
          {"seeders", x.seeders}};
}

nlohmann::json to_json(const peer_info& x) {
  char id[17];
  std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(x.peer_id));
  return {{"id", id},          {"addr", x.addr},
          {"files", x.files},  {"last_seen_ms", x.last_seen_ms},
          {"source", x.source}};
}

nlohmann::json to_json(const download_info& x) {
  auto peers = nlohmann::json::array();
  for (const auto& p : x.peers)
    peers.push_back(
      {{"addr", p.addr}, {"bytes", p.bytes}, {"state", to_string(p.state)}, {"error", name_to_json(p.error)}});
  return {{"key", x.key},
          {"name", name_to_json(x.name)},
          {"id", x.id_hex},
          {"size", x.size},
          {"state", to_string(x.state)},
          {"bytes_done", x.bytes_done},
          {"seeding", x.seeding},
          {"rate_bps", x.rate_bps},
          {"eta_s", x.eta_s},
          {"error", name_to_json(x.error)},
          {"out_path", name_to_json(x.out_path)},
          {"peers", std::move(peers)}};
}

} // namespace p2p
