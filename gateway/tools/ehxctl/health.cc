// health: grpc.health.v1.Health/Check through a generic stub. Debian's
// gRPC ships no health.proto header, so the two tiny messages are encoded
// by hand:
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  // SERVING = 1
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <future>
#include <iostream>
#include <vector>

#include "gateway/tools/ehxctl/commands.h"

namespace ehx::ctl {
namespace {

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";

std::string EncodeRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0a);  // field 1, length-delimited
  size_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out.append(service);
  return out;
}

const char* StatusName(uint64_t s) {
  switch (s) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNRECOGNISED";
  }
}

}  // namespace

int Health(const ConnectionOptions& conn, const HealthOptions& options) {
  auto channel =
      Connect(conn, options.admin ? Endpoint::kAdmin : Endpoint::kExchange);
  if (!channel.ok()) {
    return ReportLocalError("connect", channel.status().message(), kExitUsage);
  }
  grpc::GenericStub stub(*channel);
  grpc::ClientContext ctx;
  PrepareContext(conn, true, &ctx);
  grpc::Slice slice(EncodeRequest(options.service));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, kCheckMethod, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status st) { done.set_value(std::move(st)); });
  grpc::Status st = done.get_future().get();
  if (!st.ok()) return ReportRpcError("health", st);

  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const auto& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) {
    return ReportLocalError("health", "unparseable HealthCheckResponse",
                            kExitFailure);
  }
  uint64_t status = 0;  // absent field = UNKNOWN
  for (int i = 0; i < fields.field_count(); ++i) {
    const auto& f = fields.field(i);
    if (f.number() == 1 &&
        f.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      status = f.varint();
    }
  }
  std::cout << StatusName(status) << "\n";
  std::cout.flush();
  return status == 1 ? kExitOk : kExitUnavailable;
}

}  // namespace ehx::ctl
