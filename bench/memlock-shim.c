/* LD_PRELOAD for crun 1.8 in `make bench`: crun raises RLIMIT_MEMLOCK to infinity before it
 * loads its eBPF device program and gives up when that fails, which it does on machines
 * without CAP_SYS_RESOURCE. Since Linux 5.11 BPF memory is charged to the memory cgroup, not
 * to RLIMIT_MEMLOCK, so reporting success for that one refusal changes nothing else.
 * Build: gcc -shared -fPIC -o memlock-shim.so memlock-shim.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/resource.h>

typedef int (*setrlimit_fn)(__rlimit_resource_t, const struct rlimit *);

int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit) {
    static setrlimit_fn next;
    if (!next)
        next = (setrlimit_fn)dlsym(RTLD_NEXT, "setrlimit");
    int rc = next(resource, limit);
    if (rc != 0 && errno == EPERM && resource == RLIMIT_MEMLOCK)
        return 0;
    return rc;
}

int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit) {
    return setrlimit(resource, (const struct rlimit *)limit);
}
