// ehxctl: the agency and operator command line for an ehx gateway.
//
//   ehxctl --pki-dir pki --agency early-help publish msg.json
//   ehxctl --pki-dir pki --agency school-oakfield tail --count 1
//   ehxctl --pki-dir pki status            (Admin API as the "ops" operator)
//   ehxctl adapter check --adapter folder --config cfg.yaml in.csv  (local)
//
// See `ehxctl --help` and `ehxctl <command> --help`.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "gateway/tools/ehxctl/client.h"
#include "gateway/tools/ehxctl/commands.h"

namespace ehx::ctl {
namespace {

constexpr char kFooter[] = R"(Identity:
  --pki-dir DIR --agency ID   uses DIR/ca.pem, DIR/ID.pem, DIR/ID.key (the
                              layout of deploy/pki/make-dev-pki.sh); admin
                              commands default to --agency ops.
  --ca/--cert/--key           explicit PEM files (override --pki-dir).
  --plaintext-agency ID       dev-mode gateway (no TLS, loopback only).
Environment: EHX_GATEWAY, EHX_ADMIN, EHX_PKI_DIR, EHX_AGENCY.

Exit codes:
  0 ok   1 other failure   2 usage or unreadable input
  3 refused by the gateway (invalid, permission denied, exists, not found)
  4 gateway unavailable, TLS handshake failed, deadline, not serving)";

int Run(int argc, char** argv) {
  CLI::App app{"ehxctl: publish, receive and administer ehx messages",
               "ehxctl"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();

  ConnectionOptions conn;
  app.add_option("--gateway", conn.gateway, "Exchange API address host:port")
      ->envname("EHX_GATEWAY")
      ->capture_default_str();
  app.add_option("--admin", conn.admin, "Admin API address host:port")
      ->envname("EHX_ADMIN")
      ->capture_default_str();
  app.add_option("--ca", conn.ca_file, "PEM CA bundle to trust");
  app.add_option("--cert", conn.cert_file, "PEM client certificate");
  app.add_option("--key", conn.key_file, "PEM client private key");
  app.add_option("--pki-dir", conn.pki_dir,
                 "Directory written by make-dev-pki.sh")
      ->envname("EHX_PKI_DIR");
  app.add_option("--agency", conn.agency,
                 "Agency id to call as (picks its cert in --pki-dir)")
      ->envname("EHX_AGENCY");
  app.add_option("--plaintext-agency", conn.plaintext_agency,
                 "Dev mode: no TLS, send this agency in x-ehx-dev-agency");
  app.add_option("--tls-server-name", conn.tls_server_name,
                 "Name to check in the server certificate");
  app.add_option("--deadline", conn.deadline_seconds,
                 "Deadline of each unary call, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--pretty", conn.pretty, "Indented JSON output");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Also show gRPC's own log lines");
  app.parse_complete_callback([&] { ConfigureGrpcLogging(verbose); });

  int rc = kExitOk;

  // publish
  PublishOptions publish;
  auto* publish_cmd = app.add_subcommand(
      "publish",
      "Publish envelopes (protobuf JSON, one per file; - is stdin) and print "
      "each receipt as a JSON line");
  publish_cmd->add_option("files", publish.files, "Envelope JSON files")
      ->required();
  publish_cmd->add_flag("--fresh-key", publish.fresh_key,
                        "Append a unique suffix to each idempotencyKey");
  publish_cmd->add_flag("--dry-run", publish.dry_run,
                        "Only parse the files and print the envelopes");
  publish_cmd->callback([&] { rc = Publish(conn, publish); });

  // fetch
  FetchOptions fetch;
  auto* fetch_cmd = app.add_subcommand(
      "fetch", "Lease deliveries from your mailbox; print them as JSON lines");
  fetch_cmd->add_option("--max", fetch.max, "At most this many (0: 50)")
      ->check(CLI::Range(0, 500));
  fetch_cmd
      ->add_option("--lease", fetch.lease_seconds,
                   "Lease seconds (0: gateway default)")
      ->check(CLI::NonNegativeNumber);
  fetch_cmd->add_flag("--ack", fetch.ack, "Acknowledge what was printed");
  fetch_cmd->callback([&] { rc = Fetch(conn, fetch); });

  // ack
  AckOptions ack;
  auto* ack_cmd = app.add_subcommand(
      "ack", "Acknowledge (or --nack) deliveries by delivery id");
  ack_cmd->add_option("ids", ack.ids, "Delivery ids")->required();
  ack_cmd->add_flag("--nack", ack.nack, "Reject instead of acknowledge");
  ack_cmd->add_flag("--permanent", ack.permanent,
                    "With --nack: dead-letter now instead of retrying");
  ack_cmd->add_option("--reason", ack.reason,
                      "With --nack: short machine reason, no personal data");
  ack_cmd->callback([&] {
    if ((ack.permanent || !ack.reason.empty()) && !ack.nack) {
      rc = ReportLocalError("ack", "--permanent/--reason need --nack",
                            kExitUsage);
      return;
    }
    rc = Ack(conn, ack);
  });

  // tail
  TailOptions tail;
  auto* tail_cmd = app.add_subcommand(
      "tail",
      "Subscribe to your mailbox: print each delivery as a JSON line and ack "
      "it");
  tail_cmd->add_flag("--no-ack", tail.no_ack,
                     "Do not acknowledge (deliveries come back later)");
  tail_cmd->add_option("--count", tail.count, "Exit after N deliveries")
      ->check(CLI::NonNegativeNumber);
  tail_cmd
      ->add_option("--timeout", tail.timeout_seconds,
                   "Exit after SECONDS (with --count: fail if fewer came)")
      ->check(CLI::NonNegativeNumber);
  tail_cmd
      ->add_option("--window", tail.window,
                   "Unacknowledged deliveries in flight (0: 64)")
      ->check(CLI::NonNegativeNumber);
  tail_cmd->callback([&] { rc = Tail(conn, tail); });

  // dead-letters
  auto* dl_cmd =
      app.add_subcommand("dead-letters", "List or replay dead letters (Admin)");
  dl_cmd->require_subcommand(1);
  DeadLetterOptions dl;
  auto* dl_list = dl_cmd->add_subcommand("list", "List dead letters");
  dl_list->add_option("--agency", dl.agency, "Only this recipient agency");
  dl_list->add_option("--limit", dl.limit, "At most this many (0: 100)")
      ->check(CLI::NonNegativeNumber);
  dl_list->callback([&] { rc = ListDeadLetters(conn, dl); });
  auto* dl_replay = dl_cmd->add_subcommand(
      "replay", "Put dead letters back into their mailboxes");
  dl_replay->add_option("ids", dl.ids, "Delivery ids");
  dl_replay->add_flag("--all", dl.all,
                      "Every dead letter (of --agency, or of all agencies)");
  dl_replay->add_option("--agency", dl.agency, "With --all: only this agency");
  dl_replay->callback([&] { rc = ReplayDeadLetters(conn, dl); });

  // purge
  app.add_subcommand("purge",
                     "Run a retention purge pass now (Admin; config "
                     "`retention`)")
      ->callback([&] { rc = PurgeExpired(conn); });
  auto* store_cmd = app.add_subcommand("store", "Store maintenance (Admin)");
  store_cmd->require_subcommand(1);
  store_cmd
      ->add_subcommand("reencrypt",
                       "Re-seal stored payloads under the active key")
      ->callback([&] { rc = ReencryptStore(conn); });

  // health
  HealthOptions health;
  auto* health_cmd = app.add_subcommand(
      "health", "grpc.health.v1 check; prints SERVING etc., exit 4 if not");
  health_cmd->add_option("--service", health.service,
                         "Service name (empty: the whole server)");
  health_cmd->add_flag("--admin-listener", health.admin,
                       "Check the Admin listener instead of the Exchange one");
  health_cmd->callback([&] { rc = Health(conn, health); });

  // status
  auto* status_cmd =
      app.add_subcommand("status", "Gateway state and mailbox depths (Admin)");
  status_cmd->callback([&] { rc = Status(conn); });

  // case show
  auto* case_cmd = app.add_subcommand("case", "Shared case records (Admin)");
  case_cmd->require_subcommand(1);
  std::string case_ref;
  auto* case_show =
      case_cmd->add_subcommand("show", "Print the shared record of a case");
  case_show->add_option("case_ref", case_ref, "Case reference")->required();
  case_show->callback([&] { rc = ShowCase(conn, case_ref); });

  // mailbox peek
  auto* mailbox_cmd = app.add_subcommand("mailbox", "Mailboxes (Admin)");
  mailbox_cmd->require_subcommand(1);
  std::string peek_agency;
  int peek_limit = 0;
  auto* peek = mailbox_cmd->add_subcommand(
      "peek", "Show queued deliveries of an agency without leasing them");
  peek->add_option("agency", peek_agency, "Agency id")->required();
  peek->add_option("--limit", peek_limit, "At most this many (0: 20)")
      ->check(CLI::NonNegativeNumber);
  peek->callback([&] { rc = PeekMailbox(conn, peek_agency, peek_limit); });

  // adapter check / adapter render (no gateway)
  auto* adapter_cmd = app.add_subcommand(
      "adapter", "Dry-run an adapter plugin locally (no gateway involved)");
  adapter_cmd->require_subcommand(1);
  AdapterOptions adapter;
  auto add_adapter_options = [&adapter](CLI::App* cmd) {
    cmd->add_option("--adapter", adapter.adapter,
                    "Adapter .so path, or a name (ehx_adapter_<name>.so in "
                    "$EHX_PLUGIN_DIR or <ehxctl dir>/../plugins)")
        ->required();
    cmd->add_option("--config", adapter.config,
                    "YAML file: the plugin's config mapping");
    cmd->add_option("--agency", adapter.agency,
                    "Agency the adapter publishes as")
        ->capture_default_str();
    cmd->add_flag("--write-state", adapter.write_state,
                  "Let the adapter change the state_dir folders its config "
                  "names (default: it works on a scratch copy)");
  };
  auto* check_cmd = adapter_cmd->add_subcommand(
      "check",
      "Ingest native files; print each accepted envelope as a JSON line and "
      "each record error (exit 3 if any input or record was refused)");
  add_adapter_options(check_cmd);
  check_cmd->add_option("files", adapter.files, "Native input files")
      ->required();
  check_cmd->callback([&] { rc = AdapterCheck(conn, adapter, verbose); });
  auto* render_cmd = adapter_cmd->add_subcommand(
      "render",
      "Render envelope JSON files in the adapter's native format (stdout or "
      "--out-dir)");
  add_adapter_options(render_cmd);
  render_cmd->add_option("--out-dir", adapter.out_dir,
                         "Write each result here under its file name");
  render_cmd->add_option("files", adapter.files, "Envelope JSON files")
      ->required();
  render_cmd->callback([&] { rc = AdapterRender(conn, adapter, verbose); });

  // audit verify (offline)
  auto* audit_cmd =
      app.add_subcommand("audit", "The tamper-evident audit trail");
  audit_cmd->require_subcommand(1);
  AuditVerifyOptions audit_opts;
  auto* verify_cmd = audit_cmd->add_subcommand(
      "verify",
      "Check the hash chain and signed checkpoints in a store file offline; "
      "names the first bad record");
  verify_cmd->add_option("db", audit_opts.db, "The gateway's SQLite store")
      ->required();
  verify_cmd->add_option("--public-key", audit_opts.public_key,
                         "PEM public key (default <db>.audit-key.pem.pub)");
  verify_cmd->callback([&] { rc = AuditVerify(audit_opts); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // --help and friends exit 0; real parse errors are usage errors.
    return code == 0 ? kExitOk : kExitUsage;
  }
  return rc;
}

}  // namespace
}  // namespace ehx::ctl

int main(int argc, char** argv) {
  try {
    return ehx::ctl::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "ehxctl: internal error: " << e.what() << "\n";
    return ehx::ctl::kExitFailure;
  }
}
