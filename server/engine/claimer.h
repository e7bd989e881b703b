// Claimer: a dispatcher's thread that claims ready runs for its free slots,
// in batches (Slots::ToClaim says how many), and sleeps until poked (a
// NOTIFY, a freed slot, a record that made runs ready) or until the next run
// is due, polling only as a fallback.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "server/engine/slots.h"
#include "server/store/dispatch_store.h"

namespace cueball::engine {

class Claimer {
 public:
  struct Options {
    std::string owner;  // recorded on leases
    std::vector<std::string> queues;
    std::vector<std::string> types;  // the registered types: claims are filtered by them
    Millis lease{30000};
    Millis poll_interval{1000};
    Millis coalesce{2};
  };
  Claimer(store::DispatchStore* store, const Registry* registry, Slots* slots, Options options)
      : store_(store), registry_(registry), slots_(slots), opts_(std::move(options)) {}
  ~Claimer() { Join(); }

  void Start();
  // Waits for the thread, which ends once the slots are stopping.
  void Join();

 private:
  void Loop();

  store::DispatchStore* const store_;
  const Registry* const registry_;
  Slots* const slots_;
  const Options opts_;
  std::thread thread_;
};

}  // namespace cueball::engine
