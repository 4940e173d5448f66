// absl::Status inside, grpc::Status at the edge.
#ifndef EHX_COMMON_STATUS_UTIL_H_
#define EHX_COMMON_STATUS_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace grpc {
class Status;
}

namespace ehx {

// Type URL under which a serialized google.rpc.BadRequest rides as an
// absl::Status payload.
inline constexpr char kBadRequestTypeUrl[] =
    "type.googleapis.com/google.rpc.BadRequest";

// (field path, description) pairs.
using Violations = std::vector<std::pair<std::string, std::string>>;

// INVALID_ARGUMENT carrying a BadRequest with `violations`.
absl::Status InvalidArgumentWithViolations(std::string message,
                                           const Violations& violations);

// Reads the violations back (empty if none).
Violations ViolationsOf(const absl::Status& status);

// Converts to a grpc::Status; a BadRequest payload becomes a
// google.rpc.Status in the error details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for clients: reads google.rpc.Status details if present.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace ehx

#endif  // EHX_COMMON_STATUS_UTIL_H_
