// ehx::sdk::InboxPoller (plugins/sdk/ehx_sdk/inbox.h), the inbox loop every
// file-exchanging adapter uses: which files count as finished, order,
// retry backoff, ReportAndMove, and the thread's start/stop. Built against
// the folder adapter's core (the SDK is header-only and needs an adapter's
// schema copy).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "ehx_sdk/inbox.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using ehx::sdk::InboxAction;
using ehx::sdk::InboxOptions;
using ehx::sdk::InboxPoller;

class InboxPollerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    dir_ = fs::temp_directory_path() /
           ("inbox_poller_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(n++));
    fs::create_directories(dir_ / "in");
    fs::create_directories(dir_ / "done");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& content = "x") {
    std::ofstream(dir_ / "in" / name, std::ios::binary) << content;
  }
  // Ages every inbox file past min_file_age.
  void Age() {
    for (const auto& e : fs::directory_iterator(dir_ / "in")) {
      if (e.is_regular_file()) {
        fs::last_write_time(
            e.path(), fs::file_time_type::clock::now() - std::chrono::hours(1));
      }
    }
  }
  InboxOptions Options() {
    InboxOptions o;
    o.dirs = {dir_ / "in"};
    o.suffixes = {".json"};
    o.poll_interval = std::chrono::milliseconds(10);
    o.min_file_age = std::chrono::milliseconds(500);
    o.retry_backoff = std::chrono::hours(1);
    return o;
  }
  fs::path dir_;
};

TEST_F(InboxPollerTest, OffersOnlyFinishedFilesInNameOrder) {
  Write("b.json");
  Write("a.JSON");       // suffixes are case-insensitive
  Write(".c.json");      // dot file: a writer's temp name
  Write("d.json.part");  // temp suffix
  Write("e.json.tmp");   // temp suffix
  Write("f.xml");        // not a wanted suffix
  fs::create_directory(dir_ / "in" / "g.json");  // not a regular file
  fs::create_symlink(dir_ / "in" / "b.json", dir_ / "in" / "h.json");
  std::vector<std::string> seen;
  InboxPoller p(Options(), [&](const fs::path& f) {
    seen.push_back(f.filename().string());
    fs::rename(f, dir_ / "done" / f.filename());
    return InboxAction::kDone;
  });
  ASSERT_TRUE(p.ScanOnce().ok());
  EXPECT_TRUE(seen.empty());  // younger than min_file_age: not stable yet
  Age();
  ASSERT_TRUE(p.ScanOnce().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a.JSON", "b.json"}));
}

TEST_F(InboxPollerTest, RetryWaitsForTheBackoffAndSortKeyOrders) {
  Write("x-2.json");
  Write("x-1.json");
  Age();
  std::vector<std::string> seen;
  bool fail = true;
  InboxOptions o = Options();
  o.retry_backoff = std::chrono::milliseconds(200);
  o.sort_key = [](const std::string& name) {  // reverse name order
    return std::string(1, static_cast<char>(255 - name[2]));
  };
  InboxPoller p(o, [&](const fs::path& f) {
    seen.push_back(f.filename().string());
    if (fail) return InboxAction::kRetry;
    fs::remove(f);
    return InboxAction::kDone;
  });
  ASSERT_TRUE(p.ScanOnce().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"x-2.json", "x-1.json"}));
  seen.clear();
  fail = false;
  ASSERT_TRUE(p.ScanOnce().ok());
  EXPECT_TRUE(seen.empty());  // both still in their backoff
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ASSERT_TRUE(p.ScanOnce().ok());
  EXPECT_EQ(seen.size(), 2u);
  // A file the handler could not clear (kDone, still there) also waits.
  Write("stuck.json");
  Age();
  seen.clear();
  InboxPoller q(o, [&](const fs::path& f) {
    seen.push_back(f.filename().string());
    return InboxAction::kDone;  // but never moved
  });
  ASSERT_TRUE(q.ScanOnce().ok());
  ASSERT_TRUE(q.ScanOnce().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"stuck.json"}));
}

TEST_F(InboxPollerTest, MissingFolderIsUnhealthyAndBeforePassRuns) {
  InboxOptions o = Options();
  o.dirs.push_back(dir_ / "missing");
  int passes = 0;
  o.before_pass = [&] { ++passes; };
  InboxPoller p(o, [](const fs::path&) { return InboxAction::kDone; });
  ehx::sdk::Status st = p.ScanOnce();
  EXPECT_EQ(st.code(), ehx::sdk::Code::kUnavailable);
  EXPECT_NE(st.message().find("missing"), std::string::npos);
  EXPECT_EQ(st.message().find(dir_.string()), std::string::npos);  // no path
  EXPECT_EQ(passes, 1);
}

TEST_F(InboxPollerTest, ThreadHandlesDroppedFilesUntilStopped) {
  InboxOptions o = Options();
  o.min_file_age = std::chrono::milliseconds(0);
  std::atomic<int> handled{0};
  InboxPoller p(o, [&](const fs::path& f) {
    fs::rename(f, dir_ / "done" / f.filename());
    ++handled;
    return InboxAction::kDone;
  });
  p.Start();
  p.Start();  // idempotent
  Write("one.json");
  for (int i = 0; i < 200 && handled == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(handled, 1);
  EXPECT_TRUE(p.health().ok());
  p.Stop();
  p.Stop();  // idempotent
  Write("two.json");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(handled, 1);  // stopped: nothing more
}

TEST_F(InboxPollerTest, ReportAndMoveWritesTheReportFirst) {
  Write("r.json", "payload");
  const fs::path file = dir_ / "in" / "r.json";
  ASSERT_TRUE(ehx::sdk::ReportAndMove(file, dir_ / "done", dir_ / "done",
                                      "r.json.report.json", "{}\n")
                  .ok());
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::exists(dir_ / "done" / "r.json"));
  EXPECT_TRUE(fs::exists(dir_ / "done" / "r.json.report.json"));
  // No destination: deleted; a report folder that does not exist: the file
  // stays (nothing is lost without its report).
  Write("s.json");
  ASSERT_TRUE(
      ehx::sdk::ReportAndMove(dir_ / "in" / "s.json", "", "", "", "").ok());
  EXPECT_FALSE(fs::exists(dir_ / "in" / "s.json"));
  Write("t.json");
  EXPECT_FALSE(ehx::sdk::ReportAndMove(dir_ / "in" / "t.json", dir_ / "done",
                                       dir_ / "nope", "t.report.json", "{}")
                   .ok());
  EXPECT_TRUE(fs::exists(dir_ / "in" / "t.json"));
  std::string content;
  EXPECT_EQ(ehx::sdk::ReadInboxFile(dir_ / "in" / "t.json", 0, &content),
            ehx::sdk::ReadOutcome::kTooLarge);
  EXPECT_EQ(ehx::sdk::ReadInboxFile(dir_ / "in" / "t.json", 10, &content),
            ehx::sdk::ReadOutcome::kOk);
  EXPECT_EQ(content, "x");
  EXPECT_EQ(ehx::sdk::ReadInboxFile(dir_ / "in" / "gone", 10, &content),
            ehx::sdk::ReadOutcome::kGone);
}

}  // namespace
