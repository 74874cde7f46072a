/*
 * The SYN-flood scenario (tools/flood.c): with SYN cookies every
 * legitimate client gets in during a flood of spoofed SYNs, with the
 * listener's memory bounded by its backlog; without them the SYN queue
 * stays full of spoofed requests and the clients are locked out.
 *
 * 200,000 spoofed SYNs per virtual second for 1 s, 1000 clients spread
 * over that second, 1 ms one-way delay.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "flood.h"

static sk_flood_params test_params(int syncookies)
{
    sk_flood_params p;
    sk_flood_defaults(&p);
    p.syncookies = syncookies;
    p.rate = 200000;
    p.duration = SEC(1);
    p.grace = SEC(1);
    p.clients = 1000;
    p.backlog = 128;
    return p;
}

static void assert_all_clients_served(const sk_flood_result *r)
{
    assert_int_equal(r->clients, 1000);
    assert_int_equal(r->completed, 1000);
    assert_int_equal(r->established, 1000);
    assert_int_equal(r->stuck_syn_sent, 0);
    assert_int_equal(r->failed, 0);
    assert_int_equal(r->client_syn_retrans, 0);
    /* One round trip of 2 ms for everyone: no retry, no queueing. */
    assert_int_equal(r->establish_p50, MSEC(2));
    assert_int_equal(r->establish_max, MSEC(2));
    assert_int_equal(r->passive_opens, 1000);
    assert_int_equal(r->syncookies_recv, 1000);
    assert_int_equal(r->syncookies_failed, 0);
    assert_int_equal(r->listen_overflows, 0);
    assert_int_equal(r->listen_drops, 0);
    assert_int_equal(r->req_q_full_drop, 0);
    assert_int_equal(r->flood_syns, 200000);
    assert_true(r->request_size <= 64);
}

/* tcp_syncookies = 1: the flood fills the SYN queue in its first 640 µs
 * (128 SYNs at 5 µs); every later SYN, spoofed or not, gets a cookie. */
static void test_flood_with_cookies_when_full_serves_everyone(void **state)
{
    (void)state;
    sk_flood_params p = test_params(1);
    sk_flood_result r;
    char err[160] = "";
    assert_int_equal(sk_flood_run(&p, &r, err, sizeof err), 0);
    assert_all_clients_served(&r);
    assert_int_equal(r.syn_queue_peak, 128);
    assert_true(r.syn_queue_peak <= p.backlog);
    assert_int_equal(r.syncookies_sent, 200000 - 128 + 1000);
    assert_int_equal(r.req_q_full_do_cookies, r.syncookies_sent);
    assert_int_equal(r.listener_peak_bytes,
                     128 * r.request_size + (size_t)r.accept_queue_peak * r.connection_size);
    assert_int_equal(r.messages, 1);
    assert_string_equal(r.first_message,
                        "Possible SYN flooding on port 10.0.0.2:80. Sending cookies.");
}

/* tcp_syncookies = 2: no request record at all. */
static void test_flood_with_cookies_always_keeps_no_requests(void **state)
{
    (void)state;
    sk_flood_params p = test_params(2);
    sk_flood_result r;
    char err[160] = "";
    assert_int_equal(sk_flood_run(&p, &r, err, sizeof err), 0);
    assert_all_clients_served(&r);
    assert_int_equal(r.syn_queue_peak, 0);
    assert_int_equal(r.syncookies_sent, 200000 + 1000);
    assert_int_equal(r.req_q_full_do_cookies, 200000 + 1000);
    assert_int_equal(r.messages, 0);
}

/* tcp_syncookies = 0: the 128 spoofed requests live 63 s (five SYN-ACK
 * retransmissions), so within the flood and the second after it no
 * legitimate SYN gets an answer: every client is still in SYN_SENT, each
 * having retried once (at 1 s). */
static void test_flood_without_cookies_locks_clients_out(void **state)
{
    (void)state;
    sk_flood_params p = test_params(0);
    sk_flood_result r;
    char err[160] = "";
    assert_int_equal(sk_flood_run(&p, &r, err, sizeof err), 0);
    assert_true(r.completed < 1000);
    assert_int_equal(r.completed, 0);
    assert_int_equal(r.established, 0);
    assert_int_equal(r.stuck_syn_sent, 1000);
    assert_int_equal(r.client_syn_retrans, 1000);
    assert_int_equal(r.syn_queue_peak, 128);
    assert_int_equal(r.passive_opens, 0);
    assert_int_equal(r.syncookies_sent, 0);
    assert_int_equal(r.req_q_full_do_cookies, 0);
    /* Every spoofed SYN after the first 128 and every client SYN that
     * arrived: the last client's retry, sent at 1.9995 s, is still on the
     * wire when the window closes at 2 s. */
    assert_int_equal(r.req_q_full_drop, 200000 - 128 + 1000 + 999);
    assert_int_equal(r.listen_drops, r.req_q_full_drop);
    assert_int_equal(r.messages, 1);
    assert_string_equal(r.first_message,
                        "Possible SYN flooding on port 10.0.0.2:80. Dropping request.");
}

static void test_flood_rejects_bad_parameters(void **state)
{
    (void)state;
    sk_flood_params p = test_params(3);
    sk_flood_result r;
    char err[160] = "";
    assert_int_equal(sk_flood_run(&p, &r, err, sizeof err), -EINVAL);
    assert_string_equal(err, "syncookies must be 0, 1 or 2, not 3");
    p = test_params(1);
    p.duration = 0;
    assert_int_equal(sk_flood_run(&p, &r, err, sizeof err), -EINVAL);
    assert_string_equal(err, "duration must be above 0 and at most 3600 s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_with_cookies_when_full_serves_everyone),
        cmocka_unit_test(test_flood_with_cookies_always_keeps_no_requests),
        cmocka_unit_test(test_flood_without_cookies_locks_clients_out),
        cmocka_unit_test(test_flood_rejects_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
