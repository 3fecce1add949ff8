package io.passgate.nat;

import io.passgate.config.PassgateContext;

/**
 * The NAT engine's settings, in milliseconds where they are times.
 *
 * @param wanAddress        the external address (host order)
 * @param lanAddress        the router's LAN address: source of ICMP errors sent to LAN clients
 * @param lanIfIndex        the LAN interface index: packets to the WAN address arriving on it are hairpins
 * @param maxFlows          session table capacity (the mapping table has the same)
 * @param portMin           first external port for internal ports >= 1024
 * @param portMax           last external port
 * @param parity            keep the internal port's parity (RFC 4787 REQ-4)
 * @param filtering         inbound filtering (RFC 4787 REQ-8)
 * @param udpTimeoutMs      UDP mapping timer (RFC 4787 REQ-5: >= 2 min)
 * @param tcpEstablishedMs  RFC 5382 REQ-5: >= 2 h 4 min
 * @param tcpTransitoryMs   RFC 5382 REQ-5: >= 4 min
 * @param icmpTimeoutMs     RFC 5508 REQ-1: >= 60 s
 * @param mssClamp          clamp SYN MSS options to this (0 = off)
 * @param unsolicitedSynIcmp answer an unsolicited SYN with ICMP port unreachable after 6 s (RFC 5382 REQ-4)
 * @param hairpinMark       mark bit set on hairpinned packets for the postrouting rule
 * @param shard             this dataplane shard
 * @param shards            number of shards (1, 2, 4)
 * @param seed              randomness for hashing and port choice
 */
public record NatConfig(int wanAddress, int lanAddress, int lanIfIndex, int maxFlows, int portMin, int portMax,
    boolean parity, PassgateContext.Filtering filtering, long udpTimeoutMs, long tcpEstablishedMs,
    long tcpTransitoryMs, long icmpTimeoutMs, int mssClamp, boolean unsolicitedSynIcmp, int hairpinMark, int shard,
    int shards, long seed)
{
    /** Defaults as the daemon's, for tests: capacity and addresses given. */
    public static NatConfig defaults(final int wanAddress, final int lanAddress, final int lanIfIndex,
        final int maxFlows)
    {
        return new NatConfig(wanAddress, lanAddress, lanIfIndex, maxFlows, 1024, 65535, false,
            PassgateContext.Filtering.ADDRESS_DEPENDENT, 300_000, 7_440_000, 240_000, 60_000, 1460, true, 0x100000, 0,
            1, 42);
    }

    public NatConfig with(final PassgateContext.Filtering f)
    {
        return new NatConfig(wanAddress, lanAddress, lanIfIndex, maxFlows, portMin, portMax, parity, f,
            udpTimeoutMs, tcpEstablishedMs, tcpTransitoryMs, icmpTimeoutMs, mssClamp, unsolicitedSynIcmp,
            hairpinMark, shard, shards, seed);
    }

    public NatConfig withPorts(final int min, final int max, final boolean keepParity)
    {
        return new NatConfig(wanAddress, lanAddress, lanIfIndex, maxFlows, min, max, keepParity, filtering,
            udpTimeoutMs, tcpEstablishedMs, tcpTransitoryMs, icmpTimeoutMs, mssClamp, unsolicitedSynIcmp,
            hairpinMark, shard, shards, seed);
    }

    public NatConfig withShard(final int index, final int count)
    {
        return new NatConfig(wanAddress, lanAddress, lanIfIndex, maxFlows, portMin, portMax, parity, filtering,
            udpTimeoutMs, tcpEstablishedMs, tcpTransitoryMs, icmpTimeoutMs, mssClamp, unsolicitedSynIcmp,
            hairpinMark, index, count, seed + index);
    }
}
