package io.passgate.nat;

import java.util.List;

/**
 * What a passthrough helper declares once: its passthrough switches, the external UDP ports it serves itself
 * (shared by several clients, demultiplexed by a field it reads: never in the mapping table), the UDP ports
 * only its own protocol may keep (they stay in the mapping table, reserved from every other session), and the
 * kinds of tunnel rows it lists in {@code passgatectl tunnels} with the names of their identifiers.
 *
 * @param name           the helper's name
 * @param passthroughs   its switches
 * @param sharedUdpPorts external UDP ports the helper demultiplexes ({@link Helper#demuxInbound})
 * @param keptUdpPorts   UDP ports kept only by sessions of the helper's protocols (a client's own port)
 * @param tunnelKinds    the rows it lists
 */
public record HelperSpec(String name, List<Passthrough> passthroughs, int[] sharedUdpPorts, int[] keptUdpPorts,
    List<TunnelKind> tunnelKinds)
{
    /**
     * A kind of row in the tunnel table: its name and the names of up to {@link TunnelSink#IDS} identifiers
     * (a name ending in "-spi" is shown in hexadecimal).
     */
    public record TunnelKind(String name, List<String> ids)
    {
    }
}
