// p2p-cli cancel <NAME|ID>: stop a download.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

namespace {

// The unfinished downloads of `status`.
nlohmann::json unfinished(const nlohmann::json& status) {
  auto out = nlohmann::json::array();
  for (auto& d : status.value("downloads", nlohmann::json::array())) {
    auto st = json_str(d, "state");
    if (st == "queued" || st == "running")
      out.push_back(d);
  }
  return out;
}

} // namespace

void add_cancel_command(CLI::App& app, context& ctx) {
  auto target = std::make_shared<std::string>();
  auto sub = app.add_subcommand("cancel", "Cancel a download (by name or content id)");
  sub->footer("Example:\n  p2p-cli cancel movie.mkv      (or a short id: p2p-cli cancel 3f2a9c01)");
  sub->add_option("TARGET", *target, "file name, or content id (a prefix of 4+ hex digits)")
    ->required();
  on_run(sub, ctx, [&ctx, target] {
    // Resolve the target here: a name several downloads share is refused, a
    // short id prefix becomes the full id the daemon matches.
    auto status = control_client(ctx.global).call("status", nlohmann::json::object(),
                                                  request_timeout_ms);
    auto hits = match_by_name_or_id(unfinished(status), *target);
    if (hits.size() > 1)
      throw failure(exit_code::failed, "ambiguous", ambiguous_text(*target, hits, "out_path"));
    auto t = hits.size() == 1 ? json_str(hits.front(), "id") : *target;
    control_client client(ctx.global);
    auto result = client.call("cancel", {{"target", t}}, request_timeout_ms);
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
