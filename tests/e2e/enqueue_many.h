// EnqueueMany: enqueues n runs of one type (on a queue, with tags) through
// EnqueueBatch (500 per call) and returns their ids in order; shared by the end-to-end tests.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "client/client.h"

namespace cueball::testing {

inline std::vector<std::string> EnqueueMany(client::Client& c, int n, const std::string& type,
                                            const std::string& input = "{}",
                                            const std::string& queue = "",
                                            const std::map<std::string, std::string>& tags = {}) {
  std::vector<std::string> ids;
  for (int done = 0; done < n;) {
    v1::EnqueueBatchRequest req;
    int k = std::min(500, n - done);
    for (int i = 0; i < k; ++i) {
      auto* r = req.add_runs();
      r->set_workflow_type(type);
      r->set_input(input);
      r->set_queue(queue);
      r->mutable_tags()->insert(tags.begin(), tags.end());
    }
    v1::EnqueueBatchResponse resp;
    auto s = c.EnqueueBatch(req, &resp);
    REQUIRE(s.ok());
    for (const auto& r : resp.runs()) ids.push_back(r.run().id());
    done += k;
  }
  return ids;
}

inline std::vector<std::string> EnqueueMany(const std::string& address, int n,
                                            const std::string& type,
                                            const std::string& input = "{}") {
  client::Client c(address);
  return EnqueueMany(c, n, type, input);
}

}  // namespace cueball::testing
