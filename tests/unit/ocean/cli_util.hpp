// What the tests that check libs/ocean against the `openssl` command-line tool share: whether the tool
// is there, a scratch directory removed with everything in it, and whole-file reads and writes.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <variant>

#include "relay/core/encoding.hpp"
#include "relay/ocean/crypto.hpp"

namespace relay::ocean::testing {

inline bool openssl_on_path() {
    return std::system("command -v openssl >/dev/null 2>&1") == 0;
}

/// A private scratch directory under the system temp directory, removed with everything in it.
class ScratchDir {
   public:
    explicit ScratchDir(std::string_view prefix) {
        auto suffix = random_bytes(8);
        path_ = std::filesystem::temp_directory_path() /
                (std::string(prefix) + std::to_string(::getpid()) + "_" + hex_encode(std::get<std::string>(suffix)));
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    [[nodiscard]] std::string file(std::string_view name) const { return (path_ / name).string(); }

   private:
    std::filesystem::path path_;
};

inline void write_file(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace relay::ocean::testing
