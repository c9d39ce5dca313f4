// p2p-cli download -f NAME [--id ID] | --id ID [-o DIR] [-w] [--overwrite]
#include <iostream>
#include <memory>
#include <optional>

#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "storage/fs.hpp"

namespace p2p::cli {

namespace {

struct download_options {
  std::string name;
  std::string id;
  std::string out_dir;
  bool wait = false;
  bool overwrite = false;
};

std::string what(const download_options& o) {
  return o.name.empty() ? "id " + o.id : "'" + o.name + "'";
}

// Absolute output directory, created when missing.
std::string prepare_out_dir(const std::string& given) {
  auto dir = absolute_path(given.empty() ? "." : given);
  auto err = make_dirs(dir);
  if (!err.empty())
    throw failure(exit_code::failed, "io_error",
                  "cannot create output directory " + dir + ": " + err);
  return dir;
}

void run_download(const context& ctx, const download_options& o) {
  if (o.name.empty() && o.id.empty())
    throw failure(exit_code::usage, "usage",
                  "download needs -f NAME or --id ID (see p2p-cli download --help)");
  auto out_dir = prepare_out_dir(o.out_dir);
  nlohmann::json args{{"out_dir", out_dir}, {"overwrite", o.overwrite}, {"wait", o.wait}};
  if (!o.name.empty())
    args["name"] = o.name;
  if (!o.id.empty())
    args["id"] = o.id;

  control_client client(ctx.global);
  std::optional<progress_bar> bar;
  if (o.wait && isatty(STDERR_FILENO))
    bar.emplace();
  event_handler on_event = [&bar](const nlohmann::json& ev) {
    if (bar && ev.contains("download") && ev["download"].is_object())
      bar->update(ev["download"]);
  };
  nlohmann::json result;
  try {
    result = client.call("download", args, o.wait ? progress_timeout_ms : request_timeout_ms,
                         on_event);
  } catch (const failure& f) {
    if (bar)
      bar->finish();
    if (f.exit != exit_code::failed)
      throw;
    auto verb = f.code == "failed" ? "download of " + what(o) + " failed: "
                                   : "cannot download " + what(o) + ": ";
    throw failure(f.exit, f.code, verb + f.what());
  }
  auto d = result.value("download", nlohmann::json::object());
  if (bar) {
    bar->update(d);
    bar->finish();
  }
  auto state = json_str(d, "state");
  if (o.wait && state != "complete") {
    auto err = json_name(d, "error");
    throw failure(exit_code::failed, "failed",
                  "download of " + what(o) + " ended " + (state.empty() ? "?" : state)
                    + (err.empty() ? "" : ": " + err));
  }
  if (ctx.global.json)
    return print_json(result);
  auto name = json_name(d, "name");
  auto size = format_size(json_u64(d, "size"));
  if (state == "complete")
    std::cout << "downloaded " << name << " (" << size << ") to " << json_name(d, "out_path")
              << '\n';
  else
    std::cout << "download of " << name << " (" << size << ") " << state << ", to "
              << json_name(d, "out_path") << " (`p2p-cli status` follows it)\n";
}

} // namespace

void add_download_command(CLI::App& app, context& ctx) {
  auto o = std::make_shared<download_options>();
  auto sub = app.add_subcommand("download", "Download a file from every peer that has it");
  sub->add_option("-f,--file", o->name, "file name (as `ls` shows it)");
  // With -f, --id picks one of several same-named files; alone it names the file.
  sub->add_option("--id", o->id, "content id or a unique prefix of it");
  sub->add_option("-o,--out", o->out_dir, "output directory (created when missing; default: .)");
  sub->add_flag("-w,--wait", o->wait, "wait until done, with a progress bar on a terminal");
  sub->add_flag("--overwrite", o->overwrite, "replace an existing file of that name");
  on_run(sub, ctx, [&ctx, o] { run_download(ctx, *o); });
}

} // namespace p2p::cli
