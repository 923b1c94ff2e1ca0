/*
 * Latency of a fresh TLS connection's first response, for bench/mux.js: COUNT strictly sequential connections
 * to 127.0.0.1:PORT with server name SNI, TLS 1.3, the certificate checked against CA_FILE, no session
 * resumption. Each one: connect, handshake, one "Connection: close" request, read until the whole response
 * (header block and Content-Length body) is in, and stop the clock; then read to the server's close. Written
 * in C with OpenSSL so that the client's own cost (a Node TLS client spends about a millisecond of CPU per
 * connection, on the same two CPUs as the servers it measures) stays out of what it measures.
 *
 *   tls-first-response PORT SNI COUNT WARMUP CA_FILE [PATH]
 *
 * Prints one JSON line, as ./tls-first-response.js does: {"n":…,"errors":…,"p50_us":…,"p99_us":…,
 * "mean_us":…,"bytes":…}. Every socket call has a 30 s timeout; a connection that fails counts as an error
 * and is not sampled.
 */
#include "probe-common.h" /* first: it defines _GNU_SOURCE before any system header */

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <unistd.h>

/* One connection; returns its connect-to-full-response time in µs (and the bytes read in *bytes), or -1. */
static double one(SSL_CTX *ctx, int port, const char *sni, const char *request, size_t *bytes) {
  struct sockaddr_in addr;
  static char buf[256 * 1024];
  char head[8192];
  size_t head_len = 0, received = 0, expected = 0;
  double result = -1;
  SSL *ssl = NULL;

  int fd = loopback_socket(port, 30, &addr);
  if (fd < 0) return -1;
  double start = now_us();
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) goto out;
  ssl = SSL_new(ctx);
  if (ssl == NULL || !SSL_set_tlsext_host_name(ssl, sni) || !SSL_set1_host(ssl, sni) || !SSL_set_fd(ssl, fd))
    goto out;
  if (SSL_connect(ssl) != 1) goto out;
  if (SSL_write(ssl, request, (int)strlen(request)) != (int)strlen(request)) goto out;
  while (expected == 0 || received < expected) {
    int got = SSL_read(ssl, buf, sizeof(buf));
    if (got <= 0) goto out;
    received += (size_t)got;
    if (expected == 0) {
      size_t take = (size_t)got < sizeof(head) - head_len ? (size_t)got : sizeof(head) - head_len;
      memcpy(head + head_len, buf, take);
      head_len += take;
      expected = response_length(head, head_len);
      if (expected == 0 && head_len == sizeof(head)) goto out;
    }
  }
  double stop = now_us();
  if (memcmp(head, "HTTP/1.1 200", 12) != 0) goto out;
  /* Read on to the server's close (its close_notify or FIN), so that each connection ends before the next. */
  while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
  }
  *bytes = received;
  result = stop - start;
out:
  if (ssl != NULL) SSL_free(ssl);
  ERR_clear_error();
  close(fd);
  return result;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: %s PORT SNI COUNT WARMUP CA_FILE [PATH]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]), n = atoi(argv[3]), warmup = atoi(argv[4]);
  const char *sni = argv[2], *ca_file = argv[5], *path = argc == 7 ? argv[6] : "/";
  if (port <= 0 || n <= 0 || warmup < 0) return 2;
  char request[1024];
  snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, sni);

  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
      SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  /* Every connection a full handshake, as the Node client makes them: no session is kept to resume. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  double *samples = malloc(sizeof(double) * (size_t)n);
  if (samples == NULL) return 1;
  int errors = 0, count = 0;
  size_t bytes = 0;
  for (int i = 0; i < warmup + n; i++) {
    size_t got = 0;
    double us = one(ctx, port, sni, request, &got);
    if (us < 0) errors++;
    else if (i >= warmup) {
      samples[count++] = us;
      bytes += got;
    }
  }
  if (count == 0) {
    printf("{\"n\":0,\"errors\":%d}\n", errors);
    return 1;
  }
  double mean = sort_samples(samples, count);
  printf("{\"n\":%d,\"errors\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,\"bytes\":%zu}\n", count, errors,
         percentile(samples, count, 0.50), percentile(samples, count, 0.99), mean, bytes);
  free(samples);
  SSL_CTX_free(ctx);
  return 0;
}
