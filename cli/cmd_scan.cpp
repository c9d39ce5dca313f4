// p2p-cli scan: ask the LAN now.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_scan_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand("scan", "Ask the LAN now; prints how many peers and files answered");
  sub->footer("Example:\n  p2p-cli scan --timeout-ms 2000");
  auto window_ms = std::make_shared<uint32_t>(0);
  sub->add_option("--timeout-ms", *window_ms, "how long to wait for answers (default 1000)")
    ->check(CLI::Range(100, 10000));
  on_run(sub, ctx, [&ctx, window_ms] {
    control_client client(ctx.global);
    nlohmann::json args = nlohmann::json::object();
    if (*window_ms > 0)
      args["timeout_ms"] = *window_ms;
    auto result = client.call("scan", args, request_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto peers = json_u64(result, "peers");
    auto files = json_u64(result, "files");
    std::cout << peers << (peers == 1 ? " peer" : " peers") << ", " << files
              << (files == 1 ? " file" : " files") << '\n';
  });
}

} // namespace p2p::cli
