// Run helpers for end-to-end tests: enqueue one run, read one, and ask for
// its status, each REQUIREing that the call succeeds.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "client/client.h"

namespace cueball::testing {

inline std::string Enqueue(client::Client& c, const std::string& type,
                           const std::string& input = "{}") {
  v1::EnqueueRequest req;
  req.set_workflow_type(type);
  req.set_input(input);
  v1::EnqueueResponse resp;
  auto s = c.Enqueue(req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp.run().id();
}

inline v1::Run GetRun(client::Client& c, const std::string& id, bool history = true) {
  v1::GetRequest req;
  req.set_id(id);
  req.set_include_history(history);
  v1::GetResponse resp;
  REQUIRE(c.Get(req, &resp).ok());
  return resp.run();
}

inline bool StatusIs(client::Client& c, const std::string& id, v1::RunStatus want) {
  return GetRun(c, id, false).status() == want;
}

}  // namespace cueball::testing
