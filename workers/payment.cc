// The payment example: a card payment as a workflow, against a simulated
// provider that answers the way real ones do (approved, declined, or
// "pending a fraud check" that is decided later and reported back). That
// later answer arrives as the signal `fraud_check`; the run waits for it in
// the database, holding no worker, across daemon restarts. Refunds are child
// runs of the payment, so each has its own retries and history.
//
//   payment:         create -> authorize -> capture -> refund
//   payment.refund:  refund
//
// Input of `payment`:
//   amount_cents   integer > 0                      (required)
//   currency       three capital letters            (default "EUR")
//   card           12..19 digits; the provider's test cards decide the
//                  answer by their last four: 0002 declined, 0003 pending
//                  a fraud check, anything else approved       (required)
//   fraud_check_timeout_ms   how long to wait for the fraud check (default
//                  one day); then the authorization fails
//   refunds        amounts in cents to refund after capture (default none);
//                  their sum may not exceed amount_cents
// The fraud check's signal payload: {"approved": true|false, "reason": "..."}.
#include "workers/payment.h"

#include <algorithm>
#include <cctype>

namespace cueball::workers {
namespace {

using engine::Json;
using engine::RetryPolicy;
using engine::StepContext;
using engine::StepResult;

// The simulated provider's answer to an authorization.
enum class Answer { kApproved, kDeclined, kPendingFraudCheck };

Answer Authorize(const std::string& card) {
  const std::string last4 = card.substr(card.size() - 4);
  if (last4 == "0002") return Answer::kDeclined;
  if (last4 == "0003") return Answer::kPendingFraudCheck;
  return Answer::kApproved;
}

// Checks the input; empty when it is fine, else what is wrong (naming the field).
std::string CheckInput(const Json& in) {
  if (!in.is_object()) return "input must be a JSON object";
  if (!in.contains("amount_cents") || !in["amount_cents"].is_number_integer() ||
      in["amount_cents"].get<int64_t>() <= 0) {
    return "input.amount_cents must be an integer above 0";
  }
  const std::string currency = in.value("currency", "EUR");
  if (currency.size() != 3 || !std::all_of(currency.begin(), currency.end(), [](char c) {
        return std::isupper(static_cast<unsigned char>(c));
      })) {
    return "input.currency must be three capital letters, like EUR";
  }
  if (!in.contains("card") || !in["card"].is_string()) return "input.card must be a string";
  const std::string card = in["card"].get<std::string>();
  if (card.size() < 12 || card.size() > 19 || !std::all_of(card.begin(), card.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return "input.card must be 12 to 19 digits";
  }
  if (in.contains("fraud_check_timeout_ms") && (!in["fraud_check_timeout_ms"].is_number_integer() ||
                                                in["fraud_check_timeout_ms"].get<int64_t>() <= 0)) {
    return "input.fraud_check_timeout_ms must be an integer above 0";
  }
  int64_t refunded = 0;
  if (in.contains("refunds")) {
    if (!in["refunds"].is_array()) return "input.refunds must be an array of amounts in cents";
    for (size_t i = 0; i < in["refunds"].size(); ++i) {
      const Json& r = in["refunds"][i];
      if (!r.is_number_integer() || r.get<int64_t>() <= 0) {
        return "input.refunds[" + std::to_string(i) + "] must be an integer above 0";
      }
      refunded += r.get<int64_t>();
    }
    if (refunded > in["amount_cents"].get<int64_t>()) {
      return "input.refunds add up to " + std::to_string(refunded) +
             ", more than input.amount_cents";
    }
  }
  return "";
}

StepResult Create(StepContext& ctx) {
  std::string bad = CheckInput(ctx.input);
  if (!bad.empty()) return StepResult::Fail(bad);
  if (!ctx.state.is_object()) ctx.state = Json::object();
  // The provider's payment id is derived from the run, so a step that runs
  // twice creates the same payment (idempotent against the provider).
  ctx.state["payment_id"] = "pay_" + ctx.run_id.substr(0, 8) + ctx.run_id.substr(24);
  const std::string card = ctx.input["card"].get<std::string>();
  ctx.state["card_last4"] = card.substr(card.size() - 4);
  return StepResult::Next({{"payment_id", ctx.state["payment_id"]}});
}

StepResult AuthorizeStep(StepContext& ctx) {
  const std::string card = ctx.input["card"].get<std::string>();
  switch (Authorize(card)) {
    case Answer::kDeclined:
      return StepResult::Fail("authorization declined by the provider (card ending " +
                              card.substr(card.size() - 4) + ")");
    case Answer::kApproved:
      ctx.state["authorization"] = "auth_" + ctx.state.value("payment_id", std::string());
      ctx.state["fraud_check"] = "not needed";
      return StepResult::Next({{"authorization", ctx.state["authorization"]}});
    case Answer::kPendingFraudCheck:
      break;
  }
  // The provider will report the fraud check's outcome later.
  auto check = ctx.TakeSignal("fraud_check");
  if (!check) {
    const int64_t timeout = ctx.input.value("fraud_check_timeout_ms", int64_t{24} * 3600 * 1000);
    ctx.state["fraud_check"] = "pending";
    return StepResult::WaitForSignal("fraud_check", Millis(timeout));
  }
  const Json& p = check->payload;
  if (!p.is_object() || !p.contains("approved") || !p["approved"].is_boolean()) {
    return StepResult::Fail("signal fraud_check #" + std::to_string(check->seq) +
                            ": payload must be {\"approved\": true|false, \"reason\": ...}");
  }
  const std::string reason = p.value("reason", "");
  if (!p["approved"].get<bool>()) {
    ctx.state["fraud_check"] = "rejected";
    return StepResult::Fail("fraud check rejected the payment" +
                            (reason.empty() ? "" : ": " + reason));
  }
  ctx.state["fraud_check"] = "approved";
  ctx.state["authorization"] = "auth_" + ctx.state.value("payment_id", std::string());
  return StepResult::Next(
      {{"authorization", ctx.state["authorization"]}, {"fraud_check", "approved"}});
}

StepResult Capture(StepContext& ctx) {
  const int64_t amount = ctx.input["amount_cents"].get<int64_t>();
  ctx.state["captured_cents"] = amount;
  Json receipt = {{"payment_id", ctx.state["payment_id"]},
                  {"amount_cents", amount},
                  {"currency", ctx.input.value("currency", "EUR")},
                  {"card_last4", ctx.state["card_last4"]},
                  {"fraud_check", ctx.state["fraud_check"]}};
  ctx.SaveBlob("receipt.json", receipt.dump(2) + "\n", "application/json");
  return StepResult::Next({{"captured_cents", amount}});
}

StepResult Refund(StepContext& ctx) {
  const Json refunds = ctx.input.value("refunds", Json::array());
  Json summary = {{"payment_id", ctx.state["payment_id"]},
                  {"captured_cents", ctx.state["captured_cents"]}};
  if (refunds.empty()) {
    summary["refunded_cents"] = 0;
    return StepResult::Next(summary);
  }
  std::vector<std::string> ids;
  for (size_t i = 0; i < refunds.size(); ++i) {
    engine::ChildSpec child;
    child.key = "refund-" + std::to_string(i);
    child.workflow_type = "payment.refund";
    child.input = {{"payment_id", ctx.state["payment_id"]}, {"amount_cents", refunds[i]}};
    ids.push_back(ctx.EnqueueChild(child));
  }
  auto runs = ctx.GetRuns(ids);
  int64_t refunded = 0;
  for (const auto& r : runs) {
    if (!IsTerminal(r.status)) return StepResult::WaitForRuns(ids);
    if (r.status != RunStatus::kSucceeded) {
      return StepResult::Fail("refund run " + r.id + " " + RunStatusName(r.status) +
                              (r.error ? ": " + *r.error : ""));
    }
    refunded += Json::parse(r.result.value_or("{}")).value("refunded_cents", int64_t{0});
  }
  summary["refunded_cents"] = refunded;
  summary["refunds"] = ids;
  return StepResult::Next(summary);
}

StepResult RefundOne(StepContext& ctx) {
  if (!ctx.input.is_object() || !ctx.input.contains("amount_cents") ||
      !ctx.input["amount_cents"].is_number_integer() ||
      ctx.input["amount_cents"].get<int64_t>() <= 0) {
    return StepResult::Fail("input.amount_cents must be an integer above 0");
  }
  if (!ctx.input.contains("payment_id") || !ctx.input["payment_id"].is_string()) {
    return StepResult::Fail("input.payment_id must be a string");
  }
  return StepResult::Next({{"refund_id", "re_" + ctx.run_id.substr(24)},
                           {"payment_id", ctx.input["payment_id"]},
                           {"refunded_cents", ctx.input["amount_cents"]}});
}

engine::StepTraits RefundTraits() {
  engine::StepTraits t("code", "refunds as child runs, wait for them", {}, false, true, true);
  t.child_types = {"payment.refund"};
  return t;
}

}  // namespace

Status RegisterPayment(engine::Registry& registry) {
  const auto provider = RetryPolicy::Exponential(5, Millis(500), Millis(30000));
  using engine::StepTraits;
  Status st = registry.Register(
      {"payment",
       "A card payment: create -> authorize (the provider may ask for a fraud check, answered "
       "later by the signal fraud_check) -> capture (saves receipt.json) -> refund (one child "
       "run of payment.refund per input.refunds amount).",
       {{"create", Create, provider, Millis(10000), {"code", "validate, create the payment"}},
        {"authorize",
         AuthorizeStep,
         provider,
         Millis(10000),
         {"code", "authorize; a pending fraud check waits for it", {"fraud_check"}}},
        {"capture", Capture, provider, Millis(10000), {"code", "capture, save receipt.json"}},
        {"refund", Refund, provider, Millis(10000), RefundTraits()}}});
  if (!st.ok()) return st;
  return registry.Register(
      {"payment.refund",
       "Refunds input.amount_cents of input.payment_id (a child of payment).",
       {{"refund", RefundOne, provider, Millis(10000), {"code", "refund at the provider"}}}});
}

}  // namespace cueball::workers
