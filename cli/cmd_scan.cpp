// p2p-cli scan: ask the LAN now.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_scan_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand("scan", "Ask the LAN now; prints how many peers and files answered");
  on_run(sub, ctx, [&ctx] {
    control_client client(ctx.global);
    auto result = client.call("scan", nlohmann::json::object(), request_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto peers = json_u64(result, "peers");
    auto files = json_u64(result, "files");
    std::cout << peers << (peers == 1 ? " peer" : " peers") << ", " << files
              << (files == 1 ? " file" : " files") << '\n';
  });
}

} // namespace p2p::cli
