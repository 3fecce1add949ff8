package io.passgate.wire;

import java.io.ByteArrayOutputStream;

/**
 * Builds L2TPv2 messages (RFC 2661 3.1, 4.1): control messages with their AVPs and data messages. For passgate's
 * own L2TP test peers and the tests; not on the packet path (it allocates).
 */
public final class L2tpMessages
{
    private L2tpMessages()
    {
    }

    /** A control message under construction: header fields, then AVPs in order (the Message Type first). */
    public static final class Control
    {
        private final int tunnelId;
        private final int sessionId;
        private final int ns;
        private final int nr;
        private final ByteArrayOutputStream avps = new ByteArrayOutputStream();

        public Control(final int tunnelId, final int sessionId, final int ns, final int nr)
        {
            this.tunnelId = tunnelId;
            this.sessionId = sessionId;
            this.ns = ns;
            this.nr = nr;
        }

        /** The Message Type AVP (mandatory). */
        public Control type(final int messageType)
        {
            return u16(L2tpHeader.AVP_MESSAGE_TYPE, messageType);
        }

        /** A mandatory IETF AVP with a 16-bit value (Assigned Tunnel ID, Assigned Session ID, ...). */
        public Control u16(final int type, final int value)
        {
            return avp(true, false, 0, type, new byte[] {(byte)(value >>> 8), (byte)value});
        }

        /** Any AVP: M and H bits, vendor, type, value (as is: a hidden value is whatever the caller gives). */
        public Control avp(final boolean mandatory, final boolean hidden, final int vendor, final int type,
            final byte[] value)
        {
            final int length = L2tpHeader.AVP_HEADER + value.length;
            final int head = (mandatory ? L2tpHeader.AVP_MANDATORY : 0) | (hidden ? L2tpHeader.AVP_HIDDEN : 0)
                | (length & L2tpHeader.AVP_LENGTH_MASK);
            put16(avps, head);
            put16(avps, vendor);
            put16(avps, type);
            avps.writeBytes(value);
            return this;
        }

        /** Host Name, Protocol Version and Framing Capabilities: what an SCCRQ carries besides the IDs. */
        public Control sccrqExtras(final String hostName)
        {
            avp(true, false, 0, 2, new byte[] {1, 0});
            avp(true, false, 0, 3, new byte[] {0, 0, 0, 3});
            return avp(true, false, 0, 7, hostName.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }

        public byte[] bytes()
        {
            final byte[] body = avps.toByteArray();
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            put16(out, L2tpHeader.FLAG_TYPE | L2tpHeader.FLAG_LENGTH | L2tpHeader.FLAG_SEQUENCE | L2tpHeader.VERSION_2);
            put16(out, 12 + body.length);
            put16(out, tunnelId);
            put16(out, sessionId);
            put16(out, ns);
            put16(out, nr);
            out.writeBytes(body);
            return out.toByteArray();
        }
    }

    /** A ZLB acknowledgement (a control message without AVPs). */
    public static byte[] zlb(final int tunnelId, final int ns, final int nr)
    {
        return new Control(tunnelId, 0, ns, nr).bytes();
    }

    /** A data message (T = 0) with the Length bit set and no sequence numbers, carrying {@code payload}. */
    public static byte[] data(final int tunnelId, final int sessionId, final byte[] payload)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        put16(out, L2tpHeader.FLAG_LENGTH | L2tpHeader.VERSION_2);
        put16(out, 8 + payload.length);   // flags, Length, Tunnel ID, Session ID: 8 bytes
        put16(out, tunnelId);
        put16(out, sessionId);
        out.writeBytes(payload);
        return out.toByteArray();
    }

    private static void put16(final ByteArrayOutputStream out, final int value)
    {
        out.write((value >>> 8) & 0xFF);
        out.write(value & 0xFF);
    }
}
