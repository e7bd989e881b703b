// store_bench: drives the PostgreSQL store directly, without the daemon, in
// fixed batches and one thread, so that what PostgreSQL does per run is the
// same from one measurement to the next. It enqueues --runs no-op runs of
// a built-in type (noop, or demo.pipeline's three steps), then claims and
// records them until none is left, each step succeeding with the outcome the
// engine decides (engine::Decide), and gives the events their positions as
// the daemon's sequencer would.
//
// --phase list times List instead, for every mix of type and status filter,
// on runs already in the database (tests/bench/list_bench.sh fills it).
//
// Its wall-clock rates are as noisy as any on a shared machine; its use is
// tests/bench/instructions.sh, which runs it against a PostgreSQL under
// callgrind and counts the instructions the database spends per run, figures
// that move by 0.05-2% between identical runs (docs/performance.md,
// "Counting instructions").

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/engine/decide.h"
#include "server/engine/workflow.h"
#include "server/store/postgres/migrator.h"
#include "server/store/postgres/pg_event_store.h"
#include "server/store/postgres/pg_run_store.h"
#include "workers/builtin.h"

namespace {

using cueball::Millis;
using cueball::RunId;
using cueball::RunStatus;
using cueball::store::ClaimedRun;
using cueball::store::NewRun;
using cueball::store::Outcome;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

[[noreturn]] void Fail(const std::string& what, const cueball::Status& s) {
  std::fprintf(stderr, "store_bench: %s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

// Times List (50 runs, the first page) for each type in `types` and for
// no type, with each status filter: none, every status alone, a mix of a
// live and a finished status, and all six. Prints the median of `repeat` calls.
void ListPhase(cueball::store::pg::PgRunStore& store, const std::vector<std::string>& types,
               int repeat) {
  using cueball::store::RunFilter;
  const std::vector<RunStatus> all{RunStatus::kEnqueued, RunStatus::kRunning,
                                   RunStatus::kWaiting,  RunStatus::kSucceeded,
                                   RunStatus::kFailed,   RunStatus::kCanceled};
  std::vector<std::vector<RunStatus>> status_sets{{}};
  for (RunStatus s : all) status_sets.push_back({s});
  status_sets.push_back({RunStatus::kFailed, RunStatus::kEnqueued});
  status_sets.push_back(all);
  std::vector<std::optional<std::string>> type_filters{std::nullopt};
  for (const auto& t : types) type_filters.emplace_back(t);
  for (const auto& type : type_filters) {
    for (const auto& statuses : status_sets) {
      RunFilter f;
      f.workflow_type = type;
      f.statuses = statuses;
      std::vector<double> ms;
      size_t found = 0;
      for (int i = 0; i < repeat; ++i) {
        auto t = Clock::now();
        auto page = store.List(f);
        if (!page.ok()) Fail("list", page.status());
        ms.push_back(Seconds(t) * 1000);
        found = page->size();
      }
      std::sort(ms.begin(), ms.end());
      std::string names;
      for (RunStatus s : statuses)
        names += (names.empty() ? "" : ",") + std::string(RunStatusName(s));
      if (statuses.empty()) names = "any";
      if (statuses == all) names = "all six";
      std::printf("store_bench.list  type=%-14s status=%-16s %8.2f ms  (%zu runs)\n",
                  type.value_or("any").c_str(), names.c_str(), ms[ms.size() / 2], found);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Drives the PostgreSQL store in fixed batches: enqueue, then claim and record."};
  std::string url;
  int runs = 20000, enqueue_batch = 100, claim = 200;
  std::string type = "noop";
  bool migrate = true;
  std::string phase = "both";
  bool keep_next = true;
  std::vector<std::string> list_types{"noop"};
  int list_repeat = 5;
  app.add_option("--database-url", url, "the database (migrated first)")->required();
  app.add_option("--runs", runs, "runs to enqueue and finish")->check(CLI::Range(1, 10000000));
  app.add_option("--enqueue-batch", enqueue_batch, "runs per Enqueue")->check(CLI::Range(1, 10000));
  app.add_option("--claim", claim, "runs per Claim, and outcomes per record")
      ->check(CLI::Range(1, 10000));
  app.add_option("--type", type, "the built-in workflow type")
      ->check(CLI::IsMember({"noop", "demo.pipeline"}));
  app.add_option("--migrate", migrate, "apply pending migrations first");
  app.add_option("--continue", keep_next,
                 "a run's next step stays with the bench and is recorded without a claim of its "
                 "own, as the daemon does (false: every step is claimed)");
  app.add_option("--phase", phase,
                 "both; enqueue (only enqueue); drain (claim and record until nothing is left); "
                 "list (time List on the runs there)")
      ->check(CLI::IsMember({"both", "enqueue", "drain", "list"}));
  app.add_option("--list-types", list_types, "types --phase list filters by (and by none)")
      ->delimiter(',');
  app.add_option("--list-repeat", list_repeat,
                 "calls per filter in --phase list (the median is printed)")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  if (migrate) {
    cueball::store::pg::Migrator m(url, cueball::store::pg::BuiltinMigrations());
    if (auto r = m.Migrate(); !r.ok()) Fail("migrate", r.status());
  }
  cueball::store::pg::PgRunStore store(url, 1);
  if (phase == "list") {
    ListPhase(store, list_types, list_repeat);
    return 0;
  }
  cueball::store::pg::PgEventStore events(url, 1);
  cueball::engine::Registry registry;
  if (auto s = cueball::workers::RegisterBuiltins(registry); !s.ok()) Fail("register", s);
  const cueball::engine::WorkflowType* wf = registry.Find(type);
  std::mt19937_64 rng(1);

  auto t0 = Clock::now();
  for (int done = 0; phase != "drain" && done < runs; done += enqueue_batch) {
    std::vector<NewRun> batch;
    for (int i = done; i < std::min(runs, done + enqueue_batch); ++i) {
      NewRun r;
      r.id = RunId::NewV7().str();
      r.workflow_type = type;
      r.first_step = wf->steps.front().name;
      batch.push_back(std::move(r));
    }
    if (auto r = store.Enqueue(batch); !r.ok()) Fail("enqueue", r.status());
    if (auto r = events.Sequence(10000); !r.ok()) Fail("sequence", r.status());
  }
  double enqueue_s = Seconds(t0);

  auto t1 = Clock::now();
  int64_t finished = 0, claims = 0;
  // Runs held: claimed, or whose next step stayed here. Claims top them up
  // to --claim, as the daemon's free slots do.
  std::vector<ClaimedRun> held;
  while (phase == "drain" || (phase == "both" && finished < runs)) {
    if (static_cast<int>(held.size()) < claim) {
      auto claimed = store.Claim("store_bench", {"default"}, {type},
                                 claim - static_cast<int>(held.size()), Millis(30000));
      if (!claimed.ok()) Fail("claim", claimed.status());
      ++claims;
      for (auto& c : *claimed) held.push_back(std::move(c));
    }
    if (held.empty()) {
      if (phase == "drain") break;
      std::fprintf(stderr, "store_bench: nothing to claim with %lld of %d runs finished\n",
                   static_cast<long long>(finished), runs);
      return 1;
    }
    std::vector<Outcome> outcomes;
    for (const auto& c : held) {
      outcomes.push_back(cueball::engine::Decide(c.run, c.lease_id, *wf,
                                                 cueball::engine::StepResult::Next(Json::object()),
                                                 Json::parse(c.run.state), cueball::Now(), rng));
      Outcome& o = outcomes.back();
      o.start = c.start();  // as the dispatcher does for a quick step
      if (o.status == RunStatus::kSucceeded) ++finished;
      if (keep_next && o.status == RunStatus::kEnqueued) {
        o.continue_lease = Millis(30000);
      }
    }
    cueball::store::Recorded rec;
    auto recorded = store.RecordOutcomes(outcomes, &rec);
    const auto& next = rec.next;
    if (!recorded.ok()) Fail("record", recorded.status());
    for (bool ok : *recorded) {
      if (!ok) {
        std::fprintf(stderr, "store_bench: an outcome was refused (lease lost)\n");
        return 1;
      }
    }
    // The next steps that stayed, as the dispatcher makes them.
    std::vector<ClaimedRun> stayed;
    for (size_t i = 0; i < held.size(); ++i) {
      if (!next[i]) continue;
      ClaimedRun c = std::move(held[i]);
      c.run.step_index = outcomes[i].step_index;
      c.run.step_name = outcomes[i].step_name;
      c.run.attempt = outcomes[i].attempt + 1;
      if (outcomes[i].state) c.run.state = *outcomes[i].state;
      c.run.updated_at = next[i]->claimed_at;
      c.lease_id = next[i]->lease_id;
      stayed.push_back(std::move(c));
    }
    held = std::move(stayed);
    if (auto r = events.Sequence(10000); !r.ok()) Fail("sequence", r.status());
  }
  double drain_s = Seconds(t1);

  if (phase != "drain") std::printf("store_bench.enqueue  %10.0f runs/s\n", runs / enqueue_s);
  if (phase != "enqueue")
    std::printf("store_bench.drain    %10.0f runs/s  (%lld claims, %zu steps each)\n",
                finished / drain_s, static_cast<long long>(claims), wf->steps.size());
  return 0;
}
