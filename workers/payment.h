// The payment example workflow types: `payment` (create -> authorize, with a
// fraud check answered by the signal fraud_check -> capture -> refunds as
// child runs) and `payment.refund`. See payment.cc for the input.
#pragma once

#include "server/domain/status.h"
#include "server/engine/workflow.h"

namespace cueball::workers {

Status RegisterPayment(engine::Registry& registry);

}  // namespace cueball::workers
