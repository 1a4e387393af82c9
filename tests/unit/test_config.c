/* test_config.c — the settings table: defaults, file sections, environment overrides and
 * validation; and the logger's phone masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "as/config.h"
#include "as/log.h"

static char *s_db, *s_name;
static long s_port;

static as_config_item_t items[] = {
    {"db", AS_CFG_STRING, NULL, 0, 0, "connection", &s_db},
    {"name", AS_CFG_STRING, "alpha", 0, 0, "a name", &s_name},
    {"port", AS_CFG_INT, "7100", 1, 65535, "a port", &s_port},
};
#define N (sizeof items / sizeof items[0])

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/as-test-config-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults_apply_and_required_setting_is_enforced(void **state)
{
    (void)state;
    char err[256];
    unsetenv("AS_SVC_DB");
    assert_int_equal(as_config_load(items, N, "svc", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "'db' is required"));
    as_config_free(items, N);
}

static void test_file_sections_apply_only_to_their_service(void **state)
{
    (void)state;
    char err[256];
    char *path = write_tmp("# comment\nport = 8000\n[svc]\ndb = host=a\n[other]\ndb = host=b\n"
                           "name = wrong\n");
    assert_int_equal(as_config_load(items, N, "svc", path, err, sizeof err), 0);
    assert_string_equal(s_db, "host=a");
    assert_string_equal(s_name, "alpha");
    assert_int_equal(s_port, 8000);
    as_config_free(items, N);
    unlink(path);
}

static void test_environment_overrides_the_file(void **state)
{
    (void)state;
    char err[256];
    char *path = write_tmp("[svc]\ndb = host=a\nport = 8000\n");
    setenv("AS_SVC_PORT", "9000", 1);
    setenv("AS_SVC_NAME", "beta", 1);
    assert_int_equal(as_config_load(items, N, "svc", path, err, sizeof err), 0);
    assert_int_equal(s_port, 9000);
    assert_string_equal(s_name, "beta");
    unsetenv("AS_SVC_PORT");
    unsetenv("AS_SVC_NAME");
    as_config_free(items, N);
    unlink(path);
}

static void test_out_of_range_integer_is_refused_with_its_origin(void **state)
{
    (void)state;
    char err[256];
    char *path = write_tmp("[svc]\ndb = x\nport = 70000\n");
    assert_int_equal(as_config_load(items, N, "svc", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "'port'"));
    assert_non_null(strstr(err, "outside 1..65535"));
    as_config_free(items, N);
    unlink(path);
}

static void test_non_integer_and_unknown_settings_are_refused(void **state)
{
    (void)state;
    char err[256];
    char *path = write_tmp("[svc]\ndb = x\nport = 12ab\n");
    assert_int_equal(as_config_load(items, N, "svc", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an integer"));
    as_config_free(items, N);
    path = write_tmp("[svc]\ndb = x\ncolour = red\n");
    assert_int_equal(as_config_load(items, N, "svc", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown setting 'colour'"));
    as_config_free(items, N);
    path = write_tmp("db x\n");
    assert_int_equal(as_config_load(items, N, "svc", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected 'name = value'"));
    as_config_free(items, N);
    unlink(path);
}

static void test_phone_numbers_are_masked_except_the_last_four_digits(void **state)
{
    (void)state;
    char out[32];
    as_log_mask_phone("13800001234", out, sizeof out);
    assert_string_equal(out, "*******1234");
    as_log_mask_phone("123", out, sizeof out);
    assert_string_equal(out, "123");
    as_log_mask_phone(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_apply_and_required_setting_is_enforced),
        cmocka_unit_test(test_file_sections_apply_only_to_their_service),
        cmocka_unit_test(test_environment_overrides_the_file),
        cmocka_unit_test(test_out_of_range_integer_is_refused_with_its_origin),
        cmocka_unit_test(test_non_integer_and_unknown_settings_are_refused),
        cmocka_unit_test(test_phone_numbers_are_masked_except_the_last_four_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
