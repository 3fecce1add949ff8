package io.passgate.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

class NativeBindingTest
{
    private static final int RTM_GETLINK = 18;
    private static final int RTM_NEWLINK = 16;

    @Test
    void structLayoutsMatchTheKernelAbi()
    {
        if (Sys.addressSize() == 8)
        {
            assertEquals(56, Structs.MSGHDR_SIZE);
            assertEquals(64, Structs.MMSGHDR_SIZE);
            assertEquals(16, Structs.IOVEC_SIZE);
        }
        else
        {
            assertEquals(28, Structs.MSGHDR_SIZE);
            assertEquals(32, Structs.MMSGHDR_SIZE);
            assertEquals(8, Structs.IOVEC_SIZE);
        }
    }

    @Test
    void nativeBufferIsZeroedAndWritable() throws Exception
    {
        try (NativeBuffer buffer = NativeBuffer.allocate(8192))
        {
            assertEquals(0L, buffer.buffer().getLong(4096));
            buffer.buffer().putLong(8184, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, buffer.buffer().getLong(8184));
            assertEquals(0, buffer.address() & 4095, "page aligned");
        }
    }

    @Test
    void failedCallBecomesTypedExceptionNamingTheOperation()
    {
        final ErrnoException e = assertThrows(ErrnoException.class,
            () -> Sys.open("/nonexistent/passgate/path", Linux.O_RDONLY));
        assertEquals(Linux.ENOENT, e.errno());
        assertEquals("ENOENT", e.errnoName());
        assertTrue(e.getMessage().contains("open(/nonexistent/passgate/path)"), e.getMessage());

        final ErrnoException noIf = assertThrows(ErrnoException.class, () -> Interfaces.indexOf("nosuchif0"));
        assertTrue(noIf.getMessage().contains("if_nametoindex(nosuchif0)"));
        assertEquals(1, assertDoesNotThrowIndex("lo"));
    }

    private static int assertDoesNotThrowIndex(final String name)
    {
        try
        {
            return Interfaces.indexOf(name);
        }
        catch (final ErrnoException e)
        {
            throw new AssertionError(e);
        }
    }

    @Test
    void packetPathCallsReturnNegativeErrnoInsteadOfThrowing() throws Exception
    {
        try (NetlinkSocket socket = NetlinkSocket.open(Linux.NETLINK_ROUTE); NativeBuffer buf = NativeBuffer.allocate(4096))
        {
            final long r = socket.receive(buf.address(), 4096, Linux.MSG_DONTWAIT);
            assertEquals(-Linux.EAGAIN, r, "nothing queued yet");
            assertTrue(socket.portId() != 0, "kernel assigned a port id");
        }
    }

    /** A real kernel round trip: an RTM_GETLINK dump sent with a gather vector, received with recvmmsg. */
    @Test
    void netlinkDumpRoundTripWithIoVectorAndMessageBatch() throws Exception
    {
        try (NetlinkSocket socket = NetlinkSocket.open(Linux.NETLINK_ROUTE);
            NativeBuffer request = NativeBuffer.allocate(64);
            IoVector vector = new IoVector(4);
            MessageBatch batch = new MessageBatch(8, 32 * 1024);
            Poller poller = new Poller(1))
        {
            final var b = request.buffer();
            final ByteOrder ne = ByteOrder.nativeOrder();
            b.putInt(0, 32, ne);
            b.putShort(4, (short)RTM_GETLINK, ne);
            b.putShort(6, (short)(Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP), ne);
            b.putInt(8, 42, ne);
            b.putInt(12, 0, ne);
            b.putByte(16, (byte)Linux.AF_UNSPEC);           // struct ifinfomsg, 16 bytes
            // send header and body as two pieces: the kernel sees one datagram
            vector.add(request.address(), 16);
            vector.add(request.address() + 16, 16);
            assertEquals(32, socket.send(vector));

            poller.add(socket.fd(), Linux.POLLIN);
            assertEquals(1, poller.poll(2000));
            assertTrue((poller.revents(0) & Linux.POLLIN) != 0);

            boolean sawLoopback = false;
            boolean done = false;
            for (int round = 0; round < 50 && !done; round++)
            {
                final long n = socket.receive(batch, Linux.MSG_DONTWAIT);
                if (n == -Linux.EAGAIN)
                {
                    poller.poll(1000);
                    continue;
                }
                assertTrue(n > 0, "recvmmsg returned " + n);
                for (int i = 0; i < n; i++)
                {
                    int off = batch.slotOffset(i);
                    final int end = off + batch.length(i);
                    while (off + 16 <= end)
                    {
                        final int len = batch.slots().getInt(off, ne);
                        final int type = batch.slots().getShort(off + 4, ne);
                        assertEquals(42, batch.slots().getInt(off + 8, ne), "sequence echoed");
                        if (type == Linux.NLMSG_DONE)
                        {
                            done = true;
                        }
                        else if (type == RTM_NEWLINK && batch.slots().getInt(off + 16 + 4, ne) == 1)
                        {
                            sawLoopback = true;  // ifi_index 1 is lo
                        }
                        off += Structs.align(len, 4);
                    }
                }
            }
            assertTrue(done, "dump finished");
            assertTrue(sawLoopback, "lo listed");
            assertFalse(vector.add(0, 0) && vector.remaining() < 0);
        }
    }
}
