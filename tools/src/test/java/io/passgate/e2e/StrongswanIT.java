package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.counters.Counter;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.Strongswan;
import org.junit.jupiter.api.Test;

/**
 * Real strongSwan (IKEv2, kernel-libipsec: ESP in user space, the lab's kernel has none) with two LAN clients to
 * one server through passgate: both keep UDP 500 for IKE_SA_INIT, detect the NAT, float to NAT-T (UDP 4500; the
 * second client's 4500 gets another WAN port) and carry pings through their tunnels at once.
 */
@RequiresRoot
class StrongswanIT
{
    private static final Pattern REMOTE = Pattern.compile("remote\\s+'[^']*'\\s+@\\s+([0-9.]+)\\[(\\d+)]");

    @Test
    void twoStrongswanClientsToOneServerThroughNatT() throws Exception
    {
        try (Lab lab = Lab.create(2))
        {
            final PassgateProcess passgate = lab.startPassgate();
            try (Strongswan server = Strongswan.server(lab, lab.server(1), Lab.serverAddress(1));
                Strongswan c1 = Strongswan.client(lab, lab.client(1), "client1", Lab.serverAddress(1));
                Strongswan c2 = Strongswan.client(lab, lab.client(2), "client2", Lab.serverAddress(1)))
            {
                final Lab.Result up1 = c1.initiate();
                assertTrue(up1.output().contains("initiate completed successfully"), up1.output() + c1.log());
                final Lab.Result up2 = c2.initiate();
                assertTrue(up2.output().contains("initiate completed successfully"), up2.output() + c2.log());
                // both tunnels carry traffic at the same time
                for (int round = 0; round < 2; round++)
                {
                    assertEquals(5, E2e.ping(lab, lab.client(1), Strongswan.TUNNEL_TARGET, 5), "client 1 through its tunnel");
                    assertEquals(5, E2e.ping(lab, lab.client(2), Strongswan.TUNNEL_TARGET, 5), "client 2 through its tunnel");
                }
                // the server sees both from the WAN address, floated to NAT-T on two different ports
                final String sas = server.swanctl("--list-sas").output();
                final Matcher m = REMOTE.matcher(sas);
                final java.util.Set<String> ports = new java.util.TreeSet<>();
                int remotes = 0;
                while (m.find())
                {
                    assertEquals(Lab.ROUTER_WAN, m.group(1), sas);
                    ports.add(m.group(2));
                    remotes++;
                }
                assertEquals(2, remotes, sas);
                assertEquals(2, ports.size(), "two WAN ports: " + sas);
                assertTrue(ports.contains("4500"), "the first keeps 4500: " + sas);
                assertEquals(2, sas.split("TUNNEL-in-UDP", -1).length - 1, "NAT detected, ESP in UDP (NAT-T): " + sas);
                final String tunnels = Ctl.run(passgate, "tunnels").output();
                assertEquals(2, tunnels.lines().filter(l -> l.startsWith("ipsec")).count(), tunnels);
                assertTrue(E2e.counter(passgate, Counter.IPSEC_IKE_MESSAGES) >= 8);
                assertEquals(0, E2e.counter(passgate, Counter.DROP_IKE_UNKNOWN_SPI));
            }
        }
    }
}
