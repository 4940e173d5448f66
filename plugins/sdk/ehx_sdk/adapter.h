// The ehx adapter SDK: a header-only C++ layer over the pure-C ABI in
// ehx_adapter_abi.h. An adapter author writes
//
//   #include "ehx_sdk/adapter.h"
//
//   class MyAdapter : public ehx::sdk::Adapter {
//    public:
//     MyAdapter(const ehxpb::adapters::my::v1::MyConfig& config,
//               ehx::sdk::Host host);
//     ehx::sdk::Status Start() override;
//     ehx::sdk::DeliveryResult OnDelivery(
//         const ehxpb::exchange::v1::Delivery& delivery) override;
//     void Stop() override;
//     // Optional (ABI 1.2): one native input -> records published. Only
//     // what the class overrides is exported (ingest/render entries).
//     ehxpb::adapter::v1::IngestReport Ingest(
//         const std::string& input_name, std::string_view bytes) override;
//     // Optional (ABI 1.2): one delivery -> native bytes.
//     ehx::sdk::Status Render(const ehxpb::exchange::v1::Delivery& delivery,
//                             ehxpb::adapter::v1::RenderResult* out) override;
//   };
//   EHX_ADAPTER(MyAdapter, ehxpb::adapters::my::v1::MyConfig)
//
// and builds it with ehx_add_adapter() in CMake, which provides
// "ehx_adapter_protos.h" (the adapter's private, renamed copy of the ehx
// schema; `ehxpb` aliases it). Exactly one translation unit of a plugin uses
// EHX_ADAPTER.
//
// Exceptions never cross the ABI: everything the adapter's constructor and
// hooks throw is caught at the boundary and becomes an error result
// (StatusError keeps its code; anything else is INTERNAL / retry).
//
// The SDK depends only on the C ABI, the C++ standard library and
// libprotobuf: never on the gateway's libraries.
#ifndef EHX_SDK_ADAPTER_H_
#define EHX_SDK_ADAPTER_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ehx_adapter_abi.h"
#include "ehx_adapter_protos.h"

namespace ehx::sdk {

// google.rpc.Code numbers.
enum class Code : int32_t {
  kOk = EHX_CODE_OK,
  kCancelled = EHX_CODE_CANCELLED,
  kUnknown = EHX_CODE_UNKNOWN,
  kInvalidArgument = EHX_CODE_INVALID_ARGUMENT,
  kDeadlineExceeded = EHX_CODE_DEADLINE_EXCEEDED,
  kNotFound = EHX_CODE_NOT_FOUND,
  kAlreadyExists = EHX_CODE_ALREADY_EXISTS,
  kPermissionDenied = EHX_CODE_PERMISSION_DENIED,
  kResourceExhausted = EHX_CODE_RESOURCE_EXHAUSTED,
  kFailedPrecondition = EHX_CODE_FAILED_PRECONDITION,
  kAborted = EHX_CODE_ABORTED,
  kOutOfRange = EHX_CODE_OUT_OF_RANGE,
  kUnimplemented = EHX_CODE_UNIMPLEMENTED,
  kInternal = EHX_CODE_INTERNAL,
  kUnavailable = EHX_CODE_UNAVAILABLE,
  kDataLoss = EHX_CODE_DATA_LOSS,
  kUnauthenticated = EHX_CODE_UNAUTHENTICATED,
};

// The canonical upper-case name of a code ("INVALID_ARGUMENT").
inline const char* CodeName(Code code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const auto i = static_cast<int32_t>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

// One google.rpc.BadRequest.FieldViolation.
struct FieldViolation {
  std::string field;        // path, e.g. "case_opened.child.date_of_birth"
  std::string description;  // why
};

// A small value type: a code, a message and optional field violations.
// Not thread-safe for concurrent mutation; copyable.
class Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message,
         std::vector<FieldViolation> violations = {})
      : code_(code),
        message_(std::move(message)),
        violations_(std::move(violations)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<FieldViolation>& violations() const { return violations_; }

  // "INVALID_ARGUMENT: message".
  std::string ToString() const {
    if (ok()) return "OK";
    return std::string(CodeName(code_)) + ": " + message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::vector<FieldViolation> violations_;
};

// Throw from a constructor or hook to fail with a specific code.
class StatusError : public std::exception {
 public:
  explicit StatusError(Status status) : status_(std::move(status)) {}
  const char* what() const noexcept override {
    return status_.message().c_str();
  }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// What Host::Publish returns: the receipt when status.ok().
struct PublishResult {
  Status status;
  ehxpb::exchange::v1::PublishReceipt receipt;
};

// What OnDelivery returns.
struct DeliveryResult {
  enum class Disposition : int32_t {
    kAck = EHX_DELIVERY_ACK,
    kRetry = EHX_DELIVERY_RETRY,
    kReject = EHX_DELIVERY_REJECT,
  };
  Disposition disposition = Disposition::kAck;
  std::string reason;  // machine reason, no personal data

  static DeliveryResult Ack() { return {}; }
  // Redeliver later, with backoff.
  static DeliveryResult Retry(std::string reason) {
    return {Disposition::kRetry, std::move(reason)};
  }
  // Never deliverable: dead letters.
  static DeliveryResult Reject(std::string reason) {
    return {Disposition::kReject, std::move(reason)};
  }
};

enum class LogLevel : int32_t {
  kDebug = EHX_LOG_DEBUG,
  kInfo = EHX_LOG_INFO,
  kWarn = EHX_LOG_WARN,
  kError = EHX_LOG_ERROR,
};

namespace internal {

// Decodes a serialized google.rpc.BadRequest by hand (the plugin must not
// link a second copy of google/rpc/error_details.proto).
inline bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint8_t b = *p++;
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Calls `on_field(number, bytes)` for each length-delimited field; skips
// varint/fixed fields. False on malformed input.
template <typename F>
bool ForEachLengthDelimited(const uint8_t* p, const uint8_t* end, F on_field) {
  while (p < end) {
    uint64_t tag;
    if (!ReadVarint(p, end, &tag)) return false;
    const uint32_t wire = tag & 7;
    const uint32_t number = static_cast<uint32_t>(tag >> 3);
    uint64_t v;
    switch (wire) {
      case 0:
        if (!ReadVarint(p, end, &v)) return false;
        break;
      case 1:
        if (end - p < 8) return false;
        p += 8;
        break;
      case 5:
        if (end - p < 4) return false;
        p += 4;
        break;
      case 2:
        if (!ReadVarint(p, end, &v)) return false;
        if (v > static_cast<uint64_t>(end - p)) return false;
        on_field(number, std::string_view(reinterpret_cast<const char*>(p),
                                          static_cast<size_t>(v)));
        p += v;
        break;
      default:
        return false;
    }
  }
  return true;
}

inline std::vector<FieldViolation> DecodeBadRequest(const uint8_t* data,
                                                    size_t len) {
  std::vector<FieldViolation> out;
  if (data == nullptr || len == 0) return out;
  ForEachLengthDelimited(data, data + len, [&](uint32_t n, std::string_view b) {
    if (n != 1) return;  // field_violations
    FieldViolation fv;
    const auto* q = reinterpret_cast<const uint8_t*>(b.data());
    ForEachLengthDelimited(q, q + b.size(),
                           [&](uint32_t m, std::string_view s) {
                             if (m == 1) fv.field = std::string(s);
                             if (m == 2) fv.description = std::string(s);
                           });
    out.push_back(std::move(fv));
  });
  return out;
}

// A malloc'ed NUL-terminated copy (freed by the table's free_string).
inline char* DupString(std::string_view s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return out;
}

inline void SetError(char** error, std::string_view message) {
  if (error != nullptr) *error = DupString(message);
}

}  // namespace internal

// The adapter's handle on the gateway. Cheap to copy; every method is
// thread-safe. Valid from the adapter's construction until its destruction,
// but Publish may only be called between Start() and the return of Stop().
class Host {
 public:
  Host(const ehx_host_api_v1* api, void* ctx) : api_(api), ctx_(ctx) {}

  // Publishes `envelope` as this plugin's configured agency and blocks until
  // the gateway has durably accepted (status OK, receipt set) or refused it
  // (INVALID_ARGUMENT with violations, UNAVAILABLE: try later, ...).
  PublishResult Publish(const ehxpb::exchange::v1::Envelope& envelope) const {
    PublishResult result;
    std::string bytes;
    if (!envelope.SerializeToString(&bytes)) {
      result.status =
          Status(Code::kInvalidArgument, "envelope not serializable");
      return result;
    }
    ehx_publish_result out{};
    const int32_t code =
        api_->publish(ctx_, reinterpret_cast<const uint8_t*>(bytes.data()),
                      bytes.size(), &out);
    if (code == EHX_CODE_OK) {
      if (!result.receipt.ParseFromArray(out.receipt,
                                         static_cast<int>(out.receipt_len))) {
        result.status = Status(Code::kInternal, "malformed receipt from host");
      }
    } else {
      result.status = Status(
          static_cast<Code>(code),
          out.message != nullptr ? std::string(out.message, out.message_len)
                                 : std::string(),
          internal::DecodeBadRequest(out.bad_request, out.bad_request_len));
    }
    api_->free_publish_result(ctx_, &out);
    return result;
  }

  // Logs under the plugin instance's name. No personal data.
  void Log(LogLevel level, std::string_view message) const {
    api_->log(ctx_, static_cast<int32_t>(level), message.data(),
              message.size());
  }

 private:
  const ehx_host_api_v1* api_;
  void* ctx_;
};

// Base class of an adapter. The SDK calls, in this order and never
// concurrently with each other: the constructor, Start(), OnDelivery()
// (from one host thread at a time), Stop(), the destructor. CheckHealth()
// may run concurrently with OnDelivery(). Anything thrown becomes an error.
class Adapter {
 public:
  virtual ~Adapter() = default;

  // Begins the adapter's own work (threads, watchers).
  virtual Status Start() { return Status(); }

  // Handles one delivery addressed to the adapter's agency. Must be
  // idempotent on delivery.envelope().message_id() (redeliveries happen).
  virtual DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) = 0;

  // Stops and joins the adapter's own work; no Host calls afterwards.
  virtual void Stop() {}

  // Health for operators; OK by default.
  virtual Status CheckHealth() { return Status(); }

  // ABI 1.2. Parses one native input called `input_name` (a file name,
  // "MLLP message 7"; for positions only, never trusted as a path) and
  // publishes every good record through Host::Publish, exactly as the
  // adapter's own inbox loop does (which should call this too). Every
  // record-level problem goes into the report with its position and rule;
  // an input that cannot be parsed at all is input_rejected and nothing of
  // it is published. May run before Start() (dry runs never start the
  // adapter) but never concurrently with OnDelivery() or Render() from the
  // host. An adapter that does not override Ingest exports no ingest entry
  // (EHX_ADAPTER leaves it NULL: the host reports "adapter does not support
  // ingest" before calling); this body only answers direct C++ calls: the
  // input is rejected ("ingest not supported by this adapter").
  virtual ehxpb::adapter::v1::IngestReport Ingest(const std::string& input_name,
                                                  std::string_view bytes) {
    (void)bytes;
    ehxpb::adapter::v1::IngestReport report;
    report.set_input_name(input_name);
    report.set_input_rejected(true);
    report.set_input_error("ingest not supported by this adapter");
    return report;
  }

  // ABI 1.2. Renders `delivery` in the agency's native format into `*out`
  // (file name, media type, bytes) without delivering it anywhere; an
  // adapter's OnDelivery typically calls this and then writes/sends the
  // result. Same calling rules as Ingest. Not overridden: no render entry
  // is exported (as for Ingest); this body answers direct C++ calls with
  // UNIMPLEMENTED.
  virtual Status Render(const ehxpb::exchange::v1::Delivery& delivery,
                        ehxpb::adapter::v1::RenderResult* out) {
    (void)delivery;
    (void)out;
    return Status(Code::kUnimplemented, "render not supported by this adapter");
  }
};

// Publishes one record's envelope and accounts for it in `report`: on
// success counts it as published and appends the receipt's message id (or,
// when the host returns none, the idempotency key); on refusal counts it as
// failed and appends a RecordError at `position` whose rule and field come
// from the first field violation (the gateway's descriptions read
// "<rule>: <text>"), else rule "publish_refused" / "publish_failed".
// Never copies envelope values into the report. Returns the publish status.
inline Status PublishRecord(const Host& host,
                            const ehxpb::exchange::v1::Envelope& envelope,
                            const std::string& position,
                            ehxpb::adapter::v1::IngestReport* report);

inline Status PublishRecord(const Host& host,
                            const ehxpb::exchange::v1::Envelope& envelope,
                            const std::string& position,
                            ehxpb::adapter::v1::IngestReport* report) {
  PublishResult r = host.Publish(envelope);
  if (r.status.ok()) {
    report->set_records_published(report->records_published() + 1);
    report->add_published(!r.receipt.message_id().empty()
                              ? r.receipt.message_id()
                              : envelope.idempotency_key());
    return r.status;
  }
  report->set_records_failed(report->records_failed() + 1);
  auto* e = report->add_errors();
  e->set_position(position);
  if (!r.status.violations().empty()) {
    const FieldViolation& v = r.status.violations().front();
    e->set_field(v.field);
    const size_t colon = v.description.find(": ");
    const std::string rule = colon == std::string::npos
                                 ? std::string()
                                 : v.description.substr(0, colon);
    const bool snake =
        !rule.empty() &&
        rule.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") ==
            std::string::npos;
    e->set_rule(snake ? rule : "publish_refused");
    e->set_message(snake ? v.description.substr(colon + 2) : v.description);
    if (r.status.violations().size() > 1) {
      e->set_message(e->message() + " (+" +
                     std::to_string(r.status.violations().size() - 1) +
                     " more violation(s))");
    }
  } else {
    e->set_rule(r.status.code() == Code::kInvalidArgument ? "publish_refused"
                                                          : "publish_failed");
    e->set_message(r.status.ToString());
  }
  return r.status;
}

namespace internal {

// The instance the C side sees: owned by the plugin.
struct Instance {
  Host host;
  std::unique_ptr<Adapter> adapter;
};

// FileDescriptorSet of `file` and its dependencies, dependencies first.
inline void AddFileAndDeps(const google::protobuf::FileDescriptor* file,
                           std::unordered_set<std::string>* seen,
                           google::protobuf::FileDescriptorSet* set) {
  if (!seen->insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileAndDeps(file->dependency(i), seen, set);
  }
  file->CopyTo(set->add_file());
}

inline int32_t CodeOfCurrentException(std::string* message) {
  try {
    throw;
  } catch (const StatusError& e) {
    *message = e.status().message();
    return e.status().ok() ? EHX_CODE_INTERNAL
                           : static_cast<int32_t>(e.status().code());
  } catch (const std::exception& e) {
    *message = std::string("exception: ") + e.what();
    return EHX_CODE_INTERNAL;
  } catch (...) {
    *message = "unknown exception";
    return EHX_CODE_INTERNAL;
  }
}

template <typename T>
constexpr const char* VersionOf() {
  if constexpr (requires { T::kVersion; }) {
    return T::kVersion;
  } else {
    return "0";
  }
}

template <typename T>
constexpr const char* TypeOf(const char* fallback) {
  if constexpr (requires { T::kType; }) {
    return T::kType;
  } else {
    return fallback;
  }
}

// Whether AdapterT declares its own Ingest / Render (itself or through a
// base between it and Adapter), decided at compile time. `&T::Ingest` of a
// function T inherits unchanged from Adapter has Adapter's member-pointer
// type; an override (even in an intermediate base) has another class's. An
// overloaded name cannot be taken the address of: counted as overridden,
// the safe side (the entry then exists and answers for itself).
template <typename T>
constexpr bool OverridesIngest() {
  if constexpr (requires { &T::Ingest; }) {
    return !std::is_same_v<decltype(&T::Ingest), decltype(&Adapter::Ingest)>;
  } else {
    return true;
  }
}

template <typename T>
constexpr bool OverridesRender() {
  if constexpr (requires { &T::Render; }) {
    return !std::is_same_v<decltype(&T::Render), decltype(&Adapter::Render)>;
  } else {
    return true;
  }
}

template <typename AdapterT, typename ConfigT>
struct Glue {
  static int32_t Create(const uint8_t* config, size_t config_len,
                        const ehx_host_api_v1* host, void* host_ctx,
                        ehx_adapter_instance** instance, char** error) {
    if (instance == nullptr) return EHX_CODE_INVALID_ARGUMENT;
    *instance = nullptr;
    if (host == nullptr || host->header.abi_major != EHX_ADAPTER_ABI_MAJOR ||
        host->header.struct_size < EHX_HOST_API_V1_MIN_SIZE) {
      SetError(error, "host table missing or too small");
      return EHX_CODE_FAILED_PRECONDITION;
    }
    try {
      ConfigT parsed;
      if (!parsed.ParseFromArray(config, static_cast<int>(config_len))) {
        SetError(error, "config bytes do not parse as " +
                            std::string(ConfigT::descriptor()->full_name()));
        return EHX_CODE_INVALID_ARGUMENT;
      }
      auto inst =
          std::make_unique<Instance>(Instance{Host(host, host_ctx), nullptr});
      inst->adapter = std::make_unique<AdapterT>(parsed, inst->host);
      *instance = reinterpret_cast<ehx_adapter_instance*>(inst.release());
      return EHX_CODE_OK;
    } catch (...) {
      std::string message;
      const int32_t code = CodeOfCurrentException(&message);
      SetError(error, message);
      return code;
    }
  }

  static Instance* Of(ehx_adapter_instance* i) {
    return reinterpret_cast<Instance*>(i);
  }

  static int32_t Start(ehx_adapter_instance* instance, char** error) {
    try {
      Status st = Of(instance)->adapter->Start();
      if (st.ok()) return EHX_CODE_OK;
      SetError(error, st.message());
      return static_cast<int32_t>(st.code());
    } catch (...) {
      std::string message;
      const int32_t code = CodeOfCurrentException(&message);
      SetError(error, message);
      return code;
    }
  }

  static int32_t OnDelivery(ehx_adapter_instance* instance,
                            const uint8_t* delivery, size_t delivery_len,
                            char** reason) {
    try {
      ehxpb::exchange::v1::Delivery parsed;
      if (delivery == nullptr && delivery_len != 0) {
        SetError(reason, "malformed_delivery");
        return EHX_DELIVERY_REJECT;
      }
      if (!parsed.ParseFromArray(delivery, static_cast<int>(delivery_len))) {
        SetError(reason, "malformed_delivery");
        return EHX_DELIVERY_REJECT;
      }
      DeliveryResult r = Of(instance)->adapter->OnDelivery(parsed);
      if (r.disposition != DeliveryResult::Disposition::kAck &&
          !r.reason.empty()) {
        SetError(reason, r.reason);
      }
      return static_cast<int32_t>(r.disposition);
    } catch (...) {
      // A throwing hook is a bug or a transient failure we cannot tell
      // apart: retry with backoff; max attempts sends it to dead letters.
      std::string message;
      CodeOfCurrentException(&message);
      SetError(reason, "adapter_exception: " + message);
      return EHX_DELIVERY_RETRY;
    }
  }

  static void Stop(ehx_adapter_instance* instance) {
    try {
      Of(instance)->adapter->Stop();
    } catch (...) {
      std::string message;
      CodeOfCurrentException(&message);
      Of(instance)->host.Log(LogLevel::kError, "Stop threw: " + message);
    }
  }

  static void Destroy(ehx_adapter_instance* instance) {
    Instance* inst = Of(instance);
    try {
      inst->adapter.reset();
    } catch (...) {
      // Destructors should not throw; nothing sensible is left to do.
    }
    delete inst;
  }

  static void FreeString(char* s) { std::free(s); }

  static int32_t CheckHealth(ehx_adapter_instance* instance, char** detail) {
    try {
      Status st = Of(instance)->adapter->CheckHealth();
      if (st.ok()) return EHX_CODE_OK;
      SetError(detail, st.message());
      return static_cast<int32_t>(st.code());
    } catch (...) {
      std::string message;
      const int32_t code = CodeOfCurrentException(&message);
      SetError(detail, message);
      return code;
    }
  }

  // Allocates a buffer for `message`'s serialization (freed by FreeBuffer).
  static bool SerializeToBuffer(const google::protobuf::MessageLite& message,
                                uint8_t** out, size_t* out_len) {
    const size_t n = message.ByteSizeLong();
    auto* p = static_cast<uint8_t*>(std::malloc(n > 0 ? n : 1));
    if (p == nullptr) return false;
    if (n > 0 && !message.SerializeWithCachedSizesToArray(p)) {
      std::free(p);
      return false;
    }
    *out = p;
    *out_len = n;
    return true;
  }

  static int32_t Ingest(ehx_adapter_instance* instance, const char* name,
                        size_t name_len, const uint8_t* data, size_t len,
                        uint8_t** report, size_t* report_len) {
    if (report == nullptr || report_len == nullptr) {
      return EHX_CODE_INVALID_ARGUMENT;
    }
    *report = nullptr;
    *report_len = 0;
    if ((name == nullptr && name_len != 0) || (data == nullptr && len != 0)) {
      return EHX_CODE_INVALID_ARGUMENT;
    }
    const std::string input_name(name != nullptr ? name : "", name_len);
    ehxpb::adapter::v1::IngestReport r;
    int32_t code = EHX_CODE_OK;
    try {
      r = Of(instance)->adapter->Ingest(
          input_name,
          std::string_view(reinterpret_cast<const char*>(data), len));
    } catch (...) {
      std::string message;
      code = CodeOfCurrentException(&message);
      r.Clear();
      r.set_input_name(input_name);
      r.set_input_rejected(true);
      r.set_input_error("adapter_exception: " + message);
    }
    if (!SerializeToBuffer(r, report, report_len)) return EHX_CODE_INTERNAL;
    return code;
  }

  static int32_t Render(ehx_adapter_instance* instance, const uint8_t* delivery,
                        size_t delivery_len, uint8_t** result,
                        size_t* result_len, char** error) {
    if (result == nullptr || result_len == nullptr) {
      return EHX_CODE_INVALID_ARGUMENT;
    }
    *result = nullptr;
    *result_len = 0;
    try {
      ehxpb::exchange::v1::Delivery parsed;
      if ((delivery == nullptr && delivery_len != 0) ||
          !parsed.ParseFromArray(delivery, static_cast<int>(delivery_len))) {
        SetError(error, "malformed_delivery");
        return EHX_CODE_INVALID_ARGUMENT;
      }
      ehxpb::adapter::v1::RenderResult out;
      Status st = Of(instance)->adapter->Render(parsed, &out);
      if (!st.ok()) {
        SetError(error, st.message());
        return static_cast<int32_t>(st.code());
      }
      if (!SerializeToBuffer(out, result, result_len)) {
        SetError(error, "render result not serializable");
        return EHX_CODE_INTERNAL;
      }
      return EHX_CODE_OK;
    } catch (...) {
      std::string message;
      const int32_t code = CodeOfCurrentException(&message);
      SetError(error, "adapter_exception: " + message);
      return code;
    }
  }

  static void FreeBuffer(uint8_t* p) { std::free(p); }

  // The plugin's static table; built once, never destroyed (no global
  // destructors run at dlclose or exit).
  static const ehx_adapter_api_v1* Table(const char* type_name) {
    static const ehx_adapter_api_v1* table = [&]() -> ehx_adapter_api_v1* {
      try {
        auto* set = new std::string();
        google::protobuf::FileDescriptorSet fds;
        std::unordered_set<std::string> seen;
        AddFileAndDeps(ConfigT::descriptor()->file(), &seen, &fds);
        if (!fds.SerializeToString(set)) return nullptr;
        auto* name = new std::string(ConfigT::descriptor()->full_name());
        auto* t = new ehx_adapter_api_v1{};
        t->header = {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR,
                     static_cast<uint32_t>(sizeof(ehx_adapter_api_v1))};
        t->adapter_type = TypeOf<AdapterT>(type_name);
        t->adapter_version = VersionOf<AdapterT>();
        t->config_descriptor_set =
            reinterpret_cast<const uint8_t*>(set->data());
        t->config_descriptor_set_len = set->size();
        t->config_message_name = name->c_str();
        t->create = &Create;
        t->start = &Start;
        t->on_delivery = &OnDelivery;
        t->stop = &Stop;
        t->destroy = &Destroy;
        t->free_string = &FreeString;
        t->check_health = &CheckHealth;
        // Only what the adapter implements: a NULL entry tells the host
        // (and ehxctl) "not supported" before any call, instead of the
        // base class's refusal at call time.
        t->ingest = OverridesIngest<AdapterT>() ? &Ingest : nullptr;
        t->render = OverridesRender<AdapterT>() ? &Render : nullptr;
        t->free_buffer = &FreeBuffer;
        return t;
      } catch (...) {
        return nullptr;
      }
    }();
    return table;
  }
};

}  // namespace internal
}  // namespace ehx::sdk

// Exports the plugin's entry symbol for `AdapterClass`, constructed as
// AdapterClass(const ConfigMessage&, ehx::sdk::Host). Optional static
// members `kType` and `kVersion` (const char*) name the adapter in logs.
// Use once per plugin,
// at namespace scope. The entry refuses (returns NULL to) a host of another
// major version.
#define EHX_ADAPTER(AdapterClass, ConfigMessage)                           \
  extern "C" EHX_ADAPTER_EXPORT const ehx_adapter_api_v1*                  \
  ehx_adapter_v1_entry(const ehx_abi_header* host) {                       \
    if (host == nullptr || host->abi_major != EHX_ADAPTER_ABI_MAJOR) {     \
      return nullptr;                                                      \
    }                                                                      \
    return ::ehx::sdk::internal::Glue<AdapterClass, ConfigMessage>::Table( \
        #AdapterClass);                                                    \
  }

#endif  // EHX_SDK_ADAPTER_H_
