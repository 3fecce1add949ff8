package io.passgate.nat;

import java.nio.ByteOrder;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.Checksum;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import org.agrona.MutableDirectBuffer;

/**
 * ICMP errors about translated packets (RFC 5508): the embedded header is translated with the outer one, so
 * the error reaches the LAN host it concerns (inbound) or the remote that sent the offending packet
 * (outbound, a LAN host's error about a packet it received), with every checksum kept: the embedded IP
 * header's, its transport checksum when quoted (pseudo-header and port), the ICMP checksum. The helpers are
 * asked first for a quote of their traffic; the session is never ended by an error (RFC 4787 REQ-12, RFC 5382
 * REQ-8). Allocation-free.
 */
final class IcmpErrors
{
    /** {@link #inbound}: not about a translated packet: the router's own business. */
    static final int TO_ROUTER = -10;

    private final FlowTable flows;
    private final CounterSet counters;
    private final int wanAddress;
    private final Ipv4Header inner = new Ipv4Header();
    private final Helper.QuoteWriter quoteWriter = this::setInnerWord;
    private Helper[] helpers = new Helper[0];
    private Ipv4Header ip;
    private IcmpHeader icmp;
    private int flow = FlowTable.NONE;

    IcmpErrors(final FlowTable flows, final CounterSet counters, final int wanAddress)
    {
        this.flows = flows;
        this.counters = counters;
        this.wanAddress = wanAddress;
    }

    void helpers(final Helper[] all)
    {
        this.helpers = all;
    }

    /** The session the last translated error concerned. */
    int flow()
    {
        return flow;
    }

    private boolean wrapInner()
    {
        // the quote may be cut short: the inner header is checked against the bytes present
        return inner.wrapQuoted(ip.buffer(), icmp.embeddedOffset(), icmp.embeddedLength())
            && inner.headerLength() + 4 <= icmp.embeddedLength();
    }

    /**
     * A LAN host's error about a packet it received from outside: the quote is (remote to the host's internal
     * endpoint); make it (remote to the WAN endpoint), the outer source the WAN address.
     */
    int outbound(final Ipv4Header outer, final IcmpHeader error)
    {
        ip = outer;
        icmp = error;
        flow = FlowTable.NONE;
        if (!wrapInner())
        {
            counters.increment(Counter.DROP_UNTRANSLATABLE);
            return PacketHandler.VERDICT_DROP;
        }
        final int proto = inner.protocol();
        final int innerSrc = inner.source();
        final int innerDst = inner.destination();
        final int at = inner.payloadOffset();
        final int available = icmp.offset() + icmp.length() - at;
        int f = Helper.NOT_MINE;
        for (int i = 0; f == Helper.NOT_MINE && i < helpers.length; i++)
        {
            f = helpers[i].icmpErrorOutbound(inner, at, available, quoteWriter);
        }
        if (f == Helper.NOT_MINE)
        {
            f = genericOutbound(proto, innerSrc, innerDst, at, available);
        }
        if (f < 0)
        {
            counters.increment(Counter.DROP_UNTRANSLATABLE);
            return PacketHandler.VERDICT_DROP;
        }
        flow = f;
        rewriteInnerAddress(Ipv4Header.DESTINATION_OFFSET, innerDst, wanAddress, proto, at, available);
        ip.source(wanAddress);
        counters.increment(Counter.NAT_ICMP_ERRORS_TRANSLATED);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    private int genericOutbound(final int proto, final int innerSrc, final int innerDst, final int at,
        final int available)
    {
        if (Protocols.hasPorts(proto) && available >= 4)
        {
            final int innerSport = word(at);
            final int innerDport = word(at + 2);
            final int f = flows.findOutbound(proto, innerDst, innerDport, innerSrc, innerSport);
            if (f != FlowTable.NONE)
            {
                rewriteInnerPort(at, innerDport, flows.extPort[f], proto, available, 2);
            }
            return f;
        }
        if (proto == Protocols.ICMP && available >= 8)
        {
            final int id = word(at + 4);
            final int f = flows.findOutbound(Protocols.ICMP, innerDst, id, innerSrc, 0);
            if (f != FlowTable.NONE)
            {
                setInnerWord(at + 4, id, flows.extPort[f]);
                innerIcmpChecksumFix(at, available, id, flows.extPort[f]);
            }
            return f;
        }
        return flows.findOutbound(proto, innerDst, 0, innerSrc, 0);
    }

    /**
     * An error about a packet passgate translated on its way out: the quote is (WAN endpoint to remote); make it
     * (internal endpoint to remote) and send it to the internal host. {@link #TO_ROUTER} when it is not about a
     * translated packet.
     */
    int inbound(final Ipv4Header outer, final IcmpHeader error)
    {
        ip = outer;
        icmp = error;
        flow = FlowTable.NONE;
        if (!wrapInner() || inner.source() != wanAddress)
        {
            return TO_ROUTER;
        }
        final int proto = inner.protocol();
        final int remote = inner.destination();
        final int at = inner.payloadOffset();
        final int available = icmp.offset() + icmp.length() - at;
        int f = Helper.NOT_MINE;
        for (int i = 0; f == Helper.NOT_MINE && i < helpers.length; i++)
        {
            f = helpers[i].icmpErrorInbound(inner, at, available, quoteWriter);
        }
        if (f == Helper.REFUSE)
        {
            counters.increment(Counter.DROP_UNTRANSLATABLE);
            return PacketHandler.VERDICT_DROP;
        }
        if (f == Helper.NOT_MINE)
        {
            f = genericInbound(proto, remote, at, available);
        }
        if (f == FlowTable.NONE)
        {
            return TO_ROUTER;
        }
        flow = f;
        final int host = flows.intAddr[f];
        rewriteInnerAddress(Ipv4Header.SOURCE_OFFSET, wanAddress, host, proto, at, available);
        ip.destination(host);
        counters.increment(Counter.NAT_ICMP_ERRORS_TRANSLATED);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    private int genericInbound(final int proto, final int remote, final int at, final int available)
    {
        if (Protocols.hasPorts(proto) && available >= 4)
        {
            final int sport = word(at);
            final int dport = word(at + 2);
            final int f = flows.findInbound(proto, sport, remote, dport);
            if (f != FlowTable.NONE)
            {
                rewriteInnerPort(at, sport, flows.intPort[f], proto, available, 0);
            }
            return f;
        }
        if (proto == Protocols.ICMP && available >= 8)
        {
            final int id = word(at + 4);
            final int f = flows.findInbound(Protocols.ICMP, id, remote, 0);
            if (f != FlowTable.NONE)
            {
                setInnerWord(at + 4, id, flows.intPort[f]);
                innerIcmpChecksumFix(at, available, id, flows.intPort[f]);
            }
            return f;
        }
        return flows.findInbound(proto, 0, remote, 0);
    }

    // ------------------------------------------------------------------------ embedded header rewriting

    private int word(final int at)
    {
        return ip.buffer().getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** Writes a 16-bit word of the embedded packet and keeps the ICMP checksum right. */
    private void setInnerWord(final int at, final int oldWord, final int newWord)
    {
        ip.buffer().putShort(at, (short)newWord, ByteOrder.BIG_ENDIAN);
        icmp.wordChanged(at, oldWord, newWord);
    }

    /** Rewrites the embedded port at {@code transport + fieldOffset}, then the embedded transport checksum. */
    private void rewriteInnerPort(final int transport, final int oldPort, final int newPort, final int proto,
        final int available, final int fieldOffset)
    {
        setInnerWord(transport + fieldOffset, oldPort, newPort);
        patchInnerChecksum(transport, available, proto, oldPort, newPort, false);
    }

    /**
     * Keeps a quoted transport checksum right when the quote holds it (not a UDP "no checksum", not SCTP's
     * CRC32c, which the quote is too short to recompute): {@code value} says a 32-bit address changed.
     */
    private void patchInnerChecksum(final int transport, final int available, final int proto, final int oldValue,
        final int newValue, final boolean value)
    {
        final int field = Protocols.checksumOffset(proto);
        if (field < 0 || field + 2 > available)
        {
            return;
        }
        final int checksumAt = transport + field;
        final int old = word(checksumAt);
        if (proto == Protocols.UDP && old == 0)
        {
            return;
        }
        int updated = value ? Checksum.update32(old, oldValue, newValue) : Checksum.update16(old, oldValue, newValue);
        if (updated == 0 && (proto == Protocols.UDP || proto == Protocols.UDPLITE))
        {
            updated = 0xFFFF;
        }
        setInnerWord(checksumAt, old, updated);
    }

    /** An embedded ICMP query's identifier changed: fix its own checksum when quoted. */
    private void innerIcmpChecksumFix(final int transport, final int available, final int oldId, final int newId)
    {
        if (available >= 4)
        {
            final int old = word(transport + 2);
            setInnerWord(transport + 2, old, Checksum.update16(old, oldId, newId));
        }
    }

    /**
     * Rewrites the embedded header's source or destination address: its header checksum, its transport
     * checksum's pseudo-header when quoted, and the ICMP checksum for every word changed.
     */
    private void rewriteInnerAddress(final int field, final int oldAddress, final int newAddress, final int proto,
        final int transport, final int available)
    {
        final MutableDirectBuffer b = ip.buffer();
        final int at = inner.offset() + field;
        b.putInt(at, newAddress, ByteOrder.BIG_ENDIAN);
        icmp.valueChanged(at, oldAddress, newAddress);
        final int checksumAt = inner.offset() + Ipv4Header.CHECKSUM_OFFSET;
        final int oldHeaderChecksum = word(checksumAt);
        setInnerWord(checksumAt, oldHeaderChecksum, Checksum.update32(oldHeaderChecksum, oldAddress, newAddress));
        patchInnerChecksum(transport, available, proto, oldAddress, newAddress, true);
    }
}
