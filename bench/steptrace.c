/* Which code of a program runs, for `make order` (bench/order.py): `steptrace OUT CMD ARGS...`
 * runs CMD under ptrace, single-steps it and the children it clones or forks (until they exec
 * something else), and writes to OUT, one per line in hex, the file offset of every distinct
 * instruction executed in CMD's own binary. Stops when CMD exits; children still running are
 * killed with it (PTRACE_O_EXITKILL). Slow by design: about 70 us a step on these machines.
 *
 * `steptrace --pages OUT CMD ARGS...` does not step: it stops each process as it exits and
 * writes the pages of CMD's binary it had mapped (/proc/PID/pagemap), as the offsets of their
 * 16-byte granules. Fast, and exact to the page only where fault-around is off
 * (/sys/kernel/debug/fault_around_bytes at 4096): bench/order.py uses it in the qemu guest,
 * where single-stepping under emulation would take an hour.
 * Build: gcc -O2 -static -o steptrace steptrace.c */
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
#include <fcntl.h>
#include <stdint.h>
static unsigned char *seen; static unsigned long lo, hi, off0;
static int pages_only;

/* The pages of [lo, hi) that `pid` has mapped, each marked as seen at every granule. */
static void mark_mapped_pages(pid_t pid) {
    char p[64]; snprintf(p, sizeof p, "/proc/%d/pagemap", pid);
    int fd = open(p, O_RDONLY);
    if (fd < 0) return;
    for (unsigned long a = lo; a < hi; a += 4096) {
        uint64_t e;
        if (pread(fd, &e, sizeof e, (off_t)(a / 4096 * 8)) != sizeof e) break;
        if (e >> 63)
            for (unsigned long g = 0; g < 4096; g += 16) seen[a - lo + g] = 1;
    }
    close(fd);
}
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
    if (argc > 1 && strcmp(argv[1], "--pages") == 0) { pages_only = 1; argv++; argc--; }
    pid_t pid = fork();
    if (pid == 0) { ptrace(PTRACE_TRACEME, 0, 0, 0); raise(SIGSTOP); execvp(argv[2], argv + 2); _exit(127); }
    int st; waitpid(pid, &st, 0);
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_EXITKILL | (pages_only ? PTRACE_O_TRACEEXIT : 0));
    ptrace(PTRACE_CONT, pid, 0, 0);
    waitpid(pid, &st, 0); // exec event
    char *bin = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
    find_map(pid, bin);
    seen = calloc(hi - lo, 1);
    unsigned long steps = 0;
    int resume = pages_only ? PTRACE_CONT : PTRACE_SINGLESTEP;
    ptrace(resume, pid, 0, 0);
    for (;;) {
        pid_t w = waitpid(-1, &st, __WALL);
        if (w < 0) break;
        if (WIFEXITED(st) || WIFSIGNALED(st)) { if (w == pid) break; continue; }
        int sig = WSTOPSIG(st), ev = st >> 16;
        int deliver = 0;
        if (sig == SIGTRAP && ev == PTRACE_EVENT_EXIT) {
            mark_mapped_pages(w);
        } else if (sig == SIGTRAP && ev == 0 && !pages_only) {
            struct user_regs_struct r; ptrace(PTRACE_GETREGS, w, 0, &r);
            if (r.rip >= lo && r.rip < hi) seen[r.rip - lo] = 1;
            steps++;
        } else if (sig == SIGTRAP && ev == PTRACE_EVENT_EXEC) {
            ptrace(PTRACE_DETACH, w, 0, 0); continue; // a child exec'd something else
        } else if (sig == SIGTRAP) {
        } else if (sig == SIGSTOP && ev == 0) {
        } else deliver = sig;
        if (ptrace(resume, w, 0, deliver) < 0 && errno != ESRCH) perror("step");
    }
    FILE *o = fopen(argv[1], "w");
    for (unsigned long i = 0; i < hi - lo; i++) if (seen[i]) fprintf(o, "%lx\n", i + off0);
    fclose(o);
    fprintf(stderr, "steps=%lu\n", steps);
    return 0;
}
