// p2p-cli download -f NAME [--id ID] | --id ID [-o DIR] [-w [--quiet] [--cancel-on-interrupt]]
// [--overwrite] [--no-seed]
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "storage/fs.hpp"

namespace p2p::cli {

namespace {

using clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Off a terminal, `-w` prints a progress line this often.
constexpr auto plain_progress_period = std::chrono::seconds(3);
// How often an attached `-w` (a second one for a running download) polls status.
constexpr auto attach_poll_period = std::chrono::milliseconds(250);

struct download_options {
  std::string name;
  std::string id;
  std::string out_dir;
  bool wait = false;
  bool overwrite = false;
  bool no_seed = false;
  bool quiet = false;
  bool cancel_on_interrupt = false;
};

std::string what(const download_options& o) {
  return o.name.empty() ? "id " + o.id : o.name;
}

// The output directory, absolute, created when missing. `created` gets the
// directories made here (deepest last), so a refused download can remove them.
std::string prepare_out_dir(const std::string& given, std::vector<std::string>& created) {
  auto dir = absolute_path(given.empty() ? "." : given);
  for (auto d = dir; d.size() > 1 && ::access(d.c_str(), F_OK) != 0;
       d = d.substr(0, d.rfind('/') == 0 ? 1 : d.rfind('/')))
    created.insert(created.begin(), d);
  auto err = make_dirs(dir);
  if (!err.empty())
    throw failure(exit_code::failed, "io_error",
                  "cannot create output directory " + dir + ": " + err);
  return dir;
}

// Removes the directories prepare_out_dir made, deepest first, each only if
// still empty (rmdir refuses otherwise).
void remove_created(const std::vector<std::string>& created) {
  for (auto it = created.rbegin(); it != created.rend(); ++it)
    if (::rmdir(it->c_str()) != 0)
      return;
}

// What a waiting download shows: the bar on a terminal, a line every few
// seconds elsewhere, nothing with --quiet. Also keeps the latest download
// object and the time and bytes it started from (for the closing line).
class progress_view {
public:
  progress_view(bool tty, bool quiet) : tty_(tty), quiet_(quiet) {
    if (tty && !quiet)
      bar_.emplace();
  }

  void update(const json& d) {
    if (!d.is_object())
      return;
    if (last_.is_null())
      first_bytes_ = json_u64(d, "bytes_done");
    last_ = d;
    if (bar_) {
      bar_->update(d);
    } else if (!quiet_ && !tty_ && clock::now() - last_line_ >= plain_progress_period) {
      last_line_ = clock::now();
      std::cerr << "p2p-cli: " << json_name(d, "name") << "  " << progress_text(d) << '\n'
                << std::flush;
    }
  }

  // Draws the final frame (on a terminal) and ends the line.
  void finish(const json& d) {
    if (d.is_object() && !d.empty())
      update(d);
    if (bar_)
      bar_->finish();
  }
  // Only ends the bar's line (before an error message).
  void stop() {
    if (bar_)
      bar_->finish();
  }

  const json& last() const {
    return last_;
  }
  double elapsed_s() const {
    return std::chrono::duration<double>(clock::now() - start_).count();
  }
  // Bytes per second over the wait, from the first progress seen.
  double average_rate(const json& d) const {
    auto s = elapsed_s();
    auto done = json_u64(d, "bytes_done");
    return s > 0 && done > first_bytes_ ? static_cast<double>(done - first_bytes_) / s : 0;
  }

private:
  bool tty_;
  bool quiet_;
  std::optional<progress_bar> bar_;
  json last_;
  uint64_t first_bytes_ = 0;
  clock::time_point start_ = clock::now();
  clock::time_point last_line_ = clock::now();
};

// The first download in `status` that matches `o` (name or id prefix) and
// writes into `out_dir` and is still going; null when none.
json find_running(const context& ctx, const download_options& o, const std::string& out_dir) {
  control_client client(ctx.global);
  auto st = client.call("status", json::object(), request_timeout_ms);
  for (auto& d : st.value("downloads", json::array())) {
    auto state = json_str(d, "state");
    if (state != "queued" && state != "running")
      continue;
    if (!o.name.empty() && json_str(d, "name") != o.name)
      continue;
    if (!o.id.empty() && json_str(d, "id").compare(0, o.id.size(), o.id) != 0)
      continue;
    auto path = json_str(d, "out_path");
    if (path.rfind(out_dir + "/", 0) == 0)
      return d;
  }
  return nullptr;
}

// `download -w` of a download already running into the same place: follows
// it through `status` until it ends; returns its final object.
json attach(const context& ctx, const json& running, progress_view& view) {
  auto id = json_str(running, "id");
  view.update(running);
  for (;;) {
    std::this_thread::sleep_for(attach_poll_period); // status has no push; poll it
    if (interrupted())
      throw failure(exit_code::interrupted, "interrupted", "interrupted");
    control_client client(ctx.global);
    auto st = client.call("status", json::object(), request_timeout_ms);
    json found;
    for (auto& d : st.value("downloads", json::array()))
      if (json_str(d, "id") == id && json_str(d, "out_path") == json_str(running, "out_path"))
        found = d;
    if (found.is_null())
      throw failure(exit_code::failed, "not_found",
                    "the download of " + json_str(running, "name")
                      + " left the daemon's list (cleared?)");
    auto state = json_str(found, "state");
    if (state != "queued" && state != "running")
      return found;
    view.update(found);
  }
}

// Ctrl-C during -w: cancel, or say that the daemon goes on and how to stop it.
[[noreturn]] void on_interrupt(const context& ctx, const download_options& o,
                               const json& last) {
  reset_interrupt();
  auto name = last.is_object() && !json_str(last, "name").empty() ? json_str(last, "name")
                                                                    : what(o);
  auto id = last.is_object() ? json_str(last, "id") : std::string();
  if (o.cancel_on_interrupt) {
    control_client client(ctx.global);
    auto target = id.empty() ? name : id;
    client.call("cancel", {{"target", target}}, request_timeout_ms);
    throw failure(exit_code::interrupted, "interrupted",
                  "interrupted: cancelled the download of " + name);
  }
  throw failure(exit_code::interrupted, "interrupted",
                "interrupted: the download of " + name
                  + " goes on in the daemon (`p2p-cli status` follows it; `p2p-cli cancel "
                  + (id.empty() ? name : short_id(id)) + "` stops it)");
}

void run_download(const context& ctx, const download_options& o) {
  if (o.name.empty() && o.id.empty())
    throw failure(exit_code::usage, "usage",
                  "download needs -f NAME or --id ID (see p2p-cli download --help)");
  std::vector<std::string> created;
  auto out_dir = prepare_out_dir(o.out_dir, created);
  json args{{"out_dir", out_dir}, {"overwrite", o.overwrite}, {"wait", o.wait}};
  if (o.no_seed)
    args["no_seed"] = true;
  if (!o.name.empty())
    args["name"] = o.name;
  if (!o.id.empty())
    args["id"] = o.id;

  progress_view view(isatty(STDERR_FILENO) != 0, o.quiet || !o.wait);
  if (o.wait)
    catch_interrupt();
  event_handler on_event = [&view](const json& ev) {
    if (ev.contains("download"))
      view.update(ev["download"]);
  };
  json d;
  try {
    control_client client(ctx.global);
    auto result = client.call("download", args,
                              o.wait ? progress_timeout_ms : request_timeout_ms, on_event);
    if (ctx.global.json && !o.wait)
      return print_json(result);
    d = result.value("download", json::object());
  } catch (const failure& f) {
    view.stop();
    if (f.exit == exit_code::interrupted)
      on_interrupt(ctx, o, view.last());
    json running;
    if (f.code == "exists" && o.wait)
      running = find_running(ctx, o, out_dir);
    if (running.is_null()) {
      if (view.last().is_null()) // refused before it started: leave no empty -o behind
        remove_created(created);
      if (f.exit != exit_code::failed)
        throw;
      // A waited download that ended badly says "failed: why" or "cancelled".
      auto msg = f.code == "failed" ? "download of " + what(o) + " " + f.what()
                                    : "cannot download " + what(o) + ": " + f.what();
      throw failure(f.exit, f.code, msg);
    }
    if (!ctx.global.json)
      std::cerr << "p2p-cli: " << json_name(running, "name")
                << " is already downloading there; following it\n";
    try {
      d = attach(ctx, running, view);
    } catch (const failure& g) {
      view.stop();
      if (g.exit == exit_code::interrupted)
        on_interrupt(ctx, o, view.last());
      throw;
    }
  }
  view.finish(d);
  auto state = json_str(d, "state");
  if (o.wait && state != "complete") {
    auto err = json_name(d, "error");
    throw failure(exit_code::failed, "failed",
                  "download of " + what(o) + " " + (state.empty() ? "ended" : state)
                    + (err.empty() ? "" : ": " + err));
  }
  if (ctx.global.json)
    return print_json({{"download", d}});
  auto name = json_name(d, "name");
  auto size = format_size(json_u64(d, "size"));
  if (state == "complete")
    std::cout << "downloaded " << name << " (" << size << ") to " << json_name(d, "out_path")
              << (o.wait ? " in " + format_eta(view.elapsed_s()) + ", "
                             + format_rate(view.average_rate(d)) + " average"
                         : std::string())
              << '\n';
  else
    std::cout << "download of " << name << " (" << size << ") " << state << ", to "
              << json_name(d, "out_path") << " (`p2p-cli status` follows it)\n";
}

} // namespace

void add_download_command(CLI::App& app, context& ctx) {
  auto o = std::make_shared<download_options>();
  auto sub = app.add_subcommand("download", "Download a file from every peer that has it");
  sub->footer("Example:\n  p2p-cli download -f movie.mkv -o ~/Downloads -w");
  sub->add_option("-f,--file", o->name, "file name (as `ls` shows it)");
  // With -f, --id picks one of several same-named files; alone it names the file.
  sub->add_option("--id", o->id, "content id or a unique prefix of it");
  sub->add_option("-o,--out", o->out_dir, "output directory (created when missing; default: .)");
  sub->add_flag("-w,--wait", o->wait,
                "wait until done: a progress bar on a terminal, a line every 3 s elsewhere; "
                "a download already running there is followed");
  sub->add_flag("-q,--quiet", o->quiet, "with -w: no progress output");
  sub->add_flag("--cancel-on-interrupt", o->cancel_on_interrupt,
                "with -w: Ctrl-C cancels the download (default: it goes on in the daemon)");
  sub->add_flag("--overwrite", o->overwrite, "replace an existing file of that name");
  sub->add_flag("--no-seed", o->no_seed,
                "do not keep sharing the file once it is complete");
  on_run(sub, ctx, [&ctx, o] { run_download(ctx, *o); });
}

} // namespace p2p::cli
