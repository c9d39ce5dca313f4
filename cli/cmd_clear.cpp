// p2p-cli clear: forget finished downloads so `status` lists only the rest.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_clear_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand(
    "clear", "Remove finished downloads (complete, failed, cancelled) from status");
  sub->footer("Example:\n  p2p-cli clear      (downloaded files stay where they are)");
  on_run(sub, ctx, [&ctx] {
    control_client client(ctx.global);
    auto result = client.call("clear", nlohmann::json::object(), request_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto cleared = result.value("cleared", nlohmann::json::array());
    std::cout << "cleared " << cleared.size() << " finished download"
              << (cleared.size() == 1 ? "" : "s") << '\n';
  });
}

} // namespace p2p::cli
