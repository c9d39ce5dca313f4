// p2p-cli peers: the daemons this one knows.
#include <chrono>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

namespace {

// "last_seen_ms" as an age; a value that looks like a Unix time in ms is
// turned into one.
std::string seen_ago(uint64_t last_seen_ms) {
  constexpr uint64_t year_2001_ms = 978'307'200'000ULL;
  uint64_t age_ms = last_seen_ms;
  if (last_seen_ms > year_2001_ms) {
    auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    age_ms = now > last_seen_ms ? now - last_seen_ms : 0;
  }
  return format_eta(static_cast<double>(age_ms) / 1000.0) + " ago";
}

} // namespace

void add_peers_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand("peers", "List the peers this daemon knows");
  sub->footer("Example:\n  p2p-cli peers");
  on_run(sub, ctx, [&ctx] {
    control_client client(ctx.global);
    auto result = client.call("peers", nlohmann::json::object(), request_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto peers = result.value("peers", nlohmann::json::array());
    if (peers.empty()) {
      std::cout << "no peers known (`p2p-cli scan` asks the LAN now)\n";
      return;
    }
    table t({"ID", "ADDRESS", "FILES", "SEEN", "SOURCE"}, {2, 3});
    for (auto& p : peers)
      t.add({json_str(p, "id"), json_name(p, "addr"), std::to_string(json_u64(p, "files")),
             seen_ago(json_u64(p, "last_seen_ms")), json_str(p, "source")});
    t.print();
  });
}

} // namespace p2p::cli
