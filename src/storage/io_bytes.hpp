// Byte buffers that read() fills and write() drains.
//
// The kernel copies to and from user memory with `rep movsb`, and on the AMD EPYC VMs this project runs on that
// copy ran about 4× slower when the user address was not 64-byte aligned (measured: pread of page-cached WAL into
// a buffer at a page + 16, where malloc puts a large std::vector's bytes, 2.5 GB/s; at a page boundary, 10.6
// GB/s). So these buffers are page-aligned. Growing one leaves the new bytes uninitialized: they are about to be
// overwritten by a read or a decompression, and zeroing a 16 MiB segment first cost wal-fetch 4 % of its CPU.
#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace walvault::storage {

template <class T>
struct IoAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{4096};

  IoAllocator() = default;
  template <class U>
  constexpr IoAllocator(const IoAllocator<U>& /*other*/) noexcept {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, std::size_t /*n*/) noexcept { ::operator delete(p, kAlignment); }
  // Value-initialization (zeroing) only when asked for with an explicit value.
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  bool operator==(const IoAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

using IoBytes = std::vector<std::byte, IoAllocator<std::byte>>;

}  // namespace walvault::storage
