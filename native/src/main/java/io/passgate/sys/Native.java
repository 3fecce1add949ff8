package io.passgate.sys;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.types.intptr_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The one holder of the loaded libc and of the JNR runtime. Package-private: nothing outside this
 * package sees a JNR type.
 */
final class Native
{
    /**
     * The libc calls passgate makes. Buffers are passed as raw native addresses ({@code @intptr_t long})
     * into memory the caller allocated once, so a call on the packet path creates no object.
     * errno is saved by JNR for every call not marked {@link IgnoreError}.
     */
    public interface LibC
    {
        int socket(int domain, int type, int protocol);

        int bind(int fd, @intptr_t long addr, int addrLen);

        int connect(int fd, @intptr_t long addr, int addrLen);

        int setsockopt(int fd, int level, int optName, @intptr_t long optVal, int optLen);

        int getsockopt(int fd, int level, int optName, @intptr_t long optVal, @intptr_t long optLenPtr);

        int getsockname(int fd, @intptr_t long addr, @intptr_t long addrLenPtr);

        @ssize_t long send(int fd, @intptr_t long buf, @size_t long len, int flags);

        @ssize_t long recv(int fd, @intptr_t long buf, @size_t long len, int flags);

        @ssize_t long sendmsg(int fd, @intptr_t long msghdr, int flags);

        @ssize_t long recvmsg(int fd, @intptr_t long msghdr, int flags);

        int recvmmsg(int fd, @intptr_t long msgvec, int vlen, int flags, @intptr_t long timeout);

        int sendmmsg(int fd, @intptr_t long msgvec, int vlen, int flags);

        int poll(@intptr_t long fds, @size_t long nfds, int timeoutMs);

        @ssize_t long read(int fd, @intptr_t long buf, @size_t long len);

        @ssize_t long write(int fd, @intptr_t long buf, @size_t long len);

        /**
         * ioctl(2) with one pointer argument. Declared with fixed parameters although libc's is variadic:
         * on the supported ABIs (x86_64, arm64, 32-bit arm EABI) integer and pointer arguments of a
         * variadic call travel exactly as fixed ones. {@code request} is an {@code unsigned long}.
         */
        int ioctl(int fd, @size_t long request, @intptr_t long arg);

        int eventfd(int initialValue, int flags);

        int close(int fd);

        int open(String path, int flags);

        int setns(int fd, int nsType);

        int if_nametoindex(String name);

        /**
         * mmap64: a 64-bit offset on every platform, including 32-bit arm. The hint is a {@link Pointer}
         * (always null) on purpose: jffi 1.3.13's all-primitive six-argument fast path loses the sixth
         * argument (NativeBindingTest shows it), and a Pointer parameter takes the generic path. No other
         * call here has six arguments: sendto/recvfrom are done with sendmsg/recvmsg.
         */
        @intptr_t long mmap64(Pointer hint, @size_t long length, int prot, int flags, int fd, long offset);

        int munmap(@intptr_t long addr, @size_t long length);

        @IgnoreError
        int getpid();

        @IgnoreError
        long gettid();
    }

    static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    /** Size of a native pointer and of {@code size_t}: 8 on arm64/x86_64, 4 on 32-bit arm. */
    static final int ADDRESS_SIZE = RUNTIME.addressSize();

    private Native()
    {
    }

    /** errno of the last call made on this thread. */
    static int errno()
    {
        return RUNTIME.getLastError();
    }
}
