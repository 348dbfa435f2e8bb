#include "random_key.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace relay::auth::detail {

std::string random_key() {
    std::string key(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
        throw std::runtime_error("cannot draw a random hashing key");
    }
    return key;
}

}  // namespace relay::auth::detail
