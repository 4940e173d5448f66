// Maps a call's TLS peer to an agency id.
#ifndef EHX_SERVER_PEER_H_
#define EHX_SERVER_PEER_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/statusor.h"

namespace ehx::server {

// Prefix of the URI SAN that names an agency in a client certificate.
inline constexpr char kAgencyUriPrefix[] = "urn:ehx:agency:";

// The agency named by the peer certificate's URI SAN
// (urn:ehx:agency:<id>). In dev_plaintext mode the "x-ehx-dev-agency"
// metadata is used instead. UNAUTHENTICATED if neither names exactly one.
absl::StatusOr<std::string> PeerAgency(const grpc::ServerContextBase& ctx,
                                       bool dev_plaintext);

}  // namespace ehx::server

#endif  // EHX_SERVER_PEER_H_
