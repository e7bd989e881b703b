// The registry's remote types (RemoteWorkers loads them every few seconds)
// and what daemons claim of types with remote steps.
#include <catch2/catch.hpp>

#include "server/engine/workflow.h"

using namespace cueball;
using namespace cueball::engine;

namespace {

StepDef Step(const std::string& name, const std::string& kind = "code", int attempts = 3) {
  StepTraits traits(kind, "");
  return StepDef(
      name, [](StepContext&) { return StepResult::Next(); },
      RetryPolicy::Fixed(attempts, Millis(10)), Millis(1000), traits);
}

WorkflowType Type(const std::string& name, std::vector<StepDef> steps) {
  WorkflowType t;
  t.name = name;
  t.steps = std::move(steps);
  return t;
}

}  // namespace

TEST_CASE("a remote type put again unchanged stays the same object and a changed one replaces it") {
  Registry r;
  REQUIRE(r.PutRemote(Type("py.t", {Step("a", "remote")})).ok());
  const WorkflowType* first = r.Find("py.t");
  REQUIRE(first != nullptr);
  REQUIRE(r.PutRemote(Type("py.t", {Step("a", "remote")})).ok());
  CHECK(r.Find("py.t") == first);
  REQUIRE(r.PutRemote(Type("py.t", {Step("a", "remote", 5)})).ok());
  const WorkflowType* second = r.Find("py.t");
  CHECK(second != first);
  CHECK(second->steps[0].retry.max_attempts == 5);
  CHECK(first->steps[0].retry.max_attempts == 3);  // the old one is still readable
  CHECK(r.Names() == std::vector<std::string>{"py.t"});
}

TEST_CASE("a daemon's own type cannot be put as remote, and daemons claim only non-remote steps") {
  Registry r;
  REQUIRE(r.Register(Type("noop", {Step("noop")})).ok());
  REQUIRE(r.Register(Type("mixed", {Step("fetch"), Step("score", "remote"), Step("ship")})).ok());
  CHECK(r.PutRemote(Type("noop", {Step("x", "remote")})).code() == StatusCode::kFailedPrecondition);
  REQUIRE(r.PutRemote(Type("py.only", {Step("a", "remote")})).ok());
  CHECK(r.InProcessClaims() == std::vector<std::string>{"mixed/fetch", "mixed/ship", "noop"});
  CHECK(r.OwnNames() == std::vector<std::string>{"mixed", "noop"});
  CHECK(r.Names() == std::vector<std::string>{"mixed", "noop", "py.only"});
  CHECK(r.IsOwn("mixed"));
  CHECK_FALSE(r.IsOwn("py.only"));
}

TEST_CASE("a name the registry does not know is asked of the loader once per lookup") {
  Registry r;
  int asked = 0;
  r.SetLoader([&](const std::string& name) {
    ++asked;
    if (name == "py.late") r.PutRemote(Type("py.late", {Step("a", "remote")}));
  });
  CHECK(r.Find("py.none") == nullptr);
  CHECK(r.Find("py.late") != nullptr);
  CHECK(r.Find("py.late") != nullptr);  // known now: no second question
  CHECK(asked == 2);
}
