// The one translation unit of raftd-test that holds CAF's test runner.
// Every other file in tests/ defines its own CAF_SUITE (one CTest entry each).
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>
