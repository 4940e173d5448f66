// ehx_bench: Publish load generator (docs/performance.md).
//
// In one run:
//  (a) an in-process plain gRPC echo server (callback API, same mTLS
//      material, same message size): unary throughput, p50/p99 at
//      concurrency 1 and 32;
//  (a2) the same echo server in a child process, and (a3) that child
//      finishing each call from a second thread (the gateway's shape
//      without its work): throughput and CPU per call at concurrency 32;
//  (b) the real ehx-gateway in a temp dir (SQLite synchronous=FULL), CAF
//      notifications routed to 3 recipient agencies: Publish throughput,
//      p50/p99 at concurrency 1 and 32; peak RSS of both sides;
//  (c) publish-to-delivery latency for a subscribed recipient at a moderate
//      publish rate;
//  (d) gateway RSS with --queued messages waiting for an offline recipient;
//  (e) the same Publish load as (b) with encryption at rest disabled;
// and prints `publish_vs_echo_ratio=<x>` (publish/echo throughput at 32),
// `secure_publish_vs_echo_ratio=<x>` (the same: (b) runs with policy, field
// masks, audit chain and encryption at rest on) and
// `secure_vs_foundation=<x>` ((b) over (e): the cost of encryption at rest).
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "echo.grpc.pb.h"
#include "ehx/exchange/v1/admin_service.grpc.pb.h"
#include "ehx/exchange/v1/exchange_service.grpc.pb.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace ev1 = ehx::exchange::v1;
using Clock = std::chrono::steady_clock;

constexpr char kSender[] = "early-help";
constexpr char kProbe[] = "latency-probe";
constexpr char kOffline[] = "offline-sink";
constexpr int kCaseSpread = 4096;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

// A "VmHWM:" style line of /proc/<pid>/status, in kB (-1 if absent).
int64_t ProcStatusKb(const std::string& pid, const std::string& key) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::strtoll(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

double Mb(int64_t kb) { return kb / 1024.0; }

// CPU time (user + system, in clock ticks) of each thread of `pid`, summed
// per thread name ("ehx-writer", "grpcpp_sync_ser", ...).
std::map<std::string, int64_t> ThreadCpuTicks(const std::string& pid) {
  std::map<std::string, int64_t> out;
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::ifstream in(t.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    const std::string name = stat.substr(open + 1, close - open - 1);
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    int64_t utime = 0, stime = 0;
    // Fields after "(comm)": state is 3rd overall; utime/stime 14th/15th.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::strtoll(field.c_str(), nullptr, 10);
      if (i == 15) stime = std::strtoll(field.c_str(), nullptr, 10);
    }
    out[name] += utime + stime;
  }
  return out;
}

// CPU microseconds per call between two ThreadCpuTicks snapshots.
double CpuUsPerCall(const std::map<std::string, int64_t>& before,
                    const std::map<std::string, int64_t>& after, uint64_t calls,
                    std::string* by_thread = nullptr) {
  const double us_per_tick = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (const auto& [name, ticks] : after) {
    auto it = before.find(name);
    const double us =
        (ticks - (it == before.end() ? 0 : it->second)) * us_per_tick;
    total += us;
    if (by_thread && calls > 0 && us / calls >= 1.0) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s=%.0f", name.c_str(), us / calls);
      *by_thread += buf;
    }
  }
  return calls > 0 ? total / calls : 0;
}

// ---------------------------------------------------------------------------
// Closed-loop load: `concurrency` calls in flight until the deadline or until
// `max_calls` have been issued.

// Issues call number `seq`; must call `done(ok, error)` exactly once.
using IssueFn = std::function<void(
    uint64_t seq, std::function<void(bool ok, const std::string& error)>)>;

struct Result {
  std::string label;
  int concurrency = 0;
  uint64_t ok = 0;
  uint64_t errors = 0;
  double seconds = 0;
  std::vector<int64_t> latency_ns;  // sorted
  std::string first_error;

  double Throughput() const { return seconds > 0 ? ok / seconds : 0; }
  double PercentileMs(double q) const {
    if (latency_ns.empty()) return 0;
    size_t i = static_cast<size_t>(q * (latency_ns.size() - 1) + 0.5);
    return latency_ns[std::min(i, latency_ns.size() - 1)] / 1e6;
  }
  void Print() const {
    std::printf(
        "%-34s c=%-3d ok=%-7llu err=%-4llu %7.2fs %9.0f/s  p50=%7.3fms "
        "p99=%7.3fms\n",
        label.c_str(), concurrency, static_cast<unsigned long long>(ok),
        static_cast<unsigned long long>(errors), seconds, Throughput(),
        PercentileMs(0.50), PercentileMs(0.99));
    if (!first_error.empty()) {
      std::printf("  first error: %s\n", first_error.c_str());
    }
    std::fflush(stdout);
  }
};

class LoadRun : public std::enable_shared_from_this<LoadRun> {
 public:
  LoadRun(IssueFn issue, int concurrency, double seconds, uint64_t max_calls,
          std::atomic<uint64_t>* seq)
      : issue_(std::move(issue)),
        concurrency_(concurrency),
        max_calls_(max_calls),
        seq_(seq),
        lat_(concurrency) {
    start_ = Clock::now();
    end_ = start_ + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(seconds));
  }

  Result Run(const std::string& label) {
    active_ = concurrency_;
    for (int s = 0; s < concurrency_; ++s) Launch(s);
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return active_ == 0; });
    }
    Result r;
    r.label = label;
    r.concurrency = concurrency_;
    r.ok = ok_;
    r.errors = errors_;
    r.seconds = std::chrono::duration<double>(last_ - start_).count();
    for (auto& v : lat_) {
      r.latency_ns.insert(r.latency_ns.end(), v.begin(), v.end());
    }
    std::sort(r.latency_ns.begin(), r.latency_ns.end());
    r.first_error = first_error_;
    return r;
  }

 private:
  void Launch(int slot) {
    const uint64_t issued = issued_.fetch_add(1);
    if (Clock::now() >= end_ || issued >= max_calls_ || errors_ > 1000) {
      std::lock_guard<std::mutex> l(mu_);
      last_ = std::max(last_, Clock::now());
      if (--active_ == 0) cv_.notify_all();
      return;
    }
    const uint64_t seq = seq_->fetch_add(1);
    const int64_t t0 = NowNs();
    auto self = shared_from_this();
    issue_(seq, [self, slot, t0](bool ok, const std::string& error) {
      const int64_t t1 = NowNs();
      if (ok) {
        self->lat_[slot].push_back(t1 - t0);
        ++self->ok_;
      } else {
        ++self->errors_;
        std::lock_guard<std::mutex> l(self->mu_);
        if (self->first_error_.empty()) self->first_error_ = error;
      }
      {
        std::lock_guard<std::mutex> l(self->mu_);
        self->last_ = std::max(self->last_, Clock::now());
      }
      self->Launch(slot);
    });
  }

  IssueFn issue_;
  const int concurrency_;
  const uint64_t max_calls_;
  std::atomic<uint64_t>* seq_;
  Clock::time_point start_, end_, last_{};
  std::vector<std::vector<int64_t>> lat_;  // one per slot: no locking
  std::atomic<uint64_t> issued_{0}, ok_{0}, errors_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;
  std::string first_error_;
};

Result RunLoad(const std::string& label, IssueFn issue, int concurrency,
               double seconds, uint64_t max_calls, std::atomic<uint64_t>* seq) {
  auto run = std::make_shared<LoadRun>(std::move(issue), concurrency, seconds,
                                       max_calls, seq);
  Result r = run->Run(label);
  // The last callbacks may still hold the run (and, through the issuer, the
  // stub and its channel) for a moment after signalling. Wait until they
  // have let go: if a callback thread dropped the last channel reference,
  // gRPC would shut the callback completion queue down from one of its own
  // threads (grpc/grpc#32584) and abort ("assertion failed: prior > 0" in
  // grpc_cq_internal_unref), which bench_smoke hit on a loaded machine.
  while (run.use_count() > 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return r;
}

// ---------------------------------------------------------------------------
// TLS material.

struct Pki {
  fs::path dir;
  std::string ca;
  std::string Cert(const std::string& who) const {
    return ReadFile(dir / (who + ".pem"));
  }
  std::string Key(const std::string& who) const {
    return ReadFile(dir / (who + ".key"));
  }
};

std::shared_ptr<grpc::Channel> MakeChannel(const Pki& pki,
                                           const std::string& agency,
                                           int port) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = pki.ca;
  o.pem_private_key = pki.Key(agency);
  o.pem_cert_chain = pki.Cert(agency);
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  // A distinct channel per use: no subchannel sharing between phases.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::SslCredentials(o), args);
}

// ---------------------------------------------------------------------------
// (a) Echo server.

class EchoService final : public ehx::bench::v1::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const ehx::bench::v1::EchoMessage* req,
                                 ehx::bench::v1::EchoMessage* resp) override {
    resp->set_payload(req->payload());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

std::unique_ptr<grpc::Server> StartEchoServer(const Pki& pki,
                                              EchoService* service, int* port) {
  grpc::SslServerCredentialsOptions o(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = pki.ca;
  o.pem_key_cert_pairs.push_back({pki.Key("server"), pki.Cert("server")});
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(o), port);
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  b.RegisterService(service);
  return b.BuildAndStart();
}

// The same echo, but each call is finished from a second thread, the way the
// gateway finishes a Publish once its group commit is durable (handler ->
// queue -> ServerUnaryReactor::Finish on a completion thread), with no
// storage at all.
class DeferredEchoService final : public ehx::bench::v1::Echo::CallbackService {
 public:
  DeferredEchoService() : finisher_([this] { Loop(); }) {}
  ~DeferredEchoService() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    finisher_.join();
  }

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const ehx::bench::v1::EchoMessage* req,
                                 ehx::bench::v1::EchoMessage* resp) override {
    resp->set_payload(req->payload());
    auto* r = ctx->DefaultReactor();
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(r);
    }
    cv_.notify_one();
    return r;
  }

 private:
  void Loop() {
    std::vector<grpc::ServerUnaryReactor*> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch.swap(queue_);
      }
      for (auto* r : batch) r->Finish(grpc::Status::OK);
      batch.clear();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<grpc::ServerUnaryReactor*> queue_;
  bool stop_ = false;
  std::thread finisher_;
};

// `ehx_bench --serve-echo PKI_DIR --port-file F [--deferred]`: runs the echo
// server in this (child) process until SIGTERM, after writing
// "exchange=<port>" to F.
int ServeEcho(const fs::path& pki_dir, const fs::path& port_file,
              bool deferred) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  // Blocked before gRPC starts its threads, so they inherit the mask and
  // sigwait below receives the signal.
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  Pki pki{pki_dir, ReadFile(pki_dir / "ca.pem")};
  EchoService plain;
  DeferredEchoService later;
  grpc::Service* service = deferred ? static_cast<grpc::Service*>(&later)
                                    : static_cast<grpc::Service*>(&plain);
  grpc::SslServerCredentialsOptions o(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = pki.ca;
  o.pem_key_cert_pairs.push_back({pki.Key("server"), pki.Cert("server")});
  int port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(o), &port);
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  b.RegisterService(service);
  auto server = b.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "echo server failed to start\n");
    return 1;
  }
  const fs::path tmp = port_file.string() + ".tmp";
  WriteFile(tmp, "exchange=" + std::to_string(port) + "\n");
  fs::rename(tmp, port_file);
  int sig = 0;
  sigwait(&term, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

// Echo calls of `payload` on `channel`, for RunLoad.
IssueFn EchoIssuer(std::shared_ptr<grpc::Channel> channel,
                   const std::string* payload) {
  std::shared_ptr<ehx::bench::v1::Echo::Stub> stub =
      ehx::bench::v1::Echo::NewStub(channel);
  return [stub, payload](uint64_t,
                         std::function<void(bool, const std::string&)> done) {
    struct Call {
      grpc::ClientContext ctx;
      ehx::bench::v1::EchoMessage req, resp;
    };
    auto* c = new Call;
    c->ctx.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
    c->req.set_payload(*payload);
    stub->async()->Echo(
        &c->ctx, &c->req, &c->resp,
        [c, n = payload->size(), done = std::move(done)](grpc::Status s) {
          const bool ok = s.ok() && c->resp.payload().size() == n;
          std::string err = s.ok() ? "" : s.error_message();
          delete c;
          done(ok, err);
        });
  };
}

// ---------------------------------------------------------------------------
// (b) The gateway process.

class GatewayProcess {
 public:
  ~GatewayProcess() { Stop(); }

  bool Start(const std::string& binary, const fs::path& dir,
             const std::string& config_yaml) {
    dir_ = dir;
    fs::create_directories(dir / "data");
    const fs::path config = dir / "gateway.yaml";
    const fs::path ports = dir / "ports";
    WriteFile(config, config_yaml + "port_file: " + ports.string() + "\n");
    return Spawn(binary,
                 {binary, "--config", config.string(), "--log-level", "warn"},
                 ports);
  }

  // Starts `argv` (argv[0] included) with stdout/stderr to DIR/gateway.log
  // and waits (bounded) for it to write "exchange=<port>" to `ports`.
  bool Spawn(const std::string& binary, std::vector<std::string> argv_s,
             const fs::path& ports) {
    if (dir_.empty()) dir_ = ports.parent_path();
    fs::create_directories(dir_);
    const std::string log = (dir_ / "gateway.log").string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc =
        posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      std::fprintf(stderr, "cannot start %s: %s\n", binary.c_str(),
                   std::strerror(rc));
      pid_ = -1;
      return false;
    }
    // Wait (bounded) for the port file.
    for (int i = 0; i < 600; ++i) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        std::fprintf(stderr, "%s exited early; log:\n%s\n", binary.c_str(),
                     ReadFile(log).c_str());
        pid_ = -1;
        return false;
      }
      if (fs::exists(ports)) {
        std::istringstream in(ReadFile(ports));
        std::string line;
        while (std::getline(in, line)) {
          if (line.rfind("exchange=", 0) == 0)
            port_ = std::stoi(line.substr(9));
          if (line.rfind("admin=", 0) == 0) admin_ = std::stoi(line.substr(6));
        }
        if (port_ > 0) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::fprintf(stderr, "%s did not write %s in 30 s\n", binary.c_str(),
                 ports.c_str());
    Stop();
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int64_t StatusKb(const std::string& key) const {
    return ProcStatusKb(std::to_string(pid_), key);
  }
  int port() const { return port_; }
  int admin_port() const { return admin_; }
  pid_t pid() const { return pid_; }
  const fs::path& dir() const { return dir_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0, admin_ = 0;
  fs::path dir_;
};

std::string GatewayConfig(const fs::path& pki,
                          const std::vector<std::string>& caf_to,
                          bool encrypt = true) {
  std::string to;
  for (const auto& a : caf_to) to += (to.empty() ? "" : ", ") + a;
  return "listen: \"127.0.0.1:0\"\n"
         "admin_listen: \"127.0.0.1:0\"\n"
         "tls:\n"
         "  ca_file: " +
         (pki / "ca.pem").string() +
         "\n"
         "  cert_file: " +
         (pki / "server.pem").string() +
         "\n"
         "  key_file: " +
         (pki / "server.key").string() +
         "\n"
         "store:\n"
         "  sqlite_path: data/ehx.db\n" +
         std::string(encrypt ? "" : "  encryption: {disabled: true}\n") +
         "operators: [ops]\n"
         "agencies:\n"
         "  - {id: early-help, name: \"Early Help\", role: "
         "AGENCY_ROLE_EARLY_HELP}\n"
         "  - {id: csc-front-door, name: \"Front door\", role: "
         "AGENCY_ROLE_CSC_FRONT_DOOR}\n"
         "  - {id: school-oakfield, name: \"School\", role: "
         "AGENCY_ROLE_SCHOOL}\n"
         "  - {id: health-visiting, name: \"Health\", role: "
         "AGENCY_ROLE_HEALTH}\n"
         "  - {id: latency-probe, name: \"Probe\", role: AGENCY_ROLE_OTHER}\n"
         "  - {id: offline-sink, name: \"Offline\", role: AGENCY_ROLE_OTHER}\n"
         "routes:\n"
         "  - {event_type: EVENT_TYPE_CAF_NOTIFICATION, to: [" +
         to +
         "]}\n"
         // Fails closed without a policy: grant every bench agency the CAF
         // notification on the bases the demo message carries.
         "policy:\n"
         "  version: bench-1\n"
         "  granted_agencies: [early-help, csc-front-door, school-oakfield, "
         "health-visiting, latency-probe, offline-sink]\n"
         "  rules:\n"
         "    - {id: bench-caf, recipient_roles: [AGENCY_ROLE_SCHOOL, "
         "AGENCY_ROLE_HEALTH, AGENCY_ROLE_CSC_FRONT_DOOR, AGENCY_ROLE_OTHER], "
         "record_types: [RECORD_TYPE_CAF_NOTIFICATION], bases: "
         "[SHARING_BASIS_CONSENT_IN_SCOPE, SHARING_BASIS_CONSENT_CITED, "
         "SHARING_BASIS_NO_CONSENT], party_required: false}\n"
         "  masks:\n"
         "    - {recipient_roles: [AGENCY_ROLE_SCHOOL, AGENCY_ROLE_HEALTH, "
         "AGENCY_ROLE_CSC_FRONT_DOOR, AGENCY_ROLE_OTHER], record_types: "
         "[RECORD_TYPE_CAF_NOTIFICATION], paths: [caf_notification, "
         "case_opened]}\n"
         "    - {recipient_roles: [AGENCY_ROLE_CSC_FRONT_DOOR], record_types: "
         "[RECORD_TYPE_STEP_UP_REFERRAL], paths: [step_up_referral]}\n"
         "  purposes:\n"
         "    - {record_type: RECORD_TYPE_CAF_NOTIFICATION, purposes: "
         "[CONSENT_PURPOSE_INFORMATION_SHARING]}\n";
}

// Publish issuer: a fresh idempotency key per call, cases spread over
// kCaseSpread references.
// Publishes copies of `base`, each with its own idempotency key and one of
// kCaseSpread case refs. The request bytes are put together by
// concatenation (`base` serialised once, without the fields that vary, then
// the varying fields; protobuf merges concatenated encodings) and sent
// through the generic stub. The gateway receives the same PublishRequest it
// would from the generated stub, but the load generator no longer deep-copies
// and re-serialises a nested envelope per call: on a 2-core machine its own
// CPU comes out of the gateway's share, and the echo client in (a) only
// copies a byte string per call.
IssueFn PublishIssuer(std::shared_ptr<grpc::Channel> channel,
                      const ev1::Envelope* base, std::string key_prefix) {
  ev1::Envelope fixed = *base;
  fixed.clear_idempotency_key();
  fixed.clear_case_ref();
  auto prefix = std::make_shared<const std::string>(fixed.SerializeAsString());
  auto stub = std::make_shared<grpc::GenericStub>(channel);
  return [stub, prefix, key_prefix](
             uint64_t seq, std::function<void(bool, const std::string&)> done) {
    struct Call {
      grpc::ClientContext ctx;
      grpc::ByteBuffer req, resp;
    };
    auto* c = new Call;
    c->ctx.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
    ev1::Envelope tail;
    tail.set_idempotency_key(key_prefix + std::to_string(seq));
    tail.set_case_ref("BENCH-" + std::to_string(seq % kCaseSpread));
    std::string envelope = *prefix;
    tail.AppendToString(&envelope);
    // PublishRequest { Envelope envelope = 1; }: tag, length, bytes.
    std::string request;
    {
      google::protobuf::io::StringOutputStream raw(&request);
      google::protobuf::io::CodedOutputStream out(&raw);
      out.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
          ev1::PublishRequest::kEnvelopeFieldNumber,
          google::protobuf::internal::WireFormatLite::
              WIRETYPE_LENGTH_DELIMITED));
      out.WriteVarint32(static_cast<uint32_t>(envelope.size()));
      out.WriteRaw(envelope.data(), static_cast<int>(envelope.size()));
    }
    grpc::Slice slice(std::move(request));
    c->req = grpc::ByteBuffer(&slice, 1);
    stub->UnaryCall(
        &c->ctx, "/ehx.exchange.v1.Exchange/Publish", grpc::StubOptions(),
        &c->req, &c->resp, [c, done = std::move(done)](grpc::Status s) {
          ev1::PublishReceipt receipt;
          bool ok = false;
          if (s.ok()) {
            grpc::Status parsed =
                grpc::GenericDeserialize<grpc::ProtoBufferReader,
                                         ev1::PublishReceipt>(&c->resp,
                                                              &receipt);
            ok = parsed.ok() && !receipt.message_id().empty();
          }
          std::string err;
          if (!s.ok()) {
            err = std::to_string(s.error_code()) + " " + s.error_message();
          }
          delete c;
          done(ok, err);
        });
  };
}

// A single synchronous publish, to check the envelope is accepted.
bool PublishOnce(ev1::Exchange::Stub* stub, const ev1::Envelope& base,
                 const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ctx.set_wait_for_ready(true);
  ev1::PublishRequest req;
  *req.mutable_envelope() = base;
  req.mutable_envelope()->set_idempotency_key(key);
  ev1::PublishReceipt resp;
  grpc::Status s = stub->Publish(&ctx, req, &resp);
  if (!s.ok()) {
    std::fprintf(stderr, "publish refused: %d %s\n", s.error_code(),
                 s.error_message().c_str());
    return false;
  }
  std::printf("  check publish ok: message_id=%s recipients=%d\n",
              resp.message_id().c_str(), resp.recipients_size());
  return true;
}

void PrintStatus(const Pki& pki, const GatewayProcess& gw) {
  if (gw.admin_port() <= 0) return;
  auto stub = ev1::Admin::NewStub(MakeChannel(pki, "ops", gw.admin_port()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  ev1::GetStatusRequest req;
  ev1::GatewayStatus st;
  grpc::Status s = stub->GetStatus(&ctx, req, &st);
  if (!s.ok()) {
    std::printf("  admin status: error %d %s\n", s.error_code(),
                s.error_message().c_str());
    return;
  }
  std::printf("  admin status: %s events=%lld", st.state().c_str(),
              static_cast<long long>(st.events()));
  for (const auto& m : st.mailboxes()) {
    std::printf(" %s:queued=%lld", m.agency().c_str(),
                static_cast<long long>(m.queued()));
  }
  std::printf("\n");
}

int64_t DirBytes(const fs::path& d) {
  int64_t n = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(d, ec)) {
    if (e.is_regular_file(ec)) n += static_cast<int64_t>(e.file_size(ec));
  }
  return n;
}

// ---------------------------------------------------------------------------
// (c) Publish-to-delivery latency.

struct DeliveryLatency {
  uint64_t sent = 0, received = 0, redelivered = 0;
  std::vector<int64_t> latency_ns;  // sorted
  double PercentileMs(double q) const {
    if (latency_ns.empty()) return 0;
    size_t i = static_cast<size_t>(q * (latency_ns.size() - 1) + 0.5);
    return latency_ns[std::min(i, latency_ns.size() - 1)] / 1e6;
  }
};

DeliveryLatency MeasureDeliveryLatency(const Pki& pki, int port,
                                       const ev1::Envelope& base, double rate,
                                       double seconds) {
  DeliveryLatency out;
  const uint64_t warmup = 5;
  const uint64_t n =
      warmup + static_cast<uint64_t>(std::max(1.0, rate * seconds));
  std::vector<std::atomic<int64_t>> sent_at(n);
  for (auto& s : sent_at) s = 0;
  std::vector<char> seen(n, 0);
  const std::string prefix = "lat-" + std::to_string(getpid()) + "-";

  // Subscriber (sync API on its own thread).
  auto sub_stub = ev1::Exchange::NewStub(MakeChannel(pki, kProbe, port));
  grpc::ClientContext sub_ctx;
  auto stream = sub_stub->Subscribe(&sub_ctx);
  ev1::SubscribeRequest start;
  start.mutable_start()->set_window(256);
  if (!stream->Write(start)) {
    std::fprintf(stderr, "subscribe: cannot open stream\n");
    return out;
  }
  std::mutex mu;
  std::condition_variable cv;
  uint64_t received = 0, warm_received = 0;
  std::thread reader([&] {
    ev1::Delivery d;
    while (stream->Read(&d)) {
      const int64_t now = NowNs();
      const std::string& key = d.envelope().idempotency_key();
      if (key.rfind(prefix, 0) == 0) {
        const uint64_t seq = std::stoull(key.substr(prefix.size()));
        std::lock_guard<std::mutex> l(mu);
        if (seq < n && !seen[seq]) {
          seen[seq] = 1;
          if (seq < warmup) {
            ++warm_received;
          } else {
            out.latency_ns.push_back(now - sent_at[seq].load());
            ++received;
          }
        } else {
          ++out.redelivered;
        }
        cv.notify_all();
      }
      ev1::SubscribeRequest ack;
      ack.mutable_ack()->set_delivery_id(d.delivery_id());
      ack.mutable_ack()->set_ok(true);
      if (!stream->Write(ack)) break;
    }
  });

  // Publisher: open loop at `rate`, through a separate channel.
  auto pub_stub = ev1::Exchange::NewStub(MakeChannel(pki, kSender, port));
  std::atomic<uint64_t> outstanding{0}, failed{0};
  auto publish = [&](uint64_t seq) {
    struct Call {
      grpc::ClientContext ctx;
      ev1::PublishRequest req;
      ev1::PublishReceipt resp;
    };
    auto* c = new Call;
    c->ctx.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
    ev1::Envelope* e = c->req.mutable_envelope();
    *e = base;
    e->set_idempotency_key(prefix + std::to_string(seq));
    e->set_case_ref("LAT-" + std::to_string(seq));
    e->add_extra_recipients(kProbe);
    ++outstanding;
    sent_at[seq] = NowNs();
    pub_stub->async()->Publish(&c->ctx, &c->req, &c->resp,
                               [c, &outstanding, &failed](grpc::Status s) {
                                 if (!s.ok()) ++failed;
                                 delete c;
                                 --outstanding;
                               });
  };
  // Warm-up: the stream is live once these arrive.
  for (uint64_t i = 0; i < warmup; ++i) publish(i);
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(30),
                [&] { return warm_received == warmup; });
  }
  const auto t0 = Clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  for (uint64_t i = warmup; i < n; ++i) {
    std::this_thread::sleep_until(
        t0 +
        std::chrono::duration_cast<Clock::duration>(interval * (i - warmup)));
    publish(i);
  }
  out.sent = n - warmup;
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(60),
                [&] { return received + failed >= out.sent; });
    out.received = received;
  }
  sub_ctx.TryCancel();
  reader.join();
  stream->Finish();
  for (int i = 0; i < 600 && outstanding > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::sort(out.latency_ns.begin(), out.latency_ns.end());
  return out;
}

// ---------------------------------------------------------------------------

bool MakePki(const std::string& script, const fs::path& dir) {
  std::string cmd = "bash '" + script + "' '" + dir.string() +
                    "' early-help csc-front-door school-oakfield "
                    "health-visiting latency-probe offline-sink ops "
                    ">/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 && fs::exists(dir / "ca.pem");
}

struct Options {
  double seconds = 5;
  uint64_t queued = 200000;
  int queued_concurrency = 64;
  double rate = 200;
  std::string gateway = EHX_BENCH_GATEWAY;
  std::string message =
      EHX_SOURCE_DIR "/deploy/demo/messages/02-caf-notification.json";
  std::string pki_script = EHX_SOURCE_DIR "/deploy/pki/make-dev-pki.sh";
  std::string work_dir;
  int pad_bytes = 1024;
  bool keep = false;
  // Child echo server mode (phases a2, a3).
  std::string serve_echo;
  std::string port_file;
  bool deferred = false;
};

int Main(const Options& opt) {
  // Work dir.
  fs::path work = opt.work_dir;
  if (work.empty()) {
    std::string tmpl =
        (fs::temp_directory_path() / "ehx-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    work = tmpl;
  }
  fs::create_directories(work);
  std::printf("ehx_bench: work dir %s, %u cores, loadavg %s", work.c_str(),
              std::thread::hardware_concurrency(),
              ReadFile("/proc/loadavg").c_str());

  // Envelope.
  ev1::Envelope base;
  {
    const std::string json = ReadFile(opt.message);
    google::protobuf::util::JsonParseOptions jo;
    auto st = google::protobuf::util::JsonStringToMessage(json, &base, jo);
    if (json.empty() || !st.ok()) {
      std::fprintf(stderr, "cannot parse %s: %s\n", opt.message.c_str(),
                   std::string(st.message()).c_str());
      return 1;
    }
    // Pad a free-text field so a request is a realistic 1-4 KB.
    if (opt.pad_bytes > 0 && base.has_caf_notification() &&
        base.caf_notification().lead_practitioner().contacts_size() > 0) {
      std::string pad;
      while (static_cast<int>(pad.size()) < opt.pad_bytes) {
        pad += "Safe to call on weekday mornings; leave no message. ";
      }
      pad.resize(opt.pad_bytes);
      base.mutable_caf_notification()
          ->mutable_lead_practitioner()
          ->mutable_contacts(0)
          ->set_notes(pad);
    }
  }
  ev1::PublishRequest sample;
  *sample.mutable_envelope() = base;
  sample.mutable_envelope()->set_idempotency_key("bench-000000000");
  const std::string payload(sample.ByteSizeLong(), 'x');
  std::printf("message: %s, PublishRequest %zu bytes serialized\n",
              opt.message.c_str(), payload.size());

  const fs::path pki_dir = work / "pki";
  if (!MakePki(opt.pki_script, pki_dir)) {
    std::fprintf(stderr, "make-dev-pki.sh failed\n");
    return 1;
  }
  Pki pki{pki_dir, ReadFile(pki_dir / "ca.pem")};

  // (a) Echo.
  std::printf("\n== (a) plain gRPC unary echo, mTLS, in-process server ==\n");
  Result echo1, echo32;
  double echo_cpu_us = 0;
  int64_t echo_hwm_kb = 0;
  {
    EchoService service;
    int port = 0;
    auto server = StartEchoServer(pki, &service, &port);
    if (!server || port == 0) {
      std::fprintf(stderr, "echo server failed to start\n");
      return 1;
    }
    IssueFn issue = EchoIssuer(MakeChannel(pki, kSender, port), &payload);
    std::atomic<uint64_t> seq{0};
    RunLoad("echo warm-up", issue, 8, 0.5, UINT64_MAX, &seq);
    echo1 = RunLoad("echo unary", issue, 1, opt.seconds, UINT64_MAX, &seq);
    echo1.Print();
    const auto cpu0 = ThreadCpuTicks("self");
    echo32 = RunLoad("echo unary", issue, 32, opt.seconds, UINT64_MAX, &seq);
    echo_cpu_us = CpuUsPerCall(cpu0, ThreadCpuTicks("self"), echo32.ok);
    echo32.Print();
    echo_hwm_kb = ProcStatusKb("self", "VmHWM");
    std::printf(
        "echo side peak RSS (bench process VmHWM: server + client): "
        "%.1f MB\n",
        Mb(echo_hwm_kb));
    server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
  }

  // (a2), (a3) The same echo server in a child process: the gateway's
  // process topology (client and server do not share gRPC's threads), then
  // finishing each call from a second thread as the gateway does after its
  // group commit. Neither stores anything. These split the gap between (a)
  // and (b) into what the topology and the asynchronous reply cost and what
  // the gateway's own work costs; `publish_vs_echo_ratio` stays (b) / (a).
  struct ChildEcho {
    const char* label;
    const char* dir;
    bool deferred;
    Result r;
    double cpu_us = 0;
    std::string threads;
  };
  ChildEcho child_echo[] = {
      {"echo, server in a child process", "echo-process", false, {}, 0, {}},
      {"echo, child process, deferred Finish",
       "echo-deferred",
       true,
       {},
       0,
       {}}};
  {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    for (auto& ce : child_echo) {
      std::printf("\n== (%s) %s ==\n", ce.deferred ? "a3" : "a2", ce.label);
      GatewayProcess child;
      const fs::path dir = work / ce.dir;
      fs::create_directories(dir);
      std::vector<std::string> args = {self.string(), "--serve-echo",
                                       pki_dir.string(), "--port-file",
                                       (dir / "ports").string()};
      if (ce.deferred) args.push_back("--deferred");
      if (ec || !child.Spawn(self.string(), args, dir / "ports")) return 1;
      IssueFn issue =
          EchoIssuer(MakeChannel(pki, kSender, child.port()), &payload);
      std::atomic<uint64_t> seq{0};
      RunLoad("echo warm-up", issue, 8, 0.5, UINT64_MAX, &seq);
      const auto self0 = ThreadCpuTicks("self");
      const auto child0 = ThreadCpuTicks(std::to_string(child.pid()));
      ce.r = RunLoad(ce.label, issue, 32, opt.seconds, UINT64_MAX, &seq);
      const double client_us =
          CpuUsPerCall(self0, ThreadCpuTicks("self"), ce.r.ok);
      const double server_us =
          CpuUsPerCall(child0, ThreadCpuTicks(std::to_string(child.pid())),
                       ce.r.ok, &ce.threads);
      ce.cpu_us = client_us + server_us;
      ce.r.Print();
      std::printf(
          "CPU per call at c=32: %.0f us (client %.0f + server %.0f:%s)\n",
          ce.cpu_us, client_us, server_us, ce.threads.c_str());
      child.Stop();
    }
  }

  // (b) Gateway Publish.
  std::printf(
      "\n== (b) ehx-gateway Publish (SQLite synchronous=FULL), CAF -> 3 "
      "agencies ==\n");
  Result pub1, pub32;
  double client_cpu_us = 0, gateway_cpu_us = 0;
  std::string gateway_threads;
  GatewayProcess gw;
  if (!gw.Start(opt.gateway, work / "gw-main",
                GatewayConfig(pki_dir, {"school-oakfield", "health-visiting",
                                        "csc-front-door"}))) {
    return 1;
  }
  std::printf(
      "gateway pid %d, exchange port %d, admin port %d, idle RSS "
      "%.1f MB\n",
      gw.pid(), gw.port(), gw.admin_port(), Mb(gw.StatusKb("VmRSS")));
  {
    auto channel = MakeChannel(pki, kSender, gw.port());
    auto stub = ev1::Exchange::NewStub(channel);
    if (!PublishOnce(stub.get(), base, "bench-check")) return 1;
    std::atomic<uint64_t> seq{0};
    IssueFn issue = PublishIssuer(channel, &base, "bench-b-");
    RunLoad("publish warm-up", issue, 8, 0.5, UINT64_MAX, &seq);
    pub1 = RunLoad("gateway publish", issue, 1, opt.seconds, UINT64_MAX, &seq);
    pub1.Print();
    const auto gw0 = ThreadCpuTicks(std::to_string(gw.pid()));
    const auto self0 = ThreadCpuTicks("self");
    pub32 =
        RunLoad("gateway publish", issue, 32, opt.seconds, UINT64_MAX, &seq);
    client_cpu_us = CpuUsPerCall(self0, ThreadCpuTicks("self"), pub32.ok);
    gateway_cpu_us = CpuUsPerCall(gw0, ThreadCpuTicks(std::to_string(gw.pid())),
                                  pub32.ok, &gateway_threads);
    pub32.Print();
    std::printf(
        "CPU per call at c=32: echo %.0f us (client + server), publish %.0f "
        "us (client %.0f + gateway %.0f:%s)\n",
        echo_cpu_us, client_cpu_us + gateway_cpu_us, client_cpu_us,
        gateway_cpu_us, gateway_threads.c_str());
  }
  std::printf("gateway peak RSS after (b) (VmHWM): %.1f MB (VmRSS %.1f MB)\n",
              Mb(gw.StatusKb("VmHWM")), Mb(gw.StatusKb("VmRSS")));

  // (c) Publish-to-delivery.
  std::printf(
      "\n== (c) publish -> delivery latency, subscribed recipient, "
      "%.0f msg/s ==\n",
      opt.rate);
  DeliveryLatency dl =
      MeasureDeliveryLatency(pki, gw.port(), base, opt.rate, opt.seconds);
  std::printf(
      "delivery latency: sent=%llu received=%llu redelivered=%llu "
      "p50=%.3fms p99=%.3fms max=%.3fms\n",
      static_cast<unsigned long long>(dl.sent),
      static_cast<unsigned long long>(dl.received),
      static_cast<unsigned long long>(dl.redelivered), dl.PercentileMs(0.5),
      dl.PercentileMs(0.99), dl.PercentileMs(1.0));
  const int64_t gw_hwm_kb = gw.StatusKb("VmHWM");
  std::printf("gateway peak RSS after (b)+(c) (VmHWM): %.1f MB\n",
              Mb(gw_hwm_kb));
  PrintStatus(pki, gw);
  gw.Stop();

  // (d) Queued for an offline recipient.
  std::printf("\n== (d) %llu messages queued for an offline recipient ==\n",
              static_cast<unsigned long long>(opt.queued));
  GatewayProcess gq;
  if (!gq.Start(opt.gateway, work / "gw-queued",
                GatewayConfig(pki_dir, {kOffline}))) {
    return 1;
  }
  const int64_t idle_kb = gq.StatusKb("VmRSS");
  Result qr;
  {
    auto channel = MakeChannel(pki, kSender, gq.port());
    auto stub = ev1::Exchange::NewStub(channel);
    if (!PublishOnce(stub.get(), base, "bench-q-check")) return 1;
    std::atomic<uint64_t> seq{0};
    qr =
        RunLoad("queue fill publish", PublishIssuer(channel, &base, "bench-q-"),
                opt.queued_concurrency, 24 * 3600.0, opt.queued - 1, &seq);
    qr.Print();
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int64_t q_rss = gq.StatusKb("VmRSS"), q_hwm = gq.StatusKb("VmHWM");
  std::printf(
      "queued %llu in %.1f s (%.0f/s): gateway VmRSS %.1f MB, VmHWM %.1f MB "
      "(idle %.1f MB; target < 200 MB: %s); store on disk %.1f MB\n",
      static_cast<unsigned long long>(qr.ok + 1), qr.seconds, qr.Throughput(),
      Mb(q_rss), Mb(q_hwm), Mb(idle_kb), Mb(q_hwm) < 200 ? "met" : "MISSED",
      DirBytes(gq.dir() / "data") / 1048576.0);
  PrintStatus(pki, gq);
  gq.Stop();

  // (e) Publish with encryption at rest off (policy, masks, audit on).
  std::printf(
      "\n== (e) ehx-gateway Publish as (b), encryption at rest disabled ==\n");
  Result plain32;
  {
    GatewayProcess gp;
    if (!gp.Start(opt.gateway, work / "gw-plain",
                  GatewayConfig(
                      pki_dir,
                      {"school-oakfield", "health-visiting", "csc-front-door"},
                      /*encrypt=*/false))) {
      return 1;
    }
    auto channel = MakeChannel(pki, kSender, gp.port());
    auto stub = ev1::Exchange::NewStub(channel);
    if (!PublishOnce(stub.get(), base, "bench-check")) return 1;
    std::atomic<uint64_t> seq{0};
    IssueFn issue = PublishIssuer(channel, &base, "bench-e-");
    RunLoad("publish warm-up", issue, 8, 0.5, UINT64_MAX, &seq);
    plain32 = RunLoad("gateway publish (no encryption)", issue, 32, opt.seconds,
                      UINT64_MAX, &seq);
    plain32.Print();
    gp.Stop();
  }

  // Summary.
  const double plain_ratio =
      echo32.Throughput() > 0 ? plain32.Throughput() / echo32.Throughput() : 0;
  const double ratio =
      echo32.Throughput() > 0 ? pub32.Throughput() / echo32.Throughput() : 0;
  std::printf("\n== summary ==\n");
  std::printf(
      "echo_c1=%.0f/s echo_c32=%.0f/s publish_c1=%.0f/s "
      "publish_c32=%.0f/s\n",
      echo1.Throughput(), echo32.Throughput(), pub1.Throughput(),
      pub32.Throughput());
  std::printf(
      "echo_hwm_mb=%.1f gateway_hwm_mb=%.1f queued_%llu_rss_mb=%.1f "
      "queued_hwm_mb=%.1f\n",
      Mb(echo_hwm_kb), Mb(gw_hwm_kb),
      static_cast<unsigned long long>(opt.queued), Mb(q_rss), Mb(q_hwm));
  std::printf("delivery_p50_ms=%.3f delivery_p99_ms=%.3f\n",
              dl.PercentileMs(0.5), dl.PercentileMs(0.99));
  // Throughput ratios move with whatever else the machine runs; CPU per
  // call moves much less. This is the ratio the throughput ratio tends to
  // when the machine is CPU-bound (both ends share its cores).
  std::printf(
      "echo_cpu_us_per_call=%.1f publish_cpu_us_per_call=%.1f "
      "gateway_cpu_us_per_publish=%.1f\n",
      echo_cpu_us, client_cpu_us + gateway_cpu_us, gateway_cpu_us);
  std::printf("publish_vs_echo_cpu_ratio=%.3f\n",
              client_cpu_us + gateway_cpu_us > 0
                  ? echo_cpu_us / (client_cpu_us + gateway_cpu_us)
                  : 0);
  std::printf(
      "echo_process_c32=%.0f/s echo_deferred_c32=%.0f/s "
      "echo_process_cpu_us_per_call=%.1f echo_deferred_cpu_us_per_call=%.1f\n",
      child_echo[0].r.Throughput(), child_echo[1].r.Throughput(),
      child_echo[0].cpu_us, child_echo[1].cpu_us);
  // (b) against the echo with the gateway's topology and reply shape: what
  // the gateway's own work (validation, policy, storage, audit) costs.
  std::printf("publish_vs_deferred_echo_ratio=%.3f\n",
              child_echo[1].r.Throughput() > 0
                  ? pub32.Throughput() / child_echo[1].r.Throughput()
                  : 0);
  std::printf("loadavg %s", ReadFile("/proc/loadavg").c_str());
  const bool failed = echo32.ok == 0 || child_echo[0].r.ok == 0 ||
                      child_echo[1].r.ok == 0 || pub32.ok == 0 ||
                      plain32.ok == 0 || dl.received == 0 ||
                      qr.ok + 1 < opt.queued;
  if (!opt.keep && opt.work_dir.empty()) fs::remove_all(work);
  if (failed) {
    std::printf("ehx_bench: FAILED (a phase completed no calls)\n");
    return 1;
  }
  std::printf("publish_vs_echo_ratio=%.3f\n", ratio);
  std::printf("plain_publish_vs_echo_ratio=%.3f\n", plain_ratio);
  std::printf("secure_publish_vs_echo_ratio=%.3f\n", ratio);
  std::printf("secure_vs_foundation=%.3f\n",
              plain_ratio > 0 ? ratio / plain_ratio : 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ehx_bench: gateway Publish vs plain gRPC echo"};
  Options opt;
  app.add_option("--seconds", opt.seconds, "duration of each timed phase")
      ->capture_default_str();
  app.add_option("--queued", opt.queued,
                 "messages queued for an offline recipient in phase (d)")
      ->capture_default_str();
  app.add_option("--queued-concurrency", opt.queued_concurrency,
                 "publishes in flight while filling the queue")
      ->capture_default_str();
  app.add_option("--rate", opt.rate,
                 "publish rate (msg/s) for the delivery latency phase")
      ->capture_default_str();
  app.add_option("--gateway", opt.gateway, "ehx-gateway binary")
      ->capture_default_str();
  app.add_option("--message", opt.message, "envelope JSON to publish")
      ->capture_default_str();
  app.add_option("--pad", opt.pad_bytes,
                 "bytes of free text added to the envelope")
      ->capture_default_str();
  app.add_option("--pki-script", opt.pki_script, "make-dev-pki.sh")
      ->capture_default_str();
  app.add_option("--work-dir", opt.work_dir,
                 "work directory (kept); default: a temp dir, removed");
  app.add_flag("--keep", opt.keep, "keep the temp work dir");
  // Internal: phases (a2) and (a3) start this binary as their echo server.
  app.add_option("--serve-echo", opt.serve_echo)->group("");
  app.add_option("--port-file", opt.port_file)->group("");
  app.add_flag("--deferred", opt.deferred)->group("");
  CLI11_PARSE(app, argc, argv);
  if (!opt.serve_echo.empty()) {
    return ServeEcho(opt.serve_echo, opt.port_file, opt.deferred);
  }
  if (opt.seconds <= 0 || opt.queued < 1 || opt.rate <= 0 ||
      opt.queued_concurrency < 1) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  return Main(opt);
}
