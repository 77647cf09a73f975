// Encryption at rest (issue 21), end to end with PostgreSQL 15 and the real binary: an encrypted repository under
// streaming, a base backup, distinctive rows and a DROP TABLE holds no plaintext (no WAL page header, no row value,
// no table name in any object read straight from the disk), while `events` with the key names the table and
// `restore --before-event` with the key brings the rows back exactly, through a restore_command that names the key
// source and holds no key byte. Refusals: no key, a wrong key, a key file others can read (exit 12, nothing
// written), a flipped ciphertext byte and a truncated object (verify exit 5 naming them). Rotation while the
// streamer runs (old key refused, new key restores exactly), `key rotate --reencrypt` killed with -9 half way (a
// restore then is exact, and the rerun completes it), and kill -9 of the streamer under load (torn records at the
// end of encrypted append logs).
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "archive_fixture.hpp"
#include "encryption_support.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "stream_support.hpp"
#include "wal/lsn.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using walvault::test::as_postgres;
using walvault::test::Background;
using walvault::test::free_port;
using walvault::test::hex_of;
using walvault::test::Needle;
using walvault::test::PgCluster;
using walvault::test::plaintext_in;
using walvault::test::ProcessResult;
using walvault::test::read_text;
using walvault::test::RestoredServer;
using walvault::test::wait_until;
using walvault::test::write_key;
using walvault::wal::Lsn;

// "count|md5 of the ordered rows" of a table with an id column.
std::string table_sql(const std::string& table) {
  return "SELECT count(*) || '|' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM " + table + " t";
}

// Every regular file under repo (relative names, temporary dot-files included) except what stays plaintext by
// design: walvault.json, keys/ and locks/.
std::vector<std::string> encrypted_objects(const std::string& repo) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(repo)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = fs::relative(entry.path(), repo).generic_string();
    if (walvault::test::plaintext_by_design(name)) continue;
    out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// An encrypted object's header: magic "WALVAULT", u16 version, u16 kind 6 (immutable) or 7 (append log).
bool encrypted_header(const std::string& bytes) {
  if (bytes.size() < 12 || bytes.compare(0, 8, "WALVAULT") != 0) return false;
  const unsigned kind = static_cast<unsigned char>(bytes[10]) | (static_cast<unsigned char>(bytes[11]) << 8);
  return kind == 6 || kind == 7;
}

// The walvault process a Background started (as root, Background runs runuser, whose child is walvault).
pid_t walvault_pid(Background& process) {
  if (!walvault::test::running_as_root()) return process.pid();
  pid_t child = 0;
  wait_until(
      [&] {
        const std::string pid = std::to_string(process.pid());
        std::istringstream children(read_text("/proc/" + pid + "/task/" + pid + "/children"));
        return static_cast<bool>(children >> child);
      },
      std::chrono::seconds(5));
  return child;
}

// Inode, size and modification time of every encrypted object: what tells a rewritten object apart.
std::map<std::string, std::string> object_stamps(const std::string& repo) {
  std::map<std::string, std::string> out;
  for (const auto& name : encrypted_objects(repo)) {
    struct stat st {};
    if (::stat((repo + "/" + name).c_str(), &st) != 0) continue;
    out[name] = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
                "." + std::to_string(st.st_mtim.tv_nsec);
  }
  return out;
}

// A hash of the bytes of every encrypted object: what tells a re-encrypted object apart.
std::map<std::string, std::size_t> object_hashes(const std::string& repo) {
  std::map<std::string, std::size_t> out;
  for (const auto& name : encrypted_objects(repo)) out[name] = std::hash<std::string>{}(read_text(repo + "/" + name));
  return out;
}

// A PostgreSQL cluster with an encrypted repository at <work_dir>/repo, created with the raw key <work_dir>/k1.key.
class EncryptedRepo {
 public:
  EncryptedRepo() : repo_(pg_.work_dir() + "/repo"), key_(key_path("k1")), key_bytes_(write_key(key_)) {
    const auto r = walvault({"init", "--repo", repo_, "-d", pg_.conninfo(), "--encrypt"}, key_);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  ~EncryptedRepo() {
    if (streamer_) streamer_->stop(SIGTERM);
  }
  EncryptedRepo(const EncryptedRepo&) = delete;
  EncryptedRepo& operator=(const EncryptedRepo&) = delete;

  [[nodiscard]] PgCluster& pg() { return pg_; }
  [[nodiscard]] const std::string& repo() const { return repo_; }
  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] const std::string& key_bytes() const { return key_bytes_; }
  [[nodiscard]] std::string key_path(const std::string& name) const { return pg_.work_dir() + "/" + name + ".key"; }

  // `walvault ARGS... [--key-file KEY]` as the postgres OS user (when root); no --key-file when key is empty.
  [[nodiscard]] ProcessResult walvault(std::vector<std::string> args, const std::string& key) const {
    args.insert(args.begin(), WALVAULT_BINARY);
    if (!key.empty()) args.insert(args.end(), {"--key-file", key});
    return walvault::test::run(as_postgres(args));
  }

  void start_streamer(const std::string& key) {
    streamer_ = std::make_unique<Background>(
        as_postgres({WALVAULT_BINARY, "stream", "--repo", repo_, "--fsync-interval-ms", "100", "--key-file", key}),
        log());
    // Streaming once the server has a walsender on the slot (a restarted streamer with nothing new to receive
    // reports no flush position until the server's keepalive).
    const bool streaming = wait_until(
        [&] {
          return pg_.scalar(
                     "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s"
                     " ON s.active_pid = r.pid WHERE r.state = 'streaming'") == "1";
        },
        std::chrono::seconds(30));
    INFO(streamer_log());
    REQUIRE(streaming);
  }
  // SIGTERM to walvault itself (as root, Background's process is runuser's), which must flush and exit 0.
  void stop_streamer() {
    REQUIRE(streamer_);
    walvault::test::signal_streamer(repo_, SIGTERM);
    CHECK(streamer_->stop(0, std::chrono::seconds(30)) == 0);
    streamer_.reset();
  }
  // kill -9 of the streamer (and runuser's whole child tree).
  void kill_streamer() {
    REQUIRE(streamer_);
    streamer_->stop(SIGKILL);
    streamer_.reset();
  }
  [[nodiscard]] bool streamer_running() { return streamer_ && streamer_->running(); }
  [[nodiscard]] std::string streamer_log() const { return read_text(log()); }

  // The flush position the streamer acknowledged to the server (what is durable), 0/0 when none. Read from the
  // server, since the repository's stream state is encrypted.
  [[nodiscard]] Lsn acknowledged() const {
    const auto text = pg_.scalar(
        "SELECT coalesce((SELECT r.flush_lsn FROM pg_stat_replication r JOIN pg_replication_slots s"
        " ON s.active_pid = r.pid), '0/0')::text");
    return Lsn::parse(text).value_or(Lsn());
  }
  // Waits until the streamer acknowledged everything the server flushed so far (not the insert position: right
  // after a switch that is past WAL the server has not written yet).
  void wait_acknowledged() const {
    const Lsn target = *Lsn::parse(pg_.scalar("SELECT pg_current_wal_flush_lsn()"));
    const bool durable = wait_until([&] { return acknowledged() >= target; }, std::chrono::seconds(60));
    INFO("waiting for " << target.to_string() << ", acknowledged " << acknowledged().to_string() << "\n"
                        << streamer_log());
    REQUIRE(durable);
  }
  // Switches to a new WAL segment and waits until the one it ended is a container in wal/ (names are plaintext).
  void switch_and_archive() const {
    pg_.exec("SELECT txid_current()");
    const std::string segment = pg_.scalar("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
    pg_.exec("SELECT pg_switch_wal()");
    const bool archived =
        wait_until([&] { return fs::exists(repo_ + "/wal/" + segment + ".wvs"); }, std::chrono::seconds(60));
    INFO(streamer_log());
    REQUIRE(archived);
  }

  std::string backup(const std::string& key) const {
    const auto r = walvault({"backup", "--repo", repo_, "--fast", "--json"}, key);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out)["id"];
  }

  // The drop_table event of table (schema-qualified) that `events --json` lists with key, once durable and indexed.
  [[nodiscard]] json drop_event(const std::string& table, const std::string& key) const {
    pg_.exec("CHECKPOINT");
    wait_acknowledged();
    json found;
    ProcessResult events;
    wait_until(
        [&] {
          events = walvault({"events", "--repo", repo_, "--json"}, key);
          if (events.exit_code != 0) return false;
          for (const auto& e : json::parse(events.out)) {
            const auto& tables = e["tables"];
            if (e["kind"] == "drop_table" && std::find(tables.begin(), tables.end(), table) != tables.end()) found = e;
          }
          return !found.is_null();
        },
        std::chrono::seconds(30));
    INFO(events.out << events.err);
    REQUIRE_FALSE(found.is_null());
    return found;
  }

  // restore --before-event ID --start with key into <work_dir>/<name> (stopped again on return): the table must
  // come back as `expected`, rows of the table after_wipe (created after the event) must not. Returns the result.
  ProcessResult restore_exact(const std::string& name, const json& event, const std::string& key,
                              const std::string& table, const std::string& expected) const {
    RestoredServer restored(pg_.work_dir() + "/" + name, free_port());
    const auto r = walvault({"restore", "--repo", repo_, "--target-dir", restored.dir(), "--before-event",
                             event["id"].get<std::string>(), "--start", "--port", std::to_string(restored.port())},
                            key);
    INFO(name << ": " << r.out << r.err << read_text(restored.dir() + "/walvault-restore.log"));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("target reached: server promoted") != std::string::npos);
    CHECK(restored.scalar(table_sql(table)) == expected);
    CHECK(restored.scalar("SELECT to_regclass('after_wipe') IS NULL") == "t");
    return r;
  }

 private:
  [[nodiscard]] std::string log() const { return pg_.work_dir() + "/stream.log"; }

  PgCluster pg_;
  std::string repo_;
  std::string key_;
  std::string key_bytes_;
  std::unique_ptr<Background> streamer_;
};

}  // namespace

TEST_CASE("encryption: no plaintext in any object, events and restore with the key, refusals without it",
          "[integration][encryption][once]") {
  EncryptedRepo er;
  PgCluster& pg = er.pg();
  const std::string repo = er.repo();
  const std::string work = pg.work_dir();
  constexpr const char* kTable = "vault_secret_ledger";
  const std::string qualified = std::string("public.") + kTable;

  {  // walvault.json records the encryption, not the key
    const std::string config = read_text(repo + "/walvault.json");
    INFO(config);
    CHECK(config.find("\"encryption\"") != std::string::npos);
    CHECK(config.find(er.key_bytes()) == std::string::npos);
    CHECK(config.find(hex_of(er.key_bytes())) == std::string::npos);
  }

  pg.exec(std::string("CREATE TABLE ") + kTable + " (id serial PRIMARY KEY, note text NOT NULL)");
  pg.exec(std::string("INSERT INTO ") + kTable +
          " (note) SELECT 'Qx7ledger-early-' || g FROM generate_series(1, 300) g");
  pg.exec("CREATE TABLE vault_blobs (id int PRIMARY KEY, b bytea NOT NULL)");
  er.start_streamer(er.key());
  // The streamer's first relation-name snapshot, so that events can name the table.
  REQUIRE(wait_until([&] { return fs::exists(repo + "/names") && !fs::is_empty(repo + "/names"); },
                     std::chrono::seconds(30)));
  er.backup(er.key());
  pg.exec(std::string("INSERT INTO ") + kTable +
          " (note) SELECT 'Qx7ledger-late-' || g FROM generate_series(1, 300) g");
  // Random bytes (512 KiB): compression leaves them, and the WAL page headers among them, as they are, so that a
  // repository that did not encrypt would show both verbatim. 48 of them are a needle.
  pg.exec(
      "INSERT INTO vault_blobs SELECT i, (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex')"
      " FROM generate_series(1, 8192) j) FROM generate_series(1, 4) i");
  const std::string blob_bytes =
      walvault::test::unhex(pg.scalar("SELECT encode(substr(b, 70001, 48), 'hex') FROM vault_blobs WHERE id = 2"));
  er.switch_and_archive();
  pg.exec(std::string("INSERT INTO ") + kTable + " (note) VALUES ('Qx7ledger-just-before-the-drop')");
  const std::string before = pg.scalar(table_sql(kTable));
  pg.exec(std::string("DROP TABLE ") + kTable);
  pg.exec("CREATE TABLE after_wipe (id int)");
  pg.exec("INSERT INTO after_wipe VALUES (1)");
  const json event = er.drop_event(qualified, er.key());

  const std::vector<Needle> needles = {{kTable, kTable},
                                       {"Qx7ledger-early-", "Qx7ledger-early-"},
                                       {"Qx7ledger-late-", "Qx7ledger-late-"},
                                       {"Qx7ledger-just-before-the-drop", "Qx7ledger-just-before-the-drop"},
                                       {"48 random bytes of vault_blobs", blob_bytes},
                                       {"the key", er.key_bytes()},
                                       {"the key in hex", hex_of(er.key_bytes())}};
  const std::vector<std::string> nothing;
  {  // Control: the server's own WAL holds page headers and the recent rows in plaintext (what the repository
     // holds, encrypted); older segments may have been recycled since.
    std::string wal;
    for (const auto& entry : fs::directory_iterator(pg.data_dir() + "/pg_wal")) {
      if (entry.is_regular_file() && entry.path().filename().string().size() == 24) wal += read_text(entry.path());
    }
    const auto found = plaintext_in(wal, needles);
    for (const auto* expected :
         {"wal page header", "Qx7ledger-late-", "Qx7ledger-just-before-the-drop", "48 random bytes of vault_blobs"}) {
      CHECK(std::count(found.begin(), found.end(), expected) == 1);
    }
  }
  {  // No object of the repository gives any of it away, read while the streamer runs (the in-progress segment,
     // which a plaintext repository would hold as raw WAL in its tail log, is there); every one carries the
     // encrypted header.
    const auto objects = encrypted_objects(repo);
    int containers = 0;
    for (const auto& name : objects) {
      const std::string bytes = read_text(repo + "/" + name);
      INFO(name << " (" << bytes.size() << " bytes)");
      CHECK(plaintext_in(bytes, needles) == nothing);
      if (!fs::path(name).filename().string().starts_with(".")) CHECK(encrypted_header(bytes));
      if (name.starts_with("wal/") && name.ends_with(".wvs")) ++containers;
    }
    CHECK(containers >= 2);
    CHECK(std::any_of(objects.begin(), objects.end(), [](const auto& n) { return n.starts_with("backup/"); }));
    CHECK(std::any_of(objects.begin(), objects.end(), [](const auto& n) { return n.starts_with("names/"); }));
    CHECK(std::any_of(objects.begin(), objects.end(), [](const auto& n) { return n.starts_with("index/"); }));
    CHECK(std::any_of(objects.begin(), objects.end(),
                      [](const auto& n) { return n.starts_with("tip/") && n != "tip/stream.state"; }));
    // The plaintext objects (config and keyrings) hold neither the key nor anything of the data.
    for (const auto& entry : fs::recursive_directory_iterator(repo)) {
      if (!entry.is_regular_file()) continue;
      INFO(entry.path());
      CHECK(plaintext_in(read_text(entry.path()), needles) == nothing);
    }
  }
  er.stop_streamer();
  // `events` with the key names the table (the needle above is not a plaintext artefact of the check).
  CHECK(std::find(event["tables"].begin(), event["tables"].end(), qualified) != event["tables"].end());
  CHECK(event["restore_command"].get<std::string>().find("--before-event") != std::string::npos);

  {  // restore --before-event with the key is exact; the restore_command names the key source, never the key
    const auto r = er.restore_exact("restored", event, er.key(), kTable, before);
    const std::string conf = read_text(work + "/restored/postgresql.auto.conf");
    INFO(conf);
    std::smatch line;
    REQUIRE(std::regex_search(conf, line, std::regex("restore_command *= *'[^\n]*")));
    CHECK(line.str().find("wal-fetch") != std::string::npos);
    CHECK(line.str().find("--key-file") != std::string::npos);
    CHECK(line.str().find(er.key()) != std::string::npos);
    for (const auto& text : {conf, r.out, r.err}) {
      CHECK(text.find(er.key_bytes()) == std::string::npos);
      CHECK(text.find(hex_of(er.key_bytes())) == std::string::npos);
    }
  }

  const auto stamps = object_stamps(repo);
  const auto config_before = read_text(repo + "/walvault.json");
  {  // no key: exit 12, one error line naming the repository (and the hint naming the key sources)
    const auto r = er.walvault({"events", "--repo", repo}, "");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 12);
    const std::string error = r.err.substr(0, r.err.find('\n'));
    CHECK(error.find(repo) != std::string::npos);
    CHECK(error.find("encrypted") != std::string::npos);
    CHECK(r.err.substr(error.size()).starts_with("\nHINT:"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 2);
    CHECK(r.err.find("--key-file") != std::string::npos);
    CHECK(r.out.find(kTable) == std::string::npos);
  }
  {  // the key through WALVAULT_KEY_FILE
    const auto r = walvault::test::run(as_postgres({WALVAULT_BINARY, "events", "--repo", repo, "--json"}),
                                       {"WALVAULT_KEY_FILE=" + er.key()});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(qualified) != std::string::npos);
  }
  {  // a wrong key: exit 12, told apart from damage
    const std::string wrong = er.key_path("wrong");
    write_key(wrong);
    const auto r = er.walvault({"verify", "--repo", repo, "--full"}, wrong);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 12);
    CHECK(r.err.find("wrong key") != std::string::npos);
    CHECK(r.err.find(repo) != std::string::npos);
    CHECK(r.out.find("PROBLEM") == std::string::npos);
  }
  {  // the right key in a file others can read: refused, nothing written
    const std::string open_key = er.key_path("open");
    fs::copy_file(er.key(), open_key);
    fs::permissions(open_key,
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                    fs::perm_options::replace);
    walvault::test::give_to_postgres(open_key);
    const auto r = er.walvault({"verify", "--repo", repo, "--full"}, open_key);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 12);
    CHECK(r.err.find(open_key) != std::string::npos);
    const auto backup = er.walvault({"backup", "--repo", repo, "--fast"}, open_key);
    CHECK(backup.exit_code == 12);
    // init --encrypt with it creates nothing either
    const std::string other = work + "/repo-open-key";
    const auto init =
        er.walvault({"init", "--repo", other, "-d", pg.conninfo(), "--slot", "walvault_other", "--encrypt"}, open_key);
    INFO(init.err);
    CHECK(init.exit_code == 12);
    CHECK_FALSE(fs::exists(other + "/walvault.json"));
    CHECK(pg.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'walvault_other'") == "0");
  }
  CHECK(object_stamps(repo) == stamps);  // the refusals wrote nothing (verify keeps no state)
  CHECK(read_text(repo + "/walvault.json") == config_before);

  {  // damage in a copy: a flipped ciphertext byte, an object cut in the middle of a chunk and one cut exactly at a
     // chunk boundary (64-byte header, then 65536 + 16 bytes per chunk: what is left authenticates chunk by chunk,
     // but the last chunk's flag says more was to come) are each named by verify (exit 5), never as a wrong key
    const std::string damaged = work + "/damaged";
    fs::copy(repo, damaged, fs::copy_options::recursive);
    std::vector<std::string> containers;
    for (const auto& name : encrypted_objects(damaged)) {
      if (name.starts_with("wal/") && name.ends_with(".wvs")) containers.push_back(name);
    }
    REQUIRE(containers.size() >= 3);
    std::sort(containers.begin(), containers.end(), [&](const auto& a, const auto& b) {
      return fs::file_size(damaged + "/" + a) > fs::file_size(damaged + "/" + b);
    });
    const std::string cut_at_boundary = containers[0];
    const std::string truncated = containers[1];
    const std::string flipped = containers[2];
    constexpr uint64_t kBoundary = 64 + 2 * (65536 + 16);
    REQUIRE(fs::file_size(damaged + "/" + cut_at_boundary) > kBoundary);
    fs::resize_file(damaged + "/" + cut_at_boundary, kBoundary);
    fs::resize_file(damaged + "/" + truncated, fs::file_size(damaged + "/" + truncated) / 2);
    walvault::test::flip_byte(damaged + "/" + flipped, fs::file_size(damaged + "/" + flipped) / 2);
    walvault::test::give_to_postgres(damaged);

    const auto r = er.walvault({"verify", "--repo", damaged, "--full", "--json"}, er.key());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 5);
    const json report = json::parse(r.out);
    std::map<std::string, int> named;
    for (const auto& p : report["problems"]) {
      INFO(p.dump());
      ++named[p["object"].get<std::string>()];
      if (p["object"] == flipped) {
        CHECK(std::regex_search(p["message"].get<std::string>(), std::regex(R"(bytes \[?\d+(, ?|\.\.|-)\d+)")));
      }
      CHECK(p["message"].get<std::string>().find("wrong key") == std::string::npos);
    }
    CHECK(named[flipped] == 1);
    CHECK(named[truncated] == 1);
    CHECK(named[cut_at_boundary] == 1);
    const auto human = er.walvault({"verify", "--repo", damaged, "--full"}, er.key());
    CHECK(human.exit_code == 5);
    for (const auto& object : {flipped, truncated, cut_at_boundary}) {
      CHECK(human.out.find(object) != std::string::npos);
    }
    // wal-fetch refuses the damaged segment loudly (exit > 125: PostgreSQL stops), and leaves no file
    const std::string dest = work + "/fetched-damaged";
    const auto fetched = er.walvault({"wal-fetch", "--repo", damaged, flipped.substr(4, 24), dest}, er.key());
    INFO(fetched.err);
    CHECK(fetched.exit_code == 200);
    CHECK_FALSE(fs::exists(dest));
  }
}

TEST_CASE("encryption: key rotate while the streamer runs: the old key is refused, the new one restores exactly",
          "[integration][encryption][once]") {
  EncryptedRepo er;
  PgCluster& pg = er.pg();
  const std::string repo = er.repo();
  pg.exec("CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)");
  pg.exec("INSERT INTO orders (note) SELECT 'order ' || g FROM generate_series(1, 500) g");
  er.start_streamer(er.key());
  er.backup(er.key());
  pg.exec("INSERT INTO orders (note) SELECT 'before rotation ' || g FROM generate_series(1, 100) g");
  er.wait_acknowledged();

  const std::string new_key = er.key_path("k2");
  const std::string new_key_bytes = write_key(new_key);
  const auto rotated = er.walvault({"key", "rotate", "--repo", repo, "--new-key-file", new_key}, er.key());
  INFO(rotated.out << rotated.err);
  REQUIRE(rotated.exit_code == 0);

  // The streamer keeps going and later WAL is captured.
  pg.exec("INSERT INTO orders (note) SELECT 'after rotation ' || g FROM generate_series(1, 100) g");
  er.switch_and_archive();
  pg.exec("INSERT INTO orders (note) VALUES ('just before the drop')");
  const std::string before = pg.scalar(table_sql("orders"));
  pg.exec("DROP TABLE orders");
  pg.exec("CREATE TABLE after_wipe (id int)");
  const json event = er.drop_event("public.orders", new_key);
  CHECK(er.streamer_running());

  const auto old = er.walvault({"events", "--repo", repo}, er.key());
  INFO(old.out << old.err);
  CHECK(old.exit_code == 12);
  CHECK(old.err.find("wrong key") != std::string::npos);
  for (const auto& entry : fs::recursive_directory_iterator(repo)) {
    if (entry.is_regular_file()) CHECK(read_text(entry.path()).find(new_key_bytes) == std::string::npos);
  }

  er.restore_exact("restored-streaming", event, new_key, "orders", before);
  er.stop_streamer();

  {  // a streamer restarted with the old key (a service file not updated) is refused; with the new key it resumes
    const auto old_streamer = er.walvault({"stream", "--repo", repo}, er.key());
    INFO(old_streamer.out << old_streamer.err);
    CHECK(old_streamer.exit_code == 12);
    er.start_streamer(new_key);
    pg.exec("INSERT INTO after_wipe VALUES (2)");
    er.switch_and_archive();
    er.wait_acknowledged();
    er.stop_streamer();
  }
  const auto verified = er.walvault({"verify", "--repo", repo, "--full"}, new_key);
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

TEST_CASE("encryption: key rotate --reencrypt killed half way, restores exact throughout, resumed to completion",
          "[integration][encryption][once]") {
  EncryptedRepo er;
  PgCluster& pg = er.pg();
  const std::string repo = er.repo();
  const std::string key = er.key();
  // Enough objects and bytes (about 40 MiB of incompressible rows in the backup and in the WAL) that rewriting them
  // takes a while.
  pg.exec("CREATE TABLE blobs (id int PRIMARY KEY, b bytea NOT NULL)");
  pg.exec(
      "INSERT INTO blobs SELECT i, (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex')"
      " FROM generate_series(1, 64) j) FROM generate_series(1, 20480) i");
  pg.exec("CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)");
  pg.exec("INSERT INTO orders (note) SELECT 'order ' || g FROM generate_series(1, 500) g");
  er.start_streamer(key);
  er.backup(key);
  pg.exec(
      "INSERT INTO blobs SELECT i, (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex')"
      " FROM generate_series(1, 64) j) FROM generate_series(20481, 40960) i");
  pg.exec("INSERT INTO orders (note) VALUES ('just before the drop')");
  const std::string before = pg.scalar(table_sql("orders"));
  pg.exec("DROP TABLE orders");
  pg.exec("CREATE TABLE after_wipe (id int)");
  er.switch_and_archive();
  const json event = er.drop_event("public.orders", key);

  {  // refused while the streamer writes under the current data key
    const auto r = er.walvault({"key", "rotate", "--repo", repo, "--reencrypt"}, key);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("stream") != std::string::npos);
  }
  er.stop_streamer();

  const auto original = object_hashes(repo);
  const auto stamps = object_stamps(repo);
  {  // kill -9 as soon as the first object is rewritten
    Background rotation(
        as_postgres({WALVAULT_BINARY, "key", "rotate", "--repo", repo, "--key-file", key, "--reencrypt"}),
        pg.work_dir() + "/reencrypt-1.log");
    const pid_t pid = walvault_pid(rotation);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (rotation.running() && object_stamps(repo) == stamps && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (pid > 0) ::kill(pid, SIGKILL);
    const int status = rotation.stop(SIGKILL, std::chrono::seconds(10));
    const auto after_kill = object_hashes(repo);
    int rewritten = 0;
    for (const auto& [name, hash] : original) {
      if (!after_kill.contains(name) || after_kill.at(name) != hash) ++rewritten;
    }
    // Half done is what this case is about; a rotation that finished before the kill is reported, not failed.
    WARN("first --reencrypt run: exit " << status << ", " << rewritten << " of " << original.size()
                                        << " objects rewritten when killed");
    CHECK(rewritten > 0);
    if (rewritten < static_cast<int>(original.size())) {  // status tells that the re-encryption is unfinished
      const auto reported = er.walvault({"status", "--repo", repo, "--json"}, key);
      INFO(reported.out << reported.err);
      CHECK(reported.out.find("a re-encryption was interrupted") != std::string::npos);
    }
  }
  er.restore_exact("restored-half-way", event, key, "orders", before);

  const auto resumed = er.walvault({"key", "rotate", "--repo", repo, "--reencrypt"}, key);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  {  // every object was rewritten under the new data key
    const auto now = object_hashes(repo);
    for (const auto& [name, hash] : original) {
      INFO(name);
      if (now.contains(name)) CHECK(now.at(name) != hash);
    }
  }
  er.restore_exact("restored-after", event, key, "orders", before);
  // The streamer resumes in the re-encrypted tip and goes on.
  er.start_streamer(key);
  pg.exec("INSERT INTO after_wipe VALUES (2)");
  er.switch_and_archive();
  er.wait_acknowledged();
  er.stop_streamer();
  const auto verified = er.walvault({"verify", "--repo", repo, "--full"}, key);
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

TEST_CASE("encryption: kill -9 of the streamer under pgbench load, the encrypted tip resumes, restore exact",
          "[integration][encryption][once]") {
  EncryptedRepo er;
  PgCluster& pg = er.pg();
  const std::string repo = er.repo();
  er.start_streamer(er.key());
  REQUIRE(pg.run_pg_program("pgbench", {"-i", "-s", "2", "-q", "postgres"}).exit_code == 0);
  er.backup(er.key());

  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> run_ms(300, 2000);
  // pgbench runs as this process's user (a client needs no server files), so SIGINT reaches it directly.
  Background load({walvault::test::pg_program("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(pg.port()), "-U",
                   "postgres", "-n", "-c", "4", "-j", "2", "-T", "600", "postgres"},
                  pg.work_dir() + "/pgbench.log");
  for (int trial = 0; trial < 3; ++trial) {  // torn records at the end of the encrypted append logs
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(random)));
    er.kill_streamer();
    er.start_streamer(er.key());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(random)));
  load.stop(SIGINT);
  REQUIRE(wait_until(
      [&] { return pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'") == "0"; },
      std::chrono::seconds(30)));
  constexpr const char* kPgbenchSql =
      "SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM ("
      " SELECT 'accounts' t, count(*) || ':' || md5(string_agg(aid || ',' || abalance, ';' ORDER BY aid)) n"
      "   FROM pgbench_accounts"
      " UNION ALL SELECT 'history', count(*) || ':' || md5(string_agg(tid || ',' || aid || ',' || delta || ',' || "
      "mtime,"
      "   ';' ORDER BY mtime, tid, aid, delta)) FROM pgbench_history) s";
  const std::string expected = pg.scalar(kPgbenchSql);
  er.switch_and_archive();
  er.wait_acknowledged();
  er.stop_streamer();

  const auto verified = er.walvault({"verify", "--repo", repo, "--full"}, er.key());
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  RestoredServer restored(pg.work_dir() + "/restored", free_port());
  const auto r = er.walvault({"restore", "--repo", repo, "--target-dir", restored.dir(), "--latest", "--start",
                              "--port", std::to_string(restored.port())},
                             er.key());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(restored.scalar(kPgbenchSql) == expected);
}
