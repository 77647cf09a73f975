#include "restore/tar.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace walvault::restore {
namespace {

constexpr std::size_t kBlock = 512;
constexpr uint64_t kMaxExtended = 1 << 20;

std::string_view field(std::span<const std::byte> block, std::size_t offset, std::size_t length) {
  const auto* begin = reinterpret_cast<const char*>(block.data()) + offset;
  const auto* end = std::find(begin, begin + length, '\0');
  return {begin, static_cast<std::size_t>(end - begin)};
}

// An octal number (space/NUL padded) or, with the high bit of the first byte set, GNU base-256.
std::optional<uint64_t> number(std::span<const std::byte> block, std::size_t offset, std::size_t length) {
  const auto first = static_cast<uint8_t>(block[offset]);
  if ((first & 0x80U) != 0) {
    if ((first & 0x40U) != 0) return std::nullopt;  // negative
    uint64_t value = first & 0x3FU;
    for (std::size_t i = 1; i < length; ++i) {
      if (value >> 56 != 0) return std::nullopt;
      value = (value << 8) | static_cast<uint8_t>(block[offset + i]);
    }
    return value;
  }
  std::string_view text = field(block, offset, length);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return 0;
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

bool checksum_ok(std::span<const std::byte> block) {
  const auto stored = number(block, 148, 8);
  if (!stored) return false;
  uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? uint64_t{' '} : static_cast<uint8_t>(block[i]);
  }
  return sum == *stored;
}

bool all_zero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

uint64_t padding_for(uint64_t size) { return (kBlock - size % kBlock) % kBlock; }

}  // namespace

Expected<std::string, std::string> normalize_entry_path(std::string_view name) {
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (name.empty()) return Unexpected(std::string("tar entry with an empty name"));
  if (name.front() == '/') return Unexpected("tar entry " + quoted + " has an absolute name");
  while (name.size() >= 2 && name.substr(0, 2) == "./") name.remove_prefix(2);
  while (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (name.empty() || name == ".") return Unexpected("tar entry " + quoted + " names the archive root");
  std::string out;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t slash = std::min(name.find('/', start), name.size());
    const std::string_view part = name.substr(start, slash - start);
    if (part == "..") return Unexpected("tar entry " + quoted + " leaves the target directory (\"..\")");
    if (part.empty() || part == ".") return Unexpected("tar entry " + quoted + " has an empty or \".\" component");
    if (part.find('\0') != std::string_view::npos) return Unexpected("tar entry " + quoted + " contains a NUL");
    if (!out.empty()) out += '/';
    out += part;
    start = slash + 1;
  }
  return out;
}

Expected<void, std::string> TarReader::feed(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    switch (state_) {
      case State::kEnd:
        if (!all_zero(bytes)) return Unexpected(std::string("data after the end of the tar archive"));
        return {};
      case State::kHeader: {
        const std::size_t take = std::min(kBlock - block_.size(), bytes.size());
        block_.insert(block_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
        bytes = bytes.subspan(take);
        if (block_.size() == kBlock) {
          auto parsed = parse_header();
          block_.clear();
          if (!parsed) return parsed;
        }
        break;
      }
      case State::kData: {
        const auto take = static_cast<std::size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        handler_.data(bytes.first(take));
        bytes = bytes.subspan(take);
        remaining_ -= take;
        if (remaining_ == 0) finish_entry();
        break;
      }
      case State::kExtended: {
        const auto take = static_cast<std::size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        extended_.insert(extended_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
        bytes = bytes.subspan(take);
        remaining_ -= take;
        if (remaining_ == 0) {
          auto applied = apply_extended();
          if (!applied) return applied;
          state_ = padding_ == 0 ? State::kHeader : State::kPadding;
        }
        break;
      }
      case State::kPadding: {
        const auto take = static_cast<std::size_t>(std::min<uint64_t>(padding_, bytes.size()));
        bytes = bytes.subspan(take);
        padding_ -= take;
        if (padding_ == 0) state_ = State::kHeader;
        break;
      }
    }
  }
  return {};
}

Expected<void, std::string> TarReader::finish() const {
  if (state_ == State::kEnd) return {};
  return Unexpected(std::string("the tar archive is truncated (no end-of-archive marker)"));
}

void TarReader::finish_entry() {
  handler_.entry_end();
  state_ = padding_ == 0 ? State::kHeader : State::kPadding;
}

Expected<void, std::string> TarReader::parse_header() {
  const std::span<const std::byte> block(block_);
  if (all_zero(block)) {
    if (++zero_blocks_ == 2) state_ = State::kEnd;
    return {};
  }
  if (zero_blocks_ != 0) return Unexpected(std::string("a lone zero block inside the tar archive"));
  if (!checksum_ok(block)) return Unexpected(std::string("tar header checksum mismatch"));

  const auto mode = number(block, 100, 8);
  const auto size = number(block, 124, 12);
  const auto mtime = number(block, 136, 12);
  if (!mode || !size || !mtime) return Unexpected(std::string("malformed number in tar header"));
  const char type = static_cast<char>(block[156]);

  if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
    if (*size > kMaxExtended) return Unexpected(std::string("tar extended header larger than 1 MiB"));
    extended_.clear();
    extended_kind_ = type == 'L' ? Extended::kLongName : type == 'K' ? Extended::kLongLink : Extended::kPax;
    remaining_ = *size;
    padding_ = padding_for(*size);
    if (type == 'g') {  // global pax header: nothing we use; skip it
      state_ = *size + padding_ == 0 ? State::kHeader : State::kPadding;
      padding_ += *size;
      return {};
    }
    state_ = State::kExtended;
    if (remaining_ == 0) {
      auto applied = apply_extended();
      if (!applied) return applied;
      state_ = padding_ == 0 ? State::kHeader : State::kPadding;
    }
    return {};
  }

  std::string raw_name;
  if (!next_path_.empty()) {
    raw_name = std::move(next_path_);
  } else {
    raw_name = std::string(field(block, 0, 100));
    const std::string_view prefix = field(block, 345, 155);
    if (field(block, 257, 5) == "ustar" && !prefix.empty()) raw_name = std::string(prefix) + "/" + raw_name;
  }
  next_path_.clear();
  auto path = normalize_entry_path(raw_name);
  if (!path) return Unexpected(std::move(path).error());

  TarEntry entry;
  entry.path = std::move(*path);
  entry.mode = static_cast<uint32_t>(*mode & 07777);
  entry.mtime = static_cast<int64_t>(*mtime);
  const uint64_t content = next_size_set_ ? next_size_ : *size;
  next_size_set_ = false;
  switch (type) {
    case '0':
    case '\0':
    case '7':
      entry.type = TarEntryType::kFile;
      entry.size = content;
      break;
    case '5':
      entry.type = TarEntryType::kDirectory;
      break;
    case '2':
      entry.type = TarEntryType::kSymlink;
      entry.link_target = next_link_.empty() ? std::string(field(block, 157, 100)) : next_link_;
      if (entry.link_target.empty()) return Unexpected("tar symlink \"" + entry.path + "\" has no target");
      break;
    default:
      return Unexpected("tar entry \"" + entry.path + "\" has unsupported type '" + std::string(1, type) +
                        "' (only files, directories and symbolic links are allowed)");
  }
  next_link_.clear();
  handler_.entry(entry);
  remaining_ = entry.type == TarEntryType::kFile ? content : 0;
  // Directories and links carry no content; skip any they claim, with its padding.
  padding_ = entry.type == TarEntryType::kFile ? padding_for(content) : content + padding_for(content);
  if (remaining_ == 0) {
    finish_entry();
  } else {
    state_ = State::kData;
  }
  return {};
}

Expected<void, std::string> TarReader::apply_extended() {
  const std::string text(reinterpret_cast<const char*>(extended_.data()), extended_.size());
  extended_.clear();
  if (extended_kind_ == Extended::kLongName || extended_kind_ == Extended::kLongLink) {
    const std::string value = text.substr(0, text.find('\0'));
    (extended_kind_ == Extended::kLongName ? next_path_ : next_link_) = value;
    return {};
  }
  // pax records: "<length> <key>=<value>\n", length counting the whole record.
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t length = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), length);
    if (ec != std::errc() || *ptr != ' ' || length == 0 || pos + length > text.size() ||
        text[pos + length - 1] != '\n') {
      return Unexpected(std::string("malformed pax extended header"));
    }
    const std::string record(ptr + 1, text.data() + pos + length - 1);
    const std::size_t eq = record.find('=');
    if (eq == std::string::npos) return Unexpected(std::string("malformed pax extended header"));
    const std::string key = record.substr(0, eq);
    const std::string value = record.substr(eq + 1);
    if (key == "path") {
      next_path_ = value;
    } else if (key == "linkpath") {
      next_link_ = value;
    } else if (key == "size") {
      const auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), next_size_);
      if (e != std::errc() || p != value.data() + value.size()) {
        return Unexpected(std::string("malformed pax size"));
      }
      next_size_set_ = true;
    }
    pos += length;
  }
  return {};
}

}  // namespace walvault::restore
