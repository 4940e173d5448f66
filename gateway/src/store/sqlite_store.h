// The embedded store: SQLite in WAL mode with synchronous=FULL, one writer
// thread doing group commit, a separate connection for reads.
#ifndef EHX_STORE_SQLITE_STORE_H_
#define EHX_STORE_SQLITE_STORE_H_

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ehx::store {

// A prepared statement bound to one connection. Not thread-safe: used only
// inside Write/Read callbacks.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view v);      // TEXT
  Stmt& BindBlob(int i, std::string_view v);  // BLOB
  Stmt& BindNull(int i);
  // SQLITE_ROW -> true, SQLITE_DONE -> false, error -> status.
  absl::StatusOr<bool> Step();
  // Runs to completion (for statements without rows).
  absl::Status Run();
  int64_t Int(int col) const;
  std::string Text(int col) const;  // TEXT or BLOB bytes
  bool IsNull(int col) const;
  // Resets for reuse (also clears bindings).
  void Reset();

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// One connection's view inside a Write or Read callback.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) {}
  ~Txn();
  // A cached prepared statement for `sql`, reset and ready to bind.
  absl::StatusOr<Stmt*> Prepare(const std::string& sql);
  // Runs `sql` to completion. A single statement (no ';') is prepared once
  // and cached like Prepare(), so pass constant SQL, never SQL with values
  // spliced in; several statements go through sqlite3_exec uncached.
  absl::Status Exec(const std::string& sql);
  int64_t LastInsertRowId() const;
  // Resets every cached statement so none holds a read snapshot open.
  void ResetAll();
  int Changes() const;
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
  std::unordered_map<std::string, sqlite3_stmt*> raw_;
};

struct StoreOptions {
  // Most write operations per transaction (group commit).
  int max_batch = 256;
  // SQLite VFS name; empty for the default (tests inject failing VFSes).
  std::string vfs;
  // Page size for a new database; 0 keeps SQLite's default (4 KiB). Not
  // raised by default: random-key index pages (cases, outbox) would then
  // cost more WAL bytes per commit than the envelope pages save.
  int page_size = 0;
  // The WAL is checkpointed by a background connection every this many
  // milliseconds, off the commit path (0 disables: SQLite's inline
  // auto-checkpoint is used instead).
  int checkpoint_interval_ms = 200;
};

// Thread-safe. Write callbacks run on the writer thread, each inside its
// own SAVEPOINT of a shared transaction: a failing callback is rolled back
// alone. `done` runs after the COMMIT is durable (or failed) with the
// callback's status, on the writer thread; it must not block.
class SqliteStore {
 public:
  using WriteFn = std::function<absl::Status(Txn&)>;
  using DoneFn = std::function<void(absl::Status)>;

  // Opens or creates the database at `path` and applies the schema.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const std::string& path, StoreOptions options);
  ~SqliteStore();

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Queues a write. After a failed commit or fsync the store refuses all
  // further writes with UNAVAILABLE until the process restarts.
  void Write(WriteFn fn, DoneFn done);

  // Runs `fn` on the read connection (WAL snapshot of committed data).
  // Serialized with other reads; may run concurrently with the writer.
  absl::Status Read(const std::function<absl::Status(Txn&)>& fn);

  // Runs `fn` directly on the writer connection, outside group commit
  // (startup recovery only, before concurrent use).
  absl::Status WriteNow(const WriteFn& fn);

  // Non-OK once writes have failed.
  absl::Status health() const;

  // Stops the writer thread after draining queued writes.
  void Close();

  // Number of transactions and operations committed (for tests/benchmarks).
  int64_t commits() const { return commits_.load(); }

 private:
  SqliteStore() = default;
  void WriterLoop();
  void CompletionLoop();
  void CheckpointLoop();

  struct Op {
    WriteFn fn;
    DoneFn done;
  };

  StoreOptions options_;
  sqlite3* wdb_ = nullptr;
  sqlite3* rdb_ = nullptr;
  std::unique_ptr<Txn> wtxn_;
  std::unique_ptr<Txn> rtxn_;
  std::mutex read_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  bool closing_ = false;
  std::string failure_;  // guarded by mu_
  std::thread writer_;
  std::atomic<int64_t> commits_{0};

  // Completions run on their own thread so the writer can start the next
  // batch while replies are being sent.
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  // A committed op waiting for its reply. The op's work function rides
  // along so that it (and whatever it captured, e.g. a parsed envelope) is
  // destroyed on the completion thread, not on the writer.
  struct Completed {
    DoneFn done;
    absl::Status status;
    WriteFn fn;
  };
  std::deque<Completed> done_queue_;
  bool done_closing_ = false;
  std::thread completer_;

  // Background WAL checkpoints.
  sqlite3* cdb_ = nullptr;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_closing_ = false;
  std::thread checkpointer_;
};

}  // namespace ehx::store

#endif  // EHX_STORE_SQLITE_STORE_H_
