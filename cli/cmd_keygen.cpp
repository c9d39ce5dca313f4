// p2p-cli keygen FILE: a new network key for a private swarm (README "Private
// swarms"). Local only: the daemon is not asked. The key itself is never
// printed.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "protocol/network_key.hpp"

namespace p2p::cli {

void add_keygen_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand(
    "keygen", "Write a new network key to FILE (mode 0600; an existing file is never "
              "overwritten) for p2p-daemon --network-key FILE");
  sub->footer("Example:\n  p2p-cli keygen ~/.config/p2p/network.key\n"
              "  (copy the file to every daemon of the swarm, keep it 0600)");
  auto path = std::make_shared<std::string>();
  sub->add_option("FILE", *path, "where to write the key")->required();
  on_run(sub, ctx, [&ctx, path] {
    auto err = write_new_network_key(absolute_path(*path));
    if (!err.empty())
      throw failure(exit_code::failed, "keygen", "cannot write the network key: " + err);
    if (ctx.global.json)
      return print_json({{"path", absolute_path(*path)}});
    std::cout << "wrote a new network key to " << absolute_path(*path)
              << " (mode 0600); start every daemon of the swarm with --network-key FILE\n";
  });
}

} // namespace p2p::cli
