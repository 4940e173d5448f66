// ehxctl's commands. Each returns a process exit code (see client.h) and
// prints its result to stdout and its errors to stderr.
#ifndef EHX_TOOLS_EHXCTL_COMMANDS_H_
#define EHX_TOOLS_EHXCTL_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/tools/ehxctl/client.h"

namespace ehx::ctl {

// --- Exchange API (exchange_commands.cc) ---

struct PublishOptions {
  std::vector<std::string> files;
  // Appends a fresh suffix to each envelope's idempotency key.
  bool fresh_key = false;
  // Parse and check the files locally only.
  bool dry_run = false;
};
int Publish(const ConnectionOptions& conn, const PublishOptions& options);

struct FetchOptions {
  int max = 0;
  int lease_seconds = 0;
  bool ack = false;
};
int Fetch(const ConnectionOptions& conn, const FetchOptions& options);

struct AckOptions {
  std::vector<uint64_t> ids;
  bool nack = false;
  bool permanent = false;
  std::string reason;
};
int Ack(const ConnectionOptions& conn, const AckOptions& options);

struct TailOptions {
  bool no_ack = false;
  int count = 0;
  double timeout_seconds = 0;
  int window = 0;
};
int Tail(const ConnectionOptions& conn, const TailOptions& options);

// --- Admin API (admin_commands.cc) ---

int Status(const ConnectionOptions& conn);

struct DeadLetterOptions {
  std::string agency;
  int limit = 0;
  bool all = false;
  std::vector<uint64_t> ids;
};
int ListDeadLetters(const ConnectionOptions& conn,
                    const DeadLetterOptions& options);
int ReplayDeadLetters(const ConnectionOptions& conn,
                      const DeadLetterOptions& options);
// Admin.PurgeExpired: one retention purge pass now.
int PurgeExpired(const ConnectionOptions& conn);
// Admin.ReencryptStore: re-seal stored payloads under the active key.
int ReencryptStore(const ConnectionOptions& conn);

int ShowCase(const ConnectionOptions& conn, const std::string& case_ref);

int PeekMailbox(const ConnectionOptions& conn, const std::string& agency,
                int limit);

// --- grpc.health.v1 (health.cc) ---

struct HealthOptions {
  std::string service;
  bool admin = false;
};
int Health(const ConnectionOptions& conn, const HealthOptions& options);

// --- Audit (audit_commands.cc): offline, no gateway involved ---

struct AuditVerifyOptions {
  // The gateway's SQLite store file.
  std::string db;
  // PEM public key; default "<db>.audit-key.pem.pub".
  std::string public_key;
};
// Exit 0 when the chain and every signature verify, 1 naming the first bad
// record otherwise, 2 when the store or key cannot be read.
int AuditVerify(const AuditVerifyOptions& options);

// --- Adapter dry runs (adapter_commands.cc): no gateway involved ---

struct AdapterOptions {
  // A path to an adapter .so, or a name resolved to
  // $EHX_PLUGIN_DIR/ehx_adapter_<name>.so or <ehxctl dir>/../plugins/.
  std::string adapter;
  // YAML file holding the plugin's config mapping (empty: no config).
  std::string config;
  // The agency the adapter publishes as.
  std::string agency = "dry-run";
  // check: native input files; render: envelope JSON files.
  std::vector<std::string> files;
  // render: write each result to this directory under its file_name
  // instead of stdout.
  std::string out_dir;
  // Let the adapter change the `state_dir` folders its config names. By
  // default a dry run works on a scratch copy of each (the adapter reads
  // the real state; what it writes is thrown away).
  bool write_state = false;
};

// Resolves --adapter as described in AdapterOptions. Exposed for tests.
absl::StatusOr<std::string> ResolveAdapterPath(const std::string& adapter);

// Feeds each file to the adapter's ingest() with a capturing host whose
// publish runs the gateway's validator; prints every accepted envelope as a
// JSON line on stdout and every record error on stderr. 0 when every
// record was accepted, 3 when an input or a record was refused, 2 for bad
// arguments/config/unreadable files, 1 when the adapter cannot be loaded or
// does not ingest.
int AdapterCheck(const ConnectionOptions& conn, const AdapterOptions& options,
                 bool verbose);

// Wraps each envelope in a Delivery and prints (or writes to --out-dir)
// what the adapter's render() makes of it. Exit codes as AdapterCheck; a
// refusal by the adapter is 3.
int AdapterRender(const ConnectionOptions& conn, const AdapterOptions& options,
                  bool verbose);

}  // namespace ehx::ctl

#endif  // EHX_TOOLS_EHXCTL_COMMANDS_H_
