#include "command/copy.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/error.hpp"
#include "common/progress.hpp"
#include "repo/copy.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"

namespace walvault::command {
namespace {

// A directory or s3:// URL as the prefix of everything under it: "/a/b/" (so "/a/bc" is not under it).
std::string within(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  return url + "/";
}

}  // namespace

int run_copy(const CopyOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const bool source_s3 = repo::parse_s3_url(options.repo.url).has_value();
  const bool destination_s3 = repo::parse_s3_url(options.to).has_value();
  if (!source_s3 && !destination_s3 &&
      (options.repo.s3.endpoint || options.repo.s3.region || options.repo.s3.path_style)) {
    throw Error(ErrorCode::kUsage, "--s3-endpoint, --s3-region and --s3-path-style are for s3:// repositories",
                "give an s3:// URL to --repo or --to, or leave the S3 options out");
  }
  // The --s3-* options reach whichever side is s3://.
  repo::RepoAddress source_address = options.repo;
  if (!source_s3) source_address.s3 = {};
  repo::RepoAddress destination_address{
      .url = options.to, .s3 = destination_s3 ? options.repo.s3 : repo::S3Options{}, .key = {}};
  destination_address = repo::absolute(destination_address);
  // One inside the other (or the same): the copy would copy itself, or the source would hold the copy.
  const std::string inside_source = within(repo::absolute(source_address).url);
  const std::string inside_destination = within(destination_address.url);
  if (inside_source.starts_with(inside_destination) || inside_destination.starts_with(inside_source)) {
    throw Error(ErrorCode::kUsage, "--to " + options.to + " and --repo " + options.repo.url + " overlap",
                "give --to a directory or bucket prefix outside the repository, and not one that contains it");
  }

  // An encrypted repository is copied as it is stored: the copy is encrypted with the same keys.
  const repo::Repository source = repo::open_repository(source_address);
  storage::Storage& from = source.raw_storage();
  const auto destination = repo::open_storage(destination_address);
  const storage::Bytes config = repo::destination_config(
      from.read(repo::kConfigObject),
      destination_s3 ? std::optional(repo::resolve_s3_endpoint(destination_address.s3, std::nullopt)) : std::nullopt);
  repo::check_copy_destination(from, *destination, config, options.to);

  const auto source_stream = repo::lock_stopped_streamer(from, "copy");
  const repo::RepositoryLock source_backup(from, repo::kBackupLockName, "backup or expire");
  const auto destination_stream = repo::lock_stopped_streamer(*destination, "copy");
  const repo::RepositoryLock destination_backup(*destination, repo::kBackupLockName, "backup or expire");

  repo::CopyStats stats;
  {
    ProgressMeter progress("copy to " + options.to);
    stats = repo::copy_repository(from, *destination, config, options.to,
                                  [&](uint64_t done, uint64_t total, std::string_view name) {
                                    progress.set_total(total);
                                    progress.update(done, name);
                                  });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (options.json) {
    nlohmann::ordered_json j;
    j["source"] = source.path;
    j["destination"] = options.to;
    j["objects"] = stats.objects;
    j["copied_objects"] = stats.copied_objects;
    j["skipped_objects"] = stats.skipped_objects;
    j["copied_bytes"] = stats.copied_bytes;
    j["skipped_bytes"] = stats.skipped_bytes;
    j["seconds"] = seconds;
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf(
        "copied %s to %s: %llu objects, %llu bytes copied (%llu objects), %llu bytes already there "
        "(%llu objects), checksums match, %.1f s\n",
        source.path.c_str(), options.to.c_str(), static_cast<unsigned long long>(stats.objects),
        static_cast<unsigned long long>(stats.copied_bytes), static_cast<unsigned long long>(stats.copied_objects),
        static_cast<unsigned long long>(stats.skipped_bytes), static_cast<unsigned long long>(stats.skipped_objects),
        seconds);
  }
  return 0;
}

}  // namespace walvault::command
