package io.passgate.nat;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.wire.TcpHeader;

/**
 * A TCP session's state, as much as the NAT needs (RFC 5382, RFC 7857): SYN seen each way (established),
 * FIN each way, RST; whether it is transitory (not yet established, or closing: the shorter timer, and the
 * eviction order when the table is full); a SYN reusing a closed 5-tuple starts over.
 */
final class TcpTracker
{
    static final int SYN_OUT = 1;
    static final int SYN_IN = 2;
    static final int FIN_OUT = 4;
    static final int FIN_IN = 8;
    static final int RST = 16;
    static final int ESTABLISHED = 32;

    private final FlowTable flows;
    private final CounterSet counters;
    private final SessionTimers timers;

    TcpTracker(final FlowTable flows, final CounterSet counters, final SessionTimers timers)
    {
        this.flows = flows;
        this.counters = counters;
        this.timers = timers;
    }

    static boolean transitory(final int state)
    {
        return (state & ESTABLISHED) == 0 || (state & (RST | FIN_IN | FIN_OUT)) != 0;
    }

    /** A session picked up mid-stream (after a takeover): taken as established. */
    void pickUp(final int f)
    {
        flows.state[f] = SYN_OUT | SYN_IN | ESTABLISHED;
        counters.increment(Counter.NAT_TCP_PICKUPS);
    }

    /** A segment with {@code tcpFlags} went {@code outbound} (or came in): the state, its timer, its place. */
    void track(final int f, final int tcpFlags, final boolean outbound)
    {
        final int before = flows.state[f];
        int s = before;
        if ((tcpFlags & TcpHeader.RST) != 0)
        {
            if ((s & RST) == 0)
            {
                counters.increment(Counter.NAT_TCP_RESETS);
            }
            s |= RST;
        }
        else if ((tcpFlags & TcpHeader.SYN) != 0)
        {
            if ((s & (RST | FIN_IN | FIN_OUT)) != 0 && (tcpFlags & TcpHeader.ACK) == 0)
            {
                s = 0;   // the 5-tuple is reused by a new connection
            }
            s |= outbound ? SYN_OUT : SYN_IN;
            if ((s & (SYN_OUT | SYN_IN)) == (SYN_OUT | SYN_IN))
            {
                s |= ESTABLISHED;
            }
        }
        if ((tcpFlags & TcpHeader.FIN) != 0)
        {
            s |= outbound ? FIN_OUT : FIN_IN;
        }
        if (s != before)
        {
            final boolean wasTransitory = transitory(before);
            flows.state[f] = (byte)s;
            final boolean isTransitory = transitory(s);
            if (isTransitory != wasTransitory)
            {
                if (isTransitory)
                {
                    flows.lruAppend(f);
                }
                else
                {
                    flows.lruUnlink(f);
                }
                timers.reschedule(f);
            }
        }
    }
}
