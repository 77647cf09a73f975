// Every walvault command that README.md and the systemd units show must be accepted by the current CLI: run
// against a repository that does not exist, each must fail on the repository (or the server, or the file it
// names), never with a usage error (exit 2). The integration tests of each command check what they do.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Splits a shell command line into words, honouring single and double quotes.
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (const char c : line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// Command lines starting with "walvault " in README.md's sh code blocks and in inline `code` spans.
std::vector<std::string> readme_commands(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  bool in_sh = false;
  while (std::getline(lines, line)) {
    if (line.rfind("```", 0) == 0) {
      in_sh = line == "```sh";
      continue;
    }
    if (in_sh && line.rfind("walvault ", 0) == 0) out.push_back(line);
  }
  // Inline spans such as `walvault backup --repo ... --fast` (table cells hold syntax, not commands).
  const std::regex inline_cmd("`(walvault [^`|\\\\]+)`");
  for (std::sregex_iterator it(text.begin(), text.end(), inline_cmd), end; it != end; ++it) {
    const std::string cmd = (*it)[1].str();
    if (cmd.find("...") == std::string::npos && cmd.find(" R ") == std::string::npos) out.push_back(cmd);
  }
  return out;
}

std::vector<std::string> unit_commands(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".service") continue;
    std::istringstream lines(read_text(entry.path()));
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("ExecStart=/usr/local/bin/walvault ", 0) == 0) {
        out.push_back(line.substr(std::string("ExecStart=/usr/local/bin/").size()));
      }
    }
  }
  return out;
}

void check_accepted(const std::string& command, const std::string& scratch) {
  auto words = shell_words(command.substr(0, command.find(" > ")));
  REQUIRE(words.front() == "walvault");
  words.front() = WALVAULT_BINARY;
  for (auto& w : words) {
    if (w == "/var/lib/walvault/repo") w = scratch + "/no-such-repo";
    // The bucket examples too: what is checked here is the command line, not a bucket (tests/s3/ reach real ones).
    if (w.rfind("s3://", 0) == 0) w = scratch + "/no-such-bucket";
    if (w.rfind("/srv/", 0) == 0) w = scratch + "/target";
  }
  const auto r = walvault::test::run(walvault::test::as_postgres(words),
                                     {"WALVAULT_REPO=" + scratch + "/no-such-repo", "PGCONNECT_TIMEOUT=2"});
  INFO(command << "\nstderr: " << r.err);
  CHECK(r.exit_code != 2);
  CHECK(r.exit_code != 0);  // nothing exists: every command must fail, and say why
  // The error, as text or (with --json) as a JSON object.
  CHECK((r.err.find("walvault: error:") != std::string::npos || r.err.rfind("{\"error\":", 0) == 0));
}

}  // namespace

TEST_CASE("every walvault command in README.md and the systemd units is accepted by the CLI", "[integration][readme]") {
  const fs::path source(WALVAULT_SOURCE_DIR);
  const auto readme = readme_commands(read_text(source / "README.md"));
  const auto units = unit_commands(source / "systemd");
  REQUIRE(readme.size() >= 10);
  REQUIRE(units.size() == 4);

  std::string scratch = (fs::temp_directory_path() / "walvault-readme-XXXXXX").string();
  REQUIRE(::mkdtemp(scratch.data()) != nullptr);
  walvault::test::give_to_postgres(scratch);
  for (const auto& command : readme) check_accepted(command, scratch);
  for (const auto& command : units) check_accepted(command, scratch);
  fs::remove_all(scratch);
}
