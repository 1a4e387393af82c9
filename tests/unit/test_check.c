/* test_check.c — the checks the services share (as/check.h): business dates and free text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "as/check.h"

static void test_dates_are_strict_calendar_days(void **state)
{
    (void)state;
    int y, m, d;
    assert_int_equal(as_date_parse("2024-02-29", &y, &m, &d), 0);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    assert_true(as_date_valid("2000-02-29"));
    assert_true(as_date_valid("1900-01-01"));
    assert_true(as_date_valid("2999-12-31"));
    assert_false(as_date_valid("1900-02-29")); /* not a leap year */
    assert_false(as_date_valid("2023-02-29"));
    assert_false(as_date_valid("2024-04-31"));
    assert_false(as_date_valid("2024-13-01"));
    assert_false(as_date_valid("2024-00-10"));
    assert_false(as_date_valid("2024-01-00"));
    assert_false(as_date_valid("1899-12-31"));
    assert_false(as_date_valid("3000-01-01"));
    assert_false(as_date_valid("2024-1-01"));
    assert_false(as_date_valid("2024/01/01"));
    assert_false(as_date_valid("2024-01-0a"));
    assert_false(as_date_valid("2024-01-011"));
    assert_false(as_date_valid(""));
    assert_false(as_date_valid(NULL));
}

static void test_text_checks_presence_length_and_control_characters(void **state)
{
    (void)state;
    as_problems_t e;
    memset(&e, 0, sizeof e);
    as_check_text(&e, "note", NULL, 10, 0, 0);
    as_check_text(&e, "note", "", 10, 0, 0);
    as_check_text(&e, "note", "tab\tok", 10, 1, 0);
    assert_int_equal(e.n, 0);
    as_check_text(&e, "name", "", 10, 1, 0);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.field[0], "name");
    assert_string_equal(e.problem[0], "is required");
    as_check_text(&e, "name", "eleven byte", 10, 1, 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.problem[1], "is longer than 10 bytes");
    as_check_text(&e, "note", "two\nlines", 20, 1, 0);
    assert_int_equal(e.n, 3);
    assert_string_equal(e.problem[2], "contains control characters");
    as_check_text(&e, "note", "two\r\nlines", 20, 1, 1); /* multiline: line breaks are fine */
    assert_int_equal(e.n, 3);
    as_check_text(&e, "note", "bell\a", 20, 1, 1);
    assert_int_equal(e.n, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates_are_strict_calendar_days),
        cmocka_unit_test(test_text_checks_presence_length_and_control_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
