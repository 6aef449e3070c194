/* syscall N: the time of one system call, in nanoseconds, for three calls at different places
 * in a seccomp filter (getpid 39, getppid 110, close_range 436 with a range it refuses): the
 * median of 10 slices of N/10 calls each (bench/seccomp.py runs it in a container). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static long long per_call(long nr, long a, long b, int n) {
    long long slices[10];
    for (int s = 0; s < 10; s++) {
        long long start = now_ns();
        for (int i = 0; i < n; i++)
            syscall(nr, a, b, 0);
        slices[s] = (now_ns() - start) * 1000 / n; /* picoseconds, for precision */
    }
    return median10(slices);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) / 10 : 100000;
    printf("getpid %lld\n", per_call(SYS_getpid, 0, 0, n));
    printf("getppid %lld\n", per_call(SYS_getppid, 0, 0, n));
    printf("close_range %lld\n", per_call(SYS_close_range, 10, 5, n));
    return 0;
}
