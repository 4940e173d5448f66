#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <future>
#include <random>

namespace ehx::store {
namespace {

namespace fs = std::filesystem;

// A VFS that wraps the default one and fails xSync on demand: the only
// honest way to test "after an fsync failure, refuse writes".
std::atomic<bool> g_fail_sync{false};
sqlite3_vfs g_failing_vfs;
sqlite3_io_methods g_io_methods;
const sqlite3_io_methods* g_real_methods = nullptr;

struct ShimFile {
  sqlite3_file base;   // must be first
  sqlite3_file* real;  // the default VFS's file, allocated after us
};

int ShimClose(sqlite3_file* f) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  int rc = s->real->pMethods->xClose(s->real);
  return rc;
}
int ShimRead(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xRead(s->real, b, n, o);
}
int ShimWrite(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xWrite(s->real, b, n, o);
}
int ShimTruncate(sqlite3_file* f, sqlite3_int64 n) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xTruncate(s->real, n);
}
int ShimSync(sqlite3_file* f, int flags) {
  if (g_fail_sync) return SQLITE_IOERR_FSYNC;
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xSync(s->real, flags);
}
int ShimFileSize(sqlite3_file* f, sqlite3_int64* n) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xFileSize(s->real, n);
}
int ShimLock(sqlite3_file* f, int l) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xLock(s->real, l);
}
int ShimUnlock(sqlite3_file* f, int l) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xUnlock(s->real, l);
}
int ShimCheck(sqlite3_file* f, int* r) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xCheckReservedLock(s->real, r);
}
int ShimControl(sqlite3_file* f, int op, void* a) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xFileControl(s->real, op, a);
}
int ShimSector(sqlite3_file* f) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xSectorSize(s->real);
}
int ShimDevice(sqlite3_file* f) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xDeviceCharacteristics(s->real);
}
int ShimShmMap(sqlite3_file* f, int i, int sz, int e, void volatile** p) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xShmMap(s->real, i, sz, e, p);
}
int ShimShmLock(sqlite3_file* f, int o, int n, int fl) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xShmLock(s->real, o, n, fl);
}
void ShimShmBarrier(sqlite3_file* f) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  s->real->pMethods->xShmBarrier(s->real);
}
int ShimShmUnmap(sqlite3_file* f, int d) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  return s->real->pMethods->xShmUnmap(s->real, d);
}

int ShimOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags,
             int* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  auto* s = reinterpret_cast<ShimFile*>(f);
  s->real = reinterpret_cast<sqlite3_file*>(s + 1);
  int rc = real->xOpen(real, name, s->real, flags, out);
  if (rc != SQLITE_OK) {
    f->pMethods = nullptr;
    return rc;
  }
  g_real_methods = s->real->pMethods;
  g_io_methods = *s->real->pMethods;
  g_io_methods.xClose = ShimClose;
  g_io_methods.xRead = ShimRead;
  g_io_methods.xWrite = ShimWrite;
  g_io_methods.xTruncate = ShimTruncate;
  g_io_methods.xSync = ShimSync;
  g_io_methods.xFileSize = ShimFileSize;
  g_io_methods.xLock = ShimLock;
  g_io_methods.xUnlock = ShimUnlock;
  g_io_methods.xCheckReservedLock = ShimCheck;
  g_io_methods.xFileControl = ShimControl;
  g_io_methods.xSectorSize = ShimSector;
  g_io_methods.xDeviceCharacteristics = ShimDevice;
  g_io_methods.xShmMap = ShimShmMap;
  g_io_methods.xShmLock = ShimShmLock;
  g_io_methods.xShmBarrier = ShimShmBarrier;
  g_io_methods.xShmUnmap = ShimShmUnmap;
  g_io_methods.iVersion = 2;
  f->pMethods = &g_io_methods;
  return SQLITE_OK;
}

void RegisterFailingVfs() {
  static bool done = false;
  if (done) return;
  done = true;
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  g_failing_vfs = *real;
  g_failing_vfs.zName = "ehx-failing-sync";
  g_failing_vfs.szOsFile = sizeof(ShimFile) + real->szOsFile;
  g_failing_vfs.pAppData = real;
  g_failing_vfs.xOpen = ShimOpen;
  sqlite3_vfs_register(&g_failing_vfs, 0);
}

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() {
    std::random_device rd;
    dir_ =
        fs::temp_directory_path() /
        ("ehx-store-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  ~StoreTest() override { fs::remove_all(dir_); }

  std::unique_ptr<SqliteStore> Open(StoreOptions o = {}) {
    auto s = SqliteStore::Open((dir_ / "t.db").string(), o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  absl::Status WriteSync(SqliteStore* s, SqliteStore::WriteFn fn) {
    std::promise<absl::Status> p;
    s->Write(std::move(fn), [&p](absl::Status st) { p.set_value(st); });
    return p.get_future().get();
  }

  int64_t Count(SqliteStore* s, const std::string& table) {
    int64_t n = -1;
    EXPECT_TRUE(s->Read([&](Txn& t) -> absl::Status {
                   auto q = t.Prepare("SELECT count(*) FROM " + table);
                   if (!q.ok()) return q.status();
                   auto r = (*q)->Step();
                   if (!r.ok()) return r.status();
                   n = (*q)->Int(0);
                   return absl::OkStatus();
                 }).ok());
    return n;
  }

  fs::path dir_;
};

absl::Status InsertMeta(Txn& t, const std::string& k) {
  auto q = t.Prepare("INSERT INTO meta(key, value) VALUES(?, 'v')");
  if (!q.ok()) return q.status();
  return (*q)->Bind(1, k).Run();
}

TEST_F(StoreTest, UsesWalAndFullSync) {
  auto s = Open();
  std::string mode;
  int64_t sync = -1;
  ASSERT_TRUE(s->Read([&](Txn& t) -> absl::Status {
                 auto q = t.Prepare("PRAGMA journal_mode");
                 (*q)->Step().IgnoreError();
                 mode = (*q)->Text(0);
                 auto q2 = t.Prepare("PRAGMA synchronous");
                 (*q2)->Step().IgnoreError();
                 sync = (*q2)->Int(0);
                 return absl::OkStatus();
               }).ok());
  EXPECT_EQ(mode, "wal");
  EXPECT_EQ(sync, 2);  // FULL
}

TEST_F(StoreTest, FailingOperationRollsBackAloneInItsBatch) {
  auto s = Open();
  std::vector<std::promise<absl::Status>> ps(100);
  for (int i = 0; i < 100; ++i) {
    s->Write(
        [i](Txn& t) -> absl::Status {
          absl::Status st = InsertMeta(t, "k" + std::to_string(i));
          if (!st.ok()) return st;
          // Every 10th op writes then fails: its row must vanish.
          if (i % 10 == 0) return absl::InvalidArgumentError("refused");
          return absl::OkStatus();
        },
        [&ps, i](absl::Status st) { ps[i].set_value(st); });
  }
  int failed = 0;
  for (auto& p : ps) failed += p.get_future().get().ok() ? 0 : 1;
  EXPECT_EQ(failed, 10);
  EXPECT_EQ(Count(s.get(), "meta"), 90);
}

TEST_F(StoreTest, GroupCommitUsesFewerTransactionsThanOperations) {
  StoreOptions o;
  o.max_batch = 64;
  auto s = Open(o);
  const int kOps = 2000;
  std::atomic<int> done{0};
  std::promise<void> all;
  for (int i = 0; i < kOps; ++i) {
    s->Write([i](Txn& t) { return InsertMeta(t, "g" + std::to_string(i)); },
             [&](absl::Status st) {
               EXPECT_TRUE(st.ok());
               if (++done == kOps) all.set_value();
             });
  }
  all.get_future().wait();
  EXPECT_EQ(Count(s.get(), "meta"), kOps);
  EXPECT_LT(s->commits(), kOps / 4) << "no batching happened";
}

TEST_F(StoreTest, FsyncFailureRefusesFurtherWritesAndLosesNothingAcked) {
  RegisterFailingVfs();
  StoreOptions o;
  o.vfs = "ehx-failing-sync";
  auto s = Open(o);
  ASSERT_TRUE(
      WriteSync(s.get(), [](Txn& t) { return InsertMeta(t, "a"); }).ok());
  g_fail_sync = true;
  absl::Status st =
      WriteSync(s.get(), [](Txn& t) { return InsertMeta(t, "b"); });
  g_fail_sync = false;
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_FALSE(s->health().ok());
  // Even with the disk healthy again, no more writes until restart.
  st = WriteSync(s.get(), [](Txn& t) { return InsertMeta(t, "c"); });
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  s.reset();
  auto again = Open();
  ASSERT_TRUE(again->health().ok());
  int64_t a = 0;
  ASSERT_TRUE(again
                  ->Read([&](Txn& t) -> absl::Status {
                    auto q =
                        t.Prepare("SELECT count(*) FROM meta WHERE key='a'");
                    (*q)->Step().IgnoreError();
                    a = (*q)->Int(0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(a, 1) << "an acknowledged write was lost";
}

}  // namespace
}  // namespace ehx::store
