/* procread FILE N: open, read to the end and close FILE N times; print the median time of
 * one read in nanoseconds over 10 slices of N/10 (bench/procfs.py runs it in a container). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: procread FILE N\n");
        return 2;
    }
    int n = atoi(argv[2]) / 10;
    char buf[65536];
    long long slices[10];
    for (int s = 0; s < 10; s++) {
        long long start = now_ns();
        for (int i = 0; i < n; i++) {
            int fd = open(argv[1], O_RDONLY);
            if (fd < 0) {
                perror(argv[1]);
                return 1;
            }
            while (read(fd, buf, sizeof buf) > 0) {
            }
            close(fd);
        }
        slices[s] = (now_ns() - start) / n;
    }
    printf("%lld\n", median10(slices));
    return 0;
}
