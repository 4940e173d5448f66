#include "identity_state.h"

#include <sqlite3.h>
#include <sys/stat.h>

namespace ehx::adapters::health {

std::unique_ptr<IdentityState> IdentityState::Open(const std::string& path,
                                                   std::string* error) {
  sqlite3* db = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    *error = std::string("cannot open identity state: ") +
             (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return nullptr;
  }
  if (path != ":memory:") ::chmod(path.c_str(), 0600);
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS identity ("
      "  person_key TEXT PRIMARY KEY,"
      "  nhs_number TEXT NOT NULL,"
      "  verified INTEGER NOT NULL,"
      "  source_code TEXT NOT NULL);";
  char* msg = nullptr;
  if (sqlite3_exec(db, schema, nullptr, nullptr, &msg) != SQLITE_OK) {
    *error =
        std::string("cannot create identity state: ") + (msg ? msg : "unknown");
    sqlite3_free(msg);
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<IdentityState>(new IdentityState(db));
}

IdentityState::~IdentityState() { sqlite3_close(db_); }

bool IdentityState::Get(const std::string& key, Entry* out) {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT nhs_number, verified, source_code FROM "
                         "identity WHERE person_key = ?1",
                         -1, &st, nullptr) != SQLITE_OK) {
    return false;
  }
  sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()),
                    SQLITE_TRANSIENT);
  bool found = false;
  if (sqlite3_step(st) == SQLITE_ROW) {
    out->nhs_number = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    out->verified = sqlite3_column_int(st, 1) != 0;
    out->source_code =
        reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
    found = true;
  }
  sqlite3_finalize(st);
  return found;
}

bool IdentityState::Put(const std::string& key, const Entry& entry) {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO identity(person_key, nhs_number, "
                         "verified, source_code) VALUES(?1, ?2, ?3, ?4) "
                         "ON CONFLICT(person_key) DO UPDATE SET "
                         "nhs_number = excluded.nhs_number, "
                         "verified = excluded.verified, "
                         "source_code = excluded.source_code",
                         -1, &st, nullptr) != SQLITE_OK) {
    return false;
  }
  sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, entry.nhs_number.data(),
                    static_cast<int>(entry.nhs_number.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 3, entry.verified ? 1 : 0);
  sqlite3_bind_text(st, 4, entry.source_code.data(),
                    static_cast<int>(entry.source_code.size()),
                    SQLITE_TRANSIENT);
  const bool ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok;
}

}  // namespace ehx::adapters::health
