/* Peak resident memory of a command and everything it waited for: `rss CMD ARGS...` prints
 * wait4's ru_maxrss in KiB on stderr. A small static program, so that the RSS the child had
 * before exec (counted by the kernel) is this program's, not the benchmark driver's.
 * Build: gcc -O2 -static -o rss rss.c */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: rss CMD [ARGS...]\n"); return 2; }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) { execvp(argv[1], argv + 1); perror("exec"); _exit(127); }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) { perror("wait4"); return 1; }
    fprintf(stderr, "maxrss_kib=%ld\n", ru.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
