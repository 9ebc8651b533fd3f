// ratchet-timer FD PROGRAM [ARG...]
//
// Runs PROGRAM inside the sandbox and times it there, so the sandbox's own start-up and
// teardown (namespaces, mounts: ~10-15 ms with bubblewrap) fall outside the timed span.
// When PROGRAM ends, one line goes to file descriptor FD:
//     <wall ns> <user us> <system us> <peak resident KiB>
// (the rusage of PROGRAM and the descendants it waited for), and the timer exits as PROGRAM
// did. FD is closed in PROGRAM, so nothing PROGRAM runs can write the line.
//
// `ratchet-timer FD /bin/sh -c 'COMMAND'` with a COMMAND that is only words (no quotes,
// variables, redirections, globs, separators or assignments: `./primes 1500000`) runs the
// words directly, as the shell would have exec'd them, so the shell's own start-up (about a
// millisecond) is not timed either. Both arms of a pair go the same way.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/// Splits a command made only of plain words into argv; 0 when the shell is needed.
static int plain_words(const char *command, char *buffer, size_t size, char **words, int max) {
    static const char *special = "\\'\"$`;&|<>()*?[]{}~#=!%\n\t";
    size_t length = strlen(command);
    if (length == 0 || length >= size) return 0;
    for (const char *c = command; *c; c++) {
        if (strchr(special, *c)) return 0;
    }
    memcpy(buffer, command, length + 1);
    int count = 0;
    for (char *token = strtok(buffer, " "); token; token = strtok(NULL, " ")) {
        if (count == max - 1) return 0;
        words[count++] = token;
    }
    words[count] = NULL;
    return count;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ratchet-timer FD PROGRAM [ARG...]\n");
        return 127;
    }
    char *end = NULL;
    long fd = strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != 0 || fd < 3 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0) {
        fprintf(stderr, "ratchet-timer: '%s' is not an open file descriptor above 2\n", argv[1]);
        return 127;
    }
    struct timespec start, stop;
    pid_t pid;
    clock_gettime(CLOCK_MONOTONIC, &start);
    char buffer[4096];
    char *words[128];
    int direct = argc == 5 && strcmp(argv[2], "/bin/sh") == 0 && strcmp(argv[3], "-c") == 0
        && plain_words(argv[4], buffer, sizeof buffer, words, 128) > 0;
    int rc = direct ? posix_spawnp(&pid, words[0], NULL, NULL, words, environ) : posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ);
    if (rc != 0 && direct) {
        // Not found as a program (a shell function or builtin, say): let the shell run it.
        clock_gettime(CLOCK_MONOTONIC, &start);
        rc = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ);
    }
    if (rc != 0) {
        fprintf(stderr, "ratchet-timer: cannot run %s: %s\n", argv[2], strerror(rc));
        return 127;
    }
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "ratchet-timer: wait: %s\n", strerror(errno));
            return 127;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &stop);
    long long ns = (long long)(stop.tv_sec - start.tv_sec) * 1000000000LL + (stop.tv_nsec - start.tv_nsec);
    long long user = (long long)usage.ru_utime.tv_sec * 1000000LL + usage.ru_utime.tv_usec;
    long long sys = (long long)usage.ru_stime.tv_sec * 1000000LL + usage.ru_stime.tv_usec;
    dprintf((int)fd, "%lld %lld %lld %ld\n", ns, user, sys, usage.ru_maxrss);
    close((int)fd);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        kill(getpid(), sig);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}
