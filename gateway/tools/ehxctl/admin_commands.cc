// status, dead-letters, case show, mailbox peek: the Admin API.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <iostream>

#include "ehx/exchange/v1/admin_service.grpc.pb.h"
#include "gateway/tools/ehxctl/commands.h"

namespace ehx::ctl {
namespace {

namespace xv1 = ::ehx::exchange::v1;

std::unique_ptr<xv1::Admin::Stub> NewStub(const ConnectionOptions& conn,
                                          int* exit_code) {
  auto channel = Connect(conn, Endpoint::kAdmin);
  if (!channel.ok()) {
    *exit_code =
        ReportLocalError("connect", channel.status().message(), kExitUsage);
    return nullptr;
  }
  return xv1::Admin::NewStub(*channel);
}

}  // namespace

int Status(const ConnectionOptions& conn) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  xv1::GatewayStatus resp;
  grpc::Status st = stub->GetStatus(&ctx, xv1::GetStatusRequest(), &resp);
  if (!st.ok()) return ReportRpcError("status", st);
  PrintJson(resp, conn.pretty, /*all_fields=*/true);
  return kExitOk;
}

int ListDeadLetters(const ConnectionOptions& conn,
                    const DeadLetterOptions& options) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::ListDeadLettersRequest req;
  req.set_agency(options.agency);
  req.set_limit(options.limit);
  xv1::ListDeadLettersResponse resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->ListDeadLetters(&ctx, req, &resp);
  if (!st.ok()) return ReportRpcError("dead-letters list", st);
  for (const auto& d : resp.dead_letters()) PrintJson(d, conn.pretty);
  return kExitOk;
}

int ReplayDeadLetters(const ConnectionOptions& conn,
                      const DeadLetterOptions& options) {
  if (options.all == !options.ids.empty()) {
    return ReportLocalError("dead-letters replay",
                            "give delivery ids or --all (not both)",
                            kExitUsage);
  }
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::ReplayDeadLettersRequest req;
  for (uint64_t id : options.ids) req.add_delivery_ids(id);
  req.set_all(options.all);
  req.set_agency(options.agency);
  xv1::ReplayDeadLettersResponse resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->ReplayDeadLetters(&ctx, req, &resp);
  if (!st.ok()) return ReportRpcError("dead-letters replay", st);
  PrintJson(resp, conn.pretty, /*all_fields=*/true);
  return kExitOk;
}

int PurgeExpired(const ConnectionOptions& conn) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::PurgeExpiredRequest req;
  xv1::PurgeExpiredResponse resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->PurgeExpired(&ctx, req, &resp);
  if (!st.ok()) return ReportRpcError("purge", st);
  PrintJson(resp, conn.pretty, /*all_fields=*/true);
  return kExitOk;
}

int ReencryptStore(const ConnectionOptions& conn) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::ReencryptStoreRequest req;
  xv1::ReencryptStoreResponse resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->ReencryptStore(&ctx, req, &resp);
  if (!st.ok()) return ReportRpcError("store reencrypt", st);
  PrintJson(resp, conn.pretty, /*all_fields=*/true);
  return kExitOk;
}

int ShowCase(const ConnectionOptions& conn, const std::string& case_ref) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::GetCaseRecordRequest req;
  req.set_case_ref(case_ref);
  ehx::record::v1::CaseRecord resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->GetCaseRecord(&ctx, req, &resp);
  // The case reference is not repeated in the error: it identifies a family.
  if (!st.ok()) return ReportRpcError("case show", st);
  PrintJson(resp, conn.pretty);
  return kExitOk;
}

int PeekMailbox(const ConnectionOptions& conn, const std::string& agency,
                int limit) {
  int rc = kExitOk;
  auto stub = NewStub(conn, &rc);
  if (!stub) return rc;
  xv1::PeekMailboxRequest req;
  req.set_agency(agency);
  req.set_limit(limit);
  xv1::PeekMailboxResponse resp;
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Status st = stub->PeekMailbox(&ctx, req, &resp);
  if (!st.ok()) return ReportRpcError("mailbox peek " + agency, st);
  for (const auto& d : resp.deliveries()) PrintJson(d, conn.pretty);
  return kExitOk;
}

}  // namespace ehx::ctl
