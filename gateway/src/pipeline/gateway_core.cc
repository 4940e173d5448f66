#include "pipeline/gateway_core.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <future>
#include <random>
#include <tuple>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_util.h"
#include "pipeline/projection.h"
#include "validate/validate.h"

namespace ehx::pipeline {

using ehx::exchange::v1::Delivery;
using ehx::exchange::v1::Envelope;
using ehx::exchange::v1::PublishReceipt;
using google::protobuf::util::TimeUtil;

namespace {

constexpr int kStateDead = 2;
constexpr char kGatewayActor[] = "ehx-gateway";

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream sos(&out);
  google::protobuf::io::CodedOutputStream cos(&sos);
  cos.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&cos);
  cos.Trim();
  return out;
}

// A recipient's nack reason as audited: a short machine token or "other"
// (the field comes from outside and must not carry free text).
std::string MachineReason(const std::string& r) {
  if (r.empty()) return "none";
  if (r.size() > 32) return "other";
  for (char c : r) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
          c == '-')) {
      return "other";
    }
  }
  return r;
}

}  // namespace

class GatewayCore::ReadPool {
 public:
  explicit ReadPool(int threads) : pool_(threads) {}
  void Post(std::function<void()> fn) {
    boost::asio::post(pool_, std::move(fn));
  }
  void Join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
};

GatewayCore::GatewayCore(const ehx::config::v1::GatewayConfig& config,
                         ClockFn clock)
    : config_(config),
      clock_(clock ? std::move(clock) : ClockFn(SystemNowMs)),
      router_(config),
      policy_(policy::PolicyEngine::Create(config)) {
  const auto& d = config.delivery();
  max_attempts_ = d.max_attempts() > 0 ? d.max_attempts() : 8;
  initial_backoff_ms_ =
      d.initial_backoff_ms() > 0 ? d.initial_backoff_ms() : 1000;
  max_backoff_ms_ = d.max_backoff_ms() > 0 ? d.max_backoff_ms() : 300000;
  lease_seconds_ = d.lease_seconds() > 0 ? d.lease_seconds() : 60;
  sweep_interval_ms_ = d.sweep_interval_ms() > 0 ? d.sweep_interval_ms() : 1000;
  for (const auto& r : config.retention().rules()) {
    ehx::exchange::v1::EventType type;
    if (ehx::exchange::v1::EventType_Parse(r.event_type(), &type)) {
      retention_.emplace_back(static_cast<int>(type),
                              r.retain_seconds() * 1000);
    }
  }
  if (config.retention().purge_interval_seconds() > 0) {
    purge_interval_ms_ = config.retention().purge_interval_seconds() * 1000;
  }
}

absl::StatusOr<std::unique_ptr<GatewayCore>> GatewayCore::Create(
    const ehx::config::v1::GatewayConfig& config, ClockFn clock) {
  std::unique_ptr<GatewayCore> core(new GatewayCore(config, std::move(clock)));
  absl::Status st = core->Init();
  if (!st.ok()) return st;
  return core;
}

absl::Status GatewayCore::Init() {
  store::StoreOptions opts;
  opts.max_batch = config_.store().max_batch();
  auto s = store::SqliteStore::Open(config_.store().sqlite_path(), opts);
  if (!s.ok()) return s.status();
  store_ = std::move(*s);
  // Encryption at rest: the key ring (a generated key for development).
  {
    const auto& enc = config_.store().encryption();
    bool created = false;
    auto ring = crypto::LoadKeyRing(
        enc, config_.store().sqlite_path() + ".data-key", &created);
    if (!ring.ok()) return ring.status();
    keys_ = std::move(*ring);
    encrypt_ = !enc.disabled();
    if (created) {
      SPDLOG_WARN(
          "encryption: generated data key {}.data-key (mode 0600) for "
          "development; production deployments name their keys in "
          "store.encryption.keys and keep them off the database disk",
          config_.store().sqlite_path());
    }
    if (!encrypt_) {
      SPDLOG_WARN(
          "encryption: DISABLED (store.encryption.disabled): payloads are "
          "stored in plaintext; development and benchmarks only");
    }
  }
  // The audit chain: its key signs checkpoints; created on first start.
  std::string key_path = config_.audit().signing_key_file();
  const bool default_key = key_path.empty();
  if (default_key) key_path = config_.store().sqlite_path() + ".audit-key.pem";
  auto key = audit::SigningKey::LoadOrCreate(key_path, default_key);
  if (!key.ok()) return key.status();
  audit_ = std::make_unique<audit::AuditLog>(
      std::shared_ptr<const audit::SigningKey>(std::move(*key)),
      config_.audit().checkpoint_every());
  absl::Status st =
      store_->WriteNow([](store::Txn& t) { return audit::EnsureSchema(t); });
  if (!st.ok()) return st;
  // The sharing policy fails closed: without a valid one nothing is
  // delivered. Say so loudly and put it on the record.
  for (const auto& a : config_.agencies()) {
    if (policy_->ok() &&
        std::find(config_.policy().granted_agencies().begin(),
                  config_.policy().granted_agencies().end(),
                  a.id()) == config_.policy().granted_agencies().end()) {
      SPDLOG_WARN(
          "policy: agency {} is registered but not granted: it receives "
          "nothing",
          a.id());
    }
  }
  {
    const std::string action = policy_->ok() ? "policy_loaded" : "policy_error";
    const std::string detail =
        policy_->ok() ? absl::StrCat("policy=", policy_->version())
                      : absl::StrCat("fail-closed: ", policy_->error());
    if (!policy_->ok()) {
      SPDLOG_ERROR("policy: FAILING CLOSED, nothing will be delivered: {}",
                   policy_->error());
    }
    // The configuration in force, and whether it changed since the last
    // start (hash only: the config names files, never key material).
    const std::string config_hash = ToHex(Sha256(DeterministicBytes(config_)));
    std::promise<absl::Status> p;
    auto f = p.get_future();
    store_->Write(
        [&](store::Txn& t) -> absl::Status {
          const int64_t now = clock_();
          std::string previous = "none";
          auto q =
              t.Prepare("SELECT value FROM meta WHERE key='config_sha256'");
          if (!q.ok()) return q.status();
          auto row = (*q)->Step();
          if (!row.ok()) return row.status();
          if (*row) previous = (*q)->Text(0);
          (*q)->Reset();
          absl::Status ast = AppendAudit(
              t, kGatewayActor, "config_loaded", "", "",
              absl::StrCat("config_sha256=", config_hash, " policy=",
                           policy_->ok() ? policy_->version() : "none",
                           " changed=", previous == config_hash ? "no" : "yes",
                           " previous=", previous),
              now);
          if (!ast.ok()) return ast;
          auto up = t.Prepare(
              "INSERT INTO meta(key, value) VALUES('config_sha256', ?) ON "
              "CONFLICT(key) DO UPDATE SET value=excluded.value");
          if (!up.ok()) return up.status();
          ast = (*up)->Bind(1, config_hash).Run();
          if (!ast.ok()) return ast;
          return AppendAudit(t, kGatewayActor, action, "", "", detail, now);
        },
        [&p](absl::Status s) { p.set_value(s); });
    st = f.get();
    if (!st.ok()) return st;
  }
  // Queue quotas: count what is still queued per sender.
  for (const auto& a : config_.agencies()) {
    if (a.max_queued() > 0) max_queued_[a.id()] = a.max_queued();
  }
  st = store_->Read([this](store::Txn& t) -> absl::Status {
    auto q = t.Prepare(
        "SELECT e.sender, count(*) FROM outbox o JOIN events e ON "
        "e.seq=o.event_seq WHERE o.state=0 GROUP BY e.sender");
    if (!q.ok()) return q.status();
    while (true) {
      auto r = (*q)->Step();
      if (!r.ok()) return r.status();
      if (!*r) break;
      queued_[(*q)->Text(0)] = (*q)->Int(1);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  pool_ = std::make_unique<ReadPool>(2);
  sweeper_ = std::thread([this] { SweeperLoop(); });
  return absl::OkStatus();
}

void GatewayCore::AuditAdmin(const std::string& actor,
                             const std::string& action,
                             const std::string& case_ref,
                             const std::string& detail,
                             std::function<void(absl::Status)> done) {
  store_->Write(
      [this, actor, action, case_ref, detail](store::Txn& t) {
        return AppendAudit(t, actor, action, "", case_ref, detail, clock_());
      },
      std::move(done));
}

void GatewayCore::AdjustQueued(const std::string& sender, int64_t delta) {
  std::lock_guard<std::mutex> l(queued_mu_);
  int64_t& n = queued_[sender];
  n = std::max<int64_t>(0, n + delta);
}

bool GatewayCore::QueueFull(const std::string& sender) {
  auto limit = max_queued_.find(sender);
  if (limit == max_queued_.end()) return false;
  std::lock_guard<std::mutex> l(queued_mu_);
  auto it = queued_.find(sender);
  return it != queued_.end() && it->second >= limit->second;
}

GatewayCore::~GatewayCore() { Shutdown(); }

void GatewayCore::Shutdown() {
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  if (pool_) pool_->Join();
  if (store_ && audit_ && store_->health().ok()) {
    // Sign the head so a clean shutdown leaves no unsigned tail.
    std::promise<absl::Status> p;
    store_->Write(
        [this](store::Txn& t) { return audit_->Checkpoint(t, clock_()); },
        [&p](absl::Status s) { p.set_value(s); });
    absl::Status st = p.get_future().get();
    if (!st.ok())
      SPDLOG_WARN("audit: final checkpoint: {}", std::string(st.message()));
  }
  if (store_) store_->Close();
}

bool GatewayCore::TakeToken(const std::string& agency) {
  std::lock_guard<std::mutex> l(quota_mu_);
  auto it = buckets_.find(agency);
  if (it == buckets_.end()) {
    Bucket b;
    for (const auto& a : config_.agencies()) {
      if (a.id() == agency) {
        b.rate = a.publish_rate_per_second();
        b.burst = a.publish_burst() > 0 ? a.publish_burst() : b.rate;
      }
    }
    b.tokens = b.burst;
    b.last_ms = clock_();
    it = buckets_.emplace(agency, b).first;
  }
  Bucket& b = it->second;
  if (b.rate <= 0) return true;  // unlimited
  const int64_t now = clock_();
  b.tokens = std::min(b.burst, b.tokens + (now - b.last_ms) * b.rate / 1000.0);
  b.last_ms = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

bool GatewayCore::IsActiveAgency(const std::string& agency) const {
  return router_.IsActive(agency);
}

absl::Status GatewayCore::AppendAudit(store::Txn& t, const std::string& actor,
                                      const std::string& action,
                                      const std::string& message_id,
                                      const std::string& case_ref,
                                      const std::string& detail, int64_t now) {
  ehx::audit::v1::AuditRecord r;
  r.set_at_ms(now);
  r.set_actor(actor);
  r.set_action(action);
  r.set_message_id(message_id);
  if (!case_ref.empty()) {
    // A Publish appends several records for one case: hash it once.
    thread_local std::string last_case, last_pseudo;
    if (case_ref != last_case) {
      last_pseudo = Pseudonym(case_ref);
      last_case = case_ref;
    }
    r.set_case_pseudo(last_pseudo);
  }
  // Machine-made text only (agency ids, event types, rule ids).
  r.set_reason(detail);
  absl::Status st = audit_->Append(t, std::move(r));
  if (st.ok()) return st;
  if (!audit_failed_.exchange(true)) {
    SPDLOG_ERROR(
        "audit: append failed ({}); refusing messages until restart: nothing "
        "is processed without its audit record",
        std::string(st.message()));
  }
  return absl::UnavailableError(
      "audit trail unavailable: the gateway is not accepting messages");
}

absl::Status GatewayCore::health() const {
  if (audit_failed_.load()) {
    return absl::UnavailableError("audit: an append failed; restart needed");
  }
  return store_->health();
}

template <typename T>
void GatewayCore::RefuseAudited(const std::string& actor,
                                const std::string& case_ref,
                                const std::string& detail, absl::Status refusal,
                                Callback<T> done) {
  auto shared = std::make_shared<absl::Status>(std::move(refusal));
  store_->Write(
      [this, actor, case_ref, detail](store::Txn& t) {
        return AppendAudit(t, actor, "refuse", "", case_ref, detail, clock_());
      },
      [shared, done = std::move(done)](absl::Status st) {
        if (!st.ok()) {
          SPDLOG_WARN("audit: refusal not recorded: {}",
                      std::string(st.message()));
        }
        done(*shared);
      });
}

void GatewayCore::FlushQuotaRefusals() {
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  {
    std::lock_guard<std::mutex> l(quota_mu_);
    counts.swap(quota_refusals_);
  }
  if (counts.empty()) return;
  store_->Write(
      [this, counts](store::Txn& t) -> absl::Status {
        for (const auto& [key, n] : counts) {
          absl::Status st = AppendAudit(
              t, key.first, "refuse", "", "",
              absl::StrCat("reason=", key.second, " count=", n), clock_());
          if (!st.ok()) return st;
        }
        return absl::OkStatus();
      },
      [](absl::Status st) {
        if (!st.ok()) {
          SPDLOG_WARN("audit: quota refusals not recorded: {}",
                      std::string(st.message()));
        }
      });
}

absl::StatusOr<std::string> GatewayCore::SealColumn(
    std::string_view column, std::string_view row,
    std::string_view plaintext) const {
  if (!encrypt_) return std::string(plaintext);
  return keys_->Seal(plaintext, absl::StrCat("ehx|", std::string(column), "|",
                                             std::string(row)));
}

absl::StatusOr<std::string> GatewayCore::OpenColumn(std::string_view column,
                                                    std::string_view row,
                                                    std::string stored) const {
  if (crypto::LooksSealed(stored)) {
    return keys_->Open(stored, absl::StrCat("ehx|", std::string(column), "|",
                                            std::string(row)));
  }
  if (encrypt_) {
    // Never accept plaintext where ciphertext belongs: it could be forged.
    return absl::DataLossError(
        absl::StrCat("store: a ", std::string(column),
                     " value is not encrypted (written with encryption "
                     "disabled?); refusing it"));
  }
  return stored;
}

absl::Status GatewayCore::ReadCaseLocked(
    store::Txn& t, const std::string& case_ref,
    ehx::record::v1::CaseRecord* out) const {
  auto q = t.Prepare("SELECT record FROM cases WHERE case_ref=?");
  if (!q.ok()) return q.status();
  (*q)->Bind(1, case_ref);
  auto row = (*q)->Step();
  if (!row.ok()) return row.status();
  absl::Status st;
  if (*row) {
    auto bytes = OpenColumn("cases.record", case_ref, (*q)->Text(0));
    if (!bytes.ok()) {
      st = bytes.status();
    } else if (!out->ParseFromString(*bytes)) {
      st = absl::DataLossError("store: corrupt shared record");
    }
  }
  (*q)->Reset();
  return st;
}

bool GatewayCore::TakeCachedCase(const std::string& case_ref,
                                 ehx::record::v1::CaseRecord* out) {
  auto it = case_cache_.find(case_ref);
  if (it == case_cache_.end()) return false;
  *out = std::move(it->second.first);
  case_lru_.erase(it->second.second);
  case_cache_.erase(it);
  return true;
}

void GatewayCore::PutCachedCase(const std::string& case_ref,
                                ehx::record::v1::CaseRecord record) {
  auto it = case_cache_.find(case_ref);
  if (it != case_cache_.end()) {
    case_lru_.erase(it->second.second);
    case_cache_.erase(it);
  }
  case_lru_.push_front(case_ref);
  case_cache_.emplace(case_ref,
                      std::make_pair(std::move(record), case_lru_.begin()));
  while (case_cache_.size() > kCaseCacheEntries) {
    case_cache_.erase(case_lru_.back());
    case_lru_.pop_back();
  }
}

void GatewayCore::Publish(std::string sender, Envelope env,
                          Callback<PublishReceipt> done) {
  if (audit_failed_.load()) {
    done(absl::UnavailableError(
        "audit trail unavailable: the gateway is not accepting messages"));
    return;
  }
  if (!router_.IsActive(sender)) {
    RefuseAudited(sender, env.case_ref(), "reason=sender_not_registered",
                  absl::PermissionDeniedError(
                      "sender agency is not registered or is decommissioned"),
                  std::move(done));
    return;
  }
  if (!TakeToken(sender)) {
    spdlog::debug("quota: publish rate exceeded by {}", sender);
    {
      std::lock_guard<std::mutex> l(quota_mu_);
      ++quota_refusals_[{sender, "rate_quota"}];
    }
    done(absl::ResourceExhaustedError(
        "publish rate quota exceeded for this agency; retry with backoff"));
    return;
  }
  if (!env.sender_agency().empty() && env.sender_agency() != sender) {
    RefuseAudited(sender, env.case_ref(), "reason=sender_agency_mismatch",
                  absl::PermissionDeniedError(
                      "sender_agency does not match the caller's certificate"),
                  std::move(done));
    return;
  }
  if (QueueFull(sender)) {
    spdlog::debug("quota: queue quota reached by {}", sender);
    {
      std::lock_guard<std::mutex> l(quota_mu_);
      ++quota_refusals_[{sender, "queue_quota"}];
    }
    done(absl::ResourceExhaustedError(
        "queue quota reached: too many of this agency's messages are still "
        "undelivered; retry later"));
    return;
  }
  std::vector<validate::FieldViolation> violations =
      validate::ValidateEnvelope(env);
  if (env.event_type() == ehx::exchange::v1::EVENT_TYPE_NON_DELIVERY &&
      violations.empty()) {
    violations.push_back({"event_type", "gateway_only",
                          "non-delivery notices are generated by the gateway"});
  }
  for (int i = 0; i < env.extra_recipients_size(); ++i) {
    if (!router_.IsActive(env.extra_recipients(i))) {
      violations.push_back({absl::StrCat("extra_recipients[", i, "]"),
                            "registered_agency",
                            "must name a registered, active agency"});
    }
  }
  if (!violations.empty()) {
    Violations v;
    for (const auto& fv : violations) {
      v.emplace_back(fv.field, absl::StrCat(fv.rule, ": ", fv.description));
    }
    if (spdlog::should_log(spdlog::level::debug)) {
      std::string rules;
      for (const auto& fv : violations) {
        absl::StrAppend(&rules, rules.empty() ? "" : ",", fv.field, ":",
                        fv.rule);
      }
      spdlog::debug("refused sender={} case={} violations={}", sender,
                    Pseudonym(env.case_ref()), rules);
    }
    // Field paths and rule names only: never a value.
    std::string detail =
        absl::StrCat("reason=validation event=",
                     ehx::exchange::v1::EventType_Name(env.event_type()),
                     " violations=", violations.size(), " rules=");
    for (size_t i = 0; i < violations.size() && i < 8; ++i) {
      absl::StrAppend(&detail, i ? "," : "", violations[i].field, ":",
                      violations[i].rule);
    }
    RefuseAudited(
        sender, env.case_ref(), detail,
        InvalidArgumentWithViolations(
            absl::StrCat("envelope refused: ", violations.size(),
                         " field violation(s); first: ", violations[0].field,
                         " (", violations[0].rule, ")"),
            v),
        std::move(done));
    return;
  }
  env.clear_message_id();
  env.clear_accepted_at();
  env.set_sender_agency(sender);
  const std::string content_hash = Sha256(DeterministicBytes(env));
  // Everything that needs only the message itself is done here, on the RPC
  // thread, so the single writer does only what needs the store: the id,
  // the acceptance time, and the sealed bytes as stored. (A duplicate
  // discards them and answers with the original's.)
  const int64_t accepted_ms = clock_();
  env.set_message_id(NewMessageId());
  *env.mutable_accepted_at() = TimeUtil::MillisecondsToTimestamp(accepted_ms);
  auto sealed_env = std::make_shared<absl::StatusOr<std::string>>(
      SealColumn("events.envelope", env.message_id(), env.SerializeAsString()));
  if (!sealed_env->ok()) {
    done(sealed_env->status());
    return;
  }
  auto receipt = std::make_shared<PublishReceipt>();
  auto recipients = std::make_shared<std::vector<std::string>>();
  auto env_ptr = std::make_shared<Envelope>(std::move(env));

  store_->Write(
      [this, sender, content_hash, receipt, recipients, env_ptr, sealed_env,
       accepted_ms](store::Txn& t) -> absl::Status {
        Envelope& e = *env_ptr;
        auto q = t.Prepare(
            "SELECT message_id, content_hash, recipients, accepted_at_ms FROM "
            "events WHERE sender=? AND idempotency_key=?");
        if (!q.ok()) return q.status();
        (*q)->Bind(1, sender).Bind(2, e.idempotency_key());
        auto row = (*q)->Step();
        if (!row.ok()) return row.status();
        if (*row) {
          if ((*q)->Text(1) != content_hash) {
            return absl::AlreadyExistsError(
                "idempotency_key was already used with different content");
          }
          receipt->set_message_id((*q)->Text(0));
          *receipt->mutable_accepted_at() =
              TimeUtil::MillisecondsToTimestamp((*q)->Int(3));
          for (auto& r :
               absl::StrSplit((*q)->Text(2), ',', absl::SkipEmpty())) {
            receipt->add_recipients(std::string(r));
          }
          receipt->set_duplicate(true);
          return absl::OkStatus();
        }
        // The shared record before this event.
        ehx::record::v1::CaseRecord record;
        if (!TakeCachedCase(e.case_ref(), &record)) {
          absl::Status rst = ReadCaseLocked(t, e.case_ref(), &record);
          if (!rst.ok()) return rst;
        }
        *recipients = router_.Recipients(sender, e, record);
        const int64_t now = clock_();
        const auto decisions =
            DecideDeliveries(sender, e, record, recipients.get());
        int64_t ttl_s = router_.TtlSeconds(e.event_type());
        if (e.has_ttl() && e.ttl().seconds() > 0) {
          ttl_s = std::min<int64_t>(ttl_s, e.ttl().seconds());
        }
        auto ins = t.Prepare(
            "INSERT INTO events(message_id, sender, idempotency_key, "
            "content_hash, case_ref, event_type, accepted_at_ms, recipients, "
            "envelope) VALUES(?,?,?,?,?,?,?,?,?)");
        if (!ins.ok()) return ins.status();
        absl::Status st = (*ins)
                              ->Bind(1, e.message_id())
                              .Bind(2, sender)
                              .Bind(3, e.idempotency_key())
                              .BindBlob(4, content_hash)
                              .Bind(5, e.case_ref())
                              .Bind(6, static_cast<int64_t>(e.event_type()))
                              .Bind(7, accepted_ms)
                              .Bind(8, absl::StrJoin(*recipients, ","))
                              .BindBlob(9, **sealed_env)
                              .Run();
        if (!st.ok()) return st;
        const int64_t seq = t.LastInsertRowId();
        auto ob = t.Prepare(
            "INSERT INTO outbox(event_seq, recipient, case_ref, "
            "next_attempt_ms, expires_ms) VALUES(?,?,?,?,?)");
        if (!ob.ok()) return ob.status();
        for (const auto& r : *recipients) {
          (*ob)->Reset();
          st = (*ob)
                   ->Bind(1, seq)
                   .Bind(2, r)
                   .Bind(3, e.case_ref())
                   .Bind(4, now)
                   .Bind(5, now + ttl_s * 1000)
                   .Run();
          if (!st.ok()) return st;
        }
        AdjustQueued(sender, static_cast<int64_t>(recipients->size()));
        ApplyToRecord(e, *recipients, &record);
        auto sealed_record = SealColumn("cases.record", e.case_ref(),
                                        record.SerializeAsString());
        if (!sealed_record.ok()) return sealed_record.status();
        auto up = t.Prepare(
            "INSERT INTO cases(case_ref, record) VALUES(?,?) ON CONFLICT"
            "(case_ref) DO UPDATE SET record=excluded.record");
        if (!up.ok()) return up.status();
        st = (*up)->Bind(1, e.case_ref()).BindBlob(2, *sealed_record).Run();
        if (!st.ok()) return st;
        st = AppendAudit(
            t, sender, "accept", e.message_id(), e.case_ref(),
            absl::StrCat(ehx::exchange::v1::EventType_Name(e.event_type()),
                         " to=", absl::StrJoin(*recipients, ",")),
            now);
        if (!st.ok()) return st;
        st = AuditDecisionsLocked(t, e, decisions, now);
        if (!st.ok()) return st;
        PutCachedCase(e.case_ref(), std::move(record));
        receipt->set_message_id(e.message_id());
        *receipt->mutable_accepted_at() = e.accepted_at();
        for (const auto& r : *recipients) receipt->add_recipients(r);
        return absl::OkStatus();
      },
      [this, receipt, recipients, done = std::move(done)](absl::Status st) {
        if (!st.ok()) {
          done(st);
          return;
        }
        if (!receipt->duplicate()) Notify(*recipients);
        // Identifiers in logs: agency ids, message ids, pseudonyms only.
        spdlog::debug("accepted message={} duplicate={} recipients={}",
                      receipt->message_id(), receipt->duplicate(),
                      absl::StrJoin(receipt->recipients(), ","));
        done(*receipt);
      });
}

void GatewayCore::Fetch(std::string agency, int max, int lease_seconds,
                        Callback<std::vector<Delivery>> done) {
  if (max <= 0) max = 50;
  max = std::min(max, 500);
  if (lease_seconds <= 0) lease_seconds = lease_seconds_;
  pool_->Post([this, agency = std::move(agency), max, lease_seconds,
               done = std::move(done)]() {
    std::vector<Delivery> out;
    std::vector<Withdrawal> withdrawn;
    const int64_t now = clock_();
    const int64_t read_generation = store_->commits();
    std::vector<std::pair<int64_t, int64_t>> chosen;  // (outbox id, seq)
    absl::Status st = store_->Read([&](store::Txn& t) -> absl::Status {
      // Walks the recipient's pending rows in id order from the start of the
      // mailbox. A row is deliverable only if it is the first pending row of
      // its case (per-case order: nothing overtakes an earlier message of
      // the same case that is leased, backing off or unacknowledged), is
      // due, and is not leased. `seen` holds the cases of the rows walked so
      // far, so no per-row subquery (and no case index) is needed.
      auto q = t.Prepare(
          "SELECT id, case_ref, attempts, next_attempt_ms, event_seq FROM "
          "outbox WHERE recipient=?1 AND state=0 AND id>?2 ORDER BY id "
          "LIMIT ?3");
      if (!q.ok()) return q.status();
      std::unordered_set<std::string> seen;
      int64_t after = 0;
      int64_t walked = 0;
      constexpr int64_t kPage = 1024;
      // Bounds one Fetch's work on a pathological mailbox (e.g. 100k rows
      // queued behind one case that is backing off).
      constexpr int64_t kMaxWalk = 200000;
      std::vector<int> attempts;
      while (static_cast<int>(chosen.size()) < max && walked < kMaxWalk) {
        (*q)->Reset();
        (*q)->Bind(1, agency).Bind(2, after).Bind(3, kPage);
        int64_t rows = 0;
        while (static_cast<int>(chosen.size()) < max) {
          auto row = (*q)->Step();
          if (!row.ok()) return row.status();
          if (!*row) break;
          ++rows;
          const uint64_t id = static_cast<uint64_t>((*q)->Int(0));
          after = static_cast<int64_t>(id);
          std::string case_ref = (*q)->Text(1);
          if (!seen.insert(case_ref).second) continue;  // an earlier row
          if ((*q)->Int(3) > now) continue;             // backing off
          {
            std::lock_guard<std::mutex> l(lease_mu_);
            auto& mine = leases_[agency];
            bool busy = mine.count(id) > 0;
            auto& tomb = tombstones_[agency];
            auto tb = tomb.find(id);
            if (tb != tomb.end() && tb->second.commit > read_generation) {
              busy = true;  // acked after this read's snapshot began
            }
            for (const auto& [lid, lease] : mine) {
              if (busy) break;
              if (lease.case_ref == case_ref) busy = true;
            }
            if (busy) continue;
            mine[id] = Lease{now + lease_seconds * 1000LL, case_ref};
          }
          chosen.emplace_back(static_cast<int64_t>(id), (*q)->Int(4));
          attempts.push_back(static_cast<int>((*q)->Int(2)));
        }
        walked += rows;
        if (rows < kPage) break;
      }
      (*q)->Reset();
      if (walked >= kMaxWalk) {
        SPDLOG_WARN(
            "fetch: {} walked {} pending rows without filling its page; "
            "later cases wait for the earlier ones to clear",
            agency, walked);
      }
      auto ev =
          t.Prepare("SELECT envelope, message_id FROM events WHERE seq=?");
      if (!ev.ok()) return ev.status();
      for (size_t i = 0; i < chosen.size(); ++i) {
        Delivery d;
        d.set_delivery_id(static_cast<uint64_t>(chosen[i].first));
        d.set_attempt(attempts[i] + 1);
        (*ev)->Reset();
        (*ev)->Bind(1, chosen[i].second);
        auto row = (*ev)->Step();
        if (!row.ok()) return row.status();
        // The outbox row references its event (foreign key), so it exists.
        if (!*row)
          return absl::DataLossError("store: outbox row without event");
        auto bytes =
            OpenColumn("events.envelope", (*ev)->Text(1), (*ev)->Text(0));
        if (!bytes.ok()) return bytes.status();
        if (!d.mutable_envelope()->ParseFromString(*bytes)) {
          return absl::DataLossError("store: corrupt envelope");
        }
        out.push_back(std::move(d));
      }
      (*ev)->Reset();
      return ScreenLocked(t, agency, &out, &withdrawn);
    });
    if (!st.ok()) {
      // Give back whatever was leased in this call.
      std::lock_guard<std::mutex> l(lease_mu_);
      for (const auto& [id, seq] : chosen) leases_[agency].erase(id);
      for (const auto& w : withdrawn) leases_[agency].erase(w.id);
      done(st);
      return;
    }
    if (!withdrawn.empty()) Withdraw(agency, std::move(withdrawn));
    if (!out.empty()) {
      spdlog::debug("leased {} delivery(ies) to {} (first message={} case={})",
                    out.size(), agency, out[0].envelope().message_id(),
                    Pseudonym(out[0].envelope().case_ref()));
    }
    done(std::move(out));
  });
}

int64_t GatewayCore::BackoffMs(int attempts) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double base = static_cast<double>(initial_backoff_ms_);
  for (int i = 1; i < attempts && base < max_backoff_ms_; ++i) base *= 2;
  base = std::min<double>(base, static_cast<double>(max_backoff_ms_));
  // Full jitter in [base/2, base].
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return static_cast<int64_t>(base * jitter(rng));
}

absl::Status GatewayCore::KillLocked(store::Txn& t, int64_t id,
                                     const std::string& reason, int64_t now,
                                     std::vector<std::string>* notify) {
  auto q = t.Prepare(
      "SELECT o.recipient, o.attempts, e.sender, e.message_id, e.case_ref, "
      "e.event_type FROM outbox o JOIN events e ON e.seq=o.event_seq "
      "WHERE o.id=? AND o.state=0");
  if (!q.ok()) return q.status();
  (*q)->Bind(1, id);
  auto row = (*q)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::OkStatus();
  const std::string recipient = (*q)->Text(0);
  const int attempts = static_cast<int>((*q)->Int(1));
  const std::string sender = (*q)->Text(2);
  const std::string message_id = (*q)->Text(3);
  const std::string case_ref = (*q)->Text(4);
  const auto event_type =
      static_cast<ehx::exchange::v1::EventType>((*q)->Int(5));
  auto up = t.Prepare(
      "UPDATE outbox SET state=2, dead_reason=?, died_ms=? WHERE id=?");
  if (!up.ok()) return up.status();
  absl::Status st = (*up)->Bind(1, reason).Bind(2, now).Bind(3, id).Run();
  if (!st.ok()) return st;
  AdjustQueued(sender, -1);
  st = AppendAudit(t, kGatewayActor, "dead_letter", message_id, case_ref,
                   absl::StrCat("to=", recipient, " reason=", reason), now);
  if (!st.ok()) return st;
  // A non-delivery notice for the sender (never for a notice itself).
  if (event_type == ehx::exchange::v1::EVENT_TYPE_NON_DELIVERY ||
      !router_.IsActive(sender)) {
    return absl::OkStatus();
  }
  Envelope n;
  n.set_message_id(NewMessageId());
  n.set_idempotency_key(absl::StrCat("ndn:", id));
  n.set_case_ref(case_ref);
  n.set_event_type(ehx::exchange::v1::EVENT_TYPE_NON_DELIVERY);
  n.set_correlation_id(message_id);
  n.set_sender_agency(kGatewayActor);
  *n.mutable_accepted_at() = TimeUtil::MillisecondsToTimestamp(now);
  *n.mutable_occurred_at() = n.accepted_at();
  auto* nd = n.mutable_non_delivery();
  nd->set_message_id(message_id);
  nd->set_recipient_agency(recipient);
  nd->set_reason(reason);
  nd->set_original_event_type(event_type);
  nd->set_attempts(attempts);
  *nd->mutable_at() = n.accepted_at();
  auto ins = t.Prepare(
      "INSERT INTO events(message_id, sender, idempotency_key, content_hash, "
      "case_ref, event_type, accepted_at_ms, recipients, envelope) "
      "VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING");
  if (!ins.ok()) return ins.status();
  const std::string bytes = n.SerializeAsString();
  auto sealed = SealColumn("events.envelope", n.message_id(), bytes);
  if (!sealed.ok()) return sealed.status();
  st = (*ins)
           ->Bind(1, n.message_id())
           .Bind(2, kGatewayActor)
           .Bind(3, n.idempotency_key())
           .BindBlob(4, Sha256(bytes))
           .Bind(5, case_ref)
           .Bind(6, static_cast<int64_t>(n.event_type()))
           .Bind(7, now)
           .Bind(8, sender)
           .BindBlob(9, *sealed)
           .Run();
  if (!st.ok()) return st;
  if (t.Changes() == 0) return absl::OkStatus();
  const int64_t seq = t.LastInsertRowId();
  auto ob = t.Prepare(
      "INSERT INTO outbox(event_seq, recipient, case_ref, next_attempt_ms, "
      "expires_ms) VALUES(?,?,?,?,?)");
  if (!ob.ok()) return ob.status();
  st = (*ob)
           ->Bind(1, seq)
           .Bind(2, sender)
           .Bind(3, case_ref)
           .Bind(4, now)
           .Bind(5, now + router_.TtlSeconds(n.event_type()) * 1000)
           .Run();
  if (st.ok()) {
    notify->push_back(sender);
    AdjustQueued(kGatewayActor, 1);
  }
  return st;
}

absl::Status GatewayCore::RetryLocked(store::Txn& t, int64_t id, int64_t now,
                                      std::vector<std::string>* notify) {
  auto q = t.Prepare(
      "SELECT attempts, recipient FROM outbox WHERE id=? AND state=0");
  if (!q.ok()) return q.status();
  (*q)->Bind(1, id);
  auto row = (*q)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::OkStatus();
  const int attempts = static_cast<int>((*q)->Int(0)) + 1;
  const std::string recipient = (*q)->Text(1);
  auto up =
      t.Prepare("UPDATE outbox SET attempts=?, next_attempt_ms=? WHERE id=?");
  if (!up.ok()) return up.status();
  absl::Status st = (*up)
                        ->Bind(1, attempts)
                        .Bind(2, now + BackoffMs(attempts))
                        .Bind(3, id)
                        .Run();
  if (!st.ok()) return st;
  if (attempts >= max_attempts_)
    return KillLocked(t, id, "max_attempts", now, notify);
  notify->push_back(recipient);
  return absl::OkStatus();
}

void GatewayCore::Ack(std::string agency, std::vector<AckItem> items,
                      Callback<int> done) {
  auto applied = std::make_shared<int>(0);
  auto notify = std::make_shared<std::vector<std::string>>();
  auto ids = std::make_shared<std::vector<uint64_t>>();
  store_->Write(
      [this, agency, items = std::move(items), applied, notify,
       ids](store::Txn& t) -> absl::Status {
        const int64_t now = clock_();
        for (const auto& item : items) {
          auto own = t.Prepare(
              "SELECT e.sender, o.attempts, e.message_id, e.case_ref FROM "
              "outbox o JOIN events e ON e.seq=o.event_seq WHERE o.id=? AND "
              "o.recipient=? AND o.state=0");
          if (!own.ok()) return own.status();
          (*own)
              ->Bind(1, static_cast<int64_t>(item.delivery_id))
              .Bind(2, agency);
          auto row = (*own)->Step();
          if (!row.ok()) return row.status();
          if (!*row) continue;
          const std::string sender = (*own)->Text(0);
          const int attempt = static_cast<int>((*own)->Int(1)) + 1;
          const std::string message_id = (*own)->Text(2);
          const std::string case_ref = (*own)->Text(3);
          (*own)->Reset();
          absl::Status st;
          const auto id = static_cast<int64_t>(item.delivery_id);
          // The audit record of the delivery: leases cost no write, so a
          // delivery is recorded by its outcome (docs/security.md).
          std::string detail = absl::StrCat("by=", agency, " delivery=", id,
                                            " attempt=", attempt);
          if (!item.ok) {
            absl::StrAppend(&detail,
                            " permanent=", item.permanent ? "yes" : "no",
                            " reason=", MachineReason(item.reason));
          }
          st = AppendAudit(t, agency, item.ok ? "ack" : "nack", message_id,
                           case_ref, detail, now);
          if (!st.ok()) return st;
          if (item.ok) {
            auto del = t.Prepare("DELETE FROM outbox WHERE id=?");
            if (!del.ok()) return del.status();
            st = (*del)->Bind(1, id).Run();
            if (st.ok()) AdjustQueued(sender, -1);
          } else if (item.permanent) {
            // The refused attempt counts, as a retryable nack's does, so
            // the dead letter says how many deliveries were made.
            auto up =
                t.Prepare("UPDATE outbox SET attempts=attempts+1 WHERE id=?");
            if (!up.ok()) return up.status();
            st = (*up)->Bind(1, id).Run();
            if (!st.ok()) return st;
            st = KillLocked(t, id, "rejected_by_recipient", now, notify.get());
          } else {
            st = RetryLocked(t, id, now, notify.get());
          }
          if (!st.ok()) return st;
          ids->push_back(item.delivery_id);
          ++*applied;
        }
        notify->push_back(agency);
        return absl::OkStatus();
      },
      [this, agency, applied, notify, ids,
       done = std::move(done)](absl::Status st) {
        {
          const int64_t generation = store_->commits();
          const int64_t now = clock_();
          std::lock_guard<std::mutex> l(lease_mu_);
          auto& mine = leases_[agency];
          auto& tomb = tombstones_[agency];
          for (uint64_t id : *ids) {
            mine.erase(id);
            if (st.ok()) tomb[id] = Tombstone{generation, now};
          }
        }
        if (!st.ok()) {
          done(st);
          return;
        }
        Notify(*notify);
        spdlog::debug("ack from {}: {} applied", agency, *applied);
        done(*applied);
      });
}

void GatewayCore::Release(const std::string& agency,
                          const std::vector<uint64_t>& ids,
                          const std::string& reason) {
  if (ids.empty()) return;
  std::vector<AckItem> items;
  for (uint64_t id : ids) items.push_back(AckItem{id, false, false, reason});
  Ack(agency, std::move(items), [](absl::StatusOr<int>) {});
}

uint64_t GatewayCore::Watch(std::string agency, std::function<void()> wake) {
  std::lock_guard<std::mutex> l(watch_mu_);
  const uint64_t token = next_token_++;
  watchers_[token] = {std::move(agency), std::move(wake)};
  return token;
}

void GatewayCore::Unwatch(uint64_t token) {
  std::lock_guard<std::mutex> l(watch_mu_);
  watchers_.erase(token);
}

void GatewayCore::Notify(const std::vector<std::string>& agencies) {
  if (agencies.empty()) return;
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard<std::mutex> l(watch_mu_);
    for (const auto& [token, w] : watchers_) {
      if (std::find(agencies.begin(), agencies.end(), w.first) !=
          agencies.end()) {
        wakes.push_back(w.second);
      }
    }
  }
  for (auto& w : wakes) w();
}

void GatewayCore::NotifyAll() {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard<std::mutex> l(watch_mu_);
    for (const auto& [token, w] : watchers_) wakes.push_back(w.second);
  }
  for (auto& w : wakes) w();
}

void GatewayCore::SweeperLoop() {
  std::unique_lock<std::mutex> l(stop_mu_);
  while (!stopping_) {
    stop_cv_.wait_for(l, std::chrono::milliseconds(sweep_interval_ms_));
    if (stopping_) break;
    l.unlock();
    Sweep();
    l.lock();
  }
}

void GatewayCore::Sweep() {
  const int64_t now = clock_();
  // Expired leases count as failed attempts.
  std::map<std::string, std::vector<uint64_t>> expired;
  {
    std::lock_guard<std::mutex> l(lease_mu_);
    // Tombstones only matter to reads that began before the ack: a few
    // seconds is plenty.
    for (auto& [agency, tomb] : tombstones_) {
      for (auto it = tomb.begin(); it != tomb.end();) {
        it = now - it->second.at_ms > 10000 ? tomb.erase(it) : std::next(it);
      }
    }
    for (auto& [agency, mine] : leases_) {
      for (auto it = mine.begin(); it != mine.end();) {
        if (it->second.until_ms <= now) {
          expired[agency].push_back(it->first);
          it = mine.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& [agency, ids] : expired) Release(agency, ids, "lease_expired");
  FlushQuotaRefusals();
  if (!retention_.empty() && now >= next_purge_ms_ && store_->health().ok()) {
    next_purge_ms_ = now + purge_interval_ms_;
    auto purged = PurgeExpired();
    if (!purged.ok()) {
      SPDLOG_WARN("retention: purge failed: {}",
                  std::string(purged.status().message()));
    }
  }
  // TTL: pending rows past expiry go to dead letters.
  if (store_->health().ok()) {
    auto notify = std::make_shared<std::vector<std::string>>();
    store_->Write(
        [this, now, notify](store::Txn& t) -> absl::Status {
          auto q = t.Prepare(
              "SELECT id FROM outbox WHERE state=0 AND expires_ms<=? LIMIT "
              "500");
          if (!q.ok()) return q.status();
          (*q)->Bind(1, now);
          std::vector<int64_t> ids;
          while (true) {
            auto row = (*q)->Step();
            if (!row.ok()) return row.status();
            if (!*row) break;
            ids.push_back((*q)->Int(0));
          }
          (*q)->Reset();
          for (int64_t id : ids) {
            absl::Status st =
                KillLocked(t, id, "ttl_expired", now, notify.get());
            if (!st.ok()) return st;
          }
          return absl::OkStatus();
        },
        [this, notify](absl::Status st) {
          if (!st.ok()) {
            SPDLOG_WARN("sweep: {}", std::string(st.message()));
          }
          Notify(*notify);
        });
  }
  // Retries whose backoff has passed become due: let consumers look.
  NotifyAll();
}

absl::StatusOr<int64_t> GatewayCore::PurgeExpired() {
  if (retention_.empty()) return 0;
  constexpr int kBatch = 1000;
  int64_t total = 0;
  for (int round = 0; round < 100000; ++round) {
    auto purged = std::make_shared<int64_t>(0);
    auto more = std::make_shared<bool>(false);
    std::promise<absl::Status> p;
    auto f = p.get_future();
    store_->Write(
        [this, purged, more](store::Txn& t) -> absl::Status {
          const int64_t now = clock_();
          for (const auto& [type, retain_ms] : retention_) {
            const int64_t cutoff = now - retain_ms;
            auto sel = t.Prepare(
                "SELECT seq, case_ref, sender FROM events WHERE event_type=? "
                "AND accepted_at_ms<? AND length(envelope)>0 LIMIT ?");
            if (!sel.ok()) return sel.status();
            (*sel)
                ->Bind(1, int64_t{type})
                .Bind(2, cutoff)
                .Bind(3, int64_t{kBatch});
            std::vector<std::tuple<int64_t, std::string, std::string>> rows;
            while (true) {
              auto r = (*sel)->Step();
              if (!r.ok()) return r.status();
              if (!*r) break;
              rows.emplace_back((*sel)->Int(0), (*sel)->Text(1),
                                (*sel)->Text(2));
            }
            (*sel)->Reset();
            if (rows.empty()) continue;
            if (static_cast<int>(rows.size()) == kBatch) *more = true;
            // Queued deliveries first (they count against the sender's
            // queue quota), then dead letters.
            auto delq =
                t.Prepare("DELETE FROM outbox WHERE event_seq=? AND state=0");
            if (!delq.ok()) return delq.status();
            auto del = t.Prepare("DELETE FROM outbox WHERE event_seq=?");
            if (!del.ok()) return del.status();
            auto up = t.Prepare("UPDATE events SET envelope=X'' WHERE seq=?");
            if (!up.ok()) return up.status();
            int64_t deliveries = 0;
            std::set<std::string> touched;
            for (const auto& [seq, case_ref, sender] : rows) {
              (*delq)->Reset();
              absl::Status st = (*delq)->Bind(1, seq).Run();
              if (!st.ok()) return st;
              const int queued = t.Changes();
              if (queued > 0) AdjustQueued(sender, -queued);
              deliveries += queued;
              (*del)->Reset();
              st = (*del)->Bind(1, seq).Run();
              if (!st.ok()) return st;
              deliveries += t.Changes();
              (*up)->Reset();
              st = (*up)->Bind(1, seq).Run();
              if (!st.ok()) return st;
              touched.insert(case_ref);
            }
            // A shared record goes with the last payload of its case.
            auto live = t.Prepare(
                "SELECT DISTINCT case_ref FROM events WHERE "
                "length(envelope)>0");
            if (!live.ok()) return live.status();
            while (true) {
              auto r = (*live)->Step();
              if (!r.ok()) return r.status();
              if (!*r) break;
              touched.erase((*live)->Text(0));
            }
            (*live)->Reset();
            auto dc = t.Prepare("DELETE FROM cases WHERE case_ref=?");
            if (!dc.ok()) return dc.status();
            // Shared records are going: forget the writer's cached copies.
            case_cache_.clear();
            case_lru_.clear();
            int64_t cases = 0;
            for (const auto& c : touched) {
              (*dc)->Reset();
              absl::Status st = (*dc)->Bind(1, c).Run();
              if (!st.ok()) return st;
              cases += t.Changes();
            }
            absl::Status st = AppendAudit(
                t, kGatewayActor, "purge", "", "",
                absl::StrCat(
                    "record=",
                    ehx::exchange::v1::EventType_Name(
                        static_cast<ehx::exchange::v1::EventType>(type)),
                    " count=", rows.size(), " cutoff_ms=", cutoff,
                    " deliveries_removed=", deliveries,
                    " cases_removed=", cases),
                now);
            if (!st.ok()) return st;
            *purged += static_cast<int64_t>(rows.size());
          }
          return absl::OkStatus();
        },
        [&p](absl::Status st) { p.set_value(st); });
    absl::Status st = f.get();
    if (!st.ok()) return st;
    total += *purged;
    if (!*more) break;
  }
  if (total > 0) SPDLOG_INFO("retention: purged {} message payload(s)", total);
  return total;
}

absl::StatusOr<int64_t> GatewayCore::Reencrypt() {
  if (!encrypt_) {
    return absl::FailedPreconditionError(
        "store.encryption.disabled is set: nothing to re-encrypt under");
  }
  struct Table {
    const char* column;  // AAD column name
    const char* select;  // key > ?, ordered, limited
    const char* update;
  };
  static const Table kTables[] = {
      {"events.envelope",
       "SELECT seq, message_id, envelope FROM events WHERE seq>?1 AND "
       "length(envelope)>0 ORDER BY seq LIMIT 500",
       "UPDATE events SET envelope=?1 WHERE seq=?2"},
      {"cases.record",
       "SELECT rowid, case_ref, record FROM cases WHERE rowid>?1 ORDER BY "
       "rowid LIMIT 500",
       "UPDATE cases SET record=?1 WHERE rowid=?2"},
  };
  int64_t total = 0;
  for (const Table& table : kTables) {
    int64_t after = 0;
    while (true) {
      auto count = std::make_shared<int64_t>(0);
      auto rows = std::make_shared<int64_t>(0);
      auto last = std::make_shared<int64_t>(after);
      std::promise<absl::Status> p;
      store_->Write(
          [this, &table, count, rows, last](store::Txn& t) -> absl::Status {
            auto q = t.Prepare(table.select);
            if (!q.ok()) return q.status();
            (*q)->Bind(1, *last);
            std::vector<std::tuple<int64_t, std::string, std::string>> todo;
            while (true) {
              auto r = (*q)->Step();
              if (!r.ok()) return r.status();
              if (!*r) break;
              ++*rows;
              *last = (*q)->Int(0);
              std::string stored = (*q)->Text(2);
              if (crypto::LooksSealed(stored)) {
                auto id = crypto::BlobKeyId(stored);
                if (id.ok() && *id == keys_->active_key_id()) continue;
              }
              todo.emplace_back(*last, (*q)->Text(1), std::move(stored));
            }
            (*q)->Reset();
            auto up = t.Prepare(table.update);
            if (!up.ok()) return up.status();
            for (auto& [key, row, stored] : todo) {
              std::string plain = stored;
              if (crypto::LooksSealed(stored)) {
                auto opened = keys_->Open(
                    stored, absl::StrCat("ehx|", table.column, "|", row));
                if (!opened.ok()) return opened.status();
                plain = std::move(*opened);
              }
              auto sealed = SealColumn(table.column, row, plain);
              if (!sealed.ok()) return sealed.status();
              (*up)->Reset();
              absl::Status st = (*up)->BindBlob(1, *sealed).Bind(2, key).Run();
              if (!st.ok()) return st;
              ++*count;
            }
            if (*count == 0) return absl::OkStatus();
            return AppendAudit(
                t, "admin", "reencrypt", "", "",
                absl::StrCat("column=", table.column, " count=", *count,
                             " key=", keys_->active_key_id()),
                clock_());
          },
          [&p](absl::Status st) { p.set_value(st); });
      absl::Status st = p.get_future().get();
      if (!st.ok()) return st;
      total += *count;
      after = *last;
      if (*rows < 500) break;
    }
  }
  if (total > 0) {
    SPDLOG_INFO("encryption: re-sealed {} value(s) under key {}", total,
                keys_->active_key_id());
  }
  return total;
}

absl::StatusOr<ehx::exchange::v1::GatewayStatus> GatewayCore::Status() {
  ehx::exchange::v1::GatewayStatus out;
  absl::Status h = health();
  out.set_state(h.ok()
                    ? "SERVING"
                    : absl::StrCat("NOT_SERVING: ", std::string(h.message())));
  out.set_version("0.1.0");
  absl::Status st = store_->Read([&](store::Txn& t) -> absl::Status {
    auto c = t.Prepare("SELECT count(*) FROM events");
    if (!c.ok()) return c.status();
    auto row = (*c)->Step();
    if (!row.ok()) return row.status();
    out.set_events((*c)->Int(0));
    (*c)->Reset();
    std::map<std::string, ehx::exchange::v1::MailboxStatus> boxes;
    for (const auto& a : config_.agencies()) boxes[a.id()].set_agency(a.id());
    auto q = t.Prepare(
        "SELECT recipient, state, count(*) FROM outbox GROUP BY recipient, "
        "state");
    if (!q.ok()) return q.status();
    while (true) {
      auto r = (*q)->Step();
      if (!r.ok()) return r.status();
      if (!*r) break;
      auto& b = boxes[(*q)->Text(0)];
      b.set_agency((*q)->Text(0));
      if ((*q)->Int(1) == kStateDead) {
        b.set_dead((*q)->Int(2));
      } else {
        b.set_queued(b.queued() + (*q)->Int(2));
      }
    }
    for (auto& [id, b] : boxes) *out.add_mailboxes() = b;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<ehx::exchange::v1::DeadLetter>>
GatewayCore::DeadLetters(const std::string& agency, int limit) {
  if (limit <= 0) limit = 100;
  std::vector<ehx::exchange::v1::DeadLetter> out;
  absl::Status st = store_->Read([&](store::Txn& t) -> absl::Status {
    auto q = t.Prepare(
        "SELECT o.id, o.recipient, e.message_id, e.case_ref, e.event_type, "
        "o.attempts, o.dead_reason, o.died_ms FROM outbox o JOIN events e ON "
        "e.seq=o.event_seq WHERE o.state=2 AND (?1='' OR o.recipient=?1) "
        "ORDER BY o.id LIMIT ?2");
    if (!q.ok()) return q.status();
    (*q)->Bind(1, agency).Bind(2, int64_t{limit});
    while (true) {
      auto r = (*q)->Step();
      if (!r.ok()) return r.status();
      if (!*r) break;
      ehx::exchange::v1::DeadLetter d;
      d.set_delivery_id((*q)->Int(0));
      d.set_agency((*q)->Text(1));
      d.set_message_id((*q)->Text(2));
      d.set_case_ref((*q)->Text(3));
      d.set_event_type(static_cast<ehx::exchange::v1::EventType>((*q)->Int(4)));
      d.set_attempts(static_cast<int>((*q)->Int(5)));
      d.set_reason((*q)->Text(6));
      *d.mutable_died_at() = TimeUtil::MillisecondsToTimestamp((*q)->Int(7));
      out.push_back(std::move(d));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> GatewayCore::Replay(const std::vector<uint64_t>& ids,
                                        bool all, const std::string& agency) {
  auto count = std::make_shared<int>(0);
  auto notify = std::make_shared<std::vector<std::string>>();
  std::promise<absl::Status> p;
  auto f = p.get_future();
  store_->Write(
      [this, ids, all, agency, count, notify](store::Txn& t) -> absl::Status {
        const int64_t now = clock_();
        std::vector<std::pair<int64_t, std::string>> rows;
        auto sel = t.Prepare(
            "SELECT o.id, o.recipient, e.event_type, e.sender FROM outbox o "
            "JOIN events "
            "e "
            "ON e.seq=o.event_seq WHERE o.state=2 AND (?1='' OR "
            "o.recipient=?1)");
        if (!sel.ok()) return sel.status();
        (*sel)->Bind(1, agency);
        std::vector<std::tuple<int64_t, std::string, int, std::string>> dead;
        while (true) {
          auto r = (*sel)->Step();
          if (!r.ok()) return r.status();
          if (!*r) break;
          dead.emplace_back((*sel)->Int(0), (*sel)->Text(1),
                            static_cast<int>((*sel)->Int(2)), (*sel)->Text(3));
        }
        (*sel)->Reset();
        auto up = t.Prepare(
            "UPDATE outbox SET state=0, attempts=0, next_attempt_ms=?, "
            "expires_ms=?, dead_reason=NULL, died_ms=NULL WHERE id=?");
        if (!up.ok()) return up.status();
        for (const auto& [id, recipient, type, sender] : dead) {
          if (!all && std::find(ids.begin(), ids.end(),
                                static_cast<uint64_t>(id)) == ids.end()) {
            continue;
          }
          (*up)->Reset();
          const int64_t ttl = router_.TtlSeconds(
              static_cast<ehx::exchange::v1::EventType>(type));
          absl::Status st =
              (*up)->Bind(1, now).Bind(2, now + ttl * 1000).Bind(3, id).Run();
          if (!st.ok()) return st;
          AdjustQueued(sender, 1);
          st = AppendAudit(t, "admin", "replay", absl::StrCat(id), "",
                           absl::StrCat("to=", recipient), now);
          if (!st.ok()) return st;
          notify->push_back(recipient);
          ++*count;
        }
        return absl::OkStatus();
      },
      [&p](absl::Status st) { p.set_value(st); });
  absl::Status st = f.get();
  if (!st.ok()) return st;
  Notify(*notify);
  return *count;
}

absl::StatusOr<ehx::record::v1::CaseRecord> GatewayCore::CaseRecord(
    const std::string& case_ref) {
  ehx::record::v1::CaseRecord out;
  bool found = false;
  absl::Status st = store_->Read([&](store::Txn& t) -> absl::Status {
    auto q = t.Prepare("SELECT 1 FROM cases WHERE case_ref=?");
    if (!q.ok()) return q.status();
    (*q)->Bind(1, case_ref);
    auto r = (*q)->Step();
    if (!r.ok()) return r.status();
    found = *r;
    (*q)->Reset();
    return found ? ReadCaseLocked(t, case_ref, &out) : absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!found) return absl::NotFoundError("no shared record for that case");
  return out;
}

absl::StatusOr<std::vector<Delivery>> GatewayCore::Peek(
    const std::string& agency, int limit) {
  if (limit <= 0) limit = 20;
  std::vector<Delivery> out;
  std::vector<Withdrawal> withdrawn;
  absl::Status st = store_->Read([&](store::Txn& t) -> absl::Status {
    auto q = t.Prepare(
        "SELECT o.id, o.attempts, e.envelope, e.message_id FROM outbox o JOIN "
        "events e ON e.seq=o.event_seq WHERE o.recipient=? AND o.state=0 "
        "ORDER BY o.id LIMIT ?");
    if (!q.ok()) return q.status();
    (*q)->Bind(1, agency).Bind(2, int64_t{limit});
    while (true) {
      auto r = (*q)->Step();
      if (!r.ok()) return r.status();
      if (!*r) break;
      Delivery d;
      d.set_delivery_id((*q)->Int(0));
      d.set_attempt(static_cast<int>((*q)->Int(1)) + 1);
      auto bytes = OpenColumn("events.envelope", (*q)->Text(3), (*q)->Text(2));
      if (!bytes.ok()) return bytes.status();
      if (!d.mutable_envelope()->ParseFromString(*bytes)) {
        return absl::DataLossError("store: corrupt envelope");
      }
      out.push_back(std::move(d));
    }
    (*q)->Reset();
    return ScreenLocked(t, agency, &out, &withdrawn);
  });
  if (!st.ok()) return st;
  if (!withdrawn.empty()) Withdraw(agency, std::move(withdrawn));
  return out;
}

std::vector<std::pair<std::string, policy::Decision>>
GatewayCore::DecideDeliveries(const std::string& sender, const Envelope& e,
                              const ehx::record::v1::CaseRecord& record,
                              std::vector<std::string>* recipients) const {
  // Party status and consent as they stand with this event applied.
  ehx::record::v1::CaseRecord after = record;
  ApplyToRecord(e, {}, &after);
  std::set<std::string> candidates(recipients->begin(), recipients->end());
  if (e.event_type() == ehx::exchange::v1::EVENT_TYPE_STEP_UP_REFERRAL &&
      policy::PolicyEngine::DeriveBasis("", e, after, {}) ==
          ehx::config::v1::SHARING_BASIS_SIGNIFICANT_HARM) {
    for (auto& a :
         router_.WithRole(ehx::config::v1::AGENCY_ROLE_CSC_FRONT_DOOR)) {
      if (a != sender) candidates.insert(a);
    }
  }
  std::vector<std::pair<std::string, policy::Decision>> out;
  recipients->clear();
  for (const auto& a : candidates) {
    policy::Decision d = policy_->Evaluate(a, e, after);
    if (d.share) recipients->push_back(a);
    out.emplace_back(a, std::move(d));
  }
  return out;
}

absl::Status GatewayCore::AuditDecisionsLocked(
    store::Txn& t, const Envelope& e,
    const std::vector<std::pair<std::string, policy::Decision>>& decisions,
    int64_t now) {
  bool reached_front_door = false;
  bool significant_harm_referral = false;
  for (const auto& [agency, d] : decisions) {
    const std::string detail = policy_->AuditDetail(agency, d);
    absl::Status st =
        AppendAudit(t, kGatewayActor, d.share ? "share" : "withhold",
                    e.message_id(), e.case_ref(), detail, now);
    if (!st.ok()) return st;
    const bool sh = d.basis == ehx::config::v1::SHARING_BASIS_SIGNIFICANT_HARM;
    if (sh &&
        e.event_type() == ehx::exchange::v1::EVENT_TYPE_STEP_UP_REFERRAL) {
      significant_harm_referral = true;
      if (d.share &&
          d.recipient_role == ehx::config::v1::AGENCY_ROLE_CSC_FRONT_DOOR) {
        reached_front_door = true;
      }
    }
    if (!d.share && (d.failure || sh)) {
      SPDLOG_ERROR("policy: withheld message={} case={} {}", e.message_id(),
                   Pseudonym(e.case_ref()), detail);
    }
  }
  if (e.event_type() == ehx::exchange::v1::EVENT_TYPE_STEP_UP_REFERRAL &&
      policy::PolicyEngine::DeriveBasis("", e, {}, {}) ==
          ehx::config::v1::SHARING_BASIS_SIGNIFICANT_HARM) {
    significant_harm_referral = true;
  }
  if (significant_harm_referral && !reached_front_door) {
    // Failing to share is a failure too.
    const std::string detail = absl::StrCat(
        "significant-harm referral reached no front door policy=",
        policy_->version(), policy_->ok() ? "" : " (policy failing closed)");
    SPDLOG_ERROR("policy: SHARE FAILURE message={} case={}: {}", e.message_id(),
                 Pseudonym(e.case_ref()), detail);
    absl::Status st = AppendAudit(t, kGatewayActor, "share_failure",
                                  e.message_id(), e.case_ref(), detail, now);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status GatewayCore::ScreenLocked(store::Txn& t, const std::string& agency,
                                       std::vector<Delivery>* out,
                                       std::vector<Withdrawal>* withdrawn) {
  if (out->empty()) return absl::OkStatus();
  std::map<std::string, ehx::record::v1::CaseRecord> records;
  std::vector<Delivery> kept;
  for (auto& d : *out) {
    Envelope* env = d.mutable_envelope();
    // Non-delivery notices go from the gateway to a message's own sender.
    if (env->event_type() == ehx::exchange::v1::EVENT_TYPE_NON_DELIVERY &&
        env->sender_agency() == kGatewayActor) {
      kept.push_back(std::move(d));
      continue;
    }
    auto it = records.find(env->case_ref());
    if (it == records.end()) {
      ehx::record::v1::CaseRecord rec;
      absl::Status rst = ReadCaseLocked(t, env->case_ref(), &rec);
      if (!rst.ok()) return rst;
      it = records.emplace(env->case_ref(), std::move(rec)).first;
    }
    policy::Decision dec = policy_->Evaluate(agency, *env, it->second);
    if (dec.share && policy_->ApplyMask(dec, env)) {
      kept.push_back(std::move(d));
      continue;
    }
    withdrawn->push_back(Withdrawal{
        d.delivery_id(), env->case_ref(), env->message_id(),
        policy_->AuditDetail(agency, dec),
        dec.failure ||
            dec.basis == ehx::config::v1::SHARING_BASIS_SIGNIFICANT_HARM});
  }
  *out = std::move(kept);
  return absl::OkStatus();
}

void GatewayCore::Withdraw(const std::string& agency,
                           std::vector<Withdrawal> withdrawn) {
  auto notify = std::make_shared<std::vector<std::string>>();
  auto items = std::make_shared<std::vector<Withdrawal>>(std::move(withdrawn));
  store_->Write(
      [this, items, notify](store::Txn& t) -> absl::Status {
        const int64_t now = clock_();
        for (const auto& w : *items) {
          auto q = t.Prepare("SELECT 1 FROM outbox WHERE id=? AND state=0");
          if (!q.ok()) return q.status();
          (*q)->Bind(1, static_cast<int64_t>(w.id));
          auto row = (*q)->Step();
          if (!row.ok()) return row.status();
          (*q)->Reset();
          if (!*row) continue;  // already acked, dead or withdrawn
          if (w.alert) {
            SPDLOG_ERROR(
                "policy: queued delivery withdrawn message={} case={} {}",
                w.message_id, Pseudonym(w.case_ref), w.detail);
          } else {
            SPDLOG_WARN(
                "policy: queued delivery withdrawn message={} case={} {}",
                w.message_id, Pseudonym(w.case_ref), w.detail);
          }
          absl::Status st = AppendAudit(
              t, kGatewayActor, "withhold", w.message_id, w.case_ref,
              absl::StrCat(w.detail, " at=delivery"), now);
          if (!st.ok()) return st;
          st = KillLocked(t, static_cast<int64_t>(w.id), "policy_withdrawn",
                          now, notify.get());
          if (!st.ok()) return st;
        }
        return absl::OkStatus();
      },
      [this, agency, items, notify](absl::Status st) {
        {
          std::lock_guard<std::mutex> l(lease_mu_);
          for (const auto& w : *items) leases_[agency].erase(w.id);
        }
        if (!st.ok()) {
          SPDLOG_ERROR(
              "policy: withdrawing {} queued deliveries for {} failed: {}",
              items->size(), agency, std::string(st.message()));
        }
        notify->push_back(agency);
        Notify(*notify);
      });
}

}  // namespace ehx::pipeline
