package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * PPTP control messages (RFC 2637 section 2): the header every message starts with, the size of each of
 * the fifteen types, the offsets of the Call ID fields a NAT rewrites, and writers for test peers.
 *
 * <pre>
 *  0 Length (2)   2 PPTP Message Type (2) = 1   4 Magic Cookie (4) = 0x1A2B3C4D
 *  8 Control Message Type (2)   10 Reserved0 (2)   12 ... the message's own fields
 * </pre>
 */
public final class PptpControl
{
    public static final int LENGTH_OFFSET = 0;
    public static final int PPTP_TYPE_OFFSET = 2;
    public static final int COOKIE_OFFSET = 4;
    public static final int CONTROL_TYPE_OFFSET = 8;
    public static final int HEADER_LENGTH = 12;
    public static final int MAGIC_COOKIE = 0x1A2B3C4D;
    public static final int PPTP_CONTROL_MESSAGE = 1;
    public static final int PORT = 1723;

    public static final int START_CONTROL_CONNECTION_REQUEST = 1;
    public static final int START_CONTROL_CONNECTION_REPLY = 2;
    public static final int STOP_CONTROL_CONNECTION_REQUEST = 3;
    public static final int STOP_CONTROL_CONNECTION_REPLY = 4;
    public static final int ECHO_REQUEST = 5;
    public static final int ECHO_REPLY = 6;
    public static final int OUTGOING_CALL_REQUEST = 7;
    public static final int OUTGOING_CALL_REPLY = 8;
    public static final int INCOMING_CALL_REQUEST = 9;
    public static final int INCOMING_CALL_REPLY = 10;
    public static final int INCOMING_CALL_CONNECTED = 11;
    public static final int CALL_CLEAR_REQUEST = 12;
    public static final int CALL_DISCONNECT_NOTIFY = 13;
    public static final int WAN_ERROR_NOTIFY = 14;
    public static final int SET_LINK_INFO = 15;

    /** RFC 2637 message sizes by type (index 0 unused). */
    private static final int[] SIZES = {0, 156, 156, 16, 16, 16, 20, 168, 32, 220, 24, 28, 16, 148, 40, 24};
    private static final String[] NAMES = {"?", "Start-Control-Connection-Request", "Start-Control-Connection-Reply",
        "Stop-Control-Connection-Request", "Stop-Control-Connection-Reply", "Echo-Request", "Echo-Reply",
        "Outgoing-Call-Request", "Outgoing-Call-Reply", "Incoming-Call-Request", "Incoming-Call-Reply",
        "Incoming-Call-Connected", "Call-Clear-Request", "Call-Disconnect-Notify", "WAN-Error-Notify",
        "Set-Link-Info"};
    /** Longest message passgate accepts: the largest RFC size (220) with room for trailing vendor bytes. */
    public static final int MAX_LENGTH = 512;

    // fields (offsets from the message start)
    /** OCRQ, OCRP, ICRQ, ICRP, CCRQ, CDN: the sender's (or, for CDN, the PAC's) Call ID. */
    public static final int CALL_ID_OFFSET = 12;
    /** OCRP, ICRP: the peer's Call ID. */
    public static final int PEER_CALL_ID_OFFSET = 14;
    /** ICCN, WEN, SLI: the peer's Call ID comes first. */
    public static final int PEER_CALL_ID_FIRST_OFFSET = 12;
    /** SCCRP: result code; OCRP: result code. */
    public static final int SCCRP_RESULT_OFFSET = 14;
    public static final int OCRP_RESULT_OFFSET = 16;
    /** ICRP: result code (1 = connect, 2 = general error, 3 = do not accept). */
    public static final int ICRP_RESULT_OFFSET = 16;
    public static final int RESULT_OK = 1;

    private PptpControl()
    {
    }

    public static boolean validType(final int type)
    {
        return type >= 1 && type < SIZES.length;
    }

    public static int size(final int type)
    {
        return validType(type) ? SIZES[type] : -1;
    }

    public static String name(final int type)
    {
        return validType(type) ? NAMES[type] : "type " + type;
    }

    /**
     * Where the Call ID a NAT must translate lies in a message the PNS (the LAN client) sends, or -1:
     * Outgoing-Call-Request, Incoming-Call-Reply and Call-Clear-Request carry the PNS's own Call ID.
     */
    public static int outboundCallIdOffset(final int type)
    {
        return switch (type)
        {
            case OUTGOING_CALL_REQUEST, INCOMING_CALL_REPLY, CALL_CLEAR_REQUEST -> CALL_ID_OFFSET;
            default -> -1;
        };
    }

    /**
     * Where the PNS's (translated) Call ID lies in a message the PAC (the server) sends, or -1: the Peer's
     * Call ID of Outgoing-Call-Reply, Incoming-Call-Connected, WAN-Error-Notify and Set-Link-Info. (The
     * Call ID of Call-Disconnect-Notify is the PAC's own, RFC 2637 2.13; passgate restores it too when a
     * peer puts the PNS's translated Call ID there.)
     */
    public static int inboundPeerCallIdOffset(final int type)
    {
        return switch (type)
        {
            case OUTGOING_CALL_REPLY -> PEER_CALL_ID_OFFSET;
            case INCOMING_CALL_CONNECTED, WAN_ERROR_NOTIFY, SET_LINK_INFO -> PEER_CALL_ID_FIRST_OFFSET;
            case CALL_DISCONNECT_NOTIFY -> CALL_ID_OFFSET;
            default -> -1;
        };
    }

    // ------------------------------------------------------------------------------------------ writers

    /** Writes the 12-byte header of a message of {@code type} at its RFC size, zeroing the rest; returns the size. */
    public static int header(final MutableDirectBuffer b, final int offset, final int type)
    {
        final int size = SIZES[type];
        b.setMemory(offset, size, (byte)0);
        b.putShort(offset + LENGTH_OFFSET, (short)size, ByteOrder.BIG_ENDIAN);
        b.putShort(offset + PPTP_TYPE_OFFSET, (short)PPTP_CONTROL_MESSAGE, ByteOrder.BIG_ENDIAN);
        b.putInt(offset + COOKIE_OFFSET, MAGIC_COOKIE, ByteOrder.BIG_ENDIAN);
        b.putShort(offset + CONTROL_TYPE_OFFSET, (short)type, ByteOrder.BIG_ENDIAN);
        return size;
    }

    public static int startRequest(final MutableDirectBuffer b, final int offset, final String hostName)
    {
        final int size = header(b, offset, START_CONTROL_CONNECTION_REQUEST);
        b.putShort(offset + 12, (short)0x0100, ByteOrder.BIG_ENDIAN);   // protocol version 1.0
        b.putInt(offset + 16, 1, ByteOrder.BIG_ENDIAN);                 // framing: asynchronous
        b.putInt(offset + 20, 1, ByteOrder.BIG_ENDIAN);                 // bearer: analog
        b.putShort(offset + 24, (short)0, ByteOrder.BIG_ENDIAN);        // max channels
        b.putShort(offset + 26, (short)1, ByteOrder.BIG_ENDIAN);        // firmware revision
        putString(b, offset + 28, 64, hostName);
        putString(b, offset + 92, 64, "passgate-test");
        return size;
    }

    public static int startReply(final MutableDirectBuffer b, final int offset, final int result)
    {
        final int size = header(b, offset, START_CONTROL_CONNECTION_REPLY);
        b.putShort(offset + 12, (short)0x0100, ByteOrder.BIG_ENDIAN);
        b.putByte(offset + SCCRP_RESULT_OFFSET, (byte)result);
        putString(b, offset + 28, 64, "pac");
        putString(b, offset + 92, 64, "passgate-test");
        return size;
    }

    public static int outgoingCallRequest(final MutableDirectBuffer b, final int offset, final int callId,
        final int serial)
    {
        final int size = header(b, offset, OUTGOING_CALL_REQUEST);
        b.putShort(offset + CALL_ID_OFFSET, (short)callId, ByteOrder.BIG_ENDIAN);
        b.putShort(offset + 14, (short)serial, ByteOrder.BIG_ENDIAN);
        b.putInt(offset + 16, 300, ByteOrder.BIG_ENDIAN);
        b.putInt(offset + 20, 100_000_000, ByteOrder.BIG_ENDIAN);
        b.putInt(offset + 24, 3, ByteOrder.BIG_ENDIAN);
        b.putInt(offset + 28, 3, ByteOrder.BIG_ENDIAN);
        b.putShort(offset + 32, (short)64, ByteOrder.BIG_ENDIAN);
        return size;
    }

    public static int outgoingCallReply(final MutableDirectBuffer b, final int offset, final int callId,
        final int peerCallId, final int result)
    {
        final int size = header(b, offset, OUTGOING_CALL_REPLY);
        b.putShort(offset + CALL_ID_OFFSET, (short)callId, ByteOrder.BIG_ENDIAN);
        b.putShort(offset + PEER_CALL_ID_OFFSET, (short)peerCallId, ByteOrder.BIG_ENDIAN);
        b.putByte(offset + OCRP_RESULT_OFFSET, (byte)result);
        b.putInt(offset + 20, 100_000_000, ByteOrder.BIG_ENDIAN);
        b.putShort(offset + 24, (short)64, ByteOrder.BIG_ENDIAN);
        return size;
    }

    public static int incomingCallRequest(final MutableDirectBuffer b, final int offset, final int callId)
    {
        final int size = header(b, offset, INCOMING_CALL_REQUEST);
        b.putShort(offset + CALL_ID_OFFSET, (short)callId, ByteOrder.BIG_ENDIAN);
        return size;
    }

    public static int incomingCallReply(final MutableDirectBuffer b, final int offset, final int callId,
        final int peerCallId)
    {
        return incomingCallReply(b, offset, callId, peerCallId, RESULT_OK);
    }

    public static int incomingCallReply(final MutableDirectBuffer b, final int offset, final int callId,
        final int peerCallId, final int result)
    {
        final int size = header(b, offset, INCOMING_CALL_REPLY);
        b.putShort(offset + CALL_ID_OFFSET, (short)callId, ByteOrder.BIG_ENDIAN);
        b.putShort(offset + PEER_CALL_ID_OFFSET, (short)peerCallId, ByteOrder.BIG_ENDIAN);
        b.putByte(offset + ICRP_RESULT_OFFSET, (byte)result);
        return size;
    }

    /** A message whose only Call ID is its first field (ICCN, CCRQ, CDN, WEN, SLI). */
    public static int withFirstCallId(final MutableDirectBuffer b, final int offset, final int type, final int callId)
    {
        final int size = header(b, offset, type);
        b.putShort(offset + 12, (short)callId, ByteOrder.BIG_ENDIAN);
        if (type == SET_LINK_INFO)
        {
            b.putInt(offset + 16, -1, ByteOrder.BIG_ENDIAN);
            b.putInt(offset + 20, -1, ByteOrder.BIG_ENDIAN);
        }
        if (type == CALL_DISCONNECT_NOTIFY)
        {
            b.putByte(offset + 14, (byte)RESULT_OK);
        }
        return size;
    }

    public static int simple(final MutableDirectBuffer b, final int offset, final int type)
    {
        final int size = header(b, offset, type);
        if (type == STOP_CONTROL_CONNECTION_REPLY || type == ECHO_REPLY)
        {
            b.putByte(offset + 12 + (type == ECHO_REPLY ? 4 : 0), (byte)RESULT_OK);
        }
        return size;
    }

    private static void putString(final MutableDirectBuffer b, final int offset, final int max, final String s)
    {
        final int n = Math.min(max - 1, s.length());
        for (int i = 0; i < n; i++)
        {
            b.putByte(offset + i, (byte)s.charAt(i));
        }
    }

    public static int length(final MutableDirectBuffer b, final int offset)
    {
        return b.getShort(offset + LENGTH_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public static int controlType(final MutableDirectBuffer b, final int offset)
    {
        return b.getShort(offset + CONTROL_TYPE_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public static int field(final MutableDirectBuffer b, final int offset, final int field)
    {
        return b.getShort(offset + field, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }
}
