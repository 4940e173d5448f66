// ehx_store_floor_bench: what durable storage alone costs per message, for
// the Publish budget in docs/performance.md ("The floor").
//
// Three runs in one process, each writing --messages messages of the
// bench's size in group commits of --batch, each commit made durable with
// fdatasync (SQLite: WAL, synchronous=FULL, as the gateway):
//  (1) io: the same bytes appended to a plain file, fdatasync per batch;
//      the I/O floor, no database;
//  (2) minimal: SQLite with the least a message needs: one 2,125-byte event
//      row, 3 outbox rows and 1 audit row, no secondary index, no case
//      record, no idempotency lookup;
//  (3) gateway-shaped: the rows the gateway's transaction holds: the event,
//      an idempotency key under a unique index, a 1 KB case record upserted
//      (4,096 cases), 3 outbox rows under a mailbox index and 4 audit rows
//      (--audit-rows).
// It prints CPU time (user + system of the whole process, so kernel
// writeback done for it counts) per message for each, and the ratios of
// (2) and (3) to (1). Payload bytes are random, as sealed payloads are.
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace {

namespace fs = std::filesystem;

constexpr int kEventBytes = 2125;
constexpr int kRecordBytes = 1024;
constexpr int kAuditBytes = 220;
constexpr int kCases = 4096;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Run {
  double cpu_us_per_message = 0;
  double messages_per_s = 0;
};

std::string RandomBytes(std::mt19937_64* rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = (*rng)();
    for (size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = char(v >> (8 * j));
  }
  return s;
}

template <typename F>
Run Measure(int messages, F body) {
  const double c0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  if (!body()) std::exit(1);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  Run r;
  r.cpu_us_per_message = (CpuSeconds() - c0) * 1e6 / messages;
  r.messages_per_s = messages / wall;
  return r;
}

bool Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return false;
  }
  return true;
}

sqlite3_stmt* Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                         nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s: %s\n", sql, sqlite3_errmsg(db));
    std::exit(1);
  }
  return st;
}

bool Step(sqlite3_stmt* st) {
  const int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    std::fprintf(stderr, "sqlite step: %s\n", sqlite3_errstr(rc));
    return false;
  }
  return true;
}

// Opens a new database as the gateway does (WAL, synchronous=FULL) and
// creates `schema`; exits on failure (a bench, not a service).
sqlite3* Open(const fs::path& path, const char* schema) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
      !Exec(db, "PRAGMA journal_mode=WAL") ||
      !Exec(db, "PRAGMA synchronous=FULL") || !Exec(db, schema)) {
    std::exit(1);
  }
  return db;
}

bool RunIo(const fs::path& path, int messages, int batch) {
  std::mt19937_64 rng(1);
  const std::string event = RandomBytes(&rng, kEventBytes);
  const std::string row = RandomBytes(&rng, 4 * 16 + kAuditBytes);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  for (int i = 0; i < messages; ++i) {
    std::fwrite(event.data(), 1, event.size(), f);
    std::fwrite(row.data(), 1, row.size(), f);
    if ((i + 1) % batch == 0 || i + 1 == messages) {
      std::fflush(f);
      if (fdatasync(fileno(f)) != 0) return false;
    }
  }
  return std::fclose(f) == 0;
}

bool RunMinimal(const fs::path& path, int messages, int batch) {
  std::mt19937_64 rng(2);
  sqlite3* db =
      Open(path,
           "CREATE TABLE events(id INTEGER PRIMARY KEY, payload BLOB);"
           "CREATE TABLE outbox(id INTEGER PRIMARY KEY, recipient INTEGER,"
           " event_id INTEGER, state INTEGER);"
           "CREATE TABLE audit(seq INTEGER PRIMARY KEY, rec BLOB);");
  sqlite3_stmt* ev = Prepare(db, "INSERT INTO events(payload) VALUES(?)");
  sqlite3_stmt* ob = Prepare(
      db, "INSERT INTO outbox(recipient, event_id, state) VALUES(?, ?, 0)");
  sqlite3_stmt* au = Prepare(db, "INSERT INTO audit(rec) VALUES(?)");
  const std::string event = RandomBytes(&rng, kEventBytes);
  const std::string audit = RandomBytes(&rng, kAuditBytes);
  bool ok = true;
  for (int i = 0; i < messages && ok; ++i) {
    if (i % batch == 0) ok = Exec(db, "BEGIN");
    sqlite3_bind_blob(ev, 1, event.data(), int(event.size()), SQLITE_STATIC);
    ok = ok && Step(ev);
    const int64_t id = sqlite3_last_insert_rowid(db);
    for (int r = 0; r < 3 && ok; ++r) {
      sqlite3_bind_int(ob, 1, r);
      sqlite3_bind_int64(ob, 2, id);
      ok = Step(ob);
    }
    sqlite3_bind_blob(au, 1, audit.data(), int(audit.size()), SQLITE_STATIC);
    ok = ok && Step(au);
    if ((i + 1) % batch == 0 || i + 1 == messages)
      ok = ok && Exec(db, "COMMIT");
  }
  sqlite3_finalize(ev);
  sqlite3_finalize(ob);
  sqlite3_finalize(au);
  sqlite3_close(db);
  return ok;
}

bool RunGatewayShaped(const fs::path& path, int messages, int batch,
                      int audit_rows) {
  std::mt19937_64 rng(3);
  sqlite3* db =
      Open(path,
           "CREATE TABLE events(id INTEGER PRIMARY KEY, idem TEXT NOT NULL,"
           " case_ref TEXT, payload BLOB);"
           "CREATE UNIQUE INDEX events_idem ON events(idem);"
           "CREATE TABLE cases(case_ref TEXT PRIMARY KEY, record BLOB)"
           " WITHOUT ROWID;"
           "CREATE TABLE outbox(id INTEGER PRIMARY KEY, recipient TEXT,"
           " event_id INTEGER, case_ref TEXT, state INTEGER, due INTEGER);"
           "CREATE INDEX outbox_mailbox ON outbox(recipient, state, id);"
           "CREATE TABLE audit(seq INTEGER PRIMARY KEY, prev BLOB, rec "
           "BLOB);");
  sqlite3_stmt* idem = Prepare(db, "SELECT id FROM events WHERE idem = ?");
  sqlite3_stmt* ev = Prepare(
      db, "INSERT INTO events(idem, case_ref, payload) VALUES(?, ?, ?)");
  sqlite3_stmt* cs = Prepare(
      db,
      "INSERT INTO cases(case_ref, record) VALUES(?, ?) ON CONFLICT(case_ref)"
      " DO UPDATE SET record = excluded.record");
  sqlite3_stmt* ob = Prepare(db,
                             "INSERT INTO outbox(recipient, event_id, "
                             "case_ref, state, due) VALUES(?, ?, ?, 0, 0)");
  sqlite3_stmt* au = Prepare(db, "INSERT INTO audit(prev, rec) VALUES(?, ?)");
  const std::string event = RandomBytes(&rng, kEventBytes);
  const std::string record = RandomBytes(&rng, kRecordBytes);
  const std::string audit = RandomBytes(&rng, kAuditBytes);
  const std::string prev = RandomBytes(&rng, 32);
  const char* recipients[] = {"school-oakfield", "health-visiting",
                              "csc-front-door"};
  bool ok = true;
  for (int i = 0; i < messages && ok; ++i) {
    if (i % batch == 0) ok = Exec(db, "BEGIN");
    // Keys as the bench sends them: a run prefix and a sequence number.
    const std::string key = "bench-b-" + std::to_string(i);
    const std::string case_ref = "BENCH-" + std::to_string(i % kCases);
    sqlite3_bind_text(idem, 1, key.data(), int(key.size()), SQLITE_STATIC);
    if (sqlite3_step(idem) == SQLITE_ROW) ok = false;
    sqlite3_reset(idem);
    sqlite3_bind_text(ev, 1, key.data(), int(key.size()), SQLITE_STATIC);
    sqlite3_bind_text(ev, 2, case_ref.data(), int(case_ref.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob(ev, 3, event.data(), int(event.size()), SQLITE_STATIC);
    ok = ok && Step(ev);
    const int64_t id = sqlite3_last_insert_rowid(db);
    sqlite3_bind_text(cs, 1, case_ref.data(), int(case_ref.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob(cs, 2, record.data(), int(record.size()), SQLITE_STATIC);
    ok = ok && Step(cs);
    for (const char* r : recipients) {
      sqlite3_bind_text(ob, 1, r, -1, SQLITE_STATIC);
      sqlite3_bind_int64(ob, 2, id);
      sqlite3_bind_text(ob, 3, case_ref.data(), int(case_ref.size()),
                        SQLITE_STATIC);
      ok = ok && Step(ob);
    }
    for (int a = 0; a < audit_rows; ++a) {
      sqlite3_bind_blob(au, 1, prev.data(), int(prev.size()), SQLITE_STATIC);
      sqlite3_bind_blob(au, 2, audit.data(), int(audit.size()), SQLITE_STATIC);
      ok = ok && Step(au);
    }
    if ((i + 1) % batch == 0 || i + 1 == messages)
      ok = ok && Exec(db, "COMMIT");
  }
  for (auto* st : {idem, ev, cs, ob, au}) sqlite3_finalize(st);
  sqlite3_close(db);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ehx_store_floor_bench: durable storage cost per message"};
  int messages = 100000, batch = 32, audit_rows = 4;
  std::string dir;
  app.add_option("--messages", messages, "messages per run")
      ->capture_default_str();
  app.add_option("--batch", batch, "messages per group commit")
      ->capture_default_str();
  app.add_option("--audit-rows", audit_rows,
                 "audit rows per message in the gateway-shaped run")
      ->capture_default_str();
  app.add_option("--dir", dir, "directory for the files (default: a temp dir)");
  CLI11_PARSE(app, argc, argv);
  if (messages < 1 || batch < 1 || audit_rows < 0) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  fs::path work = dir;
  if (work.empty()) {
    std::string tmpl =
        (fs::temp_directory_path() / "ehx-floor-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return 1;
    work = tmpl;
  }
  fs::create_directories(work);

  const Run io = Measure(
      messages, [&] { return RunIo(work / "io.bin", messages, batch); });
  const Run minimal = Measure(messages, [&] {
    return RunMinimal(work / "minimal.db", messages, batch);
  });
  const Run shaped = Measure(messages, [&] {
    return RunGatewayShaped(work / "shaped.db", messages, batch, audit_rows);
  });
  std::printf("messages=%d batch=%d\n", messages, batch);
  std::printf("io: %.1f us CPU per message, %.0f messages/s\n",
              io.cpu_us_per_message, io.messages_per_s);
  std::printf("minimal: %.1f us CPU per message, %.0f messages/s\n",
              minimal.cpu_us_per_message, minimal.messages_per_s);
  std::printf("gateway_shaped: %.1f us CPU per message, %.0f messages/s\n",
              shaped.cpu_us_per_message, shaped.messages_per_s);
  std::printf("store_floor_minimal_cpu_us_per_message=%.1f\n",
              minimal.cpu_us_per_message);
  std::printf("store_floor_gateway_shaped_cpu_us_per_message=%.1f\n",
              shaped.cpu_us_per_message);
  std::printf("minimal_vs_io_cpu_ratio=%.2f\n",
              minimal.cpu_us_per_message / io.cpu_us_per_message);
  std::printf("gateway_shaped_vs_io_cpu_ratio=%.2f\n",
              shaped.cpu_us_per_message / io.cpu_us_per_message);
  if (dir.empty()) fs::remove_all(work);
  return 0;
}
