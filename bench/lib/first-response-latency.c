/*
 * Fresh-connection latency probe for bench/dispatch.js: N strictly sequential short connections to
 * 127.0.0.1:PORT. Each one: connect, send one "Connection: close" request, read until the whole response
 * (headers and Content-Length body) is in, and stop the clock; then wait for the server's FIN and close, so
 * that TIME_WAIT stays on the server's side as with any HTTP/1.1 close. Written in C so that the client adds
 * a few microseconds, not the tens a Node client would, to what it measures.
 *
 *   first-response-latency PORT N WARMUP
 *
 * Prints one line: n=… errors=… p50_us=… p90_us=… p99_us=… max_us=… mean_us=…
 * Every socket call has a 2 s timeout; a connection that fails counts as an error and is not sampled.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The response is complete once the header block has ended and Content-Length body bytes followed it. */
static int response_complete(const char *buf, size_t len) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (end == NULL) return 0;
  size_t header_len = (size_t)(end - buf) + 4;
  long body = 0;
  const char *cl = memmem(buf, header_len, "Content-Length:", 15);
  if (cl == NULL) cl = memmem(buf, header_len, "content-length:", 15);
  if (cl != NULL) body = strtol(cl + 15, NULL, 10);
  return len >= header_len + (size_t)body;
}

/* One connection; returns its connect-to-full-response time in µs, or -1. */
static double one(int port) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval timeout = {2, 0};
  char buf[4096];
  size_t len = 0;
  double result = -1;

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int one_flag = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one_flag, sizeof(one_flag));
  double start = now_us();
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) goto out;
  if (send(fd, REQUEST, sizeof(REQUEST) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(REQUEST) - 1)) goto out;
  while (!response_complete(buf, len)) {
    if (len == sizeof(buf)) goto out;
    ssize_t got = recv(fd, buf + len, sizeof(buf) - len, 0);
    if (got <= 0) goto out;
    len += (size_t)got;
  }
  double stop = now_us();
  if (memcmp(buf, "HTTP/1.1 200", 12) != 0) goto out;
  /* Wait for the server's FIN (Connection: close) before closing our side. */
  for (;;) {
    ssize_t got = recv(fd, buf, sizeof(buf), 0);
    if (got == 0) break;
    if (got < 0) goto out;
  }
  result = stop - start;
out:
  close(fd);
  return result;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double p) {
  int index = (int)(p * (n - 1) + 0.5);
  return sorted[index];
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s PORT N WARMUP\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]), n = atoi(argv[2]), warmup = atoi(argv[3]);
  if (port <= 0 || n <= 0 || warmup < 0) return 2;
  double *samples = malloc(sizeof(double) * (size_t)n);
  if (samples == NULL) return 1;
  int errors = 0, count = 0;
  for (int i = 0; i < warmup; i++) one(port);
  for (int i = 0; i < n; i++) {
    double us = one(port);
    if (us < 0) errors++;
    else samples[count++] = us;
  }
  if (count == 0) {
    printf("n=0 errors=%d\n", errors);
    return 1;
  }
  qsort(samples, (size_t)count, sizeof(double), compare);
  double sum = 0;
  for (int i = 0; i < count; i++) sum += samples[i];
  printf("n=%d errors=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f\n", count, errors,
         percentile(samples, count, 0.50), percentile(samples, count, 0.90), percentile(samples, count, 0.99),
         samples[count - 1], sum / count);
  free(samples);
  return 0;
}
