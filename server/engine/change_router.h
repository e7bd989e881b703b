// ChangeRouter: delivers database change notifications to the engine pieces
// that act on them: ready runs wake the dispatcher and remote workers' polls, finished runs wake
// waiters (Wait calls and waiting runs) and stop a canceled run's step, a new event head wakes
// event streams, and a resync re-checks all of them.
#pragma once

#include "server/engine/dispatcher.h"
#include "server/engine/event_service.h"
#include "server/engine/remote_workers.h"
#include "server/engine/wait_hub.h"
#include "server/engine/waker.h"
#include "server/store/change_listener.h"
#include "server/store/run_store.h"

namespace cueball::engine {

class ChangeRouter final : public store::ChangeListener {
 public:
  // `dispatcher`, `events`, `waker` and `remote` may be null.
  ChangeRouter(Dispatcher* dispatcher, WaitHub* hub, EventService* events = nullptr,
               Waker* waker = nullptr, RemoteWorkers* remote = nullptr)
      : dispatcher_(dispatcher), hub_(hub), events_(events), waker_(waker), remote_(remote) {}
  void OnRunsReady(const std::string&) override {
    if (dispatcher_) dispatcher_->Poke();
    if (remote_) remote_->Poke();
  }
  void OnRunFinished(const std::string& id) override {
    hub_->NotifyFinished(id);
    if (dispatcher_) dispatcher_->OnRunFinished(id);
    if (waker_) waker_->OnRunFinished(id);
  }
  void OnEventsSequenced(int64_t head) override {
    if (events_) events_->OnHead(head);
  }
  void OnResync() override {
    hub_->Resync();
    if (dispatcher_) dispatcher_->Poke();
    if (remote_) remote_->Poke();
    if (events_) events_->Resync();
    if (waker_) waker_->Poke();
  }

 private:
  Dispatcher* dispatcher_;
  WaitHub* hub_;
  EventService* events_;
  Waker* waker_;
  RemoteWorkers* remote_;
};

}  // namespace cueball::engine
