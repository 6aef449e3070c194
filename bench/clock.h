/* The clock and the median the bench's small C programs share (procread.c, syscall.c). */
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The median of 10 slices (sorted in place). */
static long long median10(long long slices[10]) {
    qsort(slices, 10, sizeof slices[0], cmp_ll);
    return (slices[4] + slices[5]) / 2;
}
