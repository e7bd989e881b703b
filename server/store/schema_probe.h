// SchemaProbe: "can this daemon use the database right now?" for health
// checks: OK when the database answers and every migration this build knows
// is applied; UNAVAILABLE when it cannot be reached; FAILED_PRECONDITION
// naming what is pending otherwise. Cheap enough to call every few seconds.
#pragma once

#include "server/domain/status.h"

namespace cueball::store {

class SchemaProbe {
 public:
  virtual ~SchemaProbe() = default;
  virtual Status Probe() = 0;
};

}  // namespace cueball::store
