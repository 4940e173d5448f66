#include "server/peer.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <set>

namespace ehx::server {

absl::StatusOr<std::string> PeerAgency(const grpc::ServerContextBase& ctx,
                                       bool dev_plaintext) {
  if (dev_plaintext) {
    const auto& md = ctx.client_metadata();
    auto it = md.find("x-ehx-dev-agency");
    if (it == md.end()) {
      return absl::UnauthenticatedError(
          "dev mode: x-ehx-dev-agency metadata required");
    }
    return std::string(it->second.data(), it->second.size());
  }
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("client certificate required");
  }
  std::set<std::string> agencies;
  for (const char* prop :
       {GRPC_PEER_URI_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
    for (const auto& v : auth->FindPropertyValues(prop)) {
      std::string s(v.data(), v.size());
      if (s.rfind(kAgencyUriPrefix, 0) == 0) {
        agencies.insert(s.substr(sizeof(kAgencyUriPrefix) - 1));
      }
    }
  }
  if (agencies.size() != 1) {
    return absl::UnauthenticatedError(
        "client certificate must carry exactly one urn:ehx:agency: URI SAN");
  }
  return *agencies.begin();
}

}  // namespace ehx::server
