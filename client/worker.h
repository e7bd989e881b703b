// cueball remote worker for C++ services: runs workflow steps in the
// service's own process over cueball.v1.Workers (proto/cueball/v1/
// workers.proto), so a C++ service can implement steps without being
// compiled into cueballd.
//
//   client::Client c("localhost:7420");
//   client::Worker w(&c, {.identity = "billing", .slots = 16});
//   w.AddType(definition, {{"charge", [](client::StepCall& call) {
//     return client::StepCall::Next(R"({"charged":true})");
//   }}});
//   w.Run();  // until Stop(): from a signal handler's thread, say
//
// Inside: one thread long-polls for attempts up to the free slots, `slots`
// threads run steps, two send outcomes in batches, one heartbeats the
// leases held (and cancels the steps whose runs were canceled or whose
// leases were lost). A step function that throws is a failed attempt
// (retried by the step's policy), never a dead worker. Stop() stops
// polling, lets in-flight steps finish for the drain time, then cancels
// them and gives their attempts back.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "cueball/v1/workers.grpc.pb.h"

namespace cueball::client {

// One attempt of one step, as a step function sees it.
class StepCall {
 public:
  const v1::StepAttempt& attempt() const { return attempt_; }
  const std::string& input() const { return attempt_.input(); }  // JSON text
  // The state the next step sees (JSON text); change it to pass data on.
  std::string& state() { return state_; }
  // True once the run was canceled, the lease lost, the step's deadline
  // passed or the worker is stopping: finish soon (the outcome is refused).
  bool cancelled() const { return cancelled_->load(); }

  // Step services, each for this attempt (fenced by its lease). They throw
  // std::runtime_error with the server's message on failure.
  std::optional<v1::TakeSignalResponse> TakeSignal(const std::string& name);
  std::string EnqueueChild(const std::string& key, const std::string& workflow_type,
                           const std::string& input_json = "{}", const std::string& queue = "");
  std::vector<v1::Run> GetRuns(const std::vector<std::string>& ids);
  void SaveBlob(const std::string& name, const std::string& data,
                const std::string& content_type = "application/octet-stream");
  std::optional<v1::LoadBlobResponse> LoadBlob(const std::string& name);

  // Outcomes.
  static v1::StepOutcome Next(const std::string& result_json = "");
  static v1::StepOutcome Complete(const std::string& result_json);
  static v1::StepOutcome Retry(const std::string& error, std::optional<Millis> delay = {});
  static v1::StepOutcome Fail(const std::string& error);
  static v1::StepOutcome Defer(TimePoint until);
  static v1::StepOutcome Sleep(TimePoint until, const std::string& result_json = "");
  static v1::StepOutcome WaitSignal(const std::string& name, std::optional<Millis> timeout = {});
  static v1::StepOutcome WaitRuns(const std::vector<std::string>& ids, bool any = false,
                                  std::optional<Millis> timeout = {});

 private:
  friend class Worker;
  StepCall(Client* client, v1::Workers::Stub* stub, v1::StepAttempt attempt,
           std::shared_ptr<std::atomic<bool>> cancelled)
      : client_(client),
        stub_(stub),
        attempt_(std::move(attempt)),
        state_(attempt_.state()),
        cancelled_(std::move(cancelled)) {}
  template <typename Req, typename Resp>
  void Call(grpc::Status (v1::Workers::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
            const Req& req, Resp* resp, const char* what);

  Client* client_;
  v1::Workers::Stub* stub_;
  v1::StepAttempt attempt_;
  std::string state_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

class Worker {
 public:
  using StepFn = std::function<v1::StepOutcome(StepCall&)>;
  struct Options {
    std::string identity;             // who this is (default: "cpp@HOST/PID")
    std::vector<std::string> queues;  // empty: default
    int slots = 8;                    // steps at once
    Millis lease{30000};
    Millis poll_wait{20000};
    int complete_batch = 500;  // most outcomes per CompleteSteps
    Millis drain{10000};       // Stop(): in-flight steps get this long
  };
  Worker(Client* client, Options options);
  ~Worker();

  // Declares a type and its step functions by step name (before Run). For a
  // workflow file's type with `kind: remote` steps, list only those steps.
  void AddType(v1::WorkflowDefinition definition, std::map<std::string, StepFn> steps);
  // Registers, then serves until Stop(). Returns the registration's error,
  // or OK after a stop.
  grpc::Status Run();
  // From any thread: stop polling, drain, give back what is left. Run returns.
  void Stop();

  // Whether Run has registered (then worker_id() is set and stays).
  bool registered() const { return registered_.load(); }
  const std::string& worker_id() const { return worker_id_; }
  int64_t steps_done() const { return steps_done_.load(); }
  int64_t outcomes_refused() const { return refused_.load(); }

 private:
  struct Held {
    std::string token;
    std::shared_ptr<std::atomic<bool>> cancelled;
  };
  int Busy() const { return static_cast<int>(ready_.size()) + running_; }  // under mu_
  void PollLoop();
  void StepLoop();
  void CompleteLoop();
  void HeartbeatLoop();
  void Finished(const std::string& token, v1::StepOutcome outcome);

  Client* const client_;
  Options opts_;
  std::unique_ptr<v1::Workers::Stub> stub_;
  std::vector<v1::WorkflowDefinition> definitions_;
  std::map<std::string, std::map<std::string, StepFn>> steps_;  // type -> step -> fn
  std::string worker_id_;
  Millis heartbeat_interval_{10000};

  std::mutex mu_;
  // Each waits for its own news, so that a finished step does not wake
  // every step thread: ready attempts (step threads), outcomes to send
  // (senders), and the rest (free slots for the poller, the drain, stops).
  std::condition_variable ready_cv_, outcome_cv_, state_cv_;
  std::deque<v1::StepAttempt> ready_;
  std::map<std::string, Held> held_;  // by token: polled, not yet completed
  std::deque<v1::StepOutcome> outcomes_;
  int running_ = 0;
  bool stopping_ = false;  // no more polls
  bool done_ = false;      // threads exit
  std::mutex poll_ctx_mu_;
  grpc::ClientContext* poll_ctx_ = nullptr;
  std::atomic<bool> registered_{false};
  std::atomic<int64_t> steps_done_{0};
  std::atomic<int64_t> refused_{0};
};

}  // namespace cueball::client
