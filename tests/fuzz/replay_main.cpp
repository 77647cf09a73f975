// Replays every file under the given directories through a fuzz target's LLVMFuzzerTestOneInput, so seeds
// and committed crash cases run as ordinary ctest cases without libFuzzer. Exit 0 when all inputs ran.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path dir(argv[i]);
    if (!std::filesystem::is_directory(dir)) {
      std::cerr << "error: corpus directory " << dir << " does not exist\n";
      return 2;
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++count;
    }
  }
  if (count == 0) {
    std::cerr << "error: no corpus inputs found\n";
    return 2;
  }
  std::cout << "replayed " << count << " inputs\n";
  return 0;
}
