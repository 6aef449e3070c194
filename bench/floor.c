/* The floor of a container start, for `make bench`: what any runtime must at least do.
 * unshare(mount, pid, ipc, uts, net), fork (the pid namespace applies to children), make the
 * mounts private, bind the rootfs onto itself, mount proc, a tmpfs /dev, devpts, /dev/shm,
 * mqueue and sysfs as runc's default spec does, pivot_root, detach the old root and exec
 * /bin/true. Build: gcc -O2 -static -o floor floor.c. Run: floor ROOTFS */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void must(int ok, const char *what) {
    if (!ok) { perror(what); _exit(1); }
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
    must(mount(src, dst, type, flags, data) == 0, dst);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: floor ROOTFS\n"); return 2; }
    const char *root = argv[1];
    must(unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) == 0, "unshare");
    pid_t pid = fork();
    must(pid >= 0, "fork");
    if (pid == 0) {
        mnt(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
        mnt(root, root, NULL, MS_BIND | MS_REC, NULL);
        must(chdir(root) == 0, "chdir");
        mnt("proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
        mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
        mkdir("dev/pts", 0755);
        mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
        mkdir("dev/shm", 0755);
        mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
        mkdir("dev/mqueue", 0755);
        mnt("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
        mnt("sysfs", "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
        must(syscall(SYS_pivot_root, ".", ".") == 0, "pivot_root");
        must(umount2(".", MNT_DETACH) == 0, "umount old root");
        must(chdir("/") == 0, "chdir /");
        execl("/bin/true", "true", (char *)NULL);
        perror("exec /bin/true");
        _exit(127);
    }
    int status;
    must(waitpid(pid, &status, 0) == pid, "waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
