// `walvault copy`: copy a repository to another place (a local directory to a bucket, a bucket to a directory), so
// that a repository moves without a new base backup.
//
// The source is opened as a repository (--repo, with the --s3-* options when it is s3://); the destination (--to)
// is a directory or s3:// URL (the --s3-* options apply to it too when it is s3://). Safe by default: the source's
// streamer must be stopped and no backup or expire may run on it (its stream and backup locks are held throughout);
// the destination must be empty, or a copy of this repository (complete or cut short: it is completed), and its
// stream and backup locks are held too. repo/copy.hpp does the copy (order, checksums, resuming). Progress goes to
// stderr; a summary line (or --json) to stdout. walvault.json records the destination's S3 endpoint, region and
// addressing (as init does), so later commands on the destination need only its URL.
// Exit: 0 when every object is at the destination with the source's bytes; kRepository (refused: streamer running,
// foreign destination), kCorrupt (different or damaged bytes, naming the object), kIo.
#pragma once

#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct CopyOptions {
  repo::RepoAddress repo;  // the source; its s3 options apply to an s3:// destination too
  std::string to;          // the destination: a directory or s3://BUCKET/PREFIX
  bool json = false;
};

int run_copy(const CopyOptions& options);

}  // namespace walvault::command
