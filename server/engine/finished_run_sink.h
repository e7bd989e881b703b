// FinishedRunSink: the dispatcher hands the runs its steps finish to the
// WaitHub through it, neither depending on the other.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/domain/run.h"

namespace cueball::engine {

// Takes the runs that steps here finish straight from the record that
// finished them (WaitHub: its waiters then need no notification and no read).
class FinishedRunSink {
 public:
  virtual ~FinishedRunSink() = default;
  // Before a record: which of these runs, about to finish, it wants back.
  // Every run it wants is answered by exactly one Delivered call.
  virtual std::vector<bool> Want(const std::vector<std::string_view>& run_ids) = 0;
  // After that record, whether or not it succeeded: the ids Want wanted,
  // and those of their runs the record finished, as committed.
  virtual void Delivered(const std::vector<std::string>& wanted, std::vector<Run> runs) = 0;
};

}  // namespace cueball::engine
