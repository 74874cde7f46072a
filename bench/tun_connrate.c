/*
 * The kernel side of the TUN connection-rate benchmark (bench/tun_bench.sh):
 * THREADS threads, each opening a connection to HOST:PORT, sending one
 * HTTP/1.1 request with "Connection: close", reading the response to the
 * server's FIN and closing, over and over for SECONDS.  The server closes
 * first, so TIME_WAIT stays on its side and the client's ports come free
 * at once.  Prints "RESULT KEY CONNS_PER_S", "COUNT CONNECTIONS" and the
 * failures.
 *
 *   tun_connrate HOST PORT SECONDS THREADS KEY
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static double seconds;
static atomic_ullong done, failed;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one_connection(void)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int ok = -1;
    if (connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0 &&
        write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
        char buf[4096];
        size_t got = 0;
        ssize_t n;
        char first[12] = {0};
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            if (got < sizeof(first) - 1)
                memcpy(first + got, buf, (size_t)n < sizeof(first) - 1 - got ? (size_t)n : sizeof(first) - 1 - got);
            got += (size_t)n;
        }
        if (n == 0 && strncmp(first, "HTTP/1.1 200", 12 - 1) == 0)
            ok = 0;
    }
    close(fd);
    return ok;
}

static void *worker(void *arg)
{
    (void)arg;
    double end = now_s() + seconds;
    while (now_s() < end) {
        if (one_connection() == 0)
            atomic_fetch_add(&done, 1);
        else
            atomic_fetch_add(&failed, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: tun_connrate HOST PORT SECONDS THREADS KEY\n");
        return 2;
    }
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) {
        fprintf(stderr, "tun_connrate: bad address %s\n", argv[1]);
        return 2;
    }
    seconds = atof(argv[3]);
    int threads = atoi(argv[4]);
    if (seconds <= 0 || threads < 1 || threads > 256) {
        fprintf(stderr, "tun_connrate: bad SECONDS or THREADS\n");
        return 2;
    }
    pthread_t t[256];
    double start = now_s();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
            fprintf(stderr, "tun_connrate: pthread_create failed\n");
            return 1;
        }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double el = now_s() - start;
    printf("RESULT %s %.0f\n", argv[5], (double)atomic_load(&done) / el);
    printf("COUNT %llu\n", (unsigned long long)atomic_load(&done));
    if (atomic_load(&failed))
        printf("NOTE %s: %llu connections failed\n", argv[5], (unsigned long long)atomic_load(&failed));
    return 0;
}
