package io.passgate.sys;

import java.nio.ByteOrder;

/**
 * A preallocated {@code msghdr} with one iovec and one destination {@code sockaddr_in}, filled per send: the
 * raw sockets send with sendmsg (not sendto) from memory they do not own, allocating nothing per packet.
 */
final class DatagramMessage implements AutoCloseable
{
    private static final int IOV = Structs.MSGHDR_SIZE;
    private static final int SOCKADDR = IOV + Structs.IOVEC_SIZE;
    private static final int SCRATCH = SOCKADDR + Structs.SOCKADDR_IN_SIZE;

    private final NativeBuffer message;

    DatagramMessage() throws ErrnoException
    {
        message = NativeBuffer.allocate(SCRATCH + 8);
        message.putAddress(Structs.MSGHDR_NAME, message.address() + SOCKADDR);
        message.buffer().putInt(Structs.MSGHDR_NAMELEN, Structs.SOCKADDR_IN_SIZE, ByteOrder.nativeOrder());
        message.putAddress(Structs.MSGHDR_IOV, message.address() + IOV);
        message.putAddress(Structs.MSGHDR_IOVLEN, 1);
    }

    /** Sends {@code length} bytes at {@code data} to {@code destination} (host order); bytes sent or -errno. */
    long send(final int fd, final long data, final int length, final int destination, final int flags)
    {
        Structs.putSockaddrIn(message.buffer(), SOCKADDR, destination, 0);
        message.putAddress(IOV + Structs.IOVEC_BASE, data);
        message.putAddress(IOV + Structs.IOVEC_LEN, length);
        return Sys.sendMsg(fd, message.address(), flags);
    }

    /** Sets an int socket option through this message's spare bytes (control path, at open). */
    void setInt(final int fd, final int level, final int option, final int value, final String what)
        throws ErrnoException
    {
        message.buffer().putInt(SCRATCH, value, ByteOrder.nativeOrder());
        Sys.setsockopt(fd, level, option, message.address() + SCRATCH, 4, what);
    }

    @Override
    public void close()
    {
        message.close();
    }
}
