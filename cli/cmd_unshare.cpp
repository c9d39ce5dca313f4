// p2p-cli unshare <NAME|PATH|ID>: stop sharing.
#include <iostream>
#include <memory>

#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_unshare_command(CLI::App& app, context& ctx) {
  auto target = std::make_shared<std::string>();
  auto sub = app.add_subcommand("unshare", "Stop sharing a file (by name, path or id)");
  sub->footer("Example:\n  p2p-cli unshare ~/Videos    (or a name, or a short id)");
  sub->add_option("TARGET",
                  *target, "share name, content id (4+ hex digits), or path (a directory: "
                           "every share under it, like `share DIR`)")
    ->required();
  on_run(sub, ctx, [&ctx, target] {
    std::string t = *target;
    auto status = control_client(ctx.global).call("status", nlohmann::json::object(),
                                                  request_timeout_ms);
    auto shares = status.value("shares", nlohmann::json::array());
    // A path, as `share` takes it (relative to where the user stands):
    // anything with a slash, or an existing file or directory here that is
    // or holds a share; a directory stops every share under it.
    bool as_path = t.find('/') != std::string::npos;
    if (!as_path && ::access(t.c_str(), F_OK) == 0) {
      auto abs = absolute_path(t);
      for (auto& s : shares) {
        auto p = json_str(s, "path");
        as_path = as_path || p == abs || p.rfind(abs + "/", 0) == 0;
      }
    }
    if (as_path) {
      t = absolute_path(t);
    } else {
      // A name several shares carry is refused; a short id becomes the full one.
      auto hits = match_by_name_or_id(shares, t);
      if (hits.size() > 1)
        throw failure(exit_code::failed, "ambiguous", ambiguous_text(t, hits, "path"));
      if (hits.size() == 1)
        t = json_str(hits.front(), "id");
    }
    control_client client(ctx.global);
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
