package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over a GRE header: version 0 (RFC 2784 with RFC 2890 key and sequence, RFC 1701 routing) and
 * the enhanced version 1 PPTP uses (RFC 2637 section 4.1), whose key holds the payload length (high 16 bits)
 * and the receiver's Call ID (low 16 bits). {@link #wrap} validates the flag combination for the version
 * and that every optional field lies within the bytes available.
 */
public final class GreHeader
{
    public static final int FLAGS_VERSION_OFFSET = 0;
    public static final int PROTOCOL_TYPE_OFFSET = 2;
    public static final int MIN_LENGTH = 4;
    /** Enhanced GRE (version 1): the key's low 16 bits, the receiver's Call ID, at byte 6. */
    public static final int CALL_ID_OFFSET = 6;
    /** Enhanced GRE up to its Call ID. */
    public static final int PPTP_MIN_LENGTH = 8;

    public static final int FLAG_CHECKSUM = 0x8000;
    public static final int FLAG_ROUTING = 0x4000;
    public static final int FLAG_KEY = 0x2000;
    public static final int FLAG_SEQUENCE = 0x1000;
    public static final int FLAG_STRICT_ROUTE = 0x0800;
    public static final int RECURSION_MASK = 0x0700;
    public static final int FLAG_ACK = 0x0080;
    public static final int V1_RESERVED_FLAGS = 0x0078;
    public static final int VERSION_MASK = 0x0007;

    /** PPP, the protocol type of every enhanced GRE (PPTP) packet. */
    public static final int PROTOCOL_PPP = 0x880B;
    public static final int MAX_SRES = 32;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_VERSION = 2;
    public static final int ERR_V1_FLAGS = 3;
    public static final int ERR_V1_PROTOCOL = 4;
    public static final int ERR_ROUTING = 5;

    private MutableDirectBuffer buffer;
    private int offset;
    private int available;
    private int headerLength;
    private int keyOffset;
    private int sequenceOffset;
    private int ackOffset;
    private int checksumOffset;
    private int error;

    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        this.available = available;
        keyOffset = -1;
        sequenceOffset = -1;
        ackOffset = -1;
        checksumOffset = -1;
        if (available < MIN_LENGTH)
        {
            return fail(ERR_TOO_SHORT);
        }
        final int flags = flagsAndVersion();
        final int version = flags & VERSION_MASK;
        int at = offset + MIN_LENGTH;
        if (version == 1)
        {
            if ((flags & (FLAG_CHECKSUM | FLAG_ROUTING | FLAG_STRICT_ROUTE | RECURSION_MASK | V1_RESERVED_FLAGS)) != 0
                || (flags & FLAG_KEY) == 0)
            {
                return fail(ERR_V1_FLAGS);
            }
            if (protocolType() != PROTOCOL_PPP)
            {
                return fail(ERR_V1_PROTOCOL);
            }
            keyOffset = at;
            at += 4;
            if ((flags & FLAG_SEQUENCE) != 0)
            {
                sequenceOffset = at;
                at += 4;
            }
            if ((flags & FLAG_ACK) != 0)
            {
                ackOffset = at;
                at += 4;
            }
        }
        else if (version == 0)
        {
            if ((flags & (FLAG_CHECKSUM | FLAG_ROUTING)) != 0)
            {
                checksumOffset = at;
                at += 4;
            }
            if ((flags & FLAG_KEY) != 0)
            {
                keyOffset = at;
                at += 4;
            }
            if ((flags & FLAG_SEQUENCE) != 0)
            {
                sequenceOffset = at;
                at += 4;
            }
            if ((flags & FLAG_ROUTING) != 0)
            {
                // RFC 1701 source route entries, ended by an entry with family 0 and length 0
                int sres = 0;
                while (true)
                {
                    if (at + 4 > offset + available || ++sres > MAX_SRES)
                    {
                        return fail(ERR_ROUTING);
                    }
                    final int family = buffer.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                    final int length = buffer.getByte(at + 3) & 0xFF;
                    at += 4 + length;
                    if (family == 0 && length == 0)
                    {
                        break;
                    }
                }
            }
        }
        else
        {
            return fail(ERR_VERSION);
        }
        if (at > offset + available)
        {
            return fail(ERR_TOO_SHORT);
        }
        headerLength = at - offset;
        error = OK;
        return true;
    }

    private boolean fail(final int reason)
    {
        error = reason;
        return false;
    }

    public int error()
    {
        return error;
    }

    public static String describe(final int error)
    {
        return switch (error)
        {
            case OK -> "ok";
            case ERR_TOO_SHORT -> "truncated GRE header";
            case ERR_VERSION -> "GRE version not 0 or 1";
            case ERR_V1_FLAGS -> "enhanced GRE with flags RFC 2637 forbids";
            case ERR_V1_PROTOCOL -> "enhanced GRE not carrying PPP";
            case ERR_ROUTING -> "malformed GRE routing";
            default -> "error " + error;
        };
    }

    public int offset()
    {
        return offset;
    }

    public int headerLength()
    {
        return headerLength;
    }

    public int payloadOffset()
    {
        return offset + headerLength;
    }

    public int payloadLength()
    {
        return available - headerLength;
    }

    public int flagsAndVersion()
    {
        return buffer.getShort(offset + FLAGS_VERSION_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int version()
    {
        return flagsAndVersion() & VERSION_MASK;
    }

    /** Enhanced GRE as PPTP uses it. */
    public boolean isPptp()
    {
        return version() == 1;
    }

    public int protocolType()
    {
        return buffer.getShort(offset + PROTOCOL_TYPE_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public boolean hasKey()
    {
        return keyOffset >= 0;
    }

    public long key()
    {
        return keyOffset < 0 ? -1 : buffer.getInt(keyOffset, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
    }

    /** Version 1: payload length from the key field. */
    public int pptpPayloadLength()
    {
        return buffer.getShort(keyOffset, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** Version 1: the Call ID of the peer receiving this packet. */
    public int callId()
    {
        return buffer.getShort(keyOffset + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** Version 1: rewrites the Call ID. Enhanced GRE carries no checksum, so nothing else changes. */
    public GreHeader callId(final int callId)
    {
        buffer.putShort(keyOffset + 2, (short)callId, ByteOrder.BIG_ENDIAN);
        return this;
    }

    public boolean hasSequence()
    {
        return sequenceOffset >= 0;
    }

    public long sequence()
    {
        return sequenceOffset < 0 ? -1 : buffer.getInt(sequenceOffset, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
    }

    public boolean hasAck()
    {
        return ackOffset >= 0;
    }

    public long ack()
    {
        return ackOffset < 0 ? -1 : buffer.getInt(ackOffset, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
    }

    public boolean hasChecksum()
    {
        return checksumOffset >= 0 && (flagsAndVersion() & FLAG_CHECKSUM) != 0;
    }

    /**
     * Writes an enhanced GRE header (version 1) at {@code offset}; returns its length. {@code sequence} or
     * {@code ack} below zero are left out.
     */
    public static int writePptp(final MutableDirectBuffer buffer, final int offset, final int payloadLength,
        final int callId, final long sequence, final long ack)
    {
        int flags = FLAG_KEY | 1;
        int at = offset + 8;
        if (sequence >= 0)
        {
            flags |= FLAG_SEQUENCE;
            buffer.putInt(at, (int)sequence, ByteOrder.BIG_ENDIAN);
            at += 4;
        }
        if (ack >= 0)
        {
            flags |= FLAG_ACK;
            buffer.putInt(at, (int)ack, ByteOrder.BIG_ENDIAN);
            at += 4;
        }
        buffer.putShort(offset, (short)flags, ByteOrder.BIG_ENDIAN);
        buffer.putShort(offset + 2, (short)PROTOCOL_PPP, ByteOrder.BIG_ENDIAN);
        buffer.putShort(offset + 4, (short)payloadLength, ByteOrder.BIG_ENDIAN);
        buffer.putShort(offset + 6, (short)callId, ByteOrder.BIG_ENDIAN);
        return at - offset;
    }
}
