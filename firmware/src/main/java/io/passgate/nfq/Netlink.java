package io.passgate.nfq;

import java.nio.ByteOrder;

import io.passgate.sys.Linux;
import org.agrona.MutableDirectBuffer;

/**
 * Netlink message and attribute framing (<linux/netlink.h>): host-order headers, 4-byte alignment.
 * Static helpers that write into caller-owned buffers; nothing allocates.
 */
public final class Netlink
{
    public static final ByteOrder HOST = ByteOrder.nativeOrder();
    public static final int NLMSG_LEN_OFFSET = 0;
    public static final int NLMSG_TYPE_OFFSET = 4;
    public static final int NLMSG_FLAGS_OFFSET = 6;
    public static final int NLMSG_SEQ_OFFSET = 8;
    public static final int NLMSG_PID_OFFSET = 12;
    public static final int NLMSGERR_ERROR_OFFSET = Linux.NLMSG_HDRLEN;

    private Netlink()
    {
    }

    public static int align(final int length)
    {
        return (length + 3) & ~3;
    }

    /** Writes a netlink header plus an nfgenmsg; returns the offset after them. Length is set later. */
    public static int putNfHeader(final MutableDirectBuffer b, final int offset, final int subsystem,
        final int message, final int flags, final int seq, final int family, final int resId)
    {
        b.putInt(offset + NLMSG_LEN_OFFSET, 0, HOST);
        b.putShort(offset + NLMSG_TYPE_OFFSET, (short)((subsystem << 8) | message), HOST);
        b.putShort(offset + NLMSG_FLAGS_OFFSET, (short)flags, HOST);
        b.putInt(offset + NLMSG_SEQ_OFFSET, seq, HOST);
        b.putInt(offset + NLMSG_PID_OFFSET, 0, HOST);
        b.putByte(offset + 16, (byte)family);
        b.putByte(offset + 17, (byte)Linux.NFNETLINK_V0);
        b.putShort(offset + 18, (short)resId, ByteOrder.BIG_ENDIAN);
        return offset + Linux.NLMSG_HDRLEN + Linux.NFGENMSG_LEN;
    }

    /** Writes a netlink header of a given type with no family header; returns the offset after it. */
    public static int putHeader(final MutableDirectBuffer b, final int offset, final int type, final int flags,
        final int seq)
    {
        b.putInt(offset + NLMSG_LEN_OFFSET, 0, HOST);
        b.putShort(offset + NLMSG_TYPE_OFFSET, (short)type, HOST);
        b.putShort(offset + NLMSG_FLAGS_OFFSET, (short)flags, HOST);
        b.putInt(offset + NLMSG_SEQ_OFFSET, seq, HOST);
        b.putInt(offset + NLMSG_PID_OFFSET, 0, HOST);
        return offset + Linux.NLMSG_HDRLEN;
    }

    /** Sets the message length to {@code end - start}, aligned; returns the aligned end. */
    public static int finish(final MutableDirectBuffer b, final int start, final int end)
    {
        final int aligned = align(end);
        for (int i = end; i < aligned; i++)
        {
            b.putByte(i, (byte)0);
        }
        b.putInt(start + NLMSG_LEN_OFFSET, aligned - start, HOST);
        return aligned;
    }

    public static int putAttrHeader(final MutableDirectBuffer b, final int offset, final int type, final int payload)
    {
        b.putShort(offset, (short)(Linux.NLA_HDRLEN + payload), HOST);
        b.putShort(offset + 2, (short)type, HOST);
        return offset + Linux.NLA_HDRLEN;
    }

    public static int putAttrU32Be(final MutableDirectBuffer b, final int offset, final int type, final int value)
    {
        final int at = putAttrHeader(b, offset, type, 4);
        b.putInt(at, value, ByteOrder.BIG_ENDIAN);
        return at + 4;
    }

    public static int putAttrU64Be(final MutableDirectBuffer b, final int offset, final int type, final long value)
    {
        final int at = putAttrHeader(b, offset, type, 8);
        b.putLong(at, value, ByteOrder.BIG_ENDIAN);
        return at + 8;
    }

    public static int putAttrString(final MutableDirectBuffer b, final int offset, final int type, final String value)
    {
        final int at = putAttrHeader(b, offset, type, value.length() + 1);
        b.putStringWithoutLengthAscii(at, value);
        b.putByte(at + value.length(), (byte)0);
        final int end = at + value.length() + 1;
        final int aligned = align(end);
        for (int i = end; i < aligned; i++)
        {
            b.putByte(i, (byte)0);
        }
        return aligned;
    }

    /** Starts a nested attribute; close it with {@link #endNest}. */
    public static int beginNest(final MutableDirectBuffer b, final int offset, final int type)
    {
        b.putShort(offset + 2, (short)(type | Linux.NLA_F_NESTED), HOST);
        return offset + Linux.NLA_HDRLEN;
    }

    public static void endNest(final MutableDirectBuffer b, final int start, final int end)
    {
        b.putShort(start, (short)(end - start), HOST);
    }

    public static int messageLength(final MutableDirectBuffer b, final int offset)
    {
        return b.getInt(offset + NLMSG_LEN_OFFSET, HOST);
    }

    public static int messageType(final MutableDirectBuffer b, final int offset)
    {
        return b.getShort(offset + NLMSG_TYPE_OFFSET, HOST) & 0xFFFF;
    }

    public static int messageSeq(final MutableDirectBuffer b, final int offset)
    {
        return b.getInt(offset + NLMSG_SEQ_OFFSET, HOST);
    }

    /** The (negative) errno of an NLMSG_ERROR message, 0 for an ACK. */
    public static int errorCode(final MutableDirectBuffer b, final int offset)
    {
        return b.getInt(offset + NLMSGERR_ERROR_OFFSET, HOST);
    }
}
