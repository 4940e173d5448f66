#include "common/status_util.h"
#include "server/peer.h"
#include "server/services.h"

namespace ehx::server {

namespace {
grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx,
                               const absl::Status& st) {
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpcStatus(st));
  return r;
}
}  // namespace

absl::Status AdminService::Authorize(grpc::CallbackServerContext* ctx) {
  absl::StatusOr<std::string> who = PeerAgency(*ctx, dev_);
  if (!who.ok()) return who.status();
  if (!operators_.count(*who)) {
    return absl::PermissionDeniedError("the Admin API is for operators only");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AdminService::GetStatus(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::GetStatusRequest*,
    ehx::exchange::v1::GatewayStatus* resp) {
  if (absl::Status a = Authorize(ctx); !a.ok()) return Done(ctx, a);
  auto r = core_->Status();
  if (r.ok()) *resp = *r;
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* AdminService::ListDeadLetters(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::ListDeadLettersRequest* req,
    ehx::exchange::v1::ListDeadLettersResponse* resp) {
  if (absl::Status a = Authorize(ctx); !a.ok()) return Done(ctx, a);
  auto r = core_->DeadLetters(req->agency(), req->limit());
  if (r.ok()) {
    for (auto& d : *r) *resp->add_dead_letters() = std::move(d);
  }
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* AdminService::ReplayDeadLetters(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::ReplayDeadLettersRequest* req,
    ehx::exchange::v1::ReplayDeadLettersResponse* resp) {
  if (absl::Status a = Authorize(ctx); !a.ok()) return Done(ctx, a);
  if (!req->all() && req->delivery_ids().empty()) {
    return Done(ctx, InvalidArgumentWithViolations(
                         "nothing to replay",
                         {{"delivery_ids", "required: give ids or all=true"}}));
  }
  std::vector<uint64_t> ids(req->delivery_ids().begin(),
                            req->delivery_ids().end());
  auto r = core_->Replay(ids, req->all(), req->agency());
  if (r.ok()) resp->set_replayed(*r);
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* AdminService::GetCaseRecord(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::GetCaseRecordRequest* req,
    ehx::record::v1::CaseRecord* resp) {
  if (absl::Status a = Authorize(ctx); !a.ok()) return Done(ctx, a);
  auto r = core_->CaseRecord(req->case_ref());
  if (r.ok()) *resp = *r;
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* AdminService::PeekMailbox(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::PeekMailboxRequest* req,
    ehx::exchange::v1::PeekMailboxResponse* resp) {
  if (absl::Status a = Authorize(ctx); !a.ok()) return Done(ctx, a);
  auto r = core_->Peek(req->agency(), req->limit());
  if (r.ok()) {
    for (auto& d : *r) *resp->add_deliveries() = std::move(d);
  }
  return Done(ctx, r.status());
}

}  // namespace ehx::server
