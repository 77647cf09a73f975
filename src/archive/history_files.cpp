#include "archive/history_files.hpp"

#include <span>

#include "common/error.hpp"
#include "repo/repository.hpp"

namespace walvault::archive {
namespace {

std::string_view text_of(const storage::Bytes& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::string history_object_name(wal::TimelineId tli) { return "wal/" + wal::history_file_name(tli); }

void store_history_file(storage::Storage& storage, wal::TimelineId tli, std::string_view content) {
  const std::string name = history_object_name(tli);
  if (storage.info(name)) {
    const storage::Bytes held = storage.read(name);
    const auto opened = format::open_sealed_text(text_of(held), format::SealRule::kLegacyAccepted);
    if (opened && opened->text == content) return;
  }
  const std::string sealed = format::seal_text(content);
  storage.write_atomic(name, std::as_bytes(std::span(sealed.data(), sealed.size())));
}

std::string read_history_file(const storage::Storage& storage, const std::string& name, format::SealRule rule) {
  const storage::Bytes bytes = storage.read(name);
  const auto opened = format::open_sealed_text(text_of(bytes), rule);
  if (!opened) {
    throw Error(ErrorCode::kCorrupt, "history file " + name + " is damaged: it " + opened.error(),
                "never give it to PostgreSQL; the server's copy (pg_wal/" + name.substr(name.rfind('/') + 1) +
                    ") can replace it");
  }
  return std::string(opened->text);
}

std::string read_history_file(const storage::Storage& storage, const std::string& name) {
  return read_history_file(storage, name, repo::seal_rule(storage));
}

}  // namespace walvault::archive
