#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/wal_fetch.hpp"

namespace walvault::cli {

void register_wal_fetch(CLI::App& app, Action& selected) {
  auto o = std::make_shared<command::WalFetchOptions>();
  CLI::App* sub = app.add_subcommand(
      "wal-fetch", "PostgreSQL's restore_command: serve a WAL segment or history file from the repository");
  add_repo_option(*sub, o->repo);
  sub->add_option("file", o->file, "The file PostgreSQL asks for (%f)");
  sub->add_option("dest", o->dest, "Where to put it (%p, relative to the data directory)");
  sub->add_option("--spool", o->spool, "Prefetch spool directory (relative to the data directory)");
  sub->add_option("--prefetch", o->prefetch, "Segments to decompress ahead (with --spool)")
      ->default_val(8)
      ->check(CLI::Range(0, 256));
  sub->add_flag("--clean-spool", o->clean_spool, "Stop the prefetcher and remove the spool (recovery_end_command)");
  sub->add_option("--unpin", o->unpin, "With --clean-spool: remove the restore's backup pin (recovery is over)");
  sub->add_flag("--prefetch-worker", o->prefetch_worker)->group("");  // internal: the detached prefetcher
  sub->callback([o, &selected] { selected = [o] { return command::run_wal_fetch(*o); }; });
}

}  // namespace walvault::cli
