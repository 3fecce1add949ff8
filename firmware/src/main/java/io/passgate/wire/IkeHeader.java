package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over the ISAKMP/IKE header, the same 28 bytes for IKEv1 (RFC 2408 3.1) and IKEv2 (RFC 7296 3.1):
 * <pre>
 *  0 Initiator SPI / cookie (8)   8 Responder SPI / cookie (8)   16 Next Payload (1)   17 Version (1)
 * 18 Exchange Type (1)   19 Flags (1)   20 Message ID (4)   24 Length (4)
 * </pre>
 * On UDP 4500 (RFC 3948) an IKE message follows a four-byte zero non-ESP marker; a single 0xFF byte is a
 * NAT-keepalive; anything else is ESP in UDP. The payloads are never read or changed: NAT-D hashes must stay
 * true so that the peers detect the NAT.
 */
public final class IkeHeader
{
    public static final int INITIATOR_SPI_OFFSET = 0;
    public static final int RESPONDER_SPI_OFFSET = 8;
    public static final int VERSION_OFFSET = 17;
    public static final int EXCHANGE_OFFSET = 18;
    public static final int FLAGS_OFFSET = 19;
    public static final int LENGTH_OFFSET = 24;
    public static final int LENGTH = 28;
    public static final int NON_ESP_MARKER = 4;

    // exchange types (IKEv1: RFC 2408 3.1 and RFC 2409; IKEv2: RFC 7296 3.1)
    public static final int V1_IDENTITY_PROTECTION = 2;
    public static final int V1_AGGRESSIVE = 4;
    public static final int V1_INFORMATIONAL = 5;
    public static final int V1_QUICK_MODE = 32;
    public static final int IKE_SA_INIT = 34;
    public static final int IKE_AUTH = 35;
    public static final int CREATE_CHILD_SA = 36;
    public static final int INFORMATIONAL = 37;
    /** IKEv2 flags: Response, Initiator (RFC 7296 3.1). */
    public static final int FLAG_RESPONSE = 0x20;
    public static final int FLAG_INITIATOR = 0x08;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_LENGTH = 2;
    public static final int ERR_VERSION = 3;

    private MutableDirectBuffer buffer;
    private int offset;
    private int error;

    /** Wraps an IKE header with {@code available} bytes of message; checks its length field and version. */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        if (available < LENGTH)
        {
            error = ERR_TOO_SHORT;
            return false;
        }
        final long length = buffer.getInt(offset + LENGTH_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
        if (length < LENGTH || length > available)
        {
            error = ERR_LENGTH;
            return false;
        }
        final int major = majorVersion();
        if (major != 1 && major != 2)
        {
            error = ERR_VERSION;
            return false;
        }
        error = OK;
        return true;
    }

    public int error()
    {
        return error;
    }

    public long initiatorSpi()
    {
        return buffer.getLong(offset + INITIATOR_SPI_OFFSET, ByteOrder.BIG_ENDIAN);
    }

    public long responderSpi()
    {
        return buffer.getLong(offset + RESPONDER_SPI_OFFSET, ByteOrder.BIG_ENDIAN);
    }

    public int majorVersion()
    {
        return (buffer.getByte(offset + VERSION_OFFSET) & 0xF0) >>> 4;
    }

    public int exchangeType()
    {
        return buffer.getByte(offset + EXCHANGE_OFFSET) & 0xFF;
    }

    public int flags()
    {
        return buffer.getByte(offset + FLAGS_OFFSET) & 0xFF;
    }

    /** Whether the exchange creates IPsec SAs (child SAs): IKEv2 IKE_AUTH and CREATE_CHILD_SA, IKEv1 Quick Mode. */
    public boolean createsSas()
    {
        final int type = exchangeType();
        return majorVersion() == 2 ? type == IKE_AUTH || type == CREATE_CHILD_SA : type == V1_QUICK_MODE;
    }

    /** Writes a bare header (tests and peers): SPIs, version, exchange, flags, message id, length. */
    public static void write(final MutableDirectBuffer b, final int offset, final long initiatorSpi,
        final long responderSpi, final int majorVersion, final int exchange, final int flags, final int messageId,
        final int length)
    {
        b.putLong(offset + INITIATOR_SPI_OFFSET, initiatorSpi, ByteOrder.BIG_ENDIAN);
        b.putLong(offset + RESPONDER_SPI_OFFSET, responderSpi, ByteOrder.BIG_ENDIAN);
        b.putByte(offset + 16, (byte)0);
        b.putByte(offset + VERSION_OFFSET, (byte)(majorVersion << 4));
        b.putByte(offset + EXCHANGE_OFFSET, (byte)exchange);
        b.putByte(offset + FLAGS_OFFSET, (byte)flags);
        b.putInt(offset + 20, messageId, ByteOrder.BIG_ENDIAN);
        b.putInt(offset + LENGTH_OFFSET, length, ByteOrder.BIG_ENDIAN);
    }
}
