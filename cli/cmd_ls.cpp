// p2p-cli ls: files available on the LAN.
#include <algorithm>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

void add_ls_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand("ls", "List files available: name, size, seeders, short id");
  sub->footer("Example:\n  p2p-cli scan && p2p-cli ls");
  on_run(sub, ctx, [&ctx] {
    control_client client(ctx.global);
    auto result = client.call("ls", nlohmann::json::object(), request_timeout_ms);
    if (ctx.global.json)
      return print_json(result);
    auto files = result.value("files", nlohmann::json::array());
    if (files.empty()) {
      std::cout << "no files found (`p2p-cli scan` asks the LAN now)\n";
      return;
    }
    std::vector<nlohmann::json> sorted(files.begin(), files.end());
    std::stable_sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
      return json_str(a, "name") < json_str(b, "name");
    });
    table t({"NAME", "SIZE", "SEEDERS", "ID"}, {1, 2});
    for (auto& f : sorted) {
      auto seeders = f.value("seeders", nlohmann::json::array());
      t.add({json_name(f, "name"), format_size(json_u64(f, "size")),
             std::to_string(seeders.size()), short_id(json_str(f, "id"))});
    }
    t.print();
  });
}

} // namespace p2p::cli
