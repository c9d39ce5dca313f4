// p2p-cli unshare <NAME|PATH|ID>: stop sharing.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_unshare_command(CLI::App& app, context& ctx) {
  auto target = std::make_shared<std::string>();
  auto sub = app.add_subcommand("unshare", "Stop sharing a file (by name, path or id)");
  sub->add_option("TARGET", *target, "share name, path or content id")->required();
  on_run(sub, ctx, [&ctx, target] {
    control_client client(ctx.global);
    // Anything with a slash is a path, relative to where the user stands.
    auto t = target->find('/') != std::string::npos ? absolute_path(*target) : *target;
    auto result = client.call("unshare", {{"target", t}}, request_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto removed = result.value("removed", nlohmann::json::array());
    if (removed.empty())
      throw failure(exit_code::failed, "not_found", "no share matches '" + *target + "'");
    for (auto& s : removed)
      std::cout << "unshared " << json_name(s, "name") << " (id "
                << short_id(json_str(s, "id")) << ")\n";
  });
}

} // namespace p2p::cli
