package io.passgate.nft;

import java.io.IOException;
import java.nio.ByteOrder;

import io.passgate.nat.Protocols;
import io.passgate.nfq.Netlink;
import io.passgate.nfq.NetlinkDump;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The kernel's connection tracking table over ctnetlink (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_CTNETLINK),
 * written for offload: an entry is created with passgate's own mapping as its source NAT (CTA_NAT_SRC with
 * one address and one port, so the kernel applies exactly the translation passgate chose), marked with a
 * connection mark that names the shard and the session, deleted, dumped by mark (for its counters), and its
 * destroy events read. The layout is the kernel's ({@code include/uapi/linux/netfilter/nfnetlink_conntrack.h}):
 * addresses and ports in network order, CTA_TIMEOUT, CTA_MARK and CTA_STATUS big-endian 32-bit, counters
 * big-endian 64-bit.
 *
 * <p>One thread uses an instance. Nothing here allocates after construction.
 */
public final class Conntrack implements AutoCloseable
{
    // message types (subsystem NFNL_SUBSYS_CTNETLINK)
    static final int IPCTNL_MSG_CT_NEW = 0;
    static final int IPCTNL_MSG_CT_GET = 1;
    static final int IPCTNL_MSG_CT_DELETE = 2;
    /** The multicast group of destroy events (NFNLGRP_CONNTRACK_DESTROY). */
    static final int NFNLGRP_CONNTRACK_DESTROY = 3;

    // attributes
    static final int CTA_TUPLE_ORIG = 1;
    static final int CTA_TUPLE_REPLY = 2;
    static final int CTA_STATUS = 3;
    static final int CTA_PROTOINFO = 4;
    static final int CTA_NAT_SRC = 6;
    static final int CTA_TIMEOUT = 7;
    static final int CTA_MARK = 8;
    static final int CTA_COUNTERS_ORIG = 9;
    static final int CTA_COUNTERS_REPLY = 10;
    static final int CTA_MARK_MASK = 21;
    static final int CTA_TUPLE_IP = 1;
    static final int CTA_TUPLE_PROTO = 2;
    static final int CTA_IP_V4_SRC = 1;
    static final int CTA_IP_V4_DST = 2;
    static final int CTA_PROTO_NUM = 1;
    static final int CTA_PROTO_SRC_PORT = 2;
    static final int CTA_PROTO_DST_PORT = 3;
    static final int CTA_PROTOINFO_TCP = 1;
    static final int CTA_PROTOINFO_TCP_STATE = 1;
    static final int CTA_PROTOINFO_TCP_FLAGS_ORIGINAL = 4;
    static final int CTA_PROTOINFO_TCP_FLAGS_REPLY = 5;
    static final int CTA_NAT_V4_MINIP = 1;
    static final int CTA_NAT_V4_MAXIP = 2;
    static final int CTA_NAT_PROTO = 3;
    static final int CTA_PROTONAT_PORT_MIN = 1;
    static final int CTA_PROTONAT_PORT_MAX = 2;
    static final int CTA_COUNTERS_PACKETS = 1;
    static final int CTA_COUNTERS_BYTES = 2;

    /**
     * IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED: both ways seen (UDP's stream timeout), not dropped first under
     * pressure, and confirmed (without it the kernel refuses the entry with EBUSY). The NAT bits come from
     * CTA_NAT_SRC, never from here.
     */
    static final int STATUS_SETTLED = 0x2 | 0x4 | 0x8;
    /** TCP conntrack states (enum tcp_conntrack). */
    public static final int TCP_ESTABLISHED = 3;
    public static final int TCP_FIN_WAIT = 4;
    /**
     * IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_SACK_PERM (as conntrack-tools sets them): the entry starts
     * mid-stream, its windows unknown, so accept what the ends accept (without it a bulk flow handed over
     * mid-stream has packets marked invalid and the connection is reset).
     */
    static final int TCP_FLAG_BE_LIBERAL = 0x08 | 0x02;

    /** What a dump or an event tells of one entry. */
    public interface Visitor
    {
        /**
         * @param destroyed a destroy event (else a dump row)
         * @param tcpState the TCP state (enum tcp_conntrack), -1 when none
         * @param timeoutS seconds the entry has left (dump rows), -1 when not told
         */
        void entry(boolean destroyed, int mark, int protocol, int src, int srcPort, int dst, int dstPort, int tcpState,
            int timeoutS, long packetsOrig, long bytesOrig, long packetsReply, long bytesReply);
    }

    private final NetlinkSocket socket;
    private final NetlinkSocket events;
    private final NativeBuffer out = NativeBuffer.allocate(1024);
    private final NativeBuffer in = NativeBuffer.allocate(64 * 1024);
    private final NativeBuffer eventsIn = NativeBuffer.allocate(64 * 1024);
    private final NetlinkDump dumpReader = new NetlinkDump(this::dumpRow, false);
    /** The visitor of the dump being read. */
    private Visitor dumpVisitor;
    /** {@link #markOf}: the reply's entry is parsed, and its mark kept, while this is set. */
    private boolean capture;
    private boolean captured;
    private int capturedMark;
    private static final Visitor IGNORE = (d, m, p, s, sp, ds, dp, t, o, a, b, c, e) -> { };
    private int seq = 1;
    private int lastError;

    /** Opens the request socket, and with {@code destroyEvents} a second one subscribed to destroy events. */
    public Conntrack(final boolean destroyEvents) throws IOException
    {
        socket = NetlinkSocket.open(Linux.NETLINK_NETFILTER);
        NetlinkSocket e = null;
        if (destroyEvents)
        {
            try
            {
                e = NetlinkSocket.open(Linux.NETLINK_NETFILTER);
                e.receiveBuffer(4 << 20);
                e.setInt(Linux.SOL_NETLINK, Linux.NETLINK_ADD_MEMBERSHIP, NFNLGRP_CONNTRACK_DESTROY,
                    "conntrack destroy events");
            }
            catch (final IOException | RuntimeException ex)
            {
                if (e != null)
                {
                    e.close();
                }
                socket.close();
                throw ex;
            }
        }
        events = e;
    }

    /** The errno of the last refused request. */
    public int lastError()
    {
        return lastError;
    }

    /**
     * Creates an entry for a session passgate translates: original tuple (client, server) as it leaves the LAN,
     * the kernel to rewrite its source to {@code wan:externalPort} and the replies back. TCP starts ESTABLISHED
     * and liberal (the kernel did not see the handshake). Returns 0, or the errno (EEXIST: an entry with either
     * tuple exists already).
     */
    public int create(final int protocol, final int client, final int clientPort, final int server,
        final int serverPort, final int wan, final int externalPort, final int mark, final int timeoutS)
    {
        final UnsafeBuffer b = out.buffer();
        int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW,
            Linux.NLM_F_REQUEST | Linux.NLM_F_CREATE | Linux.NLM_F_EXCL | Linux.NLM_F_ACK, seq++, Linux.AF_INET, 0);
        at = tuple(b, at, CTA_TUPLE_ORIG, protocol, client, clientPort, server, serverPort);
        at = tuple(b, at, CTA_TUPLE_REPLY, protocol, server, serverPort, client, clientPort);
        final int nat = at;
        at = Netlink.beginNest(b, at, CTA_NAT_SRC);
        at = putU32Raw(b, at, CTA_NAT_V4_MINIP, wan);
        at = putU32Raw(b, at, CTA_NAT_V4_MAXIP, wan);
        final int natProto = at;
        at = Netlink.beginNest(b, at, CTA_NAT_PROTO);
        at = putU16Be(b, at, CTA_PROTONAT_PORT_MIN, externalPort);
        at = putU16Be(b, at, CTA_PROTONAT_PORT_MAX, externalPort);
        Netlink.endNest(b, natProto, at);
        Netlink.endNest(b, nat, at);
        at = Netlink.putAttrU32Be(b, at, CTA_TIMEOUT, timeoutS);
        at = Netlink.putAttrU32Be(b, at, CTA_MARK, mark);
        at = Netlink.putAttrU32Be(b, at, CTA_STATUS, STATUS_SETTLED);
        if (protocol == Protocols.TCP)
        {
            final int info = at;
            at = Netlink.beginNest(b, at, CTA_PROTOINFO);
            final int tcp = at;
            at = Netlink.beginNest(b, at, CTA_PROTOINFO_TCP);
            at = putU8(b, at, CTA_PROTOINFO_TCP_STATE, TCP_ESTABLISHED);
            at = putFlags(b, at, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, TCP_FLAG_BE_LIBERAL);
            at = putFlags(b, at, CTA_PROTOINFO_TCP_FLAGS_REPLY, TCP_FLAG_BE_LIBERAL);
            Netlink.endNest(b, tcp, at);
            Netlink.endNest(b, info, at);
        }
        return request(Netlink.finish(b, 0, at));
    }

    /**
     * Gives the entry whose original tuple is (client, server) {@code timeoutS} seconds more to live (its idle
     * timeout starts again from there; the kernel's per-protocol timeouts apply again at its next packet).
     * 0, or the errno (ENOENT: none).
     */
    public int refresh(final int protocol, final int client, final int clientPort, final int server,
        final int serverPort, final int timeoutS)
    {
        final UnsafeBuffer b = out.buffer();
        int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW,
            Linux.NLM_F_REQUEST | Linux.NLM_F_ACK, seq++, Linux.AF_INET, 0);
        at = tuple(b, at, CTA_TUPLE_ORIG, protocol, client, clientPort, server, serverPort);
        at = Netlink.putAttrU32Be(b, at, CTA_TIMEOUT, timeoutS);
        return request(Netlink.finish(b, 0, at));
    }

    /** Deletes the entry whose original tuple is (client, server); 0, or the errno (ENOENT: none). */
    public int delete(final int protocol, final int client, final int clientPort, final int server, final int serverPort)
    {
        final UnsafeBuffer b = out.buffer();
        int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE,
            Linux.NLM_F_REQUEST | Linux.NLM_F_ACK, seq++, Linux.AF_INET, 0);
        at = tuple(b, at, CTA_TUPLE_ORIG, protocol, client, clientPort, server, serverPort);
        return request(Netlink.finish(b, 0, at));
    }

    /**
     * The connection mark of the entry whose original tuple is (client, server), as an unsigned value; or -errno
     * (ENOENT: no such entry).
     */
    public long markOf(final int protocol, final int client, final int clientPort, final int server,
        final int serverPort)
    {
        final UnsafeBuffer b = out.buffer();
        int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET,
            Linux.NLM_F_REQUEST | Linux.NLM_F_ACK, seq++, Linux.AF_INET, 0);
        at = tuple(b, at, CTA_TUPLE_ORIG, protocol, client, clientPort, server, serverPort);
        capture = true;
        captured = false;
        final int error = request(Netlink.finish(b, 0, at));
        capture = false;
        if (error != 0)
        {
            return -error;
        }
        return captured ? capturedMark & 0xFFFFFFFFL : -Linux.ENOENT;
    }

    /** Deletes every IPv4 entry whose mark has the bits of {@code mask} equal to {@code mark}; 0 or the errno. */
    public int flush(final int mark, final int mask)
    {
        final UnsafeBuffer b = out.buffer();
        int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE,
            Linux.NLM_F_REQUEST | Linux.NLM_F_ACK, seq++, Linux.AF_INET, 0);
        at = Netlink.putAttrU32Be(b, at, CTA_MARK, mark);
        at = Netlink.putAttrU32Be(b, at, CTA_MARK_MASK, mask);
        return request(Netlink.finish(b, 0, at));
    }

    /** Dumps the IPv4 entries whose mark matches, to {@code visitor}; returns the entries seen, or -errno. */
    public int dump(final int mark, final int mask, final Visitor visitor)
    {
        final UnsafeBuffer b = out.buffer();
        final int mySeq = seq++;
        int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET,
            Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP, mySeq, Linux.AF_INET, 0);
        at = Netlink.putAttrU32Be(b, at, CTA_MARK, mark);
        at = Netlink.putAttrU32Be(b, at, CTA_MARK_MASK, mask);
        final long sent = socket.send(out.address(), Netlink.finish(b, 0, at));
        if (sent < 0)
        {
            lastError = (int)-sent;
            return (int)sent;
        }
        dumpVisitor = visitor;
        final int entries = dumpReader.read(socket, in, mySeq);
        dumpVisitor = null;
        if (entries < 0)
        {
            lastError = -entries;
        }
        return entries;
    }

    /** One row of {@link #dump}: 1 when it is an entry. */
    private int dumpRow(final UnsafeBuffer b, final int offset, final int length, final int type)
    {
        return parse(b, offset, length, false, dumpVisitor) ? 1 : 0;
    }

    /** Reads and drops the destroy events queued so far (an overflow of the socket's buffer included). */
    public void discardEvents()
    {
        for (int i = 0; i < 1024 && pollEvents(IGNORE) != 0; i++)
        {
            // until none is left
        }
    }

    /**
     * Reads the destroy events queued so far (without waiting) to {@code visitor}; returns the events read, or
     * -ENOBUFS when the kernel dropped some (the socket's buffer overflowed: a dump must make up for them).
     */
    public int pollEvents(final Visitor visitor)
    {
        int read = 0;
        final UnsafeBuffer r = eventsIn.buffer();
        while (true)
        {
            final long n = events.receive(eventsIn.address(), eventsIn.capacity(), Linux.MSG_DONTWAIT);
            if (n == -Linux.ENOBUFS)
            {
                return -Linux.ENOBUFS;
            }
            if (n <= 0)
            {
                return read;
            }
            int off = 0;
            while (off + Linux.NLMSG_HDRLEN <= n)
            {
                final int len = Netlink.messageLength(r, off);
                if (len < Linux.NLMSG_HDRLEN || off + len > n)
                {
                    break;
                }
                final int type = Netlink.messageType(r, off);
                if ((type >> 8) == Linux.NFNL_SUBSYS_CTNETLINK && parse(r, off, len, true, visitor))
                {
                    read++;
                }
                off += Netlink.align(len);
            }
        }
    }

    /** The event socket's file descriptor (to wait on), -1 without events. */
    public int eventsFd()
    {
        return events == null ? -1 : events.fd();
    }

    // ------------------------------------------------------------------------------------------------ parsing

    private int pProto;
    private int pSrc;
    private int pSrcPort;
    private int pDst;
    private int pDstPort;
    private int pMark;
    private int pTcpState;
    private int pTimeout;
    private long pPacketsOrig;
    private long pBytesOrig;
    private long pPacketsReply;
    private long pBytesReply;

    /** Parses one IPv4 entry message; false when it is not one (another family, no original tuple). */
    boolean parse(final UnsafeBuffer b, final int offset, final int length, final boolean destroyed, final Visitor visitor)
    {
        final int start = offset + Linux.NLMSG_HDRLEN;
        if (length < Linux.NLMSG_HDRLEN + Linux.NFGENMSG_LEN || (b.getByte(start) & 0xFF) != Linux.AF_INET)
        {
            return false;
        }
        pProto = -1;
        pMark = 0;
        pTcpState = -1;
        pTimeout = -1;
        pPacketsOrig = 0;
        pBytesOrig = 0;
        pPacketsReply = 0;
        pBytesReply = 0;
        final int end = offset + length;
        for (int at = start + Linux.NFGENMSG_LEN; at + Linux.NLA_HDRLEN <= end; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            final int type = b.getShort(at + 2, Netlink.HOST) & 0x3FFF;
            if (len < Linux.NLA_HDRLEN || at + len > end)
            {
                return false;
            }
            final int v = at + Linux.NLA_HDRLEN;
            final int vEnd = at + len;
            switch (type)
            {
                case CTA_TUPLE_ORIG -> parseTuple(b, v, vEnd);
                case CTA_MARK -> pMark = len >= 8 ? b.getInt(v, ByteOrder.BIG_ENDIAN) : 0;
                case CTA_TIMEOUT -> pTimeout = len >= 8 ? b.getInt(v, ByteOrder.BIG_ENDIAN) : -1;
                case CTA_PROTOINFO -> parseProtoInfo(b, v, vEnd);
                case CTA_COUNTERS_ORIG -> parseCounters(b, v, vEnd, true);
                case CTA_COUNTERS_REPLY -> parseCounters(b, v, vEnd, false);
                default ->
                {
                }
            }
            at += Netlink.align(len);
        }
        if (pProto < 0)
        {
            return false;
        }
        visitor.entry(destroyed, pMark, pProto, pSrc, pSrcPort, pDst, pDstPort, pTcpState, pTimeout, pPacketsOrig,
            pBytesOrig, pPacketsReply, pBytesReply);
        return true;
    }

    private void parseTuple(final UnsafeBuffer b, final int start, final int end)
    {
        for (int at = start; at + Linux.NLA_HDRLEN <= end; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            final int type = b.getShort(at + 2, Netlink.HOST) & 0x3FFF;
            if (len < Linux.NLA_HDRLEN || at + len > end)
            {
                return;
            }
            for (int in = at + Linux.NLA_HDRLEN; in + Linux.NLA_HDRLEN <= at + len; )
            {
                final int l = b.getShort(in, Netlink.HOST) & 0xFFFF;
                final int t = b.getShort(in + 2, Netlink.HOST) & 0x3FFF;
                if (l < Linux.NLA_HDRLEN || in + l > at + len)
                {
                    break;
                }
                final int v = in + Linux.NLA_HDRLEN;
                if (type == CTA_TUPLE_IP && l >= 8)
                {
                    if (t == CTA_IP_V4_SRC)
                    {
                        pSrc = b.getInt(v, ByteOrder.BIG_ENDIAN);
                    }
                    else if (t == CTA_IP_V4_DST)
                    {
                        pDst = b.getInt(v, ByteOrder.BIG_ENDIAN);
                    }
                }
                else if (type == CTA_TUPLE_PROTO)
                {
                    if (t == CTA_PROTO_NUM && l >= 5)
                    {
                        pProto = b.getByte(v) & 0xFF;
                    }
                    else if (t == CTA_PROTO_SRC_PORT && l >= 6)
                    {
                        pSrcPort = b.getShort(v, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                    }
                    else if (t == CTA_PROTO_DST_PORT && l >= 6)
                    {
                        pDstPort = b.getShort(v, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                    }
                }
                in += Netlink.align(l);
            }
            at += Netlink.align(len);
        }
    }

    private void parseProtoInfo(final UnsafeBuffer b, final int start, final int end)
    {
        for (int at = start; at + Linux.NLA_HDRLEN <= end; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            final int type = b.getShort(at + 2, Netlink.HOST) & 0x3FFF;
            if (len < Linux.NLA_HDRLEN || at + len > end)
            {
                return;
            }
            if (type == CTA_PROTOINFO_TCP)
            {
                for (int in = at + Linux.NLA_HDRLEN; in + Linux.NLA_HDRLEN <= at + len; )
                {
                    final int l = b.getShort(in, Netlink.HOST) & 0xFFFF;
                    final int t = b.getShort(in + 2, Netlink.HOST) & 0x3FFF;
                    if (l < Linux.NLA_HDRLEN || in + l > at + len)
                    {
                        break;
                    }
                    if (t == CTA_PROTOINFO_TCP_STATE && l >= 5)
                    {
                        pTcpState = b.getByte(in + Linux.NLA_HDRLEN) & 0xFF;
                    }
                    in += Netlink.align(l);
                }
            }
            at += Netlink.align(len);
        }
    }

    private void parseCounters(final UnsafeBuffer b, final int start, final int end, final boolean orig)
    {
        for (int at = start; at + Linux.NLA_HDRLEN <= end; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            final int type = b.getShort(at + 2, Netlink.HOST) & 0x3FFF;
            if (len < Linux.NLA_HDRLEN || at + len > end)
            {
                return;
            }
            if (len >= 12)
            {
                final long value = b.getLong(at + Linux.NLA_HDRLEN, ByteOrder.BIG_ENDIAN);
                if (type == CTA_COUNTERS_PACKETS)
                {
                    if (orig)
                    {
                        pPacketsOrig = value;
                    }
                    else
                    {
                        pPacketsReply = value;
                    }
                }
                else if (type == CTA_COUNTERS_BYTES)
                {
                    if (orig)
                    {
                        pBytesOrig = value;
                    }
                    else
                    {
                        pBytesReply = value;
                    }
                }
            }
            at += Netlink.align(len);
        }
    }

    // ------------------------------------------------------------------------------------------------ writing

    private static int tuple(final UnsafeBuffer b, final int start, final int which, final int protocol, final int src,
        final int srcPort, final int dst, final int dstPort)
    {
        int at = Netlink.beginNest(b, start, which);
        final int ip = at;
        at = Netlink.beginNest(b, at, CTA_TUPLE_IP);
        at = putU32Raw(b, at, CTA_IP_V4_SRC, src);
        at = putU32Raw(b, at, CTA_IP_V4_DST, dst);
        Netlink.endNest(b, ip, at);
        final int proto = at;
        at = Netlink.beginNest(b, at, CTA_TUPLE_PROTO);
        at = putU8(b, at, CTA_PROTO_NUM, protocol);
        at = putU16Be(b, at, CTA_PROTO_SRC_PORT, srcPort);
        at = putU16Be(b, at, CTA_PROTO_DST_PORT, dstPort);
        Netlink.endNest(b, proto, at);
        Netlink.endNest(b, start, at);
        return at;
    }

    /** An address attribute: 4 bytes in network order. */
    private static int putU32Raw(final UnsafeBuffer b, final int offset, final int type, final int address)
    {
        return Netlink.putAttrU32Be(b, offset, type, address);
    }

    private static int putU16Be(final UnsafeBuffer b, final int offset, final int type, final int value)
    {
        final int at = Netlink.putAttrHeader(b, offset, type, 2);
        b.putShort(at, (short)value, ByteOrder.BIG_ENDIAN);
        b.putShort(at + 2, (short)0);
        return at + 4;
    }

    private static int putU8(final UnsafeBuffer b, final int offset, final int type, final int value)
    {
        final int at = Netlink.putAttrHeader(b, offset, type, 1);
        b.putInt(at, 0);
        b.putByte(at, (byte)value);
        return at + 4;
    }

    /** struct nf_ct_tcp_flags { __u8 flags; __u8 mask; }. */
    private static int putFlags(final UnsafeBuffer b, final int offset, final int type, final int flags)
    {
        final int at = Netlink.putAttrHeader(b, offset, type, 2);
        b.putInt(at, 0);
        b.putByte(at, (byte)flags);
        b.putByte(at + 1, (byte)flags);
        return at + 4;
    }

    /** Sends one request and reads its ack: 0, or the errno. */
    private int request(final int length)
    {
        final long sent = socket.send(out.address(), length);
        if (sent < 0)
        {
            lastError = (int)-sent;
            return lastError;
        }
        final UnsafeBuffer r = in.buffer();
        while (true)
        {
            final long n = socket.receive(in.address(), in.capacity(), 0);
            if (n < Linux.NLMSG_HDRLEN)
            {
                lastError = n < 0 ? (int)-n : Linux.EIO;
                return lastError;
            }
            final int mySeq = seq - 1;
            int off = 0;
            while (off + Linux.NLMSG_HDRLEN <= n)
            {
                final int len = Netlink.messageLength(r, off);
                if (len < Linux.NLMSG_HDRLEN)
                {
                    break;
                }
                if (capture && Netlink.messageSeq(r, off) == mySeq
                    && (Netlink.messageType(r, off) >> 8) == Linux.NFNL_SUBSYS_CTNETLINK && off + len <= n
                    && parse(r, off, len, false, IGNORE))
                {
                    captured = true;
                    capturedMark = pMark;
                }
                if (Netlink.messageType(r, off) == Linux.NLMSG_ERROR && Netlink.messageSeq(r, off) == mySeq)
                {
                    final int error = -Netlink.errorCode(r, off);
                    if (error != 0)
                    {
                        lastError = error;
                    }
                    return error;
                }
                off += Netlink.align(len);
            }
        }
    }

    @Override
    public void close()
    {
        socket.close();
        if (events != null)
        {
            events.close();
        }
        out.close();
        in.close();
        eventsIn.close();
    }
}
