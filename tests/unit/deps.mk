# Core objects each unit test links (names of src/core/*.c without .c).
# A test not listed here links every core object.
UNIT_DEPS_region := region log
UNIT_DEPS_buf := buf region log
UNIT_DEPS_line := line buf region log
UNIT_DEPS_conf := conf log
UNIT_DEPS_path := path log
UNIT_DEPS_rundir := rundir path log
UNIT_DEPS_timer := timer region log
UNIT_DEPS_loop := loop timer region log
UNIT_DEPS_conn := conn loop timer buf line region tls stats log
UNIT_DEPS_stats := stats log
UNIT_DEPS_tls := tls log

FUZZ_DEPS_path := path log
FUZZ_DEPS_line := line buf region log
FUZZ_DEPS_conf := conf log
UNIT_DEPS_settings := settings conf log
