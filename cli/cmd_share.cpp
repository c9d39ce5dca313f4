// p2p-cli share <PATH>: share a file, or each file under a directory.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_share_command(CLI::App& app, context& ctx) {
  auto path = std::make_shared<std::string>();
  auto sub = app.add_subcommand("share", "Share a file (a directory: each file under it)");
  sub->footer("Example:\n  p2p-cli share ~/Videos      (a folder: every file under it)");
  sub->add_option("PATH", *path, "file or directory")->required();
  on_run(sub, ctx, [&ctx, path] {
    control_client client(ctx.global);
    auto abs = absolute_path(*path);
    auto result = client.call("share", {{"path", abs}}, share_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto shares = result.value("shares", nlohmann::json::array());
    if (shares.empty()) {
      std::cout << "nothing to share under " << abs << '\n';
      return;
    }
    for (auto& s : shares)
      std::cout << "shared " << json_name(s, "name") << " (" << format_size(json_u64(s, "size"))
                << ", id " << short_id(json_str(s, "id")) << ")\n";
  });
}

} // namespace p2p::cli
