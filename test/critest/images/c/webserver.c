/*
 * A stand-in for the nginx and httpd test images: writes its pid to a pid file,
 * renames its command line (what /proc/<pid>/cmdline shows), optionally prints a
 * banner line, and serves /var/www on the given port with `busybox httpd` as a
 * child. Exits with the child, or kills it and exits 0 on SIGTERM/SIGINT/SIGQUIT
 * (as PID 1 a process only gets the signals it handles).
 *
 * usage: webserver [--port N] [--pidfile PATH] [--title TEXT] [--banner TEXT] [--root DIR]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t stop_signal = 0;
static pid_t server = -1;

static void on_stop(int sig) { stop_signal = sig; }

/*
 * Overwrite the argv strings (and, when longer, the environment strings that follow
 * them, after moving the environment to the heap) with `title`. The kernel reads a
 * rewritten command line on into that area, as nginx's setproctitle relies on.
 */
static void set_title(int argc, char **argv, const char *title) {
  char *start = argv[0];
  char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
  int envc = 0;
  while (environ[envc] && environ[envc] == end) {
    end += strlen(environ[envc]) + 1;
    envc++;
  }
  if (envc > 0) {
    int total = 0;
    while (environ[total]) total++;
    char **copy = calloc((size_t)total + 1, sizeof(char *));
    if (!copy) return;
    for (int i = 0; i < total; i++) copy[i] = strdup(environ[i]);
    environ = copy;
  }
  size_t room = (size_t)(end - start);
  size_t len = strlen(title);
  if (len >= room) len = room - 1;
  memset(start, 0, room);
  memcpy(start, title, len);
}

static int write_pidfile(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "webserver: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f, "%d\n", (int)getpid());
  return fclose(f);
}

int main(int argc, char **argv) {
  const char *port = "80";
  const char *pidfile = "/var/run/nginx.pid";
  const char *title = NULL;
  const char *banner = NULL;
  const char *root = "/var/www";
  for (int i = 1; i < argc; i++) {
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!next) {
      fprintf(stderr, "webserver: %s needs a value\n", argv[i]);
      return 2;
    }
    if (strcmp(argv[i], "--port") == 0) port = next;
    else if (strcmp(argv[i], "--pidfile") == 0) pidfile = next;
    else if (strcmp(argv[i], "--title") == 0) title = next;
    else if (strcmp(argv[i], "--banner") == 0) banner = next;
    else if (strcmp(argv[i], "--root") == 0) root = next;
    else {
      fprintf(stderr, "webserver: unknown option %s\n", argv[i]);
      return 2;
    }
    i++;
  }
  /* Keep copies: set_title overwrites the argv strings they point into. */
  char *port_s = strdup(port), *root_s = strdup(root), *title_s = title ? strdup(title) : NULL;

  if (write_pidfile(pidfile) != 0) return 1;
  if (banner) {
    printf("%s\n", banner);
    fflush(stdout);
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGQUIT, &sa, NULL);

  server = fork();
  if (server < 0) {
    perror("webserver: fork");
    return 1;
  }
  if (server == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    execl("/bin/busybox", "httpd", "-f", "-p", port_s, "-h", root_s, (char *)NULL);
    perror("webserver: exec /bin/busybox httpd");
    _exit(127);
  }
  if (title_s) set_title(argc, argv, title_s);

  int killed = 0;
  for (;;) {
    if (stop_signal && !killed) {
      kill(server, SIGTERM);
      killed = 1;
    }
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid == server) {
      if (stop_signal) return 0;
      fprintf(stderr, "webserver: busybox httpd exited (status %d)\n", status);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    if (pid < 0 && errno == ECHILD) return stop_signal ? 0 : 1;
  }
}
