/*
 * discard_server: a Simvue-shaped HTTP server that answers every request at once and throws
 * away what it receives, so that a benchmark of online mode measures the client, not the
 * server (the project's test server parses and stores everything, in Python).
 *
 * It answers what a run needs (simvue 2.6.2 and libsimvue alike): GET /api/version, POST
 * folders and runs (fixed ids), GET and PUT of a run, heartbeats, abort polls ({"status":
 * false}), and POST /api/metrics and /api/events, whose bodies are read and dropped after
 * the number of metric sets is taken from the msgpack header. GET /_stats answers
 * {"requests", "metric_posts", "metric_sets", "metric_bytes", "event_posts"}; POST /_reset
 * zeroes them. Anything else gets 200 {}.
 *
 * Usage: discard_server [port]   (0 or none: any free port on 127.0.0.1; the port is printed
 * as "port N" on stdout). One thread per connection; HTTP/1.1 keep-alive; bodies with
 * Content-Length only (what both clients send). Not a test: the benchmark's tool.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_ullong n_requests, n_metric_posts, n_metric_sets, n_metric_bytes, n_event_posts;

#define RUN_JSON                                                                                   \
    "{\"id\":\"discardrun0000000000001\",\"name\":\"bench-run\",\"status\":\"running\","          \
    "\"folder\":\"/bench\",\"tags\":[],\"metadata\":{},\"alerts\":[],\"description\":null,"       \
    "\"system\":{},\"created\":\"2026-01-01T00:00:00.000000\","                                  \
    "\"started\":\"2026-01-01T00:00:00.000000\",\"endtime\":null,\"ttl\":null,"                   \
    "\"heartbeat_timeout\":null,\"visibility\":{\"tenant\":false,\"public\":false,\"users\":[]}," \
    "\"notifications\":{\"state\":\"none\"},\"user\":\"bench\"}"

struct conn {
    int fd;
    char *buf; /* request head and the start of a body */
    size_t cap, len;
};

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int reply(int fd, int status, const char *body) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: keep-alive\r\n\r\n",
                     status, status == 200 ? "OK" : "Not Found", strlen(body));
    if (send_all(fd, head, (size_t)n) != 0) {
        return -1;
    }
    return send_all(fd, body, strlen(body));
}

/* The number of metric sets in a msgpack body {"run": ..., "metrics": [...]} (either key
 * order), from its first bytes; 0 when it cannot tell. */
static uint64_t count_sets(const unsigned char *p, size_t n) {
    size_t i = 0;
    if (n < 1 || (p[0] & 0xf0) != 0x80) {
        return 0;
    }
    int keys = p[i++] & 0x0f;
    for (int k = 0; k < keys && i < n; k++) {
        size_t klen;
        if ((p[i] & 0xe0) != 0xa0) {
            return 0;
        }
        klen = p[i++] & 0x1f;
        int is_metrics = klen == 7 && i + 7 <= n && memcmp(p + i, "metrics", 7) == 0;
        i += klen;
        if (i >= n) {
            return 0;
        }
        if (is_metrics) {
            if ((p[i] & 0xf0) == 0x90) {
                return p[i] & 0x0f;
            }
            if (p[i] == 0xdc && i + 3 <= n) {
                return ((uint64_t)p[i + 1] << 8) | p[i + 2];
            }
            if (p[i] == 0xdd && i + 5 <= n) {
                return ((uint64_t)p[i + 1] << 24) | ((uint64_t)p[i + 2] << 16) |
                       ((uint64_t)p[i + 3] << 8) | p[i + 4];
            }
            return 0;
        }
        /* skip a string value (the run id) */
        if ((p[i] & 0xe0) == 0xa0) {
            i += 1 + (p[i] & 0x1f);
        } else if (p[i] == 0xd9 && i + 2 <= n) {
            i += 2 + p[i + 1];
        } else if (p[i] == 0xda && i + 3 <= n) {
            i += 3 + (((size_t)p[i + 1] << 8) | p[i + 2]);
        } else {
            return 0;
        }
    }
    return 0;
}

static void *serve(void *arg) {
    struct conn *c = arg;
    static _Thread_local char sink[1 << 20];
    for (;;) {
        /* read the head */
        char *end = NULL;
        while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
            if (c->len == c->cap) {
                goto done; /* a head this long is not ours */
            }
            ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
            if (r <= 0) {
                goto done;
            }
            c->len += (size_t)r;
        }
        size_t head_len = (size_t)(end - c->buf) + 4;
        char method[16] = {0}, path[512] = {0};
        if (sscanf(c->buf, "%15s %511s", method, path) != 2) {
            goto done;
        }
        size_t body_len = 0;
        for (char *h = c->buf; h < end; h = strstr(h, "\r\n") + 2) {
            if (strncasecmp(h, "Content-Length:", 15) == 0) {
                body_len = strtoull(h + 15, NULL, 10);
            }
            if (!strstr(h, "\r\n")) {
                break;
            }
        }
        atomic_fetch_add(&n_requests, 1);
        int metrics = strcmp(method, "POST") == 0 && strncmp(path, "/api/metrics", 12) == 0;
        if (metrics) {
            /* the msgpack header is within the body's first bytes: have them buffered */
            size_t want = head_len + (body_len < 64 ? body_len : 64);
            while (c->len < want && want <= c->cap) {
                ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (r <= 0) {
                    goto done;
                }
                c->len += (size_t)r;
            }
            size_t first = c->len - head_len < body_len ? c->len - head_len : body_len;
            atomic_fetch_add(&n_metric_sets,
                             count_sets((const unsigned char *)c->buf + head_len, first));
            atomic_fetch_add(&n_metric_posts, 1);
            atomic_fetch_add(&n_metric_bytes, body_len);
        }
        /* the body: what is buffered, then the rest read straight into the sink */
        size_t have = c->len - head_len;
        size_t in_buf = have < body_len ? have : body_len;
        size_t left = body_len - in_buf;
        while (left > 0) {
            ssize_t r = recv(c->fd, sink, left < sizeof sink ? left : sizeof sink, 0);
            if (r <= 0) {
                goto done;
            }
            left -= (size_t)r;
        }
        /* keep what follows the body (a pipelined request) */
        size_t used = head_len + in_buf;
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;

        const char *answer = "{}";
        char stats[512];
        if (strcmp(path, "/api/version") == 0) {
            answer = "{\"version\":\"1.2.0\"}";
        } else if (strcmp(method, "POST") == 0 && strncmp(path, "/api/folders", 12) == 0) {
            answer = "{\"id\":\"discardfolder00000000001\"}";
        } else if (strcmp(method, "POST") == 0 && strncmp(path, "/api/runs", 9) == 0) {
            answer = "{\"id\":\"discardrun0000000000001\",\"name\":\"bench-run\"}";
        } else if (strncmp(path, "/api/runs/", 10) == 0 && strstr(path, "/abort")) {
            answer = "{\"status\":false}";
        } else if (strncmp(path, "/api/runs/", 10) == 0 && !strstr(path + 10, "/")) {
            answer = RUN_JSON;
        } else if (strcmp(method, "POST") == 0 && strncmp(path, "/api/events", 11) == 0) {
            atomic_fetch_add(&n_event_posts, 1);
        } else if (strcmp(path, "/_stats") == 0) {
            snprintf(stats, sizeof stats,
                     "{\"requests\":%llu,\"metric_posts\":%llu,\"metric_sets\":%llu,"
                     "\"metric_bytes\":%llu,\"event_posts\":%llu}",
                     (unsigned long long)n_requests, (unsigned long long)n_metric_posts,
                     (unsigned long long)n_metric_sets, (unsigned long long)n_metric_bytes,
                     (unsigned long long)n_event_posts);
            answer = stats;
        } else if (strcmp(path, "/_reset") == 0) {
            n_requests = n_metric_posts = n_metric_sets = n_metric_bytes = n_event_posts = 0;
        }
        if (reply(c->fd, 200, answer) != 0) {
            goto done;
        }
    }
done:
    close(c->fd);
    free(c->buf);
    free(c);
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    socklen_t alen = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
        perror("discard_server");
        return 1;
    }
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        c->fd = fd;
        c->cap = 64 * 1024;
        c->buf = malloc(c->cap);
        pthread_t t;
        if (!c->buf || pthread_create(&t, NULL, serve, c) != 0) {
            close(fd);
            free(c->buf);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}
