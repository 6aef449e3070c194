/* husk's exec stub (see exec_stub.rs), x86_64: execve(argv[1], &argv[2], envp). On failure
 * it writes "exec PATH: MESSAGE" to stderr, the errno in the words Go (and so runc) uses for
 * it ("no such file or directory"; "errno N" for one not in the table), and exits 127. No
 * libc: the only syscall it makes before the program runs is that execve, so a seccomp
 * profile that lets the container exec lets the stub exec too. */
    .globl _start
    .text
_start:
    mov     (%rsp), %rcx            /* argc */
    mov     16(%rsp), %rdi          /* argv[1]: the program */
    lea     24(%rsp), %rsi          /* &argv[2]: its argv */
    lea     16(%rsp,%rcx,8), %rdx   /* envp: after argv's NULL */
    mov     $59, %eax               /* execve */
    syscall
    neg     %rax
    mov     %rax, %r12              /* errno */
    mov     16(%rsp), %r13          /* the program's path */
    xor     %ecx, %ecx              /* its length */
0:  cmpb    $0, (%r13,%rcx)
    je      1f
    inc     %rcx
    jmp     0b
1:  mov     %rcx, %r14
    lea     exec_word(%rip), %rsi   /* "exec " */
    mov     $5, %edx
    call    write2
    mov     %r13, %rsi              /* PATH */
    mov     %r14, %rdx
    call    write2
    lea     separator(%rip), %rsi   /* ": " */
    mov     $2, %edx
    call    write2
    lea     messages(%rip), %rbx    /* entries: errno, length, text; errno 0 ends them */
2:  movzbl  (%rbx), %eax
    test    %eax, %eax
    jz      number
    cmp     %r12, %rax
    je      3f
    movzbl  1(%rbx), %eax
    lea     2(%rbx,%rax), %rbx
    jmp     2b
3:  lea     2(%rbx), %rsi
    movzbl  1(%rbx), %edx
    call    write2
    jmp     done
number:                             /* "errno N" */
    lea     errno_word(%rip), %rsi
    mov     $6, %edx
    call    write2
    mov     %r12, %rax
    sub     $32, %rsp
    lea     32(%rsp), %r9           /* the digits end here */
    mov     %r9, %rdi
    mov     $10, %ecx
4:  xor     %edx, %edx
    div     %rcx
    add     $48, %dl
    dec     %rdi
    mov     %dl, (%rdi)
    test    %rax, %rax
    jnz     4b
    mov     %rdi, %rsi
    mov     %r9, %rdx
    sub     %rdi, %rdx
    call    write2
done:
    lea     newline(%rip), %rsi
    mov     $1, %edx
    call    write2
    mov     $231, %eax              /* exit_group(127) */
    mov     $127, %edi
    syscall

/* write(2, %rsi, %rdx) */
write2:
    mov     $1, %eax
    mov     $2, %edi
    syscall
    ret

exec_word:
    .ascii  "exec "
separator:
    .ascii  ": "
errno_word:
    .ascii  "errno "
newline:
    .ascii  "\n"
messages:
    .byte 2, 25
    .ascii "no such file or directory"
    .byte 13, 17
    .ascii "permission denied"
    .byte 8, 17
    .ascii "exec format error"
    .byte 20, 15
    .ascii "not a directory"
    .byte 21, 14
    .ascii "is a directory"
    .byte 26, 14
    .ascii "text file busy"
    .byte 40, 33
    .ascii "too many levels of symbolic links"
    .byte 7, 22
    .ascii "argument list too long"
    .byte 12, 22
    .ascii "cannot allocate memory"
    .byte 1, 23
    .ascii "operation not permitted"
    .byte 36, 18
    .ascii "file name too long"
    .byte 0
