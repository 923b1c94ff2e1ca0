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
#include "probe-common.h" /* first: it defines _GNU_SOURCE before any system header */

#include <stdio.h>
#include <unistd.h>

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/* One connection; returns its connect-to-full-response time in µs, or -1. */
static double one(int port) {
  struct sockaddr_in addr;
  char buf[4096];
  size_t len = 0, expected = 0;
  double result = -1;

  int fd = loopback_socket(port, 2, &addr);
  if (fd < 0) return -1;
  double start = now_us();
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) goto out;
  if (send(fd, REQUEST, sizeof(REQUEST) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(REQUEST) - 1)) goto out;
  while (expected == 0 || len < expected) {
    if (len == sizeof(buf)) goto out;
    ssize_t got = recv(fd, buf + len, sizeof(buf) - len, 0);
    if (got <= 0) goto out;
    len += (size_t)got;
    expected = response_length(buf, len);
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
  double mean = sort_samples(samples, count);
  printf("n=%d errors=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f\n", count, errors,
         percentile(samples, count, 0.50), percentile(samples, count, 0.90), percentile(samples, count, 0.99),
         samples[count - 1], mean);
  free(samples);
  return 0;
}
