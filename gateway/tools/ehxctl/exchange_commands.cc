// publish, fetch, ack, tail: the Exchange API.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "ehx/exchange/v1/exchange_service.grpc.pb.h"
#include "gateway/tools/ehxctl/commands.h"

namespace ehx::ctl {
namespace {

namespace xv1 = ::ehx::exchange::v1;
using Clock = std::chrono::steady_clock;

// Cancels a call when its deadline passes; the deadline can be moved.
class Watchdog {
 public:
  explicit Watchdog(grpc::ClientContext* context)
      : context_(context), thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Cancels at `at` (earlier than any previous arming wins).
  void Arm(Clock::time_point at) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!deadline_ || at < *deadline_) deadline_ = at;
    }
    cv_.notify_all();
  }

  bool fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (!deadline_) {
        cv_.wait(lock);
        continue;
      }
      if (Clock::now() >= *deadline_) {
        fired_ = true;
        context_->TryCancel();
        return;
      }
      cv_.wait_until(lock, *deadline_);
    }
  }

  grpc::ClientContext* context_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Clock::time_point> deadline_;
  bool stop_ = false;
  bool fired_ = false;
  std::thread thread_;
};

std::unique_ptr<xv1::Exchange::Stub> NewStub(const ConnectionOptions& conn,
                                             int* exit_code) {
  auto channel = Connect(conn, Endpoint::kExchange);
  if (!channel.ok()) {
    *exit_code =
        ReportLocalError("connect", channel.status().message(), kExitUsage);
    return nullptr;
  }
  return xv1::Exchange::NewStub(*channel);
}

}  // namespace

int Publish(const ConnectionOptions& conn, const PublishOptions& options) {
  // Parse everything first: a typo in the third file should not leave the
  // first two published.
  std::vector<xv1::PublishRequest> requests(options.files.size());
  for (size_t i = 0; i < options.files.size(); ++i) {
    const std::string& file = options.files[i];
    auto data = ReadFile(file);
    if (!data.ok()) {
      return ReportLocalError(file, data.status().message(), kExitUsage);
    }
    xv1::Envelope* env = requests[i].mutable_envelope();
    if (auto st = ParseJson(*data, env); !st.ok()) {
      return ReportLocalError(file, st.message(), kExitUsage);
    }
    if (options.fresh_key) {
      env->set_idempotency_key(
          absl::StrCat(env->idempotency_key(), "-", NewMessageId()));
    }
  }
  if (options.dry_run) {
    for (const auto& r : requests) PrintJson(r.envelope(), conn.pretty);
    return kExitOk;
  }

  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  for (size_t i = 0; i < requests.size(); ++i) {
    grpc::ClientContext ctx;
    PrepareContext(conn, /*with_deadline=*/true, &ctx);
    xv1::PublishReceipt receipt;
    grpc::Status st = stub->Publish(&ctx, requests[i], &receipt);
    if (st.ok()) {
      PrintJson(receipt, conn.pretty, /*all_fields=*/true);
      continue;
    }
    const int code =
        ReportRpcError(absl::StrCat("publish ", options.files[i]), st);
    if (code == kExitUnavailable) {
      if (i + 1 < requests.size()) {
        std::cerr << "ehxctl: " << requests.size() - i - 1
                  << " file(s) not attempted\n";
      }
      return code;
    }
    if (rc == kExitOk) rc = code;
  }
  return rc;
}

int Fetch(const ConnectionOptions& conn, const FetchOptions& options) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::FetchRequest req;
  req.set_max_messages(options.max);
  req.set_lease_seconds(options.lease_seconds);
  xv1::FetchResponse resp;
  {
    grpc::ClientContext ctx;
    PrepareContext(conn, true, &ctx);
    grpc::Status st = stub->Fetch(&ctx, req, &resp);
    if (!st.ok()) return ReportRpcError("fetch", st);
  }
  for (const auto& d : resp.deliveries()) PrintJson(d, conn.pretty);
  if (!options.ack || resp.deliveries_size() == 0) return kExitOk;

  xv1::AckRequest ack;
  for (const auto& d : resp.deliveries()) {
    auto* item = ack.add_items();
    item->set_delivery_id(d.delivery_id());
    item->set_ok(true);
  }
  xv1::AckResponse ack_resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->Ack(&ctx, ack, &ack_resp);
  if (!st.ok()) return ReportRpcError("ack", st);
  std::cerr << "ehxctl: acked " << ack_resp.applied() << " of "
            << ack.items_size() << "\n";
  return kExitOk;
}

int Ack(const ConnectionOptions& conn, const AckOptions& options) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::AckRequest req;
  for (uint64_t id : options.ids) {
    auto* item = req.add_items();
    item->set_delivery_id(id);
    item->set_ok(!options.nack);
    if (options.nack) {
      item->set_permanent(options.permanent);
      item->set_reason(options.reason);
    }
  }
  xv1::AckResponse resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->Ack(&ctx, req, &resp);
  if (!st.ok()) return ReportRpcError(options.nack ? "nack" : "ack", st);
  PrintJson(resp, conn.pretty, /*all_fields=*/true);
  if (resp.applied() < req.items_size()) {
    std::cerr << "ehxctl: " << req.items_size() - resp.applied()
              << " id(s) unknown or not yours\n";
  }
  return kExitOk;
}

int Tail(const ConnectionOptions& conn, const TailOptions& options) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;

  grpc::ClientContext ctx;
  PrepareContext(conn, /*with_deadline=*/false, &ctx);
  Watchdog watchdog(&ctx);
  if (options.timeout_seconds > 0) {
    watchdog.Arm(Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(
                                    options.timeout_seconds * 1000)));
  }
  auto stream = stub->Subscribe(&ctx);
  xv1::SubscribeRequest start;
  start.mutable_start()->set_window(options.window);
  // A failed first write shows up as the status from Finish().
  bool writable = stream->Write(start);

  int received = 0;
  bool done = options.count > 0 && received >= options.count;
  xv1::Delivery delivery;
  while (writable && stream->Read(&delivery)) {
    // After --count, deliveries that still arrive during the grace period
    // are neither printed nor acked: the gateway redelivers them.
    if (done) continue;
    PrintJson(delivery, conn.pretty);
    ++received;
    if (!options.no_ack) {
      xv1::SubscribeRequest ack;
      ack.mutable_ack()->set_delivery_id(delivery.delivery_id());
      ack.mutable_ack()->set_ok(true);
      if (!stream->Write(ack)) {
        std::cerr << "ehxctl: tail: stream closed before ack of delivery "
                  << delivery.delivery_id() << " was sent\n";
        break;
      }
    }
    if (options.count > 0 && received >= options.count) {
      done = true;
      // Half-close and give the gateway a moment to apply the acks and
      // end the stream; cancel if it does not.
      stream->WritesDone();
      watchdog.Arm(Clock::now() + std::chrono::seconds(2));
    }
  }
  grpc::Status st = stream->Finish();
  const bool ours = watchdog.fired();
  if (done) return kExitOk;
  if (st.ok() ||
      (ours && (st.error_code() == grpc::StatusCode::CANCELLED ||
                st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED))) {
    if (options.count > 0) {
      std::cerr << "ehxctl: tail: got " << received << " of " << options.count
                << " deliveries before "
                << (ours ? "--timeout" : "the gateway ended the stream")
                << "\n";
      return kExitFailure;
    }
    return kExitOk;
  }
  return ReportRpcError("tail", st);
}

}  // namespace ehx::ctl
