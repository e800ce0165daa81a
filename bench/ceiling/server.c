/* The intake ceiling's HTTP half: an epoll loop on one thread that reads each HTTP/1.1 request whole (the head,
 * then Content-Length bytes of body) and answers 202 with a JSON body, keeping the connection open. It verifies,
 * parses and stores nothing: what wrk and the kernel's loopback TCP cost on their own.
 * Usage: server PORT (binds 127.0.0.1:PORT; runs until killed). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUFFER = 1 << 16 };

struct connection {
    int fd;
    size_t length;
    char buffer[BUFFER];
};

static const char reply[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n"
                            "{\"status\":\"accepted\",\"delivery\":\"xxxxxxxxx\"}";

/* Answers every whole request in the buffer; false if the connection must close. */
static int answer(struct connection *c) {
    for (;;) {
        char *end = memmem(c->buffer, c->length, "\r\n\r\n", 4);
        if (!end) return c->length < BUFFER;
        size_t head = (size_t)(end + 4 - c->buffer), body = 0;
        *end = 0;
        char *field = strcasestr(c->buffer, "\r\ncontent-length:");
        *end = '\r';
        if (field) body = strtoul(field + 17, NULL, 10);
        if (head + body > BUFFER) return 0;
        if (c->length < head + body) return 1;
        if (write(c->fd, reply, sizeof reply - 1) != (ssize_t)(sizeof reply - 1)) return 0;
        memmove(c->buffer, c->buffer + head + body, c->length - head - body);
        c->length -= head + body;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: server PORT\n"); return 2; }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1024)) {
        perror("bind");
        return 1;
    }
    int poll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(poll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[256];
    for (;;) {
        int count = epoll_wait(poll, events, 256, -1);
        for (int i = 0; i < count; i++) {
            struct connection *c = events[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event added = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(poll, EPOLL_CTL_ADD, fd, &added);
                }
                continue;
            }
            for (;;) {
                ssize_t got = read(c->fd, c->buffer + c->length, BUFFER - c->length);
                if (got < 0 && errno == EAGAIN) break;
                if (got <= 0) { close(c->fd); free(c); break; }
                c->length += (size_t)got;
                if (!answer(c)) { close(c->fd); free(c); break; }
            }
        }
    }
}
