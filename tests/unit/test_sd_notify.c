/*
 * test_sd_notify.c - io/sd_notify.c: which $NOTIFY_SOCKET names it takes,
 * what reaches a socket standing in for systemd's, and when it asks for
 * watchdog pings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/sd_notify.h"

/* A datagram socket bound to `name` (a path, or "@abstract"). */
static int listener(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(a.sun_path, name, len);
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    else
        sl++;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sl), 0);
    return fd;
}

/* The next datagram on fd, NUL-terminated, in buf. */
static void recv_text(int fd, char *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    assert_true(n >= 0);
    buf[n] = '\0';
}

static void clear_env(void)
{
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

static void test_unset_is_a_noop(void **state)
{
    (void)state;
    clear_env();
    struct chord_sd_notify n;
    assert_int_equal(chord_sd_notify_open(&n), 0);
    assert_int_equal(n.fd, -1);
    assert_int_equal(chord_sd_notify_send(&n, "READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(chord_sd_notify_open(&n), 0);
    assert_int_equal(n.fd, -1);
    chord_sd_notify_close(&n);
}

static void test_bad_names_refused(void **state)
{
    (void)state;
    clear_env();
    struct chord_sd_notify n;
    const char *bad[] = {"relative/path", "@", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("NOTIFY_SOCKET", bad[i], 1);
        assert_int_equal(chord_sd_notify_open(&n), -EINVAL);
        assert_int_equal(n.fd, -1);
    }
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    assert_int_equal(chord_sd_notify_open(&n), -EINVAL);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    assert_int_equal(chord_sd_notify_open(&n), -EAFNOSUPPORT);
    assert_int_equal(n.fd, -1);
}

static void test_path_and_abstract(void **state)
{
    (void)state;
    clear_env();
    char path[64];
    snprintf(path, sizeof path, "/tmp/chord-sdn-%d.sock", (int)getpid());
    unlink(path);
    char abstract[64];
    snprintf(abstract, sizeof abstract, "@chord-sdn-%d", (int)getpid());
    const char *names[] = {path, abstract};
    for (size_t i = 0; i < 2; i++) {
        int fd = listener(names[i]);
        setenv("NOTIFY_SOCKET", names[i], 1);
        struct chord_sd_notify n;
        assert_int_equal(chord_sd_notify_open(&n), 0);
        assert_true(n.fd >= 0);
        assert_int_equal(chord_sd_notify_send(&n, "READY=1\nSTATUS=x"), 0);
        assert_int_equal(chord_sd_notify_send(&n, "STOPPING=1"), 0);
        char buf[128];
        recv_text(fd, buf, sizeof buf);
        assert_string_equal(buf, "READY=1\nSTATUS=x");
        recv_text(fd, buf, sizeof buf);
        assert_string_equal(buf, "STOPPING=1");
        chord_sd_notify_close(&n);
        chord_sd_notify_close(&n); /* idempotent */
        close(fd);
    }
    unlink(path);
    /* Nobody listening any more: an error, not a crash or a block. */
    setenv("NOTIFY_SOCKET", path, 1);
    struct chord_sd_notify n;
    assert_int_equal(chord_sd_notify_open(&n), 0);
    assert_true(chord_sd_notify_send(&n, "READY=1") < 0);
    chord_sd_notify_close(&n);
}

static void test_watchdog(void **state)
{
    (void)state;
    clear_env();
    setenv("NOTIFY_SOCKET", "@chord-sdn-watchdog", 1);
    struct chord_sd_notify n;
    assert_int_equal(chord_sd_notify_open(&n), 0);
    assert_true(n.watchdog_usec == 0); /* not asked */
    chord_sd_notify_close(&n);
    setenv("WATCHDOG_USEC", "400000", 1);
    assert_int_equal(chord_sd_notify_open(&n), 0);
    assert_true(n.watchdog_usec == 400000);
    chord_sd_notify_close(&n);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(chord_sd_notify_open(&n), 0);
    assert_true(n.watchdog_usec == 400000); /* meant for us */
    chord_sd_notify_close(&n);
    setenv("WATCHDOG_PID", "1", 1);
    assert_int_equal(chord_sd_notify_open(&n), 0);
    assert_true(n.watchdog_usec == 0); /* meant for another process */
    chord_sd_notify_close(&n);
    unsetenv("WATCHDOG_PID");
    const char *bad[] = {"0", "abc", "-5", "99999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        assert_int_equal(chord_sd_notify_open(&n), 0);
        assert_true(n.watchdog_usec == 0);
        chord_sd_notify_close(&n);
    }
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unset_is_a_noop),
        cmocka_unit_test(test_bad_names_refused),
        cmocka_unit_test(test_path_and_abstract),
        cmocka_unit_test(test_watchdog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
