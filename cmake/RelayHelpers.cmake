# Project-wide warning and sanitizer flags, applied to every relay target through one interface target.
add_library(relay_build_flags INTERFACE)
target_compile_options(relay_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers
  # GCC 12 misreports Asio's coroutine frame allocator (a known false positive).
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
if(RELAY_WERROR)
  target_compile_options(relay_build_flags INTERFACE -Werror)
endif()
# Boost.Asio: no deprecated API, and the io_uring-free epoll reactor Debian's build expects.
target_compile_definitions(relay_build_flags INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_ALLOW_DEPRECATED_HEADERS)

if(RELAY_SANITIZE)
  string(REPLACE ";" "," _relay_sanitizers "${RELAY_SANITIZE}")
  target_compile_options(relay_build_flags INTERFACE -fsanitize=${_relay_sanitizers} -fno-omit-frame-pointer
                                                     -fno-sanitize-recover=undefined)
  target_link_options(relay_build_flags INTERFACE -fsanitize=${_relay_sanitizers})
endif()

# Fuzzing: every relay target gets libFuzzer's coverage instrumentation (without its main); only the fuzz
# executables link the libFuzzer runtime (tests/fuzz, relay_add_fuzzer).
if(RELAY_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RELAY_BUILD_FUZZERS needs clang (libFuzzer); use the 'fuzz' preset")
  endif()
  target_compile_options(relay_build_flags INTERFACE -fsanitize=fuzzer-no-link)
  # clang 14 cannot emit UBSan's function-type check for C++20 coroutines ("Cannot represent a
  # difference across sections"): the Asio coroutines of libs/http need it off. Every other UBSan
  # check stays on.
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND "undefined" IN_LIST RELAY_SANITIZE)
    target_compile_options(relay_build_flags INTERFACE -fno-sanitize=function)
  endif()
endif()

# What relay_add_library and each service's code library (relay_<service>_objs) are built as: static
# libraries and object libraries normally, shared libraries with RELAY_SHARED_LIBS.
if(RELAY_SHARED_LIBS)
  set(RELAY_LIBRARY_KIND SHARED)
  set(RELAY_SERVICE_CODE_KIND SHARED)
else()
  set(RELAY_LIBRARY_KIND STATIC)
  set(RELAY_SERVICE_CODE_KIND OBJECT)
endif()

# relay_add_library(<name> SOURCES ... DEPS ...): library relay_<name> (static unless RELAY_SHARED_LIBS),
# alias relay::<name>, public headers in include/, private code in src/.
function(relay_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(relay_${name} ${RELAY_LIBRARY_KIND} ${ARG_SOURCES})
  add_library(relay::${name} ALIAS relay_${name})
  target_include_directories(relay_${name}
    PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(relay_${name} PUBLIC ${ARG_DEPS} relay_build_flags PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# relay_add_test(<name> SOURCES ... DEPS ... LABELS ...): GoogleTest binary, discovered into ctest.
function(relay_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS;FIXTURES;ENV" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} relay_build_flags GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    RELAY_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
    RELAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(_props LABELS "${ARG_LABELS}")
  if(ARG_FIXTURES)
    # Tests that share a broker (and stop and start it) never run in parallel with each other.
    list(APPEND _props FIXTURES_REQUIRED "${ARG_FIXTURES}" RESOURCE_LOCK "${ARG_FIXTURES}")
  endif()
  if(ARG_ENV)
    list(APPEND _props ENVIRONMENT "${ARG_ENV}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${_props})
endfunction()
