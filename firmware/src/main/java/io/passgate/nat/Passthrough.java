package io.passgate.nat;

import io.passgate.counters.Counter;

/**
 * One passthrough switch, as the helper that carries the protocol declares it: its name (the switch in the
 * config file, passgatectl, the state file, metrics, the LEDs), the switch it depends on, what it covers (the
 * server's TCP and UDP ports and the IP protocols without ports), and the gauge its live tunnels are counted in.
 * The policy, the queue rules, the port reservations and the help texts all derive from these.
 *
 * @param name           the switch's name, e.g. {@code "pptp"}
 * @param parent         a switch this one needs on (NAT-T needs IPsec), or null
 * @param covers         what it covers, for help texts ("TCP 1723 and enhanced GRE")
 * @param tcpServerPorts the server's TCP ports whose sessions it covers
 * @param udpServerPorts the server's UDP ports whose sessions it covers
 * @param protocols      IP protocols without ports it covers ({@link #ENHANCED_GRE} for GRE version 1 only)
 * @param tunnels        the gauge of live tunnels (shared by a switch and its parent's group)
 * @param tunnelGroup    the name its tunnels are reported under (NAT-T's count with IPsec's)
 */
public record Passthrough(String name, String parent, String covers, int[] tcpServerPorts, int[] udpServerPorts,
    int[] protocols, Counter tunnels, String tunnelGroup)
{
    /** GRE version 1 (PPTP's enhanced GRE); plain GRE (version 0) is no passthrough's. */
    public static final int ENHANCED_GRE = 0x1_0000 | Protocols.GRE;
}
