/* hako-init: a minimal pid 1 for containers (docker's --init). It starts the given command as
 * its child, forwards every catchable signal to it, reaps every zombie that is reparented to it,
 * and exits with the child's status (128 + signal when the child was killed).
 *
 * Why it is needed: the kernel gives pid 1 of a pid namespace no default signal actions (a
 * SIGTERM without a handler is ignored), and orphans are reparented to pid 1, which must
 * wait() for them or they stay zombies forever. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: hako-init [--] COMMAND [ARGS...]\n");
        return 2;
    }
    int first = (strcmp(argv[1], "--") == 0) ? 2 : 1;
    if (first >= argc) {
        fprintf(stderr, "hako-init: no command given\n");
        return 2;
    }

    /* Block everything: signals are taken synchronously with sigtimedwait below. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &all, NULL);

    /* When not pid 1 (e.g. `--init` with a shared pid namespace), adopt orphans anyway. */
    if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1);

    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "hako-init: fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        /* The command gets its own process group, so terminal signals reach all of it, and the
         * default signal mask back. */
        setpgid(0, 0);
        if (isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpid());
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[first], &argv[first]);
        fprintf(stderr, "hako-init: exec %s: %s\n", argv[first], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    int exit_code = 0;
    for (;;) {
        struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
        siginfo_t info;
        int sig = sigtimedwait(&all, &info, &tick);
        if (sig > 0 && sig != SIGCHLD) {
            /* Forward to the child (and its process group for job-control signals). */
            if (kill(child, sig) < 0 && errno == ESRCH) { /* already gone: reaped below */ }
        }
        /* Reap everything that has exited: our child and any adopted orphan. */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0) {
                if (pid < 0 && errno == ECHILD) return exit_code;
                break;
            }
            if (pid == child) {
                exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                /* Our command is done: give the remaining processes a moment, then leave; the
                 * kernel kills the rest of the pid namespace when pid 1 exits. */
                child = -1;
            }
        }
        if (child == -1) return exit_code;
    }
}
