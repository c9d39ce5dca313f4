// p2p-cli cancel <NAME|ID>: stop a download.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_cancel_command(CLI::App& app, context& ctx) {
  auto target = std::make_shared<std::string>();
  auto sub = app.add_subcommand("cancel", "Cancel a download (by name or content id)");
  sub->add_option("TARGET", *target, "file name or content id")->required();
  on_run(sub, ctx, [&ctx, target] {
    control_client client(ctx.global);
    auto result = client.call("cancel", {{"target", *target}}, request_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto cancelled = result.value("cancelled", nlohmann::json::array());
    if (cancelled.empty())
      throw failure(exit_code::failed, "not_found",
                    "no unfinished download matches '" + *target + "'");
    for (auto& d : cancelled)
      std::cout << "cancelled " << json_name(d, "name") << " at "
                << format_size(json_u64(d, "bytes_done")) << " of "
                << format_size(json_u64(d, "size")) << '\n';
  });
}

} // namespace p2p::cli
