// ChangeRouter: delivers database change notifications to the engine pieces
// that act on them: ready runs wake the dispatcher, finished runs wake
// waiters and stop a canceled run's step, and a resync re-checks both.
#pragma once

#include "server/engine/dispatcher.h"
#include "server/engine/wait_hub.h"
#include "server/store/run_store.h"

namespace cueball::engine {

class ChangeRouter final : public store::ChangeListener {
 public:
  ChangeRouter(Dispatcher* dispatcher, WaitHub* hub) : dispatcher_(dispatcher), hub_(hub) {}
  void OnRunsReady(const std::string&) override {
    if (dispatcher_) dispatcher_->Poke();
  }
  void OnRunFinished(const std::string& id) override {
    hub_->NotifyFinished(id);
    if (dispatcher_) dispatcher_->OnRunFinished(id);
  }
  void OnResync() override {
    hub_->Resync();
    if (dispatcher_) dispatcher_->Poke();
  }

 private:
  Dispatcher* dispatcher_;
  WaitHub* hub_;
};

}  // namespace cueball::engine
