#include <deque>
#include <mutex>
#include <set>

#include "common/logging.h"
#include "common/status_util.h"
#include "server/peer.h"
#include "server/services.h"

namespace ehx::server {

using ehx::exchange::v1::Delivery;
using ehx::exchange::v1::SubscribeRequest;

namespace {

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx,
                                    const absl::Status& st) {
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpcStatus(st));
  return r;
}

// A Subscribe stream: keeps up to `window` deliveries in flight, reads
// acks, and returns unacknowledged deliveries when the stream ends.
// Callbacks from the core capture `state_` and check that the reactor is
// still alive before touching it.
class SubscribeReactor final
    : public grpc::ServerBidiReactor<SubscribeRequest, Delivery> {
 public:
  SubscribeReactor(pipeline::GatewayCore* core, std::string agency)
      : core_(core), state_(std::make_shared<State>()) {
    state_->self = this;
    state_->agency = std::move(agency);
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> l(state_->mu);
    if (!ok) {  // client half-closed or went away
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (req_.has_start()) {
      if (started_) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "start sent twice"));
        return;
      }
      started_ = true;
      window_ = req_.start().window() > 0
                    ? std::min(req_.start().window(), 1000)
                    : 64;
      std::weak_ptr<State> weak = state_;
      token_ = core_->Watch(state_->agency, [weak] {
        if (auto s = weak.lock()) {
          std::lock_guard<std::recursive_mutex> l(s->mu);
          if (s->self) s->self->PumpLocked();
        }
      });
      PumpLocked();
    } else if (req_.has_ack()) {
      if (!started_) {
        FinishLocked(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                  "send start first"));
        return;
      }
      const auto& a = req_.ack();
      if (inflight_.erase(a.delivery_id()) > 0) {
        std::weak_ptr<State> weak = state_;
        core_->Ack(
            state_->agency,
            {AckItem{a.delivery_id(), a.ok(), a.permanent(), a.reason()}},
            [weak](absl::StatusOr<int>) {
              if (auto s = weak.lock()) {
                std::lock_guard<std::recursive_mutex> l(s->mu);
                if (s->self) s->self->PumpLocked();
              }
            });
      }
    }
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> l(state_->mu);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    if (finish_pending_) {
      Finish(finish_status_);
      return;
    }
    WriteNextLocked();
  }

  void OnDone() override {
    std::vector<uint64_t> unacked;
    {
      std::lock_guard<std::recursive_mutex> l(state_->mu);
      state_->self = nullptr;
      unacked.assign(inflight_.begin(), inflight_.end());
      // Queued but unwritten deliveries are in inflight_ too.
    }
    if (token_) core_->Unwatch(token_);
    core_->Release(state_->agency, unacked);
    delete this;
  }

 private:
  struct State {
    std::recursive_mutex mu;
    SubscribeReactor* self = nullptr;
    std::string agency;
  };

  void PumpLocked() {
    if (finishing_ || !started_) return;
    if (fetching_) {
      wake_pending_ = true;
      return;
    }
    const int room = window_ - static_cast<int>(inflight_.size());
    if (room <= 0) return;
    fetching_ = true;
    wake_pending_ = false;
    std::weak_ptr<State> weak = state_;
    core_->Fetch(state_->agency, room, 0,
                 [weak, core = core_, agency = state_->agency](
                     absl::StatusOr<std::vector<Delivery>> r) {
                   auto s = weak.lock();
                   if (!s) return;
                   std::lock_guard<std::recursive_mutex> l(s->mu);
                   if (s->self) {
                     s->self->OnFetched(std::move(r));
                   } else if (r.ok()) {
                     // The stream ended meanwhile: nothing was sent.
                     std::vector<uint64_t> ids;
                     for (const auto& d : *r) ids.push_back(d.delivery_id());
                     // The core is alive: it owns the thread calling us.
                     core->Release(agency, ids);
                   }
                 });
  }

  void OnFetched(absl::StatusOr<std::vector<Delivery>> r) {
    fetching_ = false;
    if (!r.ok()) {
      FinishLocked(ToGrpcStatus(r.status()));
      return;
    }
    for (auto& d : *r) {
      inflight_.insert(d.delivery_id());
      queue_.push_back(std::move(d));
    }
    WriteNextLocked();
    if (wake_pending_ ||
        (!r->empty() && static_cast<int>(inflight_.size()) < window_)) {
      PumpLocked();
    }
  }

  void WriteNextLocked() {
    if (writing_ || finishing_ || queue_.empty()) return;
    writing_ = true;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    StartWrite(&current_);
  }

  void FinishLocked(grpc::Status st) {
    if (finishing_) return;
    finishing_ = true;
    if (writing_) {
      finish_pending_ = true;
      finish_status_ = std::move(st);
      return;
    }
    Finish(std::move(st));
  }

  pipeline::GatewayCore* core_;
  std::shared_ptr<State> state_;
  SubscribeRequest req_;
  Delivery current_;
  std::deque<Delivery> queue_;
  std::set<uint64_t> inflight_;
  int window_ = 64;
  uint64_t token_ = 0;
  bool started_ = false, fetching_ = false, wake_pending_ = false;
  bool writing_ = false, finishing_ = false, finish_pending_ = false;
  grpc::Status finish_status_;
};

}  // namespace

absl::StatusOr<std::string> ExchangeService::Caller(
    grpc::CallbackServerContext* ctx) {
  absl::StatusOr<std::string> agency = PeerAgency(*ctx, dev_);
  if (!agency.ok()) return agency.status();
  if (!core_->IsActiveAgency(*agency)) {
    return absl::PermissionDeniedError(
        "agency is not registered or is decommissioned");
  }
  return agency;
}

grpc::ServerUnaryReactor* ExchangeService::Publish(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::PublishRequest* req,
    ehx::exchange::v1::PublishReceipt* resp) {
  absl::StatusOr<std::string> agency = Caller(ctx);
  if (!agency.ok()) return FinishNow(ctx, agency.status());
  auto* reactor = ctx->DefaultReactor();
  core_->Publish(
      *agency, req->envelope(),
      [reactor, resp](absl::StatusOr<ehx::exchange::v1::PublishReceipt> r) {
        if (r.ok()) {
          *resp = std::move(*r);
          reactor->Finish(grpc::Status::OK);
        } else {
          reactor->Finish(ToGrpcStatus(r.status()));
        }
      });
  return reactor;
}

grpc::ServerBidiReactor<SubscribeRequest, Delivery>* ExchangeService::Subscribe(
    grpc::CallbackServerContext* ctx) {
  absl::StatusOr<std::string> agency = Caller(ctx);
  if (!agency.ok()) {
    class Refuse : public grpc::ServerBidiReactor<SubscribeRequest, Delivery> {
     public:
      explicit Refuse(grpc::Status st) { Finish(std::move(st)); }
      void OnDone() override { delete this; }
    };
    return new Refuse(ToGrpcStatus(agency.status()));
  }
  return new SubscribeReactor(core_, *agency);
}

grpc::ServerUnaryReactor* ExchangeService::Fetch(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::FetchRequest* req,
    ehx::exchange::v1::FetchResponse* resp) {
  absl::StatusOr<std::string> agency = Caller(ctx);
  if (!agency.ok()) return FinishNow(ctx, agency.status());
  if (req->max_messages() < 0 || req->max_messages() > 500) {
    return FinishNow(ctx, InvalidArgumentWithViolations(
                              "max_messages out of range",
                              {{"max_messages", "range: must be 0..500"}}));
  }
  auto* reactor = ctx->DefaultReactor();
  core_->Fetch(*agency, req->max_messages(), req->lease_seconds(),
               [reactor, resp](absl::StatusOr<std::vector<Delivery>> r) {
                 if (!r.ok()) {
                   reactor->Finish(ToGrpcStatus(r.status()));
                   return;
                 }
                 for (auto& d : *r) *resp->add_deliveries() = std::move(d);
                 reactor->Finish(grpc::Status::OK);
               });
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::Ack(
    grpc::CallbackServerContext* ctx, const ehx::exchange::v1::AckRequest* req,
    ehx::exchange::v1::AckResponse* resp) {
  absl::StatusOr<std::string> agency = Caller(ctx);
  if (!agency.ok()) return FinishNow(ctx, agency.status());
  std::vector<AckItem> items;
  for (const auto& i : req->items()) {
    items.push_back(
        AckItem{i.delivery_id(), i.ok(), i.permanent(), i.reason()});
  }
  auto* reactor = ctx->DefaultReactor();
  core_->Ack(*agency, std::move(items), [reactor, resp](absl::StatusOr<int> r) {
    if (!r.ok()) {
      reactor->Finish(ToGrpcStatus(r.status()));
      return;
    }
    resp->set_applied(*r);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace ehx::server
