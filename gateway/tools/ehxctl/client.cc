#include "gateway/tools/ehxctl/client.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpc/support/log.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_util.h"

namespace ehx::ctl {
namespace {

constexpr char kDevAgencyHeader[] = "x-ehx-dev-agency";
constexpr char kDefaultOperator[] = "ops";

absl::StatusOr<std::string> ReadPem(const std::string& flag,
                                    const std::string& path) {
  auto data = ReadFile(path);
  if (!data.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": ", data.status().message()));
  }
  if (data->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": not a PEM file"));
  }
  return data;
}

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.';
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& options, Endpoint endpoint) {
  const std::string& target =
      endpoint == Endpoint::kAdmin ? options.admin : options.gateway;
  if (target.empty()) {
    return absl::InvalidArgumentError(endpoint == Endpoint::kAdmin
                                          ? "--admin is empty"
                                          : "--gateway is empty");
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  if (!options.plaintext_agency.empty()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     args);
  }

  std::string ca = options.ca_file, cert = options.cert_file,
              key = options.key_file;
  if (!options.pki_dir.empty()) {
    std::string agency = options.agency;
    if (agency.empty() && endpoint == Endpoint::kAdmin) {
      agency = kDefaultOperator;
    }
    if (agency.empty()) {
      return absl::InvalidArgumentError(
          "--pki-dir needs --agency (the identity to call as)");
    }
    if (ca.empty()) ca = absl::StrCat(options.pki_dir, "/ca.pem");
    if (cert.empty()) cert = absl::StrCat(options.pki_dir, "/", agency, ".pem");
    if (key.empty()) key = absl::StrCat(options.pki_dir, "/", agency, ".key");
  }
  if (ca.empty() || cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(
        "no identity: give --pki-dir DIR --agency ID, or --ca, --cert and "
        "--key, or --plaintext-agency ID for a dev-mode gateway");
  }
  grpc::SslCredentialsOptions ssl;
  auto ca_pem = ReadPem("--ca", ca);
  if (!ca_pem.ok()) return ca_pem.status();
  auto cert_pem = ReadPem("--cert", cert);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ReadPem("--key", key);
  if (!key_pem.ok()) return key_pem.status();
  ssl.pem_root_certs = *std::move(ca_pem);
  ssl.pem_cert_chain = *std::move(cert_pem);
  ssl.pem_private_key = *std::move(key_pem);
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

void PrepareContext(const ConnectionOptions& options, bool with_deadline,
                    grpc::ClientContext* context) {
  if (!options.plaintext_agency.empty()) {
    context->AddMetadata(kDevAgencyHeader, options.plaintext_agency);
  }
  if (with_deadline && options.deadline_seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(
                              options.deadline_seconds * 1000)));
  }
}

void ConfigureGrpcLogging(bool verbose) {
  if (verbose || std::getenv("GRPC_VERBOSITY") != nullptr) return;
  gpr_set_log_function([](gpr_log_func_args*) {});
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
      return kExitRefused;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

int ReportRpcError(absl::string_view what, const grpc::Status& status) {
  const absl::Status st = FromGrpcStatus(status);
  std::cerr << "ehxctl: " << what << ": "
            << absl::StatusCodeToString(st.code());
  if (!st.message().empty()) std::cerr << ": " << st.message();
  std::cerr << "\n";
  for (const auto& [field, description] : ViolationsOf(st)) {
    std::cerr << "  " << (field.empty() ? "(message)" : field) << ": "
              << description << "\n";
  }
  if (st.code() == absl::StatusCode::kUnavailable) {
    std::cerr << "  (is the gateway running there, and do --ca/--cert/--key "
                 "match its PKI?)\n";
  }
  std::cerr.flush();
  return ExitCodeFor(st);
}

int ReportLocalError(absl::string_view what, absl::string_view message,
                     int code) {
  std::cerr << "ehxctl: " << what << ": " << message << "\n";
  std::cerr.flush();
  return code;
}

void PrintJson(const google::protobuf::Message& message, bool pretty,
               bool all_fields) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = pretty;
  opts.always_print_primitive_fields = all_fields;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(message, &out, opts);
  if (!st.ok()) {
    std::cerr << "ehxctl: cannot print a " << message.GetTypeName()
              << " as JSON\n";
    return;
  }
  // add_whitespace already ends with a newline.
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open: ", std::strerror(errno)));
  }
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError("read error");
  return data;
}

std::string SanitizeJsonError(absl::string_view message) {
  absl::string_view rest = message;
  std::string path;
  // "(caf_notification.children[0]) ..." : a schema path, safe to show.
  if (absl::ConsumePrefix(&rest, "(")) {
    const size_t close = rest.find(')');
    if (close != absl::string_view::npos) {
      path = std::string(rest.substr(0, close));
      rest.remove_prefix(close + 1);
      absl::ConsumePrefix(&rest, ":");
      absl::ConsumePrefix(&rest, " ");
    }
  }
  // Only the first line: later lines can quote the input.
  const absl::string_view line = rest.substr(0, rest.find('\n'));
  std::string reason;
  if (absl::StrContains(line, "Cannot find field")) {
    absl::string_view key = line.substr(0, line.find(':'));
    bool ident = !key.empty() && key.size() <= 64;
    for (char c : key) ident = ident && IsIdentChar(c);
    reason =
        ident ? absl::StrCat("unknown field '", key, "'") : "unknown field";
  } else if (absl::StrContains(line, "Invalid time format") ||
             absl::StrContains(line, "Timestamp")) {
    reason = "invalid timestamp (want RFC 3339, e.g. 2026-03-01T10:00:00Z)";
  } else if (absl::StrContains(line, "Duration")) {
    reason = "invalid duration (want e.g. \"3600s\")";
  } else if (absl::StrContains(line, "invalid value")) {
    reason = "invalid value";
    const size_t t = line.rfind("for type ");
    if (t != absl::string_view::npos) {
      absl::string_view type = line.substr(t + 9);
      type = type.substr(type.rfind('/') + 1);
      type = type.substr(0, type.find(' '));
      bool ident = !type.empty();
      for (char c : type) ident = ident && IsIdentChar(c);
      if (ident) absl::StrAppend(&reason, " for ", type);
    }
  } else if (absl::StrContains(line, "Unexpected end of string")) {
    reason = "the JSON ends early";
  } else {
    // Parser wording up to the first ':' (never the values after it), with
    // quoted text and digits masked.
    std::string head(line.substr(0, line.find(':')));
    for (char& c : head) {
      if (c >= '0' && c <= '9') c = '#';
    }
    reason = absl::StrCat("malformed JSON or wrong value type (",
                          RedactQuoted(head), ")");
  }
  return path.empty() ? reason : absl::StrCat(path, ": ", reason);
}

namespace {
bool IsWordByte(char c) {
  // Letters, digits and any byte of a multi-byte UTF-8 character (Zoë's).
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (static_cast<unsigned char>(c) & 0x80);
}
}  // namespace

std::string RedactQuoted(absl::string_view text) {
  std::string out;
  char open = 0;  // the quote character of the current quoted run, or 0
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool word_before = i > 0 && IsWordByte(text[i - 1]);
    const bool word_after = i + 1 < text.size() && IsWordByte(text[i + 1]);
    if (open == 0) {
      // '"' always opens; '\'' only where it cannot be an apostrophe
      // ("the child's episodes" is wording, not a quoted value).
      if (c == '"' || (c == '\'' && !word_before)) {
        open = c;
        out.append("\"<redacted>\"");
        continue;
      }
      out.push_back(c);
      continue;
    }
    // Inside a quoted run: '"' closes at the next '"'; '\'' closes only
    // where it is not an apostrophe inside the value ('O'Brien').
    if (c == open && (open == '"' || !word_after)) open = 0;
  }
  return out;
}

absl::Status ParseJson(absl::string_view json,
                       google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, opts);
  if (st.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "not a valid ", message->GetDescriptor()->full_name(),
      " in protobuf JSON: ", SanitizeJsonError(std::string(st.message()))));
}

}  // namespace ehx::ctl
