// Wide console: ctest discovery reads `--list-test-names-only`, and Catch
// would wrap long test names onto two lines, turning one test into two.
#define CATCH_CONFIG_CONSOLE_WIDTH 300
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
