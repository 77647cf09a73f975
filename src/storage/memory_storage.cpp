#include "storage/memory_storage.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace walvault::storage {

class MemoryObjectWriter final : public ObjectWriter {
 public:
  MemoryObjectWriter(MemoryStorage& storage, std::string name, uint64_t generation, WriteMode mode)
      : storage_(storage), name_(std::move(name)), generation_(generation), mode_(mode) {}
  ~MemoryObjectWriter() override { abort(); }
  MemoryObjectWriter(const MemoryObjectWriter&) = delete;
  MemoryObjectWriter& operator=(const MemoryObjectWriter&) = delete;

  void write(std::span<const std::byte> bytes) override {
    const std::lock_guard lock(storage_.mutex_);
    check_open();
    storage_.count_operation();
    const uint64_t fits = storage_.room_for(bytes.size());
    data_.insert(data_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(fits));
    storage_.pending_bytes_ += fits;
    if (fits < bytes.size()) throw disk_full("cannot write " + name_ + ": no space left (injected)");
  }
  void commit() override {
    const std::lock_guard lock(storage_.mutex_);
    check_open();
    open_ = false;
    storage_.pending_bytes_ -= data_.size();
    storage_.count_operation();
    if (mode_ == WriteMode::kReplace) storage_.objects_.erase(name_);
    storage_.commit_object(name_, std::move(data_));
  }
  void abort() noexcept override {
    if (!open_) return;
    open_ = false;
    const std::lock_guard lock(storage_.mutex_);
    storage_.pending_bytes_ -= data_.size();
    data_.clear();
  }
  [[nodiscard]] uint64_t size() const override { return data_.size(); }

 private:
  void check_open() const {
    if (!open_) throw Error(ErrorCode::kInternal, "object writer for " + name_ + " used after commit or abort");
    storage_.check_generation(generation_);
  }

  MemoryStorage& storage_;
  std::string name_;
  uint64_t generation_;
  WriteMode mode_;
  Bytes data_;
  bool open_ = true;
};

class MemoryAppendFile final : public AppendFile {
 public:
  MemoryAppendFile(MemoryStorage& storage, std::string name, uint64_t generation)
      : storage_(storage), name_(std::move(name)), generation_(generation) {}

  [[nodiscard]] uint64_t size() const override {
    const std::lock_guard lock(storage_.mutex_);
    return object().data.size();
  }
  void write_at(uint64_t offset, std::span<const std::byte> bytes) override {
    const std::lock_guard lock(storage_.mutex_);
    MemoryStorage::Object& obj = object();
    if (offset > obj.data.size()) throw Error(ErrorCode::kInternal, "append file " + name_ + ": write beyond the end");
    std::span<const std::byte> landed = bytes;
    std::optional<Error> failure;
    try {
      storage_.count_operation();
    } catch (const Error& e) {
      landed = bytes.first(bytes.size() / 2);
      failure = e;
    }
    const uint64_t end = offset + landed.size();
    const uint64_t growth = end > obj.data.size() ? end - obj.data.size() : 0;
    if (const uint64_t fits = storage_.room_for(growth); fits < growth) {
      landed = landed.first(landed.size() - (growth - fits));
      if (!failure) failure = disk_full("cannot write " + name_ + ": no space left (injected)");
    }
    if (obj.data.size() < offset + landed.size()) obj.data.resize(offset + landed.size());
    std::copy(landed.begin(), landed.end(), obj.data.begin() + static_cast<std::ptrdiff_t>(offset));
    obj.synced = std::min<uint64_t>(obj.synced, offset);
    if (failure) throw *failure;
  }
  void truncate(uint64_t length) override {
    const std::lock_guard lock(storage_.mutex_);
    MemoryStorage::Object& obj = object();
    if (length > obj.data.size()) throw Error(ErrorCode::kInternal, "append file " + name_ + ": truncate beyond the end");
    storage_.count_operation();
    obj.data.resize(length);
    obj.synced = std::min<uint64_t>(obj.synced, length);
  }
  void sync() override {
    const std::lock_guard lock(storage_.mutex_);
    MemoryStorage::Object& obj = object();
    storage_.count_operation();
    obj.synced = obj.data.size();
  }
  void replace(std::span<const std::byte> bytes) override {
    const std::lock_guard lock(storage_.mutex_);
    MemoryStorage::Object& obj = object();
    storage_.count_operation();
    if (bytes.size() > obj.data.size() && storage_.room_for(bytes.size() - obj.data.size()) < bytes.size() - obj.data.size()) {
      throw disk_full("cannot write " + name_ + ": no space left (injected)");
    }
    obj.data.assign(bytes.begin(), bytes.end());
    obj.synced = obj.data.size();
  }

 private:
  // Caller holds the mutex.
  [[nodiscard]] MemoryStorage::Object& object() const {
    storage_.check_generation(generation_);
    const auto it = storage_.objects_.find(name_);
    if (it == storage_.objects_.end()) throw Error(ErrorCode::kIo, "append file " + name_ + " was removed");
    return it->second;
  }

  MemoryStorage& storage_;
  std::string name_;
  uint64_t generation_;
};

class MemoryLock final : public StorageLock {
 public:
  MemoryLock(MemoryStorage& storage, std::string name) : storage_(storage), name_(std::move(name)) {}
  ~MemoryLock() override { storage_.unlock(name_); }
  MemoryLock(const MemoryLock&) = delete;
  MemoryLock& operator=(const MemoryLock&) = delete;

 private:
  MemoryStorage& storage_;
  std::string name_;
};

Capabilities MemoryStorage::capabilities() const { return Capabilities{.append = append_, .local_root = {}}; }

void MemoryStorage::count_operation() const {
  ++operations_;
  if (fail_at_ != 0 && operations_ == fail_at_) {
    fail_at_ = 0;
    throw Error(ErrorCode::kIo, "injected failure", {}, true);
  }
}

void MemoryStorage::check_generation(uint64_t generation) const {
  if (generation != generation_) throw Error(ErrorCode::kIo, "storage handle lost in a crash");
}

void MemoryStorage::commit_object(const std::string& name, Bytes data) {
  const auto it = objects_.find(name);
  if (it != objects_.end()) {
    if (it->second.data != data) throw content_conflict(name);
    return;
  }
  const uint64_t size = data.size();
  objects_.emplace(name, Object{std::move(data), size});
}

uint64_t MemoryStorage::room_for(uint64_t wanted) const {
  if (!capacity_) return wanted;
  uint64_t used = pending_bytes_;
  for (const auto& [name, obj] : objects_) used += obj.data.size();
  return std::min(wanted, *capacity_ > used ? *capacity_ - used : 0);
}

std::vector<ObjectInfo> MemoryStorage::list(std::string_view prefix) const {
  const std::lock_guard lock(mutex_);
  count_operation();
  std::vector<ObjectInfo> out;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(ObjectInfo{it->first, it->second.data.size()});
  }
  return out;
}

std::optional<uint64_t> MemoryStorage::info(std::string_view name) const {
  check_object_name(name);
  const std::lock_guard lock(mutex_);
  count_operation();
  const auto it = objects_.find(name);
  if (it == objects_.end()) return std::nullopt;
  return it->second.data.size();
}

Bytes MemoryStorage::read(std::string_view name) const { return read_range(name, 0, UINT64_MAX); }

Bytes MemoryStorage::read_range(std::string_view name, uint64_t offset, uint64_t length) const {
  check_object_name(name);
  const std::lock_guard lock(mutex_);
  count_operation();
  const auto it = objects_.find(name);
  if (it == objects_.end()) {
    throw Error(ErrorCode::kNotFound, "object " + std::string(name) + " does not exist in the repository");
  }
  const Bytes& data = it->second.data;
  if (offset >= data.size()) return {};
  const uint64_t n = std::min(length, data.size() - offset);
  const auto first = data.begin() + static_cast<std::ptrdiff_t>(offset);
  return Bytes(first, first + static_cast<std::ptrdiff_t>(n));
}

void MemoryStorage::write_atomic(std::string_view name, std::span<const std::byte> bytes) {
  check_object_name(name);
  const std::lock_guard lock(mutex_);
  count_operation();
  if (room_for(bytes.size()) < bytes.size()) {
    throw disk_full("cannot write " + std::string(name) + ": no space left (injected)");
  }
  commit_object(std::string(name), Bytes(bytes.begin(), bytes.end()));
}

std::unique_ptr<ObjectWriter> MemoryStorage::open_writer(std::string_view name, WriteMode mode) {
  check_object_name(name);
  const std::lock_guard lock(mutex_);
  count_operation();
  return std::make_unique<MemoryObjectWriter>(*this, std::string(name), generation_, mode);
}

void MemoryStorage::remove(std::string_view name) {
  check_object_name(name);
  const std::lock_guard lock(mutex_);
  count_operation();
  const auto it = objects_.find(name);
  if (it != objects_.end()) objects_.erase(it);
}

std::unique_ptr<AppendFile> MemoryStorage::open_append(std::string_view name) {
  check_object_name(name);
  if (!append_) throw Error(ErrorCode::kInternal, "this storage does not support append files");
  const std::lock_guard lock(mutex_);
  count_operation();
  objects_.try_emplace(std::string(name));
  return std::make_unique<MemoryAppendFile>(*this, std::string(name), generation_);
}

void MemoryStorage::publish_append(std::string_view from, std::string_view to) {
  check_object_name(from);
  check_object_name(to);
  if (!append_) throw Error(ErrorCode::kInternal, "this storage does not support append files");
  const std::lock_guard lock(mutex_);
  count_operation();
  const auto it = objects_.find(from);
  if (it == objects_.end()) {
    throw Error(ErrorCode::kNotFound, "object " + std::string(from) + " does not exist in the repository");
  }
  commit_object(std::string(to), it->second.data);
  objects_.erase(it);
}

std::unique_ptr<StorageLock> MemoryStorage::lock(std::string_view name, LockWait wait) {
  check_lock_name(name);
  std::unique_lock guard(mutex_);
  count_operation();
  while (locks_.contains(name)) {
    if (wait == LockWait::kTry) return nullptr;
    unlocked_.wait(guard);
  }
  locks_.emplace(name);
  return std::make_unique<MemoryLock>(*this, std::string(name));
}

std::optional<LockHolder> MemoryStorage::lock_holder(std::string_view name) const {
  check_lock_name(name);
  const std::lock_guard guard(mutex_);
  if (!locks_.contains(name)) return std::nullopt;
  return LockHolder{.pid = ::getpid(), .host = ""};
}

void MemoryStorage::unlock(const std::string& name) {
  {
    const std::lock_guard lock(mutex_);
    locks_.erase(name);
  }
  unlocked_.notify_all();
}

void MemoryStorage::set_capacity(std::optional<uint64_t> bytes) {
  const std::lock_guard lock(mutex_);
  capacity_ = bytes;
}

void MemoryStorage::fail_operation(uint64_t n) {
  const std::lock_guard lock(mutex_);
  fail_at_ = n == 0 ? 0 : operations_ + n;
}

uint64_t MemoryStorage::operations() const {
  const std::lock_guard lock(mutex_);
  return operations_;
}

void MemoryStorage::crash() {
  const std::lock_guard lock(mutex_);
  ++generation_;
  for (auto& [name, obj] : objects_) obj.data.resize(obj.synced);
}

}  // namespace walvault::storage
