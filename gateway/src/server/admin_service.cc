#include "absl/strings/str_cat.h"
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

// An agency id from a request, for an audit detail: request text is not
// trusted to be an id, and audit records carry no free text.
std::string SafeId(const std::string& id) {
  if (id.size() > 64) return "(invalid)";
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return "(invalid)";
    }
  }
  return id.empty() ? "(all)" : id;
}
}  // namespace

absl::StatusOr<std::string> AdminService::Authorize(
    grpc::CallbackServerContext* ctx) {
  absl::StatusOr<std::string> who = PeerAgency(*ctx, dev_);
  if (!who.ok()) return who.status();
  if (!operators_.count(*who)) {
    return absl::PermissionDeniedError("the Admin API is for operators only");
  }
  return who;
}

// Every admin action, reads included, is audited before it is answered:
// the answer waits for the audit record to be durable, and an action that
// cannot be audited is answered UNAVAILABLE without its result.
grpc::ServerUnaryReactor* AdminService::Audited(
    grpc::CallbackServerContext* ctx, const std::string& actor,
    const std::string& action, const std::string& case_ref,
    const std::string& detail, absl::Status result) {
  auto* reactor = ctx->DefaultReactor();
  core_->AuditAdmin(
      actor, action, case_ref,
      absl::StrCat(detail, detail.empty() ? "" : " ",
                   "result=", absl::StatusCodeToString(result.code())),
      [reactor, result](absl::Status st) {
        if (!st.ok()) {
          reactor->Finish(ToGrpcStatus(absl::UnavailableError(
              "admin action not answered: its audit record failed")));
          return;
        }
        reactor->Finish(ToGrpcStatus(result));
      });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::GetStatus(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::GetStatusRequest*,
    ehx::exchange::v1::GatewayStatus* resp) {
  auto who = Authorize(ctx);
  if (!who.ok()) return Done(ctx, who.status());
  auto r = core_->Status();
  if (r.ok()) *resp = *r;
  return Audited(ctx, *who, "admin_status", "", "", r.status());
}

grpc::ServerUnaryReactor* AdminService::ListDeadLetters(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::ListDeadLettersRequest* req,
    ehx::exchange::v1::ListDeadLettersResponse* resp) {
  auto who = Authorize(ctx);
  if (!who.ok()) return Done(ctx, who.status());
  auto r = core_->DeadLetters(req->agency(), req->limit());
  if (r.ok()) {
    for (auto& d : *r) *resp->add_dead_letters() = std::move(d);
  }
  return Audited(ctx, *who, "admin_dead_letters", "",
                 absl::StrCat("agency=", SafeId(req->agency()),
                              " returned=", resp->dead_letters_size()),
                 r.status());
}

grpc::ServerUnaryReactor* AdminService::ReplayDeadLetters(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::ReplayDeadLettersRequest* req,
    ehx::exchange::v1::ReplayDeadLettersResponse* resp) {
  auto who = Authorize(ctx);
  if (!who.ok()) return Done(ctx, who.status());
  absl::Status st;
  if (!req->all() && req->delivery_ids().empty()) {
    st = InvalidArgumentWithViolations(
        "nothing to replay",
        {{"delivery_ids", "required: give ids or all=true"}});
  } else {
    std::vector<uint64_t> ids(req->delivery_ids().begin(),
                              req->delivery_ids().end());
    auto r = core_->Replay(ids, req->all(), req->agency());
    if (r.ok()) resp->set_replayed(*r);
    st = r.status();
  }
  return Audited(ctx, *who, "admin_replay", "",
                 absl::StrCat("agency=", SafeId(req->agency()),
                              " all=", req->all() ? "yes" : "no",
                              " ids=", req->delivery_ids_size(),
                              " replayed=", resp->replayed()),
                 st);
}

grpc::ServerUnaryReactor* AdminService::PurgeExpired(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::PurgeExpiredRequest* /*req*/,
    ehx::exchange::v1::PurgeExpiredResponse* resp) {
  auto who = Authorize(ctx);
  if (!who.ok()) return Done(ctx, who.status());
  auto r = core_->PurgeExpired();
  if (r.ok()) resp->set_purged(*r);
  return Audited(ctx, *who, "admin_purge", "",
                 absl::StrCat("purged=", r.ok() ? *r : 0), r.status());
}

grpc::ServerUnaryReactor* AdminService::ReencryptStore(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::ReencryptStoreRequest* /*req*/,
    ehx::exchange::v1::ReencryptStoreResponse* resp) {
  auto who = Authorize(ctx);
  if (!who.ok()) return Done(ctx, who.status());
  auto r = core_->Reencrypt();
  if (r.ok()) resp->set_reencrypted(*r);
  return Audited(ctx, *who, "admin_reencrypt", "",
                 absl::StrCat("reencrypted=", r.ok() ? *r : 0), r.status());
}

grpc::ServerUnaryReactor* AdminService::GetCaseRecord(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::GetCaseRecordRequest* req,
    ehx::record::v1::CaseRecord* resp) {
  auto who = Authorize(ctx);
  if (!who.ok()) return Done(ctx, who.status());
  auto r = core_->CaseRecord(req->case_ref());
  if (r.ok()) *resp = *r;
  // The case reference is audited as its pseudonym.
  return Audited(ctx, *who, "admin_case_show", req->case_ref(), "", r.status());
}

grpc::ServerUnaryReactor* AdminService::PeekMailbox(
    grpc::CallbackServerContext* ctx,
    const ehx::exchange::v1::PeekMailboxRequest* req,
    ehx::exchange::v1::PeekMailboxResponse* resp) {
  auto who = Authorize(ctx);
  if (!who.ok()) return Done(ctx, who.status());
  auto r = core_->Peek(req->agency(), req->limit());
  if (r.ok()) {
    for (auto& d : *r) *resp->add_deliveries() = std::move(d);
  }
  return Audited(ctx, *who, "admin_mailbox_peek", "",
                 absl::StrCat("agency=", SafeId(req->agency()),
                              " returned=", resp->deliveries_size()),
                 r.status());
}

}  // namespace ehx::server
