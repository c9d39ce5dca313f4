// Control requests: parse_request never throws, a request it accepts has a
// known command and object args without nulls, and the reply the daemon sends
// for it (dumped as control_server does, strict UTF-8) never throws either.
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz/check.hpp"
#include "protocol/control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  auto parsed = p2p::control::parse_request(line);
  if (auto* err = std::get_if<p2p::control::parse_error>(&parsed)) {
    FUZZ_CHECK(!err->code.empty() && !err->message.empty());
    (void) p2p::control::error_reply(err->id, err->code, err->message).dump();
    return 0;
  }
  auto& req = std::get<p2p::control::request>(parsed);
  FUZZ_CHECK(req.args.is_object() && !req.cmd.empty());
  for (auto& [key, value] : req.args.items())
    FUZZ_CHECK(!value.is_null());
  (void) p2p::control::ok_reply(req.id, req.args).dump();
  (void) p2p::control::error_reply(req.id, p2p::control::errc::not_found,
                                   "no such share: " + req.cmd)
    .dump();
  return 0;
}
