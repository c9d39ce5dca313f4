// Message data (actors/messages.hpp): a download's state travels between the
// actors as dl_state and becomes its word only in the control channel's JSON.
#include <catch2/catch.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>

#include "actors/json.hpp"
#include "actors/messages.hpp"

using namespace p2p;

TEST_CASE("download_info's state is written to JSON as its word", "[messages]") {
  const std::pair<dl_state, const char*> words[] = {{dl_state::queued, "queued"},
                                                    {dl_state::running, "running"},
                                                    {dl_state::complete, "complete"},
                                                    {dl_state::failed, "failed"},
                                                    {dl_state::cancelled, "cancelled"}};
  for (auto [state, word] : words) {
    download_info d;
    d.state = state;
    CHECK(to_json(d)["state"] == word);
    CHECK(is_final(d) == (state != dl_state::queued && state != dl_state::running));
  }
}

TEST_CASE("download_info with its state survives CAF serialization", "[messages]") {
  download_info d;
  d.key = 7;
  d.name = "a.bin";
  d.state = dl_state::cancelled;
  d.peers.push_back(peer_bytes{"10.0.0.1:7000", 4096, seeder_state::dropped, "chunk 1 failed its hash"});
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  REQUIRE_FALSE(sink(d));
  download_info back;
  caf::binary_deserializer source{nullptr, buf};
  REQUIRE_FALSE(source(back));
  CHECK(back.key == 7);
  CHECK(back.name == "a.bin");
  CHECK(back.state == dl_state::cancelled);
  REQUIRE(back.peers.size() == 1);
  CHECK(back.peers[0].state == seeder_state::dropped);
  CHECK(caf::deep_to_string(d).find("cancelled") != std::string::npos);
}
