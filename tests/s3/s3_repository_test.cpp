// walvault end to end on s3:// repositories: the real binary against PostgreSQL 15 (the integration harness) and the
// throwaway radosgw of the s3 fixture (s3_server.hpp), each test in a bucket of its own. awscli checks independently
// what walvault left in the bucket. Covered: the core loop (init, stream under pgbench, a multipart backup, an
// ORM-style wipe, events, restore --before-event with the rows of the last second), radosgw gone for 30 s under
// load, wrong credentials, a missing bucket, a second streamer, and kill -9 of a backup in the middle of a multipart
// upload.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "../integration/archive_fixture.hpp"
#include "../integration/encryption_support.hpp"
#include "../integration/pg_cluster.hpp"
#include "../integration/process.hpp"
#include "common/process.hpp"
#include "s3_server.hpp"
#include "storage/s3_xml.hpp"
#include "wal/lsn.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using walvault::test::as_postgres;
using walvault::test::aws;
using walvault::test::Background;
using walvault::test::free_port;
using walvault::test::new_bucket;
using walvault::test::pending_uploads;
using walvault::test::pg_program;
using walvault::test::PgCluster;
using walvault::test::ProcessResult;
using walvault::test::RestoredServer;
using walvault::test::s3_server;
using walvault::test::wait_until;
using walvault::wal::Lsn;

constexpr const char* kPrefix = "db1";
constexpr const char* kSlot = "walvault_s3";

// "count|md5 of the ordered rows" of a table with an id column.
std::string table_sql(const std::string& table) {
  return "SELECT count(*) || '|' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM " + table + " t";
}

// The pgbench tables' contents, for comparing a restore with the server.
constexpr const char* kPgbenchSql =
    "SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM ("
    " SELECT 'accounts' t, count(*) || ':' || md5(string_agg(aid || ',' || abalance, ';' ORDER BY aid)) n"
    "   FROM pgbench_accounts"
    " UNION ALL SELECT 'history', count(*) || ':' || md5(string_agg(tid || ',' || aid || ',' || delta || ',' || mtime,"
    "   ';' ORDER BY mtime, tid, aid, delta)) FROM pgbench_history) s";

// The walvault process a Background started (as root, Background runs runuser, whose child is walvault).
pid_t walvault_pid(Background& process) {
  if (!walvault::test::running_as_root()) return process.pid();
  pid_t child = 0;
  wait_until(
      [&] {
        const std::string pid = std::to_string(process.pid());
        std::istringstream children(walvault::test::read_text("/proc/" + pid + "/task/" + pid + "/children"));
        return static_cast<bool>(children >> child);
      },
      std::chrono::seconds(5));
  return child;
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

// A PostgreSQL cluster of the version under test whose repository is s3://BUCKET/db1 in a fresh bucket.
class S3Repository {
 public:
  S3Repository() : bucket_(new_bucket()), url_("s3://" + bucket_ + "/" + kPrefix) {}
  ~S3Repository() {
    if (streamer_) streamer_->stop(SIGTERM);
  }
  S3Repository(const S3Repository&) = delete;
  S3Repository& operator=(const S3Repository&) = delete;

  [[nodiscard]] PgCluster& pg() { return pg_; }
  [[nodiscard]] const std::string& bucket() const { return bucket_; }
  [[nodiscard]] const std::string& url() const { return url_; }

  // `walvault ARGS...` as the postgres OS user (when root), with the test user's AWS_* variables, the endpoint in
  // AWS_ENDPOINT_URL (a store that is not AWS: it is what reaches walvault.json), and extra "NAME=value" entries.
  [[nodiscard]] ProcessResult walvault(const std::vector<std::string>& args,
                                       const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv = {WALVAULT_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return walvault::test::run(as_postgres(argv), with_endpoint(env));
  }

  [[nodiscard]] static std::vector<std::string> with_endpoint(std::vector<std::string> env) {
    env.insert(env.begin(), "AWS_ENDPOINT_URL=" + s3_server().endpoint);
    return env;
  }

  // extra: more options, e.g. "--encrypt", "--key-file", PATH.
  void init(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"init", "--repo", url_, "-d", pg_.conninfo(), "--slot", kSlot};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = walvault(args);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }

  void start_streamer(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {WALVAULT_BINARY, "stream", "--repo", url_, "--fsync-interval-ms", "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    streamer_ = std::make_unique<Background>(as_postgres(argv), log(), with_endpoint({}));
    const bool streaming = wait_until([&] { return acknowledged() > Lsn(); }, std::chrono::seconds(30));
    INFO(streamer_log());
    REQUIRE(streaming);
  }
  void stop_streamer(int sig) {
    if (streamer_) streamer_->stop(sig);
    streamer_.reset();
  }
  [[nodiscard]] Background& streamer() { return *streamer_; }
  [[nodiscard]] std::string streamer_log() const { return walvault::test::read_text(log()); }

  // The flush position the streamer acknowledged to the server (what is durable in the bucket), 0/0 when none.
  [[nodiscard]] Lsn acknowledged() const {
    const auto text = pg_.scalar(
        "SELECT coalesce((SELECT r.flush_lsn FROM pg_stat_replication r JOIN pg_replication_slots s"
        " ON s.active_pid = r.pid WHERE s.slot_name = '" +
        std::string(kSlot) + "'), '0/0')::text");
    return Lsn::parse(text).value_or(Lsn());
  }
  [[nodiscard]] Lsn insert_lsn() const { return *Lsn::parse(pg_.scalar("SELECT pg_current_wal_insert_lsn()")); }
  // Waits until the streamer has acknowledged everything the server wrote so far.
  void wait_acknowledged(std::chrono::seconds timeout) const {
    const Lsn target = insert_lsn();
    INFO("waiting for " << target.to_string() << ", acknowledged " << acknowledged().to_string() << "\n"
                        << streamer_log());
    REQUIRE(wait_until([&] { return acknowledged() >= target; }, timeout));
  }

  // The bucket's keys under the repository prefix (without it) with their ETags, as awscli lists them.
  [[nodiscard]] std::map<std::string, std::string> aws_objects(const std::string& under = "") const {
    const auto listed = aws({"list-objects-v2", "--bucket", bucket_, "--prefix", std::string(kPrefix) + "/" + under});
    std::map<std::string, std::string> out;
    if (listed.contains("Contents")) {
      for (const auto& entry : listed["Contents"]) {
        out[entry["Key"].get<std::string>().substr(std::string(kPrefix).size() + 1)] = entry["ETag"];
      }
    }
    return out;
  }

  // pgbench's standard load as this process's user (a client needs no server files), until stop_load().
  void start_load(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {pg_program("pgbench"),
                                     "-h",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(pg_.port()),
                                     "-U",
                                     "postgres",
                                     "-n",
                                     "-c",
                                     "2",
                                     "-T",
                                     "600"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.emplace_back("postgres");
    load_ = std::make_unique<Background>(argv, pg_.work_dir() + "/pgbench.log");
  }
  void stop_load() {
    load_->stop(SIGINT);
    load_.reset();
    REQUIRE(wait_until(
        [&] { return pg_.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'") == "0"; },
        std::chrono::seconds(30)));
  }

 private:
  [[nodiscard]] std::string log() const { return pg_.work_dir() + "/stream.log"; }

  PgCluster pg_;
  std::string bucket_;
  std::string url_;
  std::unique_ptr<Background> streamer_;
  std::unique_ptr<Background> load_;
};

// Random, incompressible bytes in a table, so that a backup's stream container is larger than one 8 MiB part.
void add_random_bytes(const PgCluster& pg, const std::string& table, int mib) {
  pg.exec("CREATE TABLE " + table + " (id int PRIMARY KEY, b bytea NOT NULL)");
  pg.exec("INSERT INTO " + table +
          " SELECT i, (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex')"
          " FROM generate_series(1, 64) j) FROM generate_series(1, " +
          std::to_string(mib * 1024) + ") i");
}

// Every line of a command's output, for messages that must stay on one line.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void check_no_secret(const std::string& text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) CHECK(text.find(secret) == std::string::npos);
}

}  // namespace

TEST_CASE("s3 repository: init, stream under pgbench, a multipart backup, a wipe, events and restore --before-event",
          "[s3]") {
  S3Repository repo;
  PgCluster& pg = repo.pg();
  repo.init();
  REQUIRE(pg.run_pg_program("pgbench", {"-i", "-s", "1", "-q", "postgres"}).exit_code == 0);
  pg.exec("CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)");
  pg.exec("INSERT INTO orders (note) SELECT 'order ' || g FROM generate_series(1, 500) g");
  add_random_bytes(pg, "blobs", 12);
  repo.start_streamer();
  repo.start_load();

  const auto backup = repo.walvault({"backup", "--repo", repo.url(), "--fast", "--json"});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);
  const std::string backup_id = json::parse(backup.out)["id"];

  // The wipe, with rows committed (one transaction each) in the last moment before it, under load.
  for (int i = 0; i < 20; ++i) pg.exec("INSERT INTO orders (note) VALUES ('late " + std::to_string(i) + "')");
  const std::string before = pg.scalar(table_sql("orders"));
  const std::string last_commit = pg.scalar("SELECT clock_timestamp()");
  pg.exec("DROP TABLE orders");
  CHECK(pg.scalar("SELECT clock_timestamp() - '" + last_commit + "'::timestamptz < interval '1 second'") == "t");
  pg.exec("CREATE TABLE after_wipe (id int)");
  pg.exec("INSERT INTO after_wipe VALUES (1)");
  repo.stop_load();
  repo.wait_acknowledged(std::chrono::seconds(60));

  // events finds the wipe once the index holds it (published within about a second of the WAL being durable).
  json wipe;
  ProcessResult events;
  const bool found = wait_until(
      [&] {
        events = repo.walvault({"events", "--repo", repo.url(), "--json"});
        if (events.exit_code != 0) return false;
        for (const auto& e : json::parse(events.out)) {
          const auto& tables = e["tables"];
          if (e["kind"] == "drop_table" && std::find(tables.begin(), tables.end(), "public.orders") != tables.end()) {
            wipe = e;
          }
        }
        return !wipe.is_null();
      },
      std::chrono::seconds(30));
  INFO(events.out << events.err);
  REQUIRE(found);

  {
    RestoredServer restored(pg.work_dir() + "/restored", free_port());
    const auto r = repo.walvault({"restore", "--repo", repo.url(), "--target-dir", restored.dir(), "--before-event",
                                  wipe["id"].get<std::string>(), "--start", "--port", std::to_string(restored.port())});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(restored.scalar(table_sql("orders")) == before);
    CHECK(restored.scalar("SELECT count(*) FROM orders WHERE note LIKE 'late %'") == "20");
    CHECK(restored.scalar("SELECT to_regclass('after_wipe') IS NULL") == "t");
    // Neither what walvault printed nor the restore_command it wrote for PostgreSQL holds a credential.
    const std::string written = walvault::test::read_text(restored.dir() + "/postgresql.auto.conf");
    CHECK(written.find("wal-fetch") != std::string::npos);
    check_no_secret(written + r.out + r.err + backup.out + backup.err + events.out + events.err,
                    {s3_server().access_key, s3_server().secret_key});
  }
  repo.stop_streamer(SIGTERM);
  check_no_secret(repo.streamer_log(), {s3_server().access_key, s3_server().secret_key});

  // What awscli finds in the bucket: only the repository's objects under their final names, the backup complete
  // (its stream container a finished multipart upload: an ETag "md5-N"), no upload pending, no credential anywhere.
  const auto objects = repo.aws_objects();
  INFO(json(objects).dump(1));
  CHECK(objects.contains("walvault.json"));
  const std::regex known(
      R"((walvault\.json|wal/[0-9A-F]{24}\.wvs|wal/[0-9A-F]{8}\.history|backup/[0-9TZ]+/(backup\.json|backup_manifest|[a-z0-9_]+\.wvt)|)"
      R"(tip/([0-9A-F]{24}\.(partial|tail)|stream\.state)/\.piece-[0-9a-f]{16}-[0-9a-f]{16}|)"
      R"(index/[0-9A-F]{8}/(run-[0-9A-F]{16}-[0-9A-F]{16}\.wvi|(tip-[0-9A-F]{24}\.wvl)/\.piece-[0-9a-f]{16}-[0-9a-f]{16}|)"
      R"([a-z-]+-[0-9A-F]{16}\.json)|names/[0-9A-F]{16}\.json|config/[0-9]{20}\.json|verify/state-[0-9]{20}\.json))");
  int segments = 0;
  int multipart = 0;
  for (const auto& [key, etag] : objects) {
    INFO(key);
    CHECK(std::regex_match(key, known));
    if (std::regex_match(key, std::regex(R"(wal/[0-9A-F]{24}\.wvs)"))) ++segments;
    if (key.starts_with("backup/") && etag.find('-') != std::string::npos) ++multipart;
  }
  CHECK(segments >= 2);
  CHECK(objects.contains("backup/" + backup_id + "/backup.json"));
  CHECK(objects.contains("backup/" + backup_id + "/backup_manifest"));
  CHECK(multipart >= 1);
  CHECK(pending_uploads(repo.bucket()) == 0);

  const std::string copy = pg.work_dir() + "/bucket-copy";
  const auto copied = walvault::run_program({"/usr/bin/aws", "--endpoint-url", s3_server().endpoint, "s3", "cp",
                                             "--recursive", "--only-show-errors", "s3://" + repo.bucket(), copy});
  INFO(copied.output);
  REQUIRE(copied.exit_code == 0);
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(copy)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string content = walvault::test::read_text(entry.path());
    INFO(entry.path());
    check_no_secret(content, {s3_server().access_key, s3_server().secret_key});
  }
  CHECK(files == objects.size());
}

namespace {

// radosgw.sh gateway-stop / gateway-start: the S3 endpoint gone (radosgw killed) and back on the same port with the
// same objects. Destruction brings it back, whatever the test did, so later tests find it.
class GatewayOutage {
 public:
  GatewayOutage() { script("gateway-stop"); }
  ~GatewayOutage() {
    if (!back_) script("gateway-start");
  }
  GatewayOutage(const GatewayOutage&) = delete;
  GatewayOutage& operator=(const GatewayOutage&) = delete;

  void end() {
    script("gateway-start");
    back_ = true;
  }

 private:
  static void script(const std::string& command) {
    const auto r = walvault::run_program(
        {"/bin/bash", std::string(WALVAULT_SOURCE_DIR) + "/tests/s3/radosgw.sh", command, s3_server().dir}, 1 << 16);
    if (r.exit_code != 0) FAIL("radosgw.sh " << command << " failed: " << r.output);
  }
  bool back_ = false;
};

// A walvault process started by Background, stopped (SIGSTOP) until destruction (SIGCONT). As root, runuser stops
// itself too when its child stops (job control), so it is continued as well.
class Frozen {
 public:
  explicit Frozen(Background& process) : wrapper_(process.pid()), pid_(walvault_pid(process)) {
    REQUIRE(::kill(pid_, SIGSTOP) == 0);
  }
  ~Frozen() {
    ::kill(pid_, SIGCONT);
    if (wrapper_ != pid_) ::kill(wrapper_, SIGCONT);
  }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;

 private:
  pid_t wrapper_;
  pid_t pid_;
};

}  // namespace

TEST_CASE(
    "s3 repository: radosgw gone for 30 s under load: the streamer retries, acknowledges nothing new, leaves no gap",
    "[s3]") {
  using Clock = std::chrono::steady_clock;
  S3Repository repo;
  PgCluster& pg = repo.pg();
  repo.init();
  REQUIRE(pg.run_pg_program("pgbench", {"-i", "-s", "1", "-q", "postgres"}).exit_code == 0);
  pg.exec("CREATE TABLE ledger (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
  const std::string script = pg.work_dir() + "/ledger.sql";
  {
    std::ofstream out(script);
    out << "INSERT INTO ledger DEFAULT VALUES;\n";
  }
  repo.start_streamer();
  const auto backup = repo.walvault({"backup", "--repo", repo.url(), "--fast"});
  INFO(backup.err);
  REQUIRE(backup.exit_code == 0);
  // A steady, modest load (100 transactions a second): WAL to stream throughout, and little to verify and replay.
  repo.start_load({"-R", "100", "-b", "tpcb-like", "-f", script});
  REQUIRE(
      wait_until([&] { return std::stoi(pg.scalar("SELECT count(*) FROM ledger")) >= 100; }, std::chrono::seconds(30)));
  repo.wait_acknowledged(std::chrono::seconds(30));

  {
    GatewayOutage outage;
    const auto down = Clock::now();
    const std::string rows_at_stop = pg.scalar("SELECT count(*) FROM ledger");
    // The streamer acknowledges a position only after its stream.state PUT that follows the segment's: with radosgw
    // killed, nothing it sends from now on can acknowledge more than this.
    const Lsn held = repo.acknowledged();
    const Lsn server_at_stop = repo.insert_lsn();
    Lsn highest = held;
    while (Clock::now() - down < std::chrono::seconds(30)) {
      highest = std::max(highest, repo.acknowledged());
      REQUIRE(repo.streamer().running());
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    INFO("acknowledged " << held.to_string() << " at the start of the outage, " << highest.to_string()
                         << " at most during it; the server wrote up to " << repo.insert_lsn().to_string());
    CHECK(highest == held);
    // The load went on meanwhile: there was WAL to acknowledge, had the streamer counted anything not in the bucket.
    CHECK(repo.insert_lsn().value() > server_at_stop.value() + (256U << 10));
    CHECK(std::stol(pg.scalar("SELECT count(*) FROM ledger")) > std::stol(rows_at_stop) + 100);
    // What was acknowledged is in the bucket: with the streamer frozen, so that it writes nothing more, radosgw comes
    // back and the repository's durable end is at least the highest position acknowledged.
    const Frozen frozen(repo.streamer());
    outage.end();
    const auto status = repo.walvault({"status", "--repo", repo.url(), "--json"});
    INFO(status.out << status.err);
    const auto durable = Lsn::parse(json::parse(status.out)["durable_lsn"].get<std::string>());
    REQUIRE(durable);
    CHECK(*durable >= highest);
  }
  // Back: the streamer catches up without a restart.
  repo.wait_acknowledged(std::chrono::seconds(90));
  REQUIRE(repo.streamer().running());
  repo.stop_load();
  const std::string ledger = pg.scalar(table_sql("ledger"));
  const std::string pgbench = pg.scalar(kPgbenchSql);
  repo.wait_acknowledged(std::chrono::seconds(60));
  repo.stop_streamer(SIGTERM);

  const auto verify = repo.walvault({"verify", "--repo", repo.url(), "--full"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  const auto list = repo.walvault({"list", "--repo", repo.url(), "--json"});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  CHECK(json::parse(list.out)["gaps"].empty());

  RestoredServer restored(pg.work_dir() + "/restored", free_port());
  const auto r = repo.walvault({"restore", "--repo", repo.url(), "--target-dir", restored.dir(), "--latest", "--start",
                                "--port", std::to_string(restored.port())});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(restored.scalar(table_sql("ledger")) == ledger);
  CHECK(restored.scalar(kPgbenchSql) == pgbench);
}

TEST_CASE("s3 repository: a second streamer, wrong credentials and a missing bucket are refused with one clear line",
          "[s3]") {
  S3Repository repo;
  PgCluster& pg = repo.pg();
  repo.init();
  repo.start_streamer();
  const std::string slots_sql = "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots";
  const std::string slots = pg.scalar(slots_sql);
  const std::vector<std::string> secrets = {s3_server().secret_key};

  {  // a second streamer on the same bucket and prefix
    const auto second = repo.walvault({"stream", "--repo", repo.url()});
    INFO(second.out << second.err);
    CHECK(second.exit_code == 3);
    CHECK(second.err.find("locked by another streamer (pid " + std::to_string(walvault_pid(repo.streamer())) +
                          " on host " + host_name() + ")") != std::string::npos);
    CHECK(repo.streamer().running());
  }

  {  // wrong credentials
    const std::string wrong = "wrong-secret-" + std::to_string(::getpid()) + "-0000000000000000";
    const std::vector<std::vector<std::string>> commands = {
        {"status", "--repo", repo.url()},
        {"stream", "--repo", repo.url()},
        {"init", "--repo", repo.url() + "-other", "-d", pg.conninfo(), "--slot", "walvault_s3_other", "--s3-endpoint",
         s3_server().endpoint}};
    for (const auto& command : commands) {
      const auto r = repo.walvault(command, {"AWS_SECRET_ACCESS_KEY=" + wrong});
      INFO(command[0] << ": " << r.out << r.err);
      CHECK(r.exit_code == 7);
      check_no_secret(r.out + r.err, {wrong, s3_server().secret_key});
      // One line naming the operation and the bucket, and the hint.
      const std::regex error("s3 [A-Za-z]+ of s3://" + repo.bucket() +
                             "/\\S* failed: HTTP 403 SignatureDoesNotMatch.*");
      const auto lines = lines_of(r.err);
      CHECK(std::count_if(lines.begin(), lines.end(),
                          [&](const std::string& l) { return std::regex_search(l, error); }) == 1);
      CHECK(r.err.find("HINT: the server refused the credentials") != std::string::npos);
    }
    CHECK(pg.scalar(slots_sql) == slots);
    CHECK(repo.streamer().running());
  }

  {  // a missing bucket
    const std::string missing = "s3://no-such-bucket-xyz/p";
    const std::vector<std::vector<std::string>> commands = {
        {"init", "--repo", missing, "-d", pg.conninfo(), "--slot", "walvault_s3_missing", "--s3-endpoint",
         s3_server().endpoint},
        {"status", "--repo", missing, "--s3-endpoint", s3_server().endpoint}};
    for (const auto& command : commands) {
      const auto r = repo.walvault(command);
      INFO(command[0] << ": " << r.out << r.err);
      CHECK(r.exit_code == 7);
      const std::regex error("s3 [A-Za-z]+ of s3://no-such-bucket-xyz/\\S* failed: HTTP 404 NoSuchBucket.*");
      const auto lines = lines_of(r.err);
      CHECK(std::count_if(lines.begin(), lines.end(),
                          [&](const std::string& l) { return std::regex_search(l, error); }) == 1);
      CHECK(r.err.find("HINT: bucket no-such-bucket-xyz does not exist at " + s3_server().endpoint) !=
            std::string::npos);
      check_no_secret(r.out + r.err, secrets);
    }
    // Nothing created: no slot on the server, no bucket.
    CHECK(pg.scalar(slots_sql) == slots);
    const auto buckets = aws({"list-buckets"});
    for (const auto& b : buckets["Buckets"]) CHECK(b["Name"] != "no-such-bucket-xyz");
  }
}

namespace {

// The keys of the multipart uploads pending under the repository's backup/, listed in-process (awscli takes about a
// second a call, longer than the upload lasts).
std::vector<std::string> pending_backup_uploads(const walvault::storage::S3Client& client) {
  const std::string prefix = std::string(kPrefix) + "/backup/";
  const walvault::storage::S3Request list{
      .operation = "ListMultipartUploads", .method = "GET", .key = "", .query = {{"uploads", ""}, {"prefix", prefix}}};
  const auto response = client.send(list);
  if (response.status != 200) FAIL(client.error(list, response).what());
  std::vector<std::string> keys;
  for (const auto upload : walvault::storage::xml_elements(response.text(), "Upload")) {
    keys.push_back(walvault::storage::xml_text(upload, "Key").value_or(""));
  }
  return keys;
}

}  // namespace

TEST_CASE("s3 repository: kill -9 of a backup during its multipart upload: no half backup, expire aborts the upload",
          "[s3]") {
  S3Repository repo;
  PgCluster& pg = repo.pg();
  repo.init();
  repo.start_streamer();
  const auto first = repo.walvault({"backup", "--repo", repo.url(), "--fast", "--json"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  const std::string kept = json::parse(first.out)["id"];
  add_random_bytes(pg, "blobs", 40);

  const walvault::storage::S3Client client(walvault::test::s3_config(repo.bucket()));
  Background backup(as_postgres({WALVAULT_BINARY, "backup", "--repo", repo.url(), "--fast"}),
                    pg.work_dir() + "/backup.log", S3Repository::with_endpoint({}));
  std::vector<std::string> uploads;
  REQUIRE(wait_until(
      [&] {
        uploads = pending_backup_uploads(client);
        return !uploads.empty() || !backup.running();
      },
      std::chrono::seconds(120)));
  REQUIRE(!uploads.empty());
  // Killed in the middle of the upload, not after it: SIGKILL is its end.
  CHECK(backup.stop(SIGKILL) == 128 + SIGKILL);
  INFO(walvault::test::read_text(pg.work_dir() + "/backup.log"));
  std::smatch id;
  REQUIRE(std::regex_match(uploads.front(), id, std::regex(std::string(kPrefix) + "/backup/([^/]+)/.*")));
  const std::string killed = id[1];
  REQUIRE(killed != kept);
  CHECK(pending_uploads(repo.bucket()) >= 1);

  // No half backup: list shows the first one alone.
  const auto list = repo.walvault({"list", "--repo", repo.url(), "--json"});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  const auto backups = json::parse(list.out)["backups"];
  REQUIRE(backups.size() == 1);
  CHECK(backups[0]["id"] == kept);
  CHECK_FALSE(repo.aws_objects("backup/" + killed + "/").contains("backup/" + killed + "/backup.json"));

  // expire takes the backup lock, which the killed backup's lease holds until it expires (30 s).
  ProcessResult expired;
  REQUIRE(wait_until(
      [&] {
        expired = repo.walvault({"expire", "--repo", repo.url(), "--keep-backups", "1"});
        if (expired.exit_code == 3 && expired.err.find("locked by another") != std::string::npos) {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          return false;
        }
        return true;
      },
      std::chrono::seconds(60)));
  INFO(expired.out << expired.err);
  CHECK(expired.exit_code == 0);
  CHECK(pending_uploads(repo.bucket()) == 0);
  CHECK(repo.aws_objects("backup/" + killed + "/").empty());
  CHECK(repo.aws_objects("backup/" + kept + "/").contains("backup/" + kept + "/backup.json"));
}

TEST_CASE(
    "s3 repository, encrypted: stream, a wipe, restore --before-event, no plaintext in the bucket, copy and verify",
    "[s3][encryption]") {
  S3Repository repo;
  PgCluster& pg = repo.pg();
  const std::string key = pg.work_dir() + "/s3.key";
  const std::string key_bytes = walvault::test::write_key(key);
  const std::vector<std::string> with_key = {"--key-file", key};
  repo.init({"--encrypt", "--key-file", key});
  constexpr const char* kTable = "vault_s3_ledger";
  pg.exec(std::string("CREATE TABLE ") + kTable + " (id serial PRIMARY KEY, note text NOT NULL)");
  pg.exec(std::string("INSERT INTO ") + kTable +
          " (note) SELECT 'Zk4bucket-early-' || g FROM generate_series(1, 300) g");
  repo.start_streamer(with_key);
  REQUIRE(wait_until([&] { return !repo.aws_objects("names/").empty(); }, std::chrono::seconds(30)));
  const auto backup = repo.walvault({"backup", "--repo", repo.url(), "--fast", "--key-file", key});
  INFO(backup.out << backup.err);
  REQUIRE(backup.exit_code == 0);
  pg.exec(std::string("INSERT INTO ") + kTable +
          " (note) SELECT 'Zk4bucket-late-' || g FROM generate_series(1, 300) g");
  // Random bytes, which compression stores as they are: a bucket that did not encrypt would show them verbatim.
  add_random_bytes(pg, "vault_blobs", 1);
  const std::string blob_bytes =
      walvault::test::unhex(pg.scalar("SELECT encode(substr(b, 1001, 48), 'hex') FROM vault_blobs WHERE id = 7"));
  const std::string before = pg.scalar(table_sql(kTable));
  pg.exec(std::string("DROP TABLE ") + kTable);
  pg.exec("CREATE TABLE after_wipe (id int)");
  pg.exec("CHECKPOINT");
  repo.wait_acknowledged(std::chrono::seconds(60));

  json wipe;
  ProcessResult events;
  wait_until(
      [&] {
        events = repo.walvault({"events", "--repo", repo.url(), "--json", "--key-file", key});
        if (events.exit_code != 0) return false;
        for (const auto& e : json::parse(events.out)) {
          const auto& tables = e["tables"];
          if (e["kind"] == "drop_table" &&
              std::find(tables.begin(), tables.end(), std::string("public.") + kTable) != tables.end()) {
            wipe = e;
          }
        }
        return !wipe.is_null();
      },
      std::chrono::seconds(30));
  INFO(events.out << events.err);
  REQUIRE_FALSE(wipe.is_null());
  const auto refused = repo.walvault({"events", "--repo", repo.url()});
  CHECK(refused.exit_code == 12);
  CHECK(refused.err.find(repo.url()) != std::string::npos);

  {
    RestoredServer restored(pg.work_dir() + "/restored", free_port());
    const auto r = repo.walvault({"restore", "--repo", repo.url(), "--target-dir", restored.dir(), "--before-event",
                                  wipe["id"].get<std::string>(), "--start", "--port", std::to_string(restored.port()),
                                  "--key-file", key});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(restored.scalar(table_sql(kTable)) == before);
    CHECK(restored.scalar("SELECT to_regclass('after_wipe') IS NULL") == "t");
    const std::string written = walvault::test::read_text(restored.dir() + "/postgresql.auto.conf");
    CHECK(written.find("--key-file") != std::string::npos);
    check_no_secret(written, {key_bytes, walvault::test::hex_of(key_bytes)});
  }
  repo.stop_streamer(SIGTERM);

  // Every object in the bucket, as awscli reads it (append files as their pieces), holds no plaintext.
  const std::string bucket_copy = pg.work_dir() + "/bucket-copy";
  const auto fetched =
      walvault::run_program({"/usr/bin/aws", "--endpoint-url", s3_server().endpoint, "s3", "cp", "--recursive",
                             "--only-show-errors", "s3://" + repo.bucket() + "/" + kPrefix, bucket_copy});
  INFO(fetched.output);
  REQUIRE(fetched.exit_code == 0);
  const std::vector<walvault::test::Needle> needles = {{kTable, kTable},
                                                       {"Zk4bucket-early-", "Zk4bucket-early-"},
                                                       {"Zk4bucket-late-", "Zk4bucket-late-"},
                                                       {"48 random bytes of vault_blobs", blob_bytes},
                                                       {"the key", key_bytes}};
  const std::vector<std::string> nothing;
  std::size_t objects = 0;
  for (const auto& entry : fs::recursive_directory_iterator(bucket_copy)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = fs::relative(entry.path(), bucket_copy).generic_string();
    const std::string bytes = walvault::test::read_text(entry.path());
    INFO(name);
    if (walvault::test::plaintext_by_design(name)) {
      check_no_secret(bytes, {kTable, key_bytes});
    } else {
      ++objects;
      CHECK(walvault::test::plaintext_in(bytes, needles) == nothing);
    }
  }
  CHECK(objects >= 5);

  // A new key and new data keys on the bucket (every object replaced by an unconditional PUT, the tip's piece logs
  // by one piece at offset 0): the old key is refused, the new one reads everything.
  const std::string new_key = pg.work_dir() + "/s3-new.key";
  walvault::test::write_key(new_key);
  const auto rotated = repo.walvault(
      {"key", "rotate", "--repo", repo.url(), "--key-file", key, "--new-key-file", new_key, "--reencrypt"});
  INFO(rotated.out << rotated.err);
  REQUIRE(rotated.exit_code == 0);
  CHECK(repo.walvault({"list", "--repo", repo.url(), "--key-file", key}).exit_code == 12);
  CHECK(pending_uploads(repo.bucket()) == 0);

  // `copy` of the encrypted bucket to a directory, which `verify --full` with the key passes.
  const std::string local = pg.work_dir() + "/copied";
  const auto copied = repo.walvault({"copy", "--repo", repo.url(), "--to", local, "--key-file", new_key});
  INFO(copied.out << copied.err);
  REQUIRE(copied.exit_code == 0);
  const auto verified = repo.walvault({"verify", "--repo", local, "--full", "--key-file", new_key});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  const auto keyless = repo.walvault({"verify", "--repo", local, "--full"});
  CHECK(keyless.exit_code == 12);
}
