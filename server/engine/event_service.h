// EventService: the event stream, as the api sees it.
//  - Runs this daemon's sequencer: after local writes (Kick) and once a
//    second in case another daemon died before numbering its events, it asks
//    the store to give positions to committed events.
//  - Tracks the head of the log (from its own sequencing, NOTIFYs from other
//    daemons and the periodic check) and wakes streams parked at the head.
//  - Serves Watch: history from a cursor, then live events, through one loop
//    that always resumes after the last position examined, so there is no
//    seam between history and live (no gap, no duplicate). A stream holds at
//    most one page in memory and sends the next page only when the previous
//    one is written (flow control comes from the sink blocking).
//  - Validates subscription calls.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "server/store/event_store.h"

namespace cueball::engine {

struct EventLimits {
  int page_size = 500;          // events per streamed message, at most
  int max_watchers = 256;       // concurrent WatchEvents streams in this daemon
  Millis heartbeat{10000};      // an empty message this often while idle
  Millis sequence_check{1000};  // numbering pass even without a local kick
  int sequence_batch = 5000;    // events numbered per transaction
};

struct WatchSpec {
  enum class From { kPosition, kBeginning, kNow, kSubscription };
  From from = From::kBeginning;
  int64_t after = 0;         // with kPosition: stream events after this position
  std::string subscription;  // with kSubscription: resume after its acknowledged position
  std::string run_id;        // filters, all optional
  std::string workflow_type;
  std::vector<std::string> kinds;
  // kSubscription only: where a new subscription starts (kBeginning or kNow).
  From new_subscription_start = From::kBeginning;
};

// One message of a stream. `through`: every event up to here has been
// examined, so a client resumes after it (it is at least the last event's
// position). Heartbeats have no events.
struct WatchBatch {
  std::vector<Event> events;
  int64_t through = 0;
  int64_t head = 0;
  int64_t pruned_through = 0;
};

class EventService {
 public:
  EventService(store::EventStore* store, EventLimits limits);
  ~EventService();

  void Start();  // the sequencer thread
  // Ends every stream (UNAVAILABLE, resume later) and refuses new ones.
  void CloseStreams();
  // CloseStreams, then numbers what is left and stops the sequencer. Call
  // after the dispatcher has stopped, so its last events are numbered too.
  void Stop();

  // Events were written here: number them soon. Cheap; never blocks.
  void Kick();
  // The head advanced elsewhere (NOTIFY), or anything may have been missed.
  void OnHead(int64_t head);
  void Resync();

  // Streams until the client goes away (`send` returns false or `cancelled`
  // says so), the daemon stops, or the store fails. Validation errors come
  // before anything is sent.
  Status Watch(const WatchSpec& spec, const std::function<bool(const WatchBatch&)>& send,
               const std::function<bool()>& cancelled);

  StatusOr<store::Subscription> Ack(const std::string& name, int64_t position);
  StatusOr<std::vector<store::Subscription>> ListSubscriptions();
  Status DeleteSubscription(const std::string& name);
  StatusOr<int64_t> Head();

  int watchers() const { return watchers_.load(); }

 private:
  void SequencerLoop();
  void Advance(int64_t head);
  // Waits until the head passes `after`, or until `deadline`, stop, or
  // `cancelled`; true if the head passed.
  bool WaitBeyond(int64_t after, std::chrono::steady_clock::time_point deadline,
                  const std::function<bool()>& cancelled);

  store::EventStore* const store_;
  const EventLimits limits_;
  std::atomic<int> watchers_{0};

  std::mutex mu_;
  std::condition_variable seq_cv_;   // the sequencer waits here
  std::condition_variable head_cv_;  // streams wait here
  bool kicked_ = false;
  bool closing_ = false;  // streams end
  bool stop_ = false;     // the sequencer ends
  int64_t head_ = 0;
  std::thread sequencer_;
};

// Checks a subscription name: 1-200 characters of A-Z a-z 0-9 _ . : -
Status ValidateSubscriptionName(const std::string& name, const std::string& field);

}  // namespace cueball::engine
