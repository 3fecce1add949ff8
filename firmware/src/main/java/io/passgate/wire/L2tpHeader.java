package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over an L2TPv2 message over UDP (RFC 2661 3.1): its header, and for a control message the AVPs
 * that matter to a NAT, read in one pass.
 * <pre>
 *  |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
 *  |           Tunnel ID           |           Session ID          |
 *  |             Ns (opt)          |             Nr (opt)          |
 *  |      Offset Size (opt)        |    Offset pad... (opt)
 * </pre>
 * A control message (T = 1) has L = 1 and S = 1 and is a sequence of AVPs (4.1):
 * <pre>
 *  |M|H| rsvd  |      Length       |           Vendor ID           |
 *  |         Attribute Type        |        Attribute Value...
 * </pre>
 * whose first is the Message Type (vendor 0, type 0, never hidden); one with no AVPs is a ZLB acknowledgement.
 * {@link #readAvps} checks every AVP's length, finds the Message Type, the Assigned Tunnel ID and Assigned
 * Session ID (their value's offset, or that they are hidden), and notes a mandatory AVP passgate does not know:
 * any vendor's but the IETF's, or an IETF type beyond those the L2TP registry assigns.
 */
public final class L2tpHeader
{
    public static final int FLAG_TYPE = 0x8000;
    public static final int FLAG_LENGTH = 0x4000;
    public static final int FLAG_SEQUENCE = 0x0800;
    public static final int FLAG_OFFSET = 0x0200;
    public static final int FLAG_PRIORITY = 0x0100;
    public static final int VERSION_MASK = 0x000F;
    public static final int VERSION_2 = 2;
    public static final int VERSION_3 = 3;

    // message types (RFC 2661 3.2)
    public static final int SCCRQ = 1;
    public static final int SCCRP = 2;
    public static final int SCCCN = 3;
    public static final int STOPCCN = 4;
    public static final int HELLO = 6;
    public static final int OCRQ = 7;
    public static final int OCRP = 8;
    public static final int OCCN = 9;
    public static final int ICRQ = 10;
    public static final int ICRP = 11;
    public static final int ICCN = 12;
    public static final int CDN = 14;
    public static final int WEN = 15;
    public static final int SLI = 16;
    /** {@link #messageType} of a control message without AVPs (a ZLB acknowledgement). */
    public static final int ZLB = 0;

    // AVP types (RFC 2661 4.4)
    public static final int AVP_MESSAGE_TYPE = 0;
    public static final int AVP_ASSIGNED_TUNNEL_ID = 9;
    public static final int AVP_ASSIGNED_SESSION_ID = 14;
    public static final int AVP_MANDATORY = 0x8000;
    public static final int AVP_HIDDEN = 0x4000;
    public static final int AVP_LENGTH_MASK = 0x03FF;
    public static final int AVP_HEADER = 6;
    /** The highest IETF AVP type the IANA L2TP registry assigns that passgate accepts as known with its M bit. */
    public static final int AVP_KNOWN_MAX = 102;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_VERSION = 2;
    public static final int ERR_LENGTH = 3;
    public static final int ERR_CONTROL_FLAGS = 4;
    public static final int ERR_AVP_LENGTH = 5;
    public static final int ERR_NO_MESSAGE_TYPE = 6;
    public static final int ERR_MESSAGE_TYPE_HIDDEN = 7;
    public static final int ERR_UNKNOWN_MANDATORY = 8;
    public static final int ERR_ID_LENGTH = 9;

    private MutableDirectBuffer buffer;
    private int offset;
    private int end;
    private int flags;
    private int tunnelIdAt;
    private int nsAt;
    private int bodyAt;
    private int error;

    // the AVPs read by readAvps
    private int messageType;
    private int assignedTunnelAt;
    private int assignedSessionAt;
    private boolean assignedTunnelHidden;
    private boolean assignedSessionHidden;
    private int unknownMandatoryType;
    private int unknownMandatoryVendor;

    /**
     * Wraps the L2TP message at {@code offset} ({@code available} bytes: the UDP payload); checks the version
     * (2), the header's size, the Length field and a control message's flags. Version 3 and others are refused
     * with {@link #ERR_VERSION} (the caller may pass them as plain UDP).
     */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        this.messageType = -1;
        if (available < 6)
        {
            error = ERR_TOO_SHORT;
            return false;
        }
        flags = buffer.getShort(offset, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        if ((flags & VERSION_MASK) != VERSION_2)
        {
            error = ERR_VERSION;
            return false;
        }
        int at = offset + 2;
        int length = available;
        if ((flags & FLAG_LENGTH) != 0)
        {
            length = buffer.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            at += 2;
        }
        if (control() && ((flags & (FLAG_LENGTH | FLAG_SEQUENCE)) != (FLAG_LENGTH | FLAG_SEQUENCE)
            || (flags & FLAG_OFFSET) != 0))
        {
            error = ERR_CONTROL_FLAGS;
            return false;
        }
        tunnelIdAt = at;
        at += 4;
        nsAt = -1;
        if ((flags & FLAG_SEQUENCE) != 0)
        {
            nsAt = at;
            at += 4;
        }
        if ((flags & FLAG_OFFSET) != 0)
        {
            if (at + 2 - offset > available)
            {
                error = ERR_TOO_SHORT;
                return false;
            }
            at += 2 + (buffer.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF);
        }
        if (length > available || at - offset > length)
        {
            error = at - offset > available ? ERR_TOO_SHORT : ERR_LENGTH;
            return false;
        }
        bodyAt = at;
        end = offset + length;
        error = OK;
        return true;
    }

    public int error()
    {
        return error;
    }

    public boolean control()
    {
        return (flags & FLAG_TYPE) != 0;
    }

    public int flags()
    {
        return flags;
    }

    public int tunnelId()
    {
        return buffer.getShort(tunnelIdAt, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** Where the Tunnel ID field is (absolute). */
    public int tunnelIdOffset()
    {
        return tunnelIdAt;
    }

    public int sessionId()
    {
        return buffer.getShort(tunnelIdAt + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public boolean hasSequence()
    {
        return nsAt >= 0;
    }

    public int ns()
    {
        return buffer.getShort(nsAt, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int nr()
    {
        return buffer.getShort(nsAt + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** The message's length (the Length field, or the UDP payload's). */
    public int length()
    {
        return end - offset;
    }

    /**
     * Reads a control message's AVPs (after {@link #wrap} of a control message). False with {@link #error} on a
     * bad AVP length, a missing or hidden Message Type, a known ID AVP of the wrong size, or a mandatory AVP passgate
     * does not know ({@link #ERR_UNKNOWN_MANDATORY}: the rest was read).
     */
    public boolean readAvps()
    {
        messageType = -1;
        assignedTunnelAt = -1;
        assignedSessionAt = -1;
        assignedTunnelHidden = false;
        assignedSessionHidden = false;
        unknownMandatoryType = -1;
        unknownMandatoryVendor = -1;
        int at = bodyAt;
        if (at == end)
        {
            messageType = ZLB;
            return true;
        }
        boolean first = true;
        while (at < end)
        {
            if (end - at < AVP_HEADER)
            {
                error = ERR_AVP_LENGTH;
                return false;
            }
            final int head = buffer.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            final int length = head & AVP_LENGTH_MASK;
            if (length < AVP_HEADER || length > end - at)
            {
                error = ERR_AVP_LENGTH;
                return false;
            }
            final int vendor = buffer.getShort(at + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            final int type = buffer.getShort(at + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            final boolean hidden = (head & AVP_HIDDEN) != 0;
            if (first)
            {
                if (vendor != 0 || type != AVP_MESSAGE_TYPE || length != AVP_HEADER + 2)
                {
                    error = ERR_NO_MESSAGE_TYPE;
                    return false;
                }
                if (hidden)
                {
                    error = ERR_MESSAGE_TYPE_HIDDEN;
                    return false;
                }
                messageType = buffer.getShort(at + AVP_HEADER, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                first = false;
            }
            else if (vendor == 0 && (type == AVP_ASSIGNED_TUNNEL_ID || type == AVP_ASSIGNED_SESSION_ID))
            {
                if (!hidden && length != AVP_HEADER + 2)
                {
                    error = ERR_ID_LENGTH;
                    return false;
                }
                if (type == AVP_ASSIGNED_TUNNEL_ID)
                {
                    assignedTunnelAt = hidden ? -1 : at + AVP_HEADER;
                    assignedTunnelHidden = hidden;
                }
                else
                {
                    assignedSessionAt = hidden ? -1 : at + AVP_HEADER;
                    assignedSessionHidden = hidden;
                }
            }
            else if ((head & AVP_MANDATORY) != 0 && (vendor != 0 || type > AVP_KNOWN_MAX)
                && unknownMandatoryType < 0)
            {
                unknownMandatoryType = type;
                unknownMandatoryVendor = vendor;
            }
            at += length;
        }
        if (unknownMandatoryType >= 0)
        {
            error = ERR_UNKNOWN_MANDATORY;
            return false;
        }
        error = OK;
        return true;
    }

    /** The Message Type read by {@link #readAvps}: {@link #ZLB} without AVPs, -1 when unread. */
    public int messageType()
    {
        return messageType;
    }

    /** Where the Assigned Tunnel ID's value is (absolute), or -1 when absent or hidden. */
    public int assignedTunnelIdOffset()
    {
        return assignedTunnelAt;
    }

    public boolean assignedTunnelIdHidden()
    {
        return assignedTunnelHidden;
    }

    /** The Assigned Tunnel ID's value, or -1 when absent or hidden. */
    public int assignedTunnelId()
    {
        return assignedTunnelAt < 0 ? -1 : buffer.getShort(assignedTunnelAt, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** The Assigned Session ID's value, or -1 when absent or hidden. */
    public int assignedSessionId()
    {
        return assignedSessionAt < 0 ? -1 : buffer.getShort(assignedSessionAt, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public boolean assignedSessionIdHidden()
    {
        return assignedSessionHidden;
    }

    /** The first unknown mandatory AVP's type and vendor, -1 when none. */
    public int unknownMandatoryType()
    {
        return unknownMandatoryType;
    }

    public int unknownMandatoryVendor()
    {
        return unknownMandatoryVendor;
    }

    /** A name for a message type, for logs and tests. */
    public static String messageName(final int type)
    {
        return switch (type)
        {
            case ZLB -> "ZLB";
            case SCCRQ -> "SCCRQ";
            case SCCRP -> "SCCRP";
            case SCCCN -> "SCCCN";
            case STOPCCN -> "StopCCN";
            case HELLO -> "HELLO";
            case OCRQ -> "OCRQ";
            case OCRP -> "OCRP";
            case OCCN -> "OCCN";
            case ICRQ -> "ICRQ";
            case ICRP -> "ICRP";
            case ICCN -> "ICCN";
            case CDN -> "CDN";
            case WEN -> "WEN";
            case SLI -> "SLI";
            default -> "type " + type;
        };
    }
}
