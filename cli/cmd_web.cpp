// p2p-cli web: the URL of the daemon's web page (p2p-daemon --http), token included.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "http/web_auth.hpp"
#include "storage/fs.hpp"
#include "util/net.hpp"

namespace p2p::cli {

void add_web_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand(
    "web", "Print the URL of the daemon's web page (p2p-daemon --http), token included");
  sub->footer("Example:\n  p2p-cli web      (open the URL it prints in a browser)");
  on_run(sub, ctx, [&ctx] {
    // A daemon that answers, with the token we read: the URL is good now.
    control_client client(ctx.global);
    client.call("status", nlohmann::json::object(), request_timeout_ms);
    auto state_dir = resolve_state_dir(ctx.global);
    auto path = join_path(state_dir, "http.addr");
    auto text = read_file(path);
    auto hp = text ? parse_host_port(text->substr(0, text->find_first_of("\r\n")))
                   : std::nullopt;
    if (!hp)
      throw failure(exit_code::failed, "no_web",
                    "the daemon serves no web page (no " + path
                      + "): start it with --http 127.0.0.1:7648 (or \"http_addr\" in its "
                        "config file)");
    auto url = web_url(hp->host, hp->port, client.token());
    if (ctx.global.json)
      return print_json({{"url", url}});
    std::cout << url << '\n';
  });
}

} // namespace p2p::cli
