#include "store/sqlite_store.h"

#include <pthread.h>

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace ehx::store {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL UNIQUE,
  sender TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  content_hash BLOB NOT NULL,
  case_ref TEXT NOT NULL,
  event_type INTEGER NOT NULL,
  accepted_at_ms INTEGER NOT NULL,
  recipients TEXT NOT NULL,
  envelope BLOB NOT NULL,
  UNIQUE(sender, idempotency_key));
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY,
  event_seq INTEGER NOT NULL REFERENCES events(seq),
  recipient TEXT NOT NULL,
  case_ref TEXT NOT NULL,
  state INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  dead_reason TEXT,
  died_ms INTEGER);
CREATE INDEX IF NOT EXISTS outbox_mailbox ON outbox(recipient, state, id);
-- Per-case order is enforced by Fetch's in-order mailbox scan; an index on
-- (recipient, case_ref, ...) cost 3 random B-tree inserts per message and
-- about half of each commit's WAL pages. Stores made before drop it here.
DROP INDEX IF EXISTS outbox_case;
CREATE INDEX IF NOT EXISTS outbox_expiry ON outbox(state, expires_ms);
CREATE TABLE IF NOT EXISTS cases(
  case_ref TEXT PRIMARY KEY,
  record BLOB NOT NULL);
)sql";

absl::Status SqlError(sqlite3* db, std::string_view what) {
  return absl::InternalError(
      absl::StrCat("sqlite ", std::string(what), ": ", sqlite3_errmsg(db)));
}

absl::Status ExecRaw(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3*> OpenConn(const std::string& path,
                                  const std::string& vfs, int page_size,
                                  bool autocheckpoint) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("store: cannot open ", path, ": ", msg));
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 1);
  // Only takes effect on a new, empty database (before WAL is enabled).
  if (page_size > 0) {
    ExecRaw(db, absl::StrCat("PRAGMA page_size=", page_size).c_str())
        .IgnoreError();
  }
  if (!autocheckpoint) ExecRaw(db, "PRAGMA wal_autocheckpoint=0").IgnoreError();
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON",
        "PRAGMA temp_store=MEMORY", "PRAGMA cache_size=-16000"}) {
    absl::Status st = ExecRaw(db, pragma);
    if (!st.ok()) {
      sqlite3_close(db);
      return st;
    }
  }
  return db;
}

}  // namespace

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}
absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(db_, "step");
}
absl::Status Stmt::Run() {
  while (true) {
    absl::StatusOr<bool> r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return absl::OkStatus();
  }
}
int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string Stmt::Text(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}
bool Stmt::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Txn::~Txn() {
  for (auto& [sql, s] : raw_) sqlite3_finalize(s);
}

absl::StatusOr<Stmt*> Txn::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s,
                         nullptr) != SQLITE_OK) {
    return SqlError(db_, "prepare");
  }
  raw_[sql] = s;
  auto stmt = std::make_unique<Stmt>(db_, s);
  Stmt* out = stmt.get();
  cache_[sql] = std::move(stmt);
  return out;
}

absl::Status Txn::Exec(const std::string& sql) {
  // The writer runs BEGIN / SAVEPOINT / RELEASE / COMMIT for every batch and
  // operation: keep single statements prepared instead of parsing them each
  // time (sqlite3_exec re-parses). Several statements go through
  // sqlite3_exec.
  if (sql.find(';') != std::string::npos) return ExecRaw(db_, sql.c_str());
  absl::StatusOr<Stmt*> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  absl::Status st = (*stmt)->Run();
  (*stmt)->Reset();
  return st;
}
void Txn::ResetAll() {
  for (auto& [sql, s] : raw_) sqlite3_reset(s);
}

int64_t Txn::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Txn::Changes() const { return sqlite3_changes(db_); }

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path, StoreOptions options) {
  std::unique_ptr<SqliteStore> s(new SqliteStore());
  s->options_ = options;
  if (s->options_.max_batch <= 0) s->options_.max_batch = 256;
  const bool background = s->options_.checkpoint_interval_ms > 0;
  absl::StatusOr<sqlite3*> w =
      OpenConn(path, s->options_.vfs, s->options_.page_size, !background);
  if (!w.ok()) return w.status();
  s->wdb_ = *w;
  absl::Status st = ExecRaw(s->wdb_, kSchema);
  if (!st.ok()) return st;
  absl::StatusOr<sqlite3*> r = OpenConn(path, s->options_.vfs, 0, !background);
  if (!r.ok()) return r.status();
  s->rdb_ = *r;
  if (background) {
    absl::StatusOr<sqlite3*> c = OpenConn(path, s->options_.vfs, 0, false);
    if (!c.ok()) return c.status();
    s->cdb_ = *c;
    s->checkpointer_ = std::thread([p = s.get()] { p->CheckpointLoop(); });
  }
  s->completer_ = std::thread([p = s.get()] { p->CompletionLoop(); });
  s->wtxn_ = std::make_unique<Txn>(s->wdb_);
  s->rtxn_ = std::make_unique<Txn>(s->rdb_);
  s->writer_ = std::thread([p = s.get()] { p->WriterLoop(); });
  return s;
}

SqliteStore::~SqliteStore() {
  Close();
  wtxn_.reset();
  rtxn_.reset();
  if (cdb_) sqlite3_close(cdb_);
  if (rdb_) sqlite3_close(rdb_);
  if (wdb_) sqlite3_close(wdb_);
}

void SqliteStore::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> l(done_mu_);
    done_closing_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
  {
    std::lock_guard<std::mutex> l(ckpt_mu_);
    ckpt_closing_ = true;
  }
  ckpt_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

void SqliteStore::CompletionLoop() {
  pthread_setname_np(pthread_self(), "ehx-complete");  // for top -H, perf
  std::deque<Completed> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> l(done_mu_);
      done_cv_.wait(l, [&] { return done_closing_ || !done_queue_.empty(); });
      if (done_queue_.empty() && done_closing_) return;
      batch.swap(done_queue_);
    }
    for (auto& c : batch) c.done(std::move(c.status));
    batch.clear();  // destroys the ops' captures here, off the writer
  }
}

void SqliteStore::CheckpointLoop() {
  pthread_setname_np(pthread_self(), "ehx-checkpoint");
  std::unique_lock<std::mutex> l(ckpt_mu_);
  while (!ckpt_closing_) {
    ckpt_cv_.wait_for(
        l, std::chrono::milliseconds(options_.checkpoint_interval_ms));
    if (ckpt_closing_) break;
    l.unlock();
    int log_frames = 0, done_frames = 0;
    // PASSIVE never blocks the writer; if it falls far behind (a reader
    // pinned the WAL), a RESTART waits briefly so the WAL can wrap.
    int rc = sqlite3_wal_checkpoint_v2(cdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       &log_frames, &done_frames);
    if (rc == SQLITE_OK && log_frames > 65536) {
      sqlite3_wal_checkpoint_v2(cdb_, nullptr, SQLITE_CHECKPOINT_RESTART,
                                nullptr, nullptr);
    }
    l.lock();
  }
  l.unlock();
  sqlite3_wal_checkpoint_v2(cdb_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                            nullptr);
}

absl::Status SqliteStore::health() const {
  std::lock_guard<std::mutex> l(mu_);
  if (!failure_.empty()) return absl::UnavailableError(failure_);
  return absl::OkStatus();
}

void SqliteStore::Write(WriteFn fn, DoneFn done) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (failure_.empty() && !closing_) {
      queue_.push_back(Op{std::move(fn), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("store: not accepting writes"));
}

absl::Status SqliteStore::WriteNow(const WriteFn& fn) {
  absl::Status st = wtxn_->Exec("BEGIN IMMEDIATE");
  if (!st.ok()) return st;
  st = fn(*wtxn_);
  wtxn_->ResetAll();
  if (!st.ok()) {
    wtxn_->Exec("ROLLBACK").IgnoreError();
    return st;
  }
  return wtxn_->Exec("COMMIT");
}

absl::Status SqliteStore::Read(const std::function<absl::Status(Txn&)>& fn) {
  std::lock_guard<std::mutex> l(read_mu_);
  absl::Status st = rtxn_->Exec("BEGIN");
  if (!st.ok()) return st;
  st = fn(*rtxn_);
  rtxn_->ResetAll();
  rtxn_->Exec("COMMIT").IgnoreError();
  return st;
}

void SqliteStore::WriterLoop() {
  pthread_setname_np(pthread_self(), "ehx-writer");
  std::vector<Op> batch;
  std::vector<absl::Status> results;
  while (true) {
    batch.clear();
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty() && closing_) return;
      while (!queue_.empty() &&
             static_cast<int>(batch.size()) < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    results.assign(batch.size(), absl::OkStatus());
    absl::Status commit = wtxn_->Exec("BEGIN IMMEDIATE");
    if (commit.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        absl::Status sp = wtxn_->Exec("SAVEPOINT op");
        if (!sp.ok()) {
          results[i] = sp;
          continue;
        }
        results[i] = batch[i].fn(*wtxn_);
        if (!results[i].ok()) {
          wtxn_->Exec("ROLLBACK TO op").IgnoreError();
        }
        absl::Status rel = wtxn_->Exec("RELEASE op");
        if (!rel.ok() && results[i].ok()) results[i] = rel;
      }
      wtxn_->ResetAll();
      commit = wtxn_->Exec("COMMIT");
    }
    if (!commit.ok()) {
      // Never ack what may not be durable, and stop accepting writes: after
      // a failed fsync the page cache state is unknown (PostgreSQL's lesson).
      wtxn_->Exec("ROLLBACK").IgnoreError();
      std::deque<Op> rest;
      {
        std::lock_guard<std::mutex> l(mu_);
        failure_ = absl::StrCat(
            "store: commit failed, writes refused until "
            "restart (",
            std::string(commit.message()), ")");
        rest.swap(queue_);
      }
      SPDLOG_ERROR("{}", health().message().data());
      for (auto& op : batch) {
        op.done(absl::UnavailableError("store: commit failed"));
      }
      for (auto& op : rest) {
        op.done(absl::UnavailableError("store: not accepting writes"));
      }
      continue;
    }
    commits_.fetch_add(1);
    {
      std::lock_guard<std::mutex> l(done_mu_);
      for (size_t i = 0; i < batch.size(); ++i) {
        done_queue_.push_back(Completed{std::move(batch[i].done),
                                        std::move(results[i]),
                                        std::move(batch[i].fn)});
      }
    }
    done_cv_.notify_one();
  }
}

}  // namespace ehx::store
