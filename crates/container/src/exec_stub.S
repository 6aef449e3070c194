/* husk's exec stub (see exec_stub.rs), x86_64: execve(argv[1], &argv[2], envp). On failure
 * it writes "husk: exec failed: errno N" to stderr and exits 127. No libc: the only syscall
 * it makes before the program runs is that execve, so a seccomp profile that lets the
 * container exec lets the stub exec too. */
    .globl _start
    .text
_start:
    mov     (%rsp), %rcx            /* argc */
    mov     16(%rsp), %rdi          /* argv[1]: the program */
    lea     24(%rsp), %rsi          /* &argv[2]: its argv */
    lea     16(%rsp,%rcx,8), %rdx   /* envp: after argv's NULL */
    mov     $59, %eax               /* execve */
    syscall
    neg     %rax                    /* errno */
    sub     $32, %rsp
    lea     31(%rsp), %r9           /* the digits end here, with a newline */
    movb    $10, (%r9)
    mov     %r9, %rdi
    mov     $10, %ecx
1:  xor     %edx, %edx
    div     %rcx
    add     $48, %dl
    dec     %rdi
    mov     %dl, (%rdi)
    test    %rax, %rax
    jnz     1b
    mov     %rdi, %r8               /* first digit */
    mov     $1, %eax                /* write(2, prefix) */
    mov     $2, %edi
    lea     prefix(%rip), %rsi
    mov     $prefix_len, %edx
    syscall
    mov     $1, %eax                /* write(2, digits and newline) */
    mov     $2, %edi
    mov     %r8, %rsi
    lea     1(%r9), %rdx
    sub     %r8, %rdx
    syscall
    mov     $231, %eax              /* exit_group(127) */
    mov     $127, %edi
    syscall
prefix:
    .ascii  "husk: exec failed: errno "
    .set    prefix_len, . - prefix
