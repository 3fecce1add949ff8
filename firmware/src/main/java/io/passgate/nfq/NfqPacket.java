package io.passgate.nfq;

import java.nio.ByteOrder;

import io.passgate.sys.Linux;
import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over one NFQNL_MSG_PACKET message (<linux/netfilter/nfnetlink_queue.h>), decoded in place: the
 * packet bytes stay where recvmmsg put them and {@link #payloadOffset()} points at the IPv4 header.
 * The handler may rewrite them in place and ask for a mark via {@link #mark(int)}.
 */
public final class NfqPacket
{
    public static final int NO_MARK = -1;

    private MutableDirectBuffer buffer;
    private int queue;
    private int packetId;
    private int hook;
    private int hwProtocol;
    private int mark;
    private int inIfIndex;
    private int outIfIndex;
    private int payloadOffset;
    private int payloadLength;
    private int capturedLength;
    private int skbInfo;
    private int newMark;
    private int requeueTo;
    private int messageOffset;
    private int messageLength;

    /**
     * Decodes the message at {@code offset}. Returns false when it lacks the packet header or payload, or an
     * attribute runs past the message.
     */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int length)
    {
        this.buffer = buffer;
        this.messageOffset = offset;
        this.messageLength = length;
        packetId = -1;
        hook = -1;
        hwProtocol = 0;
        mark = 0;
        inIfIndex = 0;
        outIfIndex = 0;
        payloadOffset = -1;
        payloadLength = 0;
        capturedLength = -1;
        skbInfo = 0;
        newMark = NO_MARK;
        requeueTo = -1;
        if (length < Linux.NLMSG_HDRLEN + Linux.NFGENMSG_LEN)
        {
            return false;
        }
        queue = buffer.getShort(offset + Linux.NLMSG_HDRLEN + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int at = offset + Linux.NLMSG_HDRLEN + Linux.NFGENMSG_LEN;
        final int end = offset + length;
        while (at + Linux.NLA_HDRLEN <= end)
        {
            final int attrLength = buffer.getShort(at, Netlink.HOST) & 0xFFFF;
            final int type = buffer.getShort(at + 2, Netlink.HOST) & Linux.NLA_TYPE_MASK;
            if (attrLength < Linux.NLA_HDRLEN || at + attrLength > end)
            {
                return false;
            }
            final int value = at + Linux.NLA_HDRLEN;
            final int valueLength = attrLength - Linux.NLA_HDRLEN;
            switch (type)
            {
                case Linux.NFQA_PACKET_HDR ->
                {
                    if (valueLength >= 7)
                    {
                        packetId = buffer.getInt(value, ByteOrder.BIG_ENDIAN);
                        hwProtocol = buffer.getShort(value + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                        hook = buffer.getByte(value + 6) & 0xFF;
                    }
                }
                case Linux.NFQA_MARK -> mark = valueLength >= 4 ? buffer.getInt(value, ByteOrder.BIG_ENDIAN) : 0;
                case Linux.NFQA_IFINDEX_INDEV ->
                    inIfIndex = valueLength >= 4 ? buffer.getInt(value, ByteOrder.BIG_ENDIAN) : 0;
                case Linux.NFQA_IFINDEX_OUTDEV ->
                    outIfIndex = valueLength >= 4 ? buffer.getInt(value, ByteOrder.BIG_ENDIAN) : 0;
                case Linux.NFQA_PAYLOAD ->
                {
                    payloadOffset = value;
                    payloadLength = valueLength;
                }
                case Linux.NFQA_CAP_LEN ->
                    capturedLength = valueLength >= 4 ? buffer.getInt(value, ByteOrder.BIG_ENDIAN) : -1;
                case Linux.NFQA_SKB_INFO -> skbInfo = valueLength >= 4 ? buffer.getInt(value, ByteOrder.BIG_ENDIAN) : 0;
                default ->
                {
                    // attributes passgate does not use
                }
            }
            at += Netlink.align(attrLength);
        }
        return packetId != -1 && payloadOffset >= 0;
    }

    public MutableDirectBuffer buffer()
    {
        return buffer;
    }

    public int queue()
    {
        return queue;
    }

    public int packetId()
    {
        return packetId;
    }

    /** NF_INET_PRE_ROUTING, NF_INET_POST_ROUTING, ... */
    public int hook()
    {
        return hook;
    }

    public int hwProtocol()
    {
        return hwProtocol;
    }

    public int mark()
    {
        return mark;
    }

    public int inIfIndex()
    {
        return inIfIndex;
    }

    public int outIfIndex()
    {
        return outIfIndex;
    }

    public int payloadOffset()
    {
        return payloadOffset;
    }

    public int payloadLength()
    {
        return payloadLength;
    }

    /**
     * True when the kernel copied less than the whole packet (NFQA_CAP_LEN). Such a packet must never be
     * accepted with a rewritten payload: the verdict would cut the packet to the copied length.
     */
    public boolean truncated()
    {
        return capturedLength >= 0 && capturedLength > payloadLength;
    }

    /** The TCP/UDP checksum holds only the pseudo-header sum (CHECKSUM_PARTIAL). */
    public boolean checksumPartial()
    {
        return (skbInfo & Linux.NFQA_SKB_CSUMNOTREADY) != 0;
    }

    /** A GSO super-packet, possibly larger than the MTU. */
    public boolean gso()
    {
        return (skbInfo & Linux.NFQA_SKB_GSO) != 0;
    }

    public int skbInfo()
    {
        return skbInfo;
    }

    /** Requests that the verdict set the packet mark to {@code value}. */
    public void mark(final int value)
    {
        newMark = value;
    }

    public int requestedMark()
    {
        return newMark;
    }

    /** Asks for the packet to be handed, unchanged, to queue {@code queue} (with {@link PacketHandler#VERDICT_REQUEUE}). */
    public void requeueTo(final int queue)
    {
        requeueTo = queue;
    }

    /** The queue {@link #requeueTo} asked for, -1 when none. */
    public int requeueTarget()
    {
        return requeueTo;
    }

    public int messageOffset()
    {
        return messageOffset;
    }

    public int messageLength()
    {
        return messageLength;
    }
}
