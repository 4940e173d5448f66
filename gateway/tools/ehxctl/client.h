// ehxctl's connection options, channel set-up, exit codes and output
// helpers. Private to ehxctl; gRPC types are only forward declared here.
#ifndef EHX_TOOLS_EHXCTL_CLIENT_H_
#define EHX_TOOLS_EHXCTL_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class Message;
}
namespace grpc {
class Channel;
class ClientContext;
class Status;
}  // namespace grpc

namespace ehx::ctl {

// Process exit codes (documented in `ehxctl --help`).
enum ExitCode : int {
  kExitOk = 0,
  // A local failure or an unexpected gateway error (INTERNAL, UNKNOWN...).
  kExitFailure = 1,
  // Bad command line or unreadable/unparseable input files.
  kExitUsage = 2,
  // The gateway refused the request (invalid, permission, exists...).
  kExitRefused = 3,
  // The gateway could not be reached, the TLS handshake failed, or it is
  // not serving.
  kExitUnavailable = 4,
};

// Which listener a command talks to.
enum class Endpoint { kExchange, kAdmin };

// Command-line connection settings shared by every command.
struct ConnectionOptions {
  std::string gateway = "localhost:7443";
  std::string admin = "localhost:7444";
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // With `agency`: ca.pem, <agency>.pem, <agency>.key in this directory
  // (the layout of deploy/pki/make-dev-pki.sh).
  std::string pki_dir;
  std::string agency;
  // Dev mode: no TLS; the agency goes into "x-ehx-dev-agency" metadata.
  std::string plaintext_agency;
  // Overrides the name checked against the server certificate.
  std::string tls_server_name;
  // Deadline of unary calls, seconds.
  double deadline_seconds = 10;
  // Indented JSON output.
  bool pretty = false;
};

// A channel to `endpoint`. For the Admin listener an empty agency with
// --pki-dir means the demo operator "ops". Errors are local (unreadable
// files, missing flags): report them with kExitUsage.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& options, Endpoint endpoint);

// Adds dev-mode metadata and (if `with_deadline`) the unary deadline.
void PrepareContext(const ConnectionOptions& options, bool with_deadline,
                    grpc::ClientContext* context);

// Unless `verbose` (or GRPC_VERBOSITY is set), drops gRPC core's own log
// lines (handshake failures etc.): ehxctl reports errors itself. Call once,
// before any channel is made.
void ConfigureGrpcLogging(bool verbose);

// Maps a gateway status to an exit code.
int ExitCodeFor(const absl::Status& status);

// Prints "ehxctl: <what>: <CODE>: <message>" and every google.rpc.BadRequest
// field violation to stderr; returns ExitCodeFor(status).
int ReportRpcError(absl::string_view what, const grpc::Status& status);

// Prints a local error and returns `code`.
int ReportLocalError(absl::string_view what, absl::string_view message,
                     int code);

// `message` as protobuf JSON (one line unless `pretty`), with a newline, to
// stdout, flushed. `all_fields` also prints zero/empty fields (for small
// results such as counts, where 0 is the answer).
void PrintJson(const google::protobuf::Message& message, bool pretty,
               bool all_fields = false);

// Reads a whole file ("-" is stdin).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Parses protobuf JSON into `message`. The error never contains values
// from the input (they may be personal data): see SanitizeJsonError.
absl::Status ParseJson(absl::string_view json,
                       google::protobuf::Message* message);

// Rewrites a protobuf JSON parser error so that it keeps the schema path and
// the kind of error but no value from the input. Exposed for tests.
std::string SanitizeJsonError(absl::string_view message);

// Replaces every quoted substring of `text` ("..." or '...') with
// "<redacted>". An apostrophe inside or at the end of a word ("the child's
// episodes") is wording and kept; a single-quoted value runs to a quote that
// is not followed by a letter or digit, so 'O'Brien' is redacted whole.
std::string RedactQuoted(absl::string_view text);

}  // namespace ehx::ctl

#endif  // EHX_TOOLS_EHXCTL_CLIENT_H_
