// The gateway's in-process exchange surface: what the gRPC edge and the
// plugin host call. Small on purpose (see LevelDB's db.h).
#ifndef EHX_EXCHANGE_H_
#define EHX_EXCHANGE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ehx/exchange/v1/envelope.pb.h"

namespace ehx {

// Called once, on an internal thread, when an asynchronous call completes.
// Must not block.
template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

// One acknowledgement.
struct AckItem {
  uint64_t delivery_id = 0;
  bool ok = true;
  bool permanent = false;
  std::string reason;  // machine reason, no personal data
};

// Implementations are thread-safe. Every method is asynchronous and never
// blocks the caller; `done` runs exactly once.
class Exchange {
 public:
  virtual ~Exchange() = default;

  // Validates, routes and durably stores `envelope` as sent by `sender`
  // (an agency id established by the transport, never by the body).
  // `done` gets the receipt only after the commit is durable.
  virtual void Publish(std::string sender, ehx::exchange::v1::Envelope envelope,
                       Callback<ehx::exchange::v1::PublishReceipt> done) = 0;

  // Leases up to `max` deliveries from `agency`'s mailbox for
  // `lease_seconds` (0: configured default). At most one delivery per case
  // is in flight at a time. An empty result means nothing is due now.
  virtual void Fetch(
      std::string agency, int max, int lease_seconds,
      Callback<std::vector<ehx::exchange::v1::Delivery>> done) = 0;

  // Applies acks/nacks for `agency`; unknown or foreign ids are ignored.
  // `done` gets the number applied.
  virtual void Ack(std::string agency, std::vector<AckItem> items,
                   Callback<int> done) = 0;

  // Registers `wake` to be called (on an internal thread, must not block)
  // whenever new deliveries may be due for `agency`. Returns a token for
  // Unwatch.
  virtual uint64_t Watch(std::string agency, std::function<void()> wake) = 0;
  virtual void Unwatch(uint64_t token) = 0;
};

}  // namespace ehx

#endif  // EHX_EXCHANGE_H_
