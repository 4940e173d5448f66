// adapter check / adapter render: load an adapter plugin without a gateway
// (plugin_host/loaded_adapter.h) behind a capturing Exchange whose Publish
// runs the gateway's own validator, and feed it native files or envelopes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_util.h"
#include "config/yaml_proto.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "gateway/tools/ehxctl/commands.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/time_util.h"
#include "plugin_host/loaded_adapter.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "validate/validate.h"
#include "yaml-cpp/yaml.h"

namespace ehx::ctl {
namespace {

namespace fs = std::filesystem;
namespace xv1 = ::ehx::exchange::v1;

// The directory of this executable (for <bin>/../plugins).
fs::path SelfDir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self.parent_path();
}

}  // namespace

absl::StatusOr<std::string> ResolveAdapterPath(const std::string& adapter) {
  if (adapter.empty()) return absl::InvalidArgumentError("--adapter is empty");
  if (adapter.find('/') != std::string::npos ||
      (adapter.size() > 3 && adapter.substr(adapter.size() - 3) == ".so")) {
    return adapter;
  }
  for (char c : adapter) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          "--adapter: a name is [a-z0-9_-]+ (or give a path to a .so)");
    }
  }
  const std::string file = "ehx_adapter_" + adapter + ".so";
  std::vector<fs::path> tried;
  if (const char* dir = std::getenv("EHX_PLUGIN_DIR"); dir && *dir) {
    tried.push_back(fs::path(dir) / file);
  }
  if (fs::path self = SelfDir(); !self.empty()) {
    tried.push_back((self / ".." / "plugins" / file).lexically_normal());
  }
  std::string looked;
  for (const fs::path& p : tried) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
    absl::StrAppend(&looked, looked.empty() ? "" : ", ", p.string());
  }
  return absl::NotFoundError(absl::StrCat("adapter '", adapter,
                                          "' not found (looked in: ", looked,
                                          "; set EHX_PLUGIN_DIR)"));
}

namespace {

// Plugin and host log lines go to stderr, warnings and errors only unless
// -v: stdout carries the JSON results.
void QuietLogs(bool verbose) {
  static std::once_flag once;
  std::call_once(once, [] {
    auto logger = spdlog::stderr_color_mt("ehxctl-adapter");
    spdlog::set_default_logger(logger);
  });
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
}

absl::StatusOr<google::protobuf::Struct> LoadConfigYaml(
    const std::string& path) {
  google::protobuf::Struct config;
  if (path.empty()) return config;
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  YAML::Node node;
  try {
    node = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    // e.mark has line/column; the message may quote input: keep the mark.
    return absl::InvalidArgumentError(absl::StrCat(path, ": not YAML (line ",
                                                   e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, ")"));
  }
  if (node.IsNull()) return config;
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": must be a mapping (the plugin's config keys)"));
  }
  if (absl::Status st = config::YamlToMessage(node, "", &config); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", st.message()));
  }
  return config;
}

// A dry run must not change an agency's adapter state: every `state_dir`
// in the config (at any depth) is replaced by a scratch copy of that folder,
// so the adapter reads the real state and its writes are thrown away with
// the copy. Other folders (inboxes, outboxes) are not touched by ingest or
// render. Removes the copies when destroyed.
class ScratchState {
 public:
  ~ScratchState() {
    if (!root_.empty()) {
      std::error_code ec;
      fs::remove_all(root_, ec);
    }
  }

  // Rewrites `config`; notes each redirection on stderr.
  absl::Status Redirect(google::protobuf::Struct* config) {
    return Walk(config->mutable_fields());
  }

 private:
  absl::Status Walk(
      google::protobuf::Map<std::string, google::protobuf::Value>* fields) {
    for (auto& [key, value] : *fields) {
      if (value.has_struct_value()) {
        if (absl::Status st =
                Walk(value.mutable_struct_value()->mutable_fields());
            !st.ok()) {
          return st;
        }
        continue;
      }
      if (key != "state_dir" || value.string_value().empty()) continue;
      if (root_.empty()) {
        std::string tmpl =
            (fs::temp_directory_path() / "ehxctl-dry-run-XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) {
          return absl::InternalError("cannot create a scratch folder in " +
                                     fs::temp_directory_path().string());
        }
        root_ = tmpl;
      }
      const fs::path from = value.string_value();
      const fs::path to = root_ / absl::StrCat("state_dir-", ++count_);
      std::error_code ec;
      if (fs::is_directory(from, ec)) {
        fs::copy(from, to, fs::copy_options::recursive, ec);
      } else {
        fs::create_directories(to, ec);
      }
      if (ec) {
        return absl::FailedPreconditionError(absl::StrCat(
            "state_dir ", from.string(), ": cannot copy it for the dry run (",
            ec.message(), "); --write-state uses it in place"));
      }
      std::fprintf(stderr,
                   "dry run: state_dir %s is used through a scratch copy; it "
                   "is not changed (--write-state to change it)\n",
                   from.c_str());
      value.set_string_value(to.string());
    }
    return absl::OkStatus();
  }

  fs::path root_;
  int count_ = 0;
};

// The dry-run host: what the gateway would answer, without storing anything.
class DryRunExchange : public PublishOnlyExchange {
 public:
  DryRunExchange()
      : PublishOnlyExchange(
            [this](const std::string& sender, const xv1::Envelope& env) {
              return Check(sender, env);
            }) {}

  // Envelopes accepted so far (message_id, sender and accepted_at set as
  // the gateway would), in order; cleared by Take().
  std::vector<xv1::Envelope> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(accepted_);
  }

 private:
  absl::StatusOr<xv1::PublishReceipt> Check(const std::string& sender,
                                            const xv1::Envelope& in) {
    if (!in.sender_agency().empty() && in.sender_agency() != sender) {
      return absl::PermissionDeniedError(
          "sender_agency does not match the caller's certificate");
    }
    std::vector<validate::FieldViolation> violations =
        validate::ValidateEnvelope(in);
    if (in.event_type() == xv1::EVENT_TYPE_NON_DELIVERY && violations.empty()) {
      violations.push_back({"event_type", "gateway_only",
                            "non-delivery notices are generated by the "
                            "gateway"});
    }
    if (!violations.empty()) {
      Violations v;
      for (const auto& fv : violations) {
        v.emplace_back(fv.field, absl::StrCat(fv.rule, ": ", fv.description));
      }
      return InvalidArgumentWithViolations(
          absl::StrCat("envelope refused: ", violations.size(),
                       " field violation(s); first: ", violations[0].field,
                       " (", violations[0].rule, ")"),
          v);
    }
    std::lock_guard<std::mutex> lock(mu_);
    xv1::Envelope env = in;
    env.set_sender_agency(sender);
    env.set_message_id(absl::StrCat("dry-run-", ++count_));
    *env.mutable_accepted_at() =
        google::protobuf::util::TimeUtil::GetCurrentTime();
    xv1::PublishReceipt receipt;
    receipt.set_message_id(env.message_id());
    *receipt.mutable_accepted_at() = env.accepted_at();
    accepted_.push_back(std::move(env));
    return receipt;
  }

  std::mutex mu_;
  int count_ = 0;
  std::vector<xv1::Envelope> accepted_;
};

// Loads the adapter; prints the error and sets *rc on failure. Unless
// --write-state, `state_dir`s are redirected into `scratch`, which must
// outlive the adapter.
std::unique_ptr<LoadedAdapter> Load(const AdapterOptions& options,
                                    Exchange* exchange, ScratchState* scratch,
                                    int* rc) {
  auto path = ResolveAdapterPath(options.adapter);
  if (!path.ok()) {
    *rc = ReportLocalError("adapter", path.status().message(),
                           path.status().code() == absl::StatusCode::kNotFound
                               ? kExitFailure
                               : kExitUsage);
    return nullptr;
  }
  auto config = LoadConfigYaml(options.config);
  if (!config.ok()) {
    *rc = ReportLocalError("adapter --config", config.status().message(),
                           kExitUsage);
    return nullptr;
  }
  if (!options.write_state) {
    if (absl::Status st = scratch->Redirect(&*config); !st.ok()) {
      *rc = ReportLocalError("adapter --config", st.message(), kExitFailure);
      return nullptr;
    }
  }
  AdapterLoadOptions load;
  load.name = fs::path(*path).stem().string();
  load.path = *path;
  load.agency = options.agency;
  load.config = *config;
  load.config_path = options.config.empty() ? "config" : options.config;
  auto adapter = LoadedAdapter::Load(load, exchange);
  if (!adapter.ok()) {
    const bool bad_config =
        adapter.status().code() == absl::StatusCode::kInvalidArgument;
    *rc = ReportLocalError("adapter", adapter.status().message(),
                           bad_config ? kExitUsage : kExitFailure);
    return nullptr;
  }
  return std::move(*adapter);
}

// A file name for --out-dir: the last path component, never "." or "..".
std::string SafeFileName(const std::string& suggested, int index) {
  std::string name = fs::path(suggested).filename().string();
  if (name.empty() || name == "." || name == "..") {
    name = absl::StrCat("rendered-", index);
  }
  return name;
}

}  // namespace

int AdapterCheck(const ConnectionOptions& conn, const AdapterOptions& options,
                 bool verbose) {
  QuietLogs(verbose);
  DryRunExchange exchange;
  int rc = kExitOk;
  ScratchState scratch;  // outlives the adapter
  std::unique_ptr<LoadedAdapter> adapter =
      Load(options, &exchange, &scratch, &rc);
  if (!adapter) return rc;
  if (!adapter->supports_ingest()) {
    return ReportLocalError("adapter check",
                            absl::StrCat("adapter does not support ingest (",
                                         adapter->adapter_type(), ", ABI 1.",
                                         adapter->abi_minor(), ")"),
                            kExitFailure);
  }
  bool any_refused = false;
  for (const std::string& file : options.files) {
    auto bytes = ReadFile(file);
    if (!bytes.ok()) {
      return ReportLocalError(absl::StrCat("adapter check ", file),
                              bytes.status().message(), kExitUsage);
    }
    const std::string name = fs::path(file).filename().string();
    auto report = adapter->Ingest(file == "-" ? "stdin" : name, *bytes);
    for (const xv1::Envelope& env : exchange.Take()) {
      PrintJson(env, conn.pretty);
    }
    if (!report.ok()) {
      ReportLocalError(absl::StrCat("adapter check ", file),
                       report.status().message(), kExitFailure);
      any_refused = true;
      rc = kExitFailure;
      continue;
    }
    if (report->input_rejected()) {
      std::cerr << "ehxctl: " << file
                << ": input rejected: " << report->input_error() << "\n";
      any_refused = true;
    }
    for (const auto& e : report->errors()) {
      std::cerr << "ehxctl: " << file << ": " << e.position() << ": "
                << e.rule() << " (" << e.field()
                << "): " << RedactQuoted(e.message())
                << (e.flagged_only() ? " [flagged, still published]" : "")
                << "\n";
    }
    if (report->records_failed() > 0) any_refused = true;
    std::cerr << "ehxctl: " << file << ": " << report->records_total()
              << " record(s), " << report->records_published() << " accepted, "
              << report->records_failed() << " failed\n";
  }
  if (rc != kExitOk) return rc;
  return any_refused ? kExitRefused : kExitOk;
}

int AdapterRender(const ConnectionOptions& conn, const AdapterOptions& options,
                  bool verbose) {
  (void)conn;
  QuietLogs(verbose);
  DryRunExchange exchange;
  int rc = kExitOk;
  if (!options.out_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(options.out_dir, ec)) {
      return ReportLocalError("adapter render --out-dir",
                              "not an existing directory", kExitUsage);
    }
  }
  // Parse every envelope first: a bad file renders nothing.
  std::vector<xv1::Delivery> deliveries;
  for (size_t i = 0; i < options.files.size(); ++i) {
    const std::string& file = options.files[i];
    auto text = ReadFile(file);
    if (!text.ok()) {
      return ReportLocalError(absl::StrCat("adapter render ", file),
                              text.status().message(), kExitUsage);
    }
    xv1::Delivery d;
    if (absl::Status st = ParseJson(*text, d.mutable_envelope()); !st.ok()) {
      return ReportLocalError(absl::StrCat("adapter render ", file),
                              st.message(), kExitUsage);
    }
    d.set_delivery_id(i + 1);
    d.set_attempt(1);
    xv1::Envelope* env = d.mutable_envelope();
    if (env->message_id().empty()) {
      env->set_message_id(absl::StrCat("dry-run-", i + 1));
    }
    if (!env->has_accepted_at()) {
      *env->mutable_accepted_at() =
          google::protobuf::util::TimeUtil::GetCurrentTime();
    }
    deliveries.push_back(std::move(d));
  }
  ScratchState scratch;  // outlives the adapter
  std::unique_ptr<LoadedAdapter> adapter =
      Load(options, &exchange, &scratch, &rc);
  if (!adapter) return rc;
  if (!adapter->supports_render()) {
    return ReportLocalError("adapter render",
                            absl::StrCat("adapter does not support render (",
                                         adapter->adapter_type(), ", ABI 1.",
                                         adapter->abi_minor(), ")"),
                            kExitFailure);
  }
  for (size_t i = 0; i < deliveries.size(); ++i) {
    const std::string& file = options.files[i];
    auto result = adapter->Render(deliveries[i]);
    if (!result.ok()) {
      // UNIMPLEMENTED is the ABI's answer for "this adapter does not render
      // that event type" (ehx_adapter_abi.h, render): a refusal like
      // INVALID_ARGUMENT, not a failure of the adapter.
      const int code =
          result.status().code() == absl::StatusCode::kUnimplemented
              ? kExitRefused
              : ExitCodeFor(result.status());
      ReportLocalError(absl::StrCat("adapter render ", file),
                       result.status().message(), code);
      if (rc == kExitOk || code == kExitFailure) rc = code;
      continue;
    }
    if (options.out_dir.empty()) {
      std::fwrite(result->content().data(), 1, result->content().size(),
                  stdout);
      std::fflush(stdout);
      continue;
    }
    const fs::path out =
        fs::path(options.out_dir) /
        SafeFileName(result->file_name(), static_cast<int>(i + 1));
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    f.write(result->content().data(),
            static_cast<std::streamsize>(result->content().size()));
    f.close();
    if (!f) {
      return ReportLocalError(absl::StrCat("adapter render ", file),
                              absl::StrCat("cannot write ", out.string()),
                              kExitFailure);
    }
    std::cout << out.string() << "\n";
  }
  return rc;
}

}  // namespace ehx::ctl
