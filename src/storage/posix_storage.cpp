#include "storage/posix_storage.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "format/checksum.hpp"
#include "storage/file_lock.hpp"

namespace walvault::storage {
namespace {

constexpr std::size_t kCompareBlock = 1 << 16;

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : (slash == 0 ? std::string("/") : path.substr(0, slash));
}

void fsync_dir(const std::string& dir) {
  const Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) throw file_error("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) throw file_error("fsync directory", dir, errno);
}

// mkdir -p of dir; every directory created is made durable by fsync'ing its parent.
void make_dirs(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw file_error("create directory", dir, ENOTDIR);
    return;
  }
  const std::string parent = parent_of(dir);
  make_dirs(parent);
  if (::mkdir(dir.c_str(), 0750) != 0) {
    if (errno == EEXIST) return;
    throw file_error("create directory", dir, errno);
  }
  fsync_dir(parent);
}

void write_all(int fd, std::span<const std::byte> bytes, uint64_t offset, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw file_error("write", path, errno);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

// Reads up to out.size() bytes at offset; returns the count (short only at end of file).
std::size_t read_at(int fd, std::span<std::byte> out, uint64_t offset, const std::string& path) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw file_error("read", path, errno);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Fd open_for_read(const std::string& path, std::string_view name) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      throw Error(ErrorCode::kNotFound, "object " + std::string(name) + " does not exist in the repository");
    }
    throw file_error("open", path, errno);
  }
  return fd;
}

uint64_t file_size(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw file_error("stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

bool same_content(int a, int b, const std::string& path_a, const std::string& path_b) {
  if (file_size(a, path_a) != file_size(b, path_b)) return false;
  std::vector<std::byte> buf_a(kCompareBlock);
  std::vector<std::byte> buf_b(kCompareBlock);
  for (uint64_t offset = 0;; offset += kCompareBlock) {
    const std::size_t na = read_at(a, buf_a, offset, path_a);
    const std::size_t nb = read_at(b, buf_b, offset, path_b);
    if (na != nb || std::memcmp(buf_a.data(), buf_b.data(), na) != 0) return false;
    if (na < kCompareBlock) return true;
  }
}

// Moves temp to final unless final exists. Returns false when final exists (temp is left in place).
bool rename_no_replace(const std::string& temp, const std::string& final_path) {
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS) throw file_error("rename into", final_path, errno);
  // The filesystem lacks RENAME_NOREPLACE: link() fails with EEXIST just the same.
  if (::link(temp.c_str(), final_path.c_str()) != 0) {
    if (errno == EEXIST) return false;
    throw file_error("link into", final_path, errno);
  }
  ::unlink(temp.c_str());
  return true;
}

std::atomic<uint64_t> temp_counter{0};

constexpr std::string_view kTempSuffix = ".tmp";

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether a file name is create_temp()'s ".<name>.<pid>.<n>.tmp".
bool is_temp_name(std::string_view file) {
  if (file.size() < 2 || file.front() != '.' || !file.ends_with(kTempSuffix)) return false;
  std::string_view rest = file.substr(1, file.size() - 1 - kTempSuffix.size());  // <name>.<pid>.<n>
  for (int field = 0; field < 2; ++field) {
    const auto dot = rest.rfind('.');
    if (dot == std::string_view::npos || !all_digits(rest.substr(dot + 1))) return false;
    rest = rest.substr(0, dot);
  }
  return !rest.empty();
}

// Creates a fresh temporary file beside final_path, flock'ed (sweep_temporaries() skips it while this process
// lives); returns its path and descriptor.
std::pair<std::string, Fd> create_temp(const std::string& final_path) {
  const std::string dir = parent_of(final_path);
  const std::string base = final_path.substr(dir.size() + 1);
  make_dirs(dir);
  while (true) {
    const std::string temp = dir + "/." + base + "." + std::to_string(::getpid()) + "." +
                             std::to_string(temp_counter.fetch_add(1)) + std::string(kTempSuffix);
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    if (fd.valid()) {
      // Blocking: only a sweep that is looking at this (new, so never stale) file can hold it, for a moment.
      while (::flock(fd.get(), LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::unlink(temp.c_str());
        throw file_error("lock", temp, err);
      }
      return {temp, std::move(fd)};
    }
    if (errno != EEXIST) throw file_error("create", temp, errno);
  }
}

// A temporary file beside final_path holding bytes (removed on a failure); its path and descriptor.
std::pair<std::string, Fd> write_temp(const std::string& final_path, std::span<const std::byte> bytes) {
  auto [temp, fd] = create_temp(final_path);
  try {
    write_all(fd.get(), bytes, 0, temp);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  return {std::move(temp), std::move(fd)};
}

// fsync + no-replace rename + directory fsync of a complete file; resolves a name clash by content (the same
// content: `from` is removed and that is success).
void move_into_place(const std::string& from, const Fd& fd, const std::string& final_path, std::string_view name) {
  if (::fsync(fd.get()) != 0) throw file_error("fsync", from, errno);
  if (!rename_no_replace(from, final_path)) {
    const Fd existing = open_for_read(final_path, name);
    const Fd written(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (!written.valid()) throw file_error("open", from, errno);
    if (!same_content(existing.get(), written.get(), final_path, from)) throw content_conflict(name);
    if (::unlink(from.c_str()) != 0) throw file_error("remove", from, errno);
    fsync_dir(parent_of(from));
    return;
  }
  fsync_dir(parent_of(final_path));
  if (parent_of(from) != parent_of(final_path)) fsync_dir(parent_of(from));
}

// move_into_place for a temporary file, which is removed on any failure.
void publish(const std::string& temp, Fd fd, const std::string& final_path, std::string_view name) {
  try {
    move_into_place(temp, fd, final_path, name);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

// fsync + rename over final_path + directory fsync of a complete temporary file (removed on any failure).
void replace_file(const std::string& temp, const Fd& fd, const std::string& final_path) {
  if (::fsync(fd.get()) != 0 || ::rename(temp.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw file_error("replace", final_path, err);
  }
  fsync_dir(parent_of(final_path));
}

class PosixObjectWriter final : public ObjectWriter {
 public:
  PosixObjectWriter(std::string final_path, std::string name, WriteMode mode)
      : final_path_(std::move(final_path)), name_(std::move(name)), mode_(mode) {
    auto [temp, fd] = create_temp(final_path_);
    temp_ = std::move(temp);
    fd_ = std::move(fd);
  }
  ~PosixObjectWriter() override { abort(); }
  PosixObjectWriter(const PosixObjectWriter&) = delete;
  PosixObjectWriter& operator=(const PosixObjectWriter&) = delete;

  void write(std::span<const std::byte> bytes) override {
    check_open();
    write_all(fd_.get(), bytes, size_, temp_);
    size_ += bytes.size();
  }
  void commit() override {
    check_open();
    open_ = false;
    if (mode_ == WriteMode::kReplace) {
      replace_file(temp_, fd_, final_path_);
      return;
    }
    publish(temp_, std::move(fd_), final_path_, name_);
  }
  void abort() noexcept override {
    if (!open_) return;
    open_ = false;
    fd_.reset();
    ::unlink(temp_.c_str());
  }
  [[nodiscard]] uint64_t size() const override { return size_; }

 private:
  void check_open() const {
    if (!open_) throw Error(ErrorCode::kInternal, "object writer for " + name_ + " used after commit or abort");
  }

  std::string final_path_;
  std::string name_;
  WriteMode mode_;
  std::string temp_;
  Fd fd_;
  uint64_t size_ = 0;
  bool open_ = true;
};

class PosixAppendFile final : public AppendFile {
 public:
  PosixAppendFile(std::string path, Fd fd, uint64_t size) : path_(std::move(path)), fd_(std::move(fd)), size_(size) {}

  [[nodiscard]] uint64_t size() const override { return size_; }
  void write_at(uint64_t offset, std::span<const std::byte> bytes) override {
    if (offset > size_) throw Error(ErrorCode::kInternal, "append file " + path_ + ": write beyond the end");
    write_all(fd_.get(), bytes, offset, path_);
    size_ = std::max<uint64_t>(size_, offset + bytes.size());
  }
  void truncate(uint64_t length) override {
    if (length > size_) throw Error(ErrorCode::kInternal, "append file " + path_ + ": truncate beyond the end");
    if (::ftruncate(fd_.get(), static_cast<off_t>(length)) != 0) throw file_error("truncate", path_, errno);
    size_ = length;
  }
  void sync() override {
    if (::fdatasync(fd_.get()) != 0) throw file_error("fsync", path_, errno);
  }
  void replace(std::span<const std::byte> bytes) override {
    auto [temp, fd] = write_temp(path_, bytes);
    replace_file(temp, fd, path_);
    fd_ = Fd(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd_.valid()) throw file_error("open", path_, errno);
    size_ = bytes.size();
  }

 private:
  std::string path_;
  Fd fd_;
  uint64_t size_;
};

}  // namespace

PosixStorage::PosixStorage(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Capabilities PosixStorage::capabilities() const { return Capabilities{.append = true, .local_root = root_}; }

std::vector<ObjectInfo> PosixStorage::list(std::string_view prefix) const {
  namespace fs = std::filesystem;
  const auto slash = prefix.rfind('/');
  const std::string dir_part = slash == std::string_view::npos ? std::string() : std::string(prefix.substr(0, slash));
  const fs::path start = dir_part.empty() ? fs::path(root_) : fs::path(root_) / dir_part;
  std::vector<ObjectInfo> out;
  std::error_code ec;
  if (!fs::is_directory(start, ec)) return out;
  fs::recursive_directory_iterator it(start, ec);
  if (ec) throw file_error("list", start.string(), ec.value());
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) throw file_error("list", start.string(), ec.value());
    const std::string filename = it->path().filename().string();
    if (!filename.empty() && filename.front() == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    // Lexical: the iterator built the path from root_ (fs::relative would realpath every entry).
    std::string name = it->path().lexically_relative(root_).generic_string();
    if (!name.starts_with(prefix)) continue;
    const uint64_t size = it->file_size(ec);
    // Removed since the directory was read (a listing is a snapshot): not listed, as if read a moment later.
    if (ec == std::errc::no_such_file_or_directory) continue;
    if (ec) throw file_error("stat", it->path().string(), ec.value());
    out.push_back(ObjectInfo{std::move(name), size});
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<uint64_t> PosixStorage::info(std::string_view name) const {
  check_object_name(name);
  const std::string path = root_ + "/" + std::string(name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw file_error("stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

std::optional<uint64_t> PosixStorage::version(std::string_view name) const {
  check_object_name(name);
  const std::string path = root_ + "/" + std::string(name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw Error(ErrorCode::kNotFound, "no object " + std::string(name));
    throw file_error("stat", path, errno);
  }
  // Any write in place moves the modification and change times; a replacement changes the inode.
  const uint64_t fields[] = {static_cast<uint64_t>(st.st_ino),          static_cast<uint64_t>(st.st_mtim.tv_sec),
                             static_cast<uint64_t>(st.st_mtim.tv_nsec), static_cast<uint64_t>(st.st_ctim.tv_sec),
                             static_cast<uint64_t>(st.st_ctim.tv_nsec), static_cast<uint64_t>(st.st_size)};
  return format::checksum(std::as_bytes(std::span(fields)));
}

Bytes PosixStorage::read(std::string_view name) const {
  check_object_name(name);
  const std::string path = root_ + "/" + std::string(name);
  const Fd fd = open_for_read(path, name);
  Bytes out(file_size(fd.get(), path));
  out.resize(read_at(fd.get(), out, 0, path));
  return out;
}

namespace {

// A read-only mapping of a whole file, populated up front so the reader takes no page faults.
class MappedView final : public ObjectView {
 public:
  MappedView(const void* address, std::size_t size) : address_(address), size_(size) {}
  ~MappedView() override {
    if (size_ != 0) ::munmap(const_cast<void*>(address_), size_);
  }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept override {
    return {static_cast<const std::byte*>(address_), size_};
  }

 private:
  const void* address_;
  std::size_t size_;
};

}  // namespace

std::unique_ptr<ObjectView> PosixStorage::view(std::string_view name) const {
  check_object_name(name);
  const std::string path = root_ + "/" + std::string(name);
  const Fd fd = open_for_read(path, name);
  const uint64_t size = file_size(fd.get(), path);
  if (size == 0) return std::make_unique<MappedView>(nullptr, 0);  // mmap refuses an empty range
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
  if (address == MAP_FAILED) throw file_error("map", path, errno);
  return std::make_unique<MappedView>(address, size);
}

Bytes PosixStorage::read_range(std::string_view name, uint64_t offset, uint64_t length) const {
  check_object_name(name);
  const std::string path = root_ + "/" + std::string(name);
  const Fd fd = open_for_read(path, name);
  const uint64_t size = file_size(fd.get(), path);
  Bytes out(offset >= size ? 0 : std::min(length, size - offset));
  out.resize(read_at(fd.get(), out, offset, path));
  return out;
}

void PosixStorage::write_atomic(std::string_view name, std::span<const std::byte> bytes) {
  check_object_name(name);
  const std::string final_path = root_ + "/" + std::string(name);
  auto [temp, fd] = write_temp(final_path, bytes);
  publish(temp, std::move(fd), final_path, name);
}

std::unique_ptr<ObjectWriter> PosixStorage::open_writer(std::string_view name, WriteMode mode) {
  check_object_name(name);
  return std::make_unique<PosixObjectWriter>(root_ + "/" + std::string(name), std::string(name), mode);
}

void PosixStorage::remove(std::string_view name) {
  check_object_name(name);
  const std::string path = root_ + "/" + std::string(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return;
    throw file_error("remove", path, errno);
  }
  fsync_dir(parent_of(path));
}

std::unique_ptr<AppendFile> PosixStorage::open_append(std::string_view name) {
  check_object_name(name);
  const std::string path = root_ + "/" + std::string(name);
  make_dirs(parent_of(path));
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (fd.valid()) {
    // Newly created: make its existence durable before anyone relies on it.
    if (::fsync(fd.get()) != 0) throw file_error("fsync", path, errno);
    fsync_dir(parent_of(path));
  } else {
    if (errno != EEXIST) throw file_error("create", path, errno);
    fd = Fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid()) throw file_error("open", path, errno);
  }
  const uint64_t size = file_size(fd.get(), path);
  return std::make_unique<PosixAppendFile>(path, std::move(fd), size);
}

void PosixStorage::publish_append(std::string_view from, std::string_view to) {
  check_object_name(from);
  check_object_name(to);
  const std::string from_path = root_ + "/" + std::string(from);
  const std::string to_path = root_ + "/" + std::string(to);
  const Fd fd = open_for_read(from_path, from);
  make_dirs(parent_of(to_path));
  move_into_place(from_path, fd, to_path, to);
}

std::unique_ptr<StorageLock> PosixStorage::lock(std::string_view name, LockWait wait) {
  check_lock_name(name);
  const std::string dir = root_ + "/locks";
  make_dirs(dir);
  auto lock = FileLock::take(dir + "/" + std::string(name) + ".lock", wait, 0644);
  if (lock) lock->record_pid();
  return lock;
}

std::optional<LockHolder> PosixStorage::lock_holder(std::string_view name) const {
  check_lock_name(name);
  const auto pid = FileLock::holder(root_ + "/locks/" + std::string(name) + ".lock");
  if (!pid) return std::nullopt;
  return LockHolder{.pid = *pid, .host = ""};
}

std::vector<ObjectInfo> PosixStorage::sweep_temporaries(std::string_view prefix,
                                                        std::chrono::system_clock::time_point modified_before,
                                                        bool dry_run) {
  namespace fs = std::filesystem;
  std::vector<ObjectInfo> swept;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return swept;
  fs::recursive_directory_iterator it(root_, ec);
  if (ec) throw file_error("list", root_, ec.value());
  const auto limit = std::chrono::duration_cast<std::chrono::seconds>(modified_before.time_since_epoch()).count();
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) throw file_error("list", root_, ec.value());
    const std::string path = it->path().string();
    if (!is_temp_name(it->path().filename().string()) || !it->is_regular_file() ||
        !it->path().lexically_relative(root_).generic_string().starts_with(prefix)) {
      continue;
    }
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;  // published or discarded meanwhile
      throw file_error("open", path, errno);
    }
    // A live writer holds the flock; the age is read after taking it, so a writer that just finished is not old.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) continue;
      throw file_error("lock", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw file_error("stat", path, errno);
    if (st.st_mtim.tv_sec >= limit) continue;
    if (!dry_run) {
      if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT) continue;
        throw file_error("remove", path, errno);
      }
      fsync_dir(parent_of(path));
    }
    swept.push_back(
        ObjectInfo{it->path().lexically_relative(root_).generic_string(), static_cast<uint64_t>(st.st_size)});
  }
  std::sort(swept.begin(), swept.end());
  return swept;
}

}  // namespace walvault::storage
