#include "common/status_util.h"

#include <grpcpp/support/status.h>

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace ehx {

absl::Status InvalidArgumentWithViolations(std::string message,
                                           const Violations& violations) {
  google::rpc::BadRequest br;
  for (const auto& [field, description] : violations) {
    auto* v = br.add_field_violations();
    v->set_field(field);
    v->set_description(description);
  }
  absl::Status st = absl::InvalidArgumentError(std::move(message));
  st.SetPayload(kBadRequestTypeUrl, absl::Cord(br.SerializeAsString()));
  return st;
}

Violations ViolationsOf(const absl::Status& status) {
  Violations out;
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  if (!payload) return out;
  google::rpc::BadRequest br;
  if (!br.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : br.field_violations()) {
    out.emplace_back(v.field(), v.description());
  }
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  if (!payload) return grpc::Status(code, message);
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(message);
  auto* any = rpc.add_details();
  any->set_type_url(kBadRequestTypeUrl);
  any->set_value(std::string(*payload));
  return grpc::Status(code, message, rpc.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  google::rpc::Status rpc;
  if (!status.error_details().empty() &&
      rpc.ParseFromString(status.error_details())) {
    for (const auto& any : rpc.details()) {
      if (any.type_url() == kBadRequestTypeUrl) {
        out.SetPayload(kBadRequestTypeUrl, absl::Cord(any.value()));
      }
    }
  }
  return out;
}

}  // namespace ehx
