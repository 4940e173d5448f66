// Service implementations (internal to the server library). Kept apart
// from server.h so only the server's own files pull in gRPC stubs.
#ifndef EHX_SERVER_SERVICES_H_
#define EHX_SERVER_SERVICES_H_

#include <memory>
#include <set>
#include <string>

#include "ehx/exchange/v1/admin_service.grpc.pb.h"
#include "ehx/exchange/v1/exchange_service.grpc.pb.h"
#include "pipeline/gateway_core.h"

namespace ehx::server {

// Exchange API over the callback API; never blocks a reactor thread.
class ExchangeService final
    : public ehx::exchange::v1::Exchange::CallbackService {
 public:
  ExchangeService(pipeline::GatewayCore* core, bool dev_plaintext)
      : core_(core), dev_(dev_plaintext) {}

  grpc::ServerUnaryReactor* Publish(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::PublishRequest* req,
      ehx::exchange::v1::PublishReceipt* resp) override;
  grpc::ServerBidiReactor<ehx::exchange::v1::SubscribeRequest,
                          ehx::exchange::v1::Delivery>*
  Subscribe(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* Fetch(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::FetchRequest* req,
      ehx::exchange::v1::FetchResponse* resp) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx,
                                const ehx::exchange::v1::AckRequest* req,
                                ehx::exchange::v1::AckResponse* resp) override;

 private:
  // The caller's agency, or a finished reactor's error.
  absl::StatusOr<std::string> Caller(grpc::CallbackServerContext* ctx);
  pipeline::GatewayCore* core_;
  bool dev_;
};

// Admin API: operators only. Reads are short SQLite reads.
class AdminService final : public ehx::exchange::v1::Admin::CallbackService {
 public:
  AdminService(pipeline::GatewayCore* core, bool dev_plaintext,
               std::set<std::string> operators)
      : core_(core), dev_(dev_plaintext), operators_(std::move(operators)) {}

  grpc::ServerUnaryReactor* GetStatus(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::GetStatusRequest* req,
      ehx::exchange::v1::GatewayStatus* resp) override;
  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::ListDeadLettersRequest* req,
      ehx::exchange::v1::ListDeadLettersResponse* resp) override;
  grpc::ServerUnaryReactor* ReplayDeadLetters(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::ReplayDeadLettersRequest* req,
      ehx::exchange::v1::ReplayDeadLettersResponse* resp) override;
  grpc::ServerUnaryReactor* PurgeExpired(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::PurgeExpiredRequest* req,
      ehx::exchange::v1::PurgeExpiredResponse* resp) override;
  grpc::ServerUnaryReactor* ReencryptStore(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::ReencryptStoreRequest* req,
      ehx::exchange::v1::ReencryptStoreResponse* resp) override;
  grpc::ServerUnaryReactor* GetCaseRecord(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::GetCaseRecordRequest* req,
      ehx::record::v1::CaseRecord* resp) override;
  grpc::ServerUnaryReactor* PeekMailbox(
      grpc::CallbackServerContext* ctx,
      const ehx::exchange::v1::PeekMailboxRequest* req,
      ehx::exchange::v1::PeekMailboxResponse* resp) override;

 private:
  // The operator's agency id, or why the caller is not one.
  absl::StatusOr<std::string> Authorize(grpc::CallbackServerContext* ctx);
  // Audits the action, then finishes the call with `result`.
  grpc::ServerUnaryReactor* Audited(grpc::CallbackServerContext* ctx,
                                    const std::string& actor,
                                    const std::string& action,
                                    const std::string& case_ref,
                                    const std::string& detail,
                                    absl::Status result);
  pipeline::GatewayCore* core_;
  bool dev_;
  std::set<std::string> operators_;
};

}  // namespace ehx::server

#endif  // EHX_SERVER_SERVICES_H_
