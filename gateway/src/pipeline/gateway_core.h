// The gateway's core: the pipeline (validate -> route -> persist in one
// transaction -> receipt) and the delivery engine (mailboxes, leases,
// retry with backoff and jitter, TTL, dead letters, replay).
#ifndef EHX_PIPELINE_GATEWAY_CORE_H_
#define EHX_PIPELINE_GATEWAY_CORE_H_

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit_log.h"
#include "crypto/aead.h"
#include "ehx/config/v1/config.pb.h"
#include "ehx/exchange.h"
#include "ehx/exchange/v1/admin_service.pb.h"
#include "ehx/record/v1/shared_record.pb.h"
#include "pipeline/router.h"
#include "policy/policy_engine.h"
#include "store/sqlite_store.h"

namespace ehx::pipeline {

// Clock in milliseconds since the epoch; replaceable in tests.
using ClockFn = std::function<int64_t()>;

// Thread-safe implementation of Exchange over SqliteStore.
class GatewayCore : public Exchange {
 public:
  // Opens the store named in `config` and starts the engine threads.
  static absl::StatusOr<std::unique_ptr<GatewayCore>> Create(
      const ehx::config::v1::GatewayConfig& config, ClockFn clock = nullptr);
  ~GatewayCore() override;

  // Exchange.
  void Publish(std::string sender, ehx::exchange::v1::Envelope envelope,
               Callback<ehx::exchange::v1::PublishReceipt> done) override;
  void Fetch(std::string agency, int max, int lease_seconds,
             Callback<std::vector<ehx::exchange::v1::Delivery>> done) override;
  void Ack(std::string agency, std::vector<AckItem> items,
           Callback<int> done) override;
  uint64_t Watch(std::string agency, std::function<void()> wake) override;
  void Unwatch(uint64_t token) override;

  // Returns leased deliveries to the mailbox (a subscriber went away, or
  // the lease expired: `reason`); each counts as a failed attempt.
  void Release(const std::string& agency, const std::vector<uint64_t>& ids,
               const std::string& reason = "released");

  // Admin operations (synchronous reads; replay is a durable write).
  absl::StatusOr<ehx::exchange::v1::GatewayStatus> Status();
  absl::StatusOr<std::vector<ehx::exchange::v1::DeadLetter>> DeadLetters(
      const std::string& agency, int limit);
  absl::StatusOr<int> Replay(const std::vector<uint64_t>& ids, bool all,
                             const std::string& agency);
  absl::StatusOr<ehx::record::v1::CaseRecord> CaseRecord(
      const std::string& case_ref);
  absl::StatusOr<std::vector<ehx::exchange::v1::Delivery>> Peek(
      const std::string& agency, int limit);

  // Appends an admin-action audit record (actor: the operator's agency
  // id; `case_ref` is stored as its pseudonym; `detail` machine-made text
  // only). `done` runs on the store's writer thread once it is durable.
  void AuditAdmin(const std::string& actor, const std::string& action,
                  const std::string& case_ref, const std::string& detail,
                  std::function<void(absl::Status)> done);

  // Retention (docs/security.md, "Retention"): one purge pass now. For
  // each retention rule, messages of that type accepted before now minus
  // its retention lose their payload (the envelope column is emptied,
  // secure_delete zeroes the freed bytes), their queued and dead-letter
  // deliveries are removed, and a case's shared record is deleted once no
  // event of the case keeps its payload. One audit record "purge" per type
  // (count and cutoff only). Returns the number of messages purged. Blocks
  // until durable; the sweeper runs it every purge interval.
  absl::StatusOr<int64_t> PurgeExpired();

  // Key rotation: re-seals every stored payload and shared record that is
  // not sealed with the active key (including plaintext written while
  // encryption was disabled) under the active key, in batches, each batch
  // audited ("reencrypt", counts only). Afterwards keys no row names can
  // leave the ring. Returns how many values were re-sealed.
  // FAILED_PRECONDITION if encryption is disabled.
  absl::StatusOr<int64_t> Reencrypt();

  // True if `agency` is registered and not decommissioned.
  bool IsActiveAgency(const std::string& agency) const;
  // Non-OK when the store refuses writes or an audit append failed.
  absl::Status health() const;
  store::SqliteStore* store() { return store_.get(); }

  // Stops the sweeper and the store (drains queued writes). Idempotent.
  void Shutdown();

 private:
  GatewayCore(const ehx::config::v1::GatewayConfig& config, ClockFn clock);
  absl::Status Init();
  void SweeperLoop();
  void Sweep();
  void Notify(const std::vector<std::string>& agencies);
  void NotifyAll();
  int64_t BackoffMs(int attempts);
  // Inside a write transaction: moves outbox row `id` to dead letters and
  // queues a non-delivery notice for the original sender.
  absl::Status KillLocked(store::Txn& txn, int64_t id,
                          const std::string& reason, int64_t now,
                          std::vector<std::string>* notify);
  // Appends one audit record. If that fails the gateway latches into
  // refusing work (UNAVAILABLE) until restart: nothing is processed
  // without its record.
  absl::Status AppendAudit(store::Txn& txn, const std::string& actor,
                           const std::string& action,
                           const std::string& message_id,
                           const std::string& case_ref,
                           const std::string& detail, int64_t now);
  // Answers `refusal` after auditing it (action "refuse", the rule or
  // reason only: never field values).
  template <typename T>
  void RefuseAudited(const std::string& actor, const std::string& case_ref,
                     const std::string& detail, absl::Status refusal,
                     Callback<T> done);
  // Sharing policy (docs/security.md). Decides every routed delivery of
  // `e` from `sender` against `record` (the case before this event);
  // leaves only the allowed agencies in `recipients`. For a significant-harm
  // step-up referral every active front door is a candidate.
  std::vector<std::pair<std::string, policy::Decision>> DecideDeliveries(
      const std::string& sender, const ehx::exchange::v1::Envelope& e,
      const ehx::record::v1::CaseRecord& record,
      std::vector<std::string>* recipients) const;
  // Audits (and alerts on) the decisions made for accepted message `e`.
  absl::Status AuditDecisionsLocked(
      store::Txn& txn, const ehx::exchange::v1::Envelope& e,
      const std::vector<std::pair<std::string, policy::Decision>>& decisions,
      int64_t now);
  // A queued delivery the policy no longer allows.
  struct Withdrawal {
    uint64_t id;
    std::string case_ref;
    std::string message_id;
    std::string detail;
    bool alert;
  };
  // Re-checks deliveries for `agency` against the current shared record
  // and policy: masks the allowed ones, moves the others to `withdrawn`.
  absl::Status ScreenLocked(store::Txn& txn, const std::string& agency,
                            std::vector<ehx::exchange::v1::Delivery>* out,
                            std::vector<Withdrawal>* withdrawn);
  // Dead-letters withdrawn deliveries ("policy_withdrawn"), audited; then
  // releases their leases.
  void Withdraw(const std::string& agency, std::vector<Withdrawal> withdrawn);
  // Payload columns at rest (docs/security.md, "Encryption at rest"):
  // sealed under the active key unless encryption is disabled, bound to
  // `column` ("events.envelope", "cases.record") and the row's identity
  // (message id, case reference).
  absl::StatusOr<std::string> SealColumn(std::string_view column,
                                         std::string_view row,
                                         std::string_view plaintext) const;
  absl::StatusOr<std::string> OpenColumn(std::string_view column,
                                         std::string_view row,
                                         std::string stored) const;
  // Reads and decrypts the shared record of `case_ref` (empty if none).
  absl::Status ReadCaseLocked(store::Txn& txn, const std::string& case_ref,
                              ehx::record::v1::CaseRecord* out) const;
  // Nacks (transient) inside a write transaction.
  absl::Status RetryLocked(store::Txn& txn, int64_t id, int64_t now,
                           std::vector<std::string>* notify);

  ehx::config::v1::GatewayConfig config_;
  ClockFn clock_;
  Router router_;
  std::unique_ptr<policy::PolicyEngine> policy_;
  std::unique_ptr<store::SqliteStore> store_;
  int max_attempts_;
  int64_t initial_backoff_ms_, max_backoff_ms_;
  int lease_seconds_;
  int64_t sweep_interval_ms_;

  // Retention rules: (event type, retain milliseconds).
  std::vector<std::pair<int, int64_t>> retention_;
  int64_t purge_interval_ms_ = 3600 * 1000;
  int64_t next_purge_ms_ = 0;  // sweeper thread only

  // Encryption at rest; immutable after Init.
  std::unique_ptr<crypto::KeyRing> keys_;
  bool encrypt_ = true;

  // Set when an audit append failed: Publish answers UNAVAILABLE.
  std::atomic<bool> audit_failed_{false};
  // Quota refusals are counted and audited once per agency per sweep
  // (an agency flooding the gateway must not turn into an audit flood).
  // (agency, reason) -> count; guarded by quota_mu_.
  std::map<std::pair<std::string, std::string>, int64_t> quota_refusals_;
  void FlushQuotaRefusals();

  // Appended to on the writer thread only.
  std::unique_ptr<audit::AuditLog> audit_;

  // Writer thread only: the decrypted, parsed shared records of the most
  // recently published cases (least recently used evicted beyond
  // kCaseCacheEntries), so a Publish skips the SELECT, AES-GCM open and
  // parse of its case. An entry is taken out while a Publish works on it
  // and put back only when that Publish's statements all succeeded, so a
  // rolled-back write never leaves a stale entry; purge clears it. (A failed
  // COMMIT stops all writes until restart, so the cache cannot outlive it.)
  static constexpr size_t kCaseCacheEntries = 8192;
  std::list<std::string> case_lru_;  // most recent first
  std::unordered_map<std::string, std::pair<ehx::record::v1::CaseRecord,
                                            std::list<std::string>::iterator>>
      case_cache_;
  // Moves the cached record of `case_ref` into `out`; false if not cached.
  bool TakeCachedCase(const std::string& case_ref,
                      ehx::record::v1::CaseRecord* out);
  void PutCachedCase(const std::string& case_ref,
                     ehx::record::v1::CaseRecord record);

  struct Lease {
    int64_t until_ms;
    std::string case_ref;
  };
  std::mutex lease_mu_;
  std::map<std::string, std::map<uint64_t, Lease>> leases_;  // agency -> id
  // Recently acknowledged ids -> store commit count when the ack was
  // applied. A Fetch whose read began before that commit may still see the
  // row as pending; it skips it instead of redelivering it.
  struct Tombstone {
    int64_t commit;
    int64_t at_ms;
  };
  std::map<std::string, std::map<uint64_t, Tombstone>> tombstones_;

  // Per-agency publish rate quotas (token buckets).
  struct Bucket {
    double rate = 0, burst = 0, tokens = 0;
    int64_t last_ms = 0;
  };
  std::mutex quota_mu_;
  std::map<std::string, Bucket> buckets_;
  // True if `agency` may publish one more message now.
  bool TakeToken(const std::string& agency);

  // Queue quotas (Agency.max_queued): undelivered deliveries (outbox rows
  // in state 0) per original sender, kept in memory: counted from the
  // store at start, then adjusted where rows enter or leave state 0
  // (publish, ack, dead letter, replay). A write that rolls back after
  // adjusting leaves the count high, never low (it only refuses sooner).
  std::mutex queued_mu_;
  std::map<std::string, int64_t> queued_;
  std::map<std::string, int64_t> max_queued_;  // immutable after Init
  void AdjustQueued(const std::string& sender, int64_t delta);
  // True if `sender` is at or over its queue quota.
  bool QueueFull(const std::string& sender);

  std::mutex watch_mu_;
  std::map<uint64_t, std::pair<std::string, std::function<void()>>> watchers_;
  uint64_t next_token_ = 1;

  // Reads for Fetch run on a small pool so RPC threads never block.
  class ReadPool;
  std::unique_ptr<ReadPool> pool_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace ehx::pipeline

#endif  // EHX_PIPELINE_GATEWAY_CORE_H_
