/* Which code of a program runs, for `make order` (bench/order.py): `steptrace OUT CMD ARGS...`
 * runs CMD under ptrace, single-steps it and the children it clones or forks (until they exec
 * something else), and writes to OUT, one per line in hex, the file offset of every distinct
 * instruction executed in CMD's own binary. Stops when CMD exits; children still running are
 * killed with it (PTRACE_O_EXITKILL). Slow by design: about 70 us a step on these machines.
 * Build: gcc -O2 -o steptrace steptrace.c */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/user.h>
#include <errno.h>
static unsigned char *seen; static unsigned long lo, hi, off0;
static void find_map(pid_t pid, const char *bin) {
    char p[64], line[512]; snprintf(p, sizeof p, "/proc/%d/maps", pid);
    FILE *f = fopen(p, "r"); unsigned long a, b, o; char perms[8];
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, bin)) continue;
        sscanf(line, "%lx-%lx %7s %lx", &a, &b, perms, &o);
        if (strchr(perms, 'x')) { lo = a; hi = b; off0 = o; }
    }
    fclose(f);
}
int main(int argc, char **argv) {
    pid_t pid = fork();
    if (pid == 0) { ptrace(PTRACE_TRACEME, 0, 0, 0); raise(SIGSTOP); execvp(argv[2], argv + 2); _exit(127); }
    int st; waitpid(pid, &st, 0);
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, pid, 0, 0);
    waitpid(pid, &st, 0); // exec event
    char *bin = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
    find_map(pid, bin);
    seen = calloc(hi - lo, 1);
    unsigned long steps = 0;
    ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
    for (;;) {
        pid_t w = waitpid(-1, &st, __WALL);
        if (w < 0) break;
        if (WIFEXITED(st) || WIFSIGNALED(st)) { if (w == pid) break; continue; }
        int sig = WSTOPSIG(st), ev = st >> 16;
        int deliver = 0;
        if (sig == SIGTRAP && ev == 0) {
            struct user_regs_struct r; ptrace(PTRACE_GETREGS, w, 0, &r);
            if (r.rip >= lo && r.rip < hi) seen[r.rip - lo] = 1;
            steps++;
        } else if (sig == SIGTRAP && ev == PTRACE_EVENT_EXEC) {
            ptrace(PTRACE_DETACH, w, 0, 0); continue; // a child exec'd something else
        } else if (sig == SIGTRAP) {
        } else if (sig == SIGSTOP && ev == 0) {
        } else deliver = sig;
        if (ptrace(PTRACE_SINGLESTEP, w, 0, deliver) < 0 && errno != ESRCH) perror("step");
    }
    FILE *o = fopen(argv[1], "w");
    for (unsigned long i = 0; i < hi - lo; i++) if (seen[i]) fprintf(o, "%lx\n", i + off0);
    fclose(o);
    fprintf(stderr, "steps=%lu\n", steps);
    return 0;
}
