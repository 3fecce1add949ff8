package io.passgate.alg;

import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nat.Protocols;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.IkeHeader;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The IPsec helper through the NAT engine: several clients keeping UDP 500 to one server, told apart by their
 * IKE SPIs; plain ESP from several clients to one server, inbound SPIs bound to the waiting client, a second
 * client's SA-starting packets held while another waits; rekeys, manual keys, expiry, ICMP errors.
 */
class IpsecHelperTest
{
    static final int WAN = Packets.ip("203.0.113.1");
    static final int SERVER = Packets.ip("198.51.100.10");
    static final int C1 = Packets.ip("10.0.0.11");
    static final int C2 = Packets.ip("10.0.0.12");
    static final int C3 = Packets.ip("10.0.0.13");

    private CounterSet counters;
    private final List<byte[]> sent = new ArrayList<>();
    private NatEngine engine;
    private IpsecHelper ipsec;
    private long now = 1_000_000;

    @BeforeEach
    void setUp()
    {
        counters = new CounterSet();
        sent.clear();
        engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, 4096), counters, (b, o, l, d) ->
        {
            final byte[] copy = new byte[l];
            b.getBytes(o, copy);
            sent.add(copy);
        }, 1000, now);
        ipsec = new IpsecHelper(256);
        engine.register(ipsec);
    }

    /** An IKE message in UDP (payload: the 28-byte header and {@code extra} bytes). */
    static UnsafeBuffer ike(final int src, final int sport, final int dst, final int dport, final long ispi,
        final long rspi, final int exchange, final int flags, final int extra)
    {
        final UnsafeBuffer b = Packets.udp(src, sport, dst, dport, IkeHeader.LENGTH + extra);
        IkeHeader.write(b, Packets.OFFSET + 28, ispi, rspi, 2, exchange, flags, 0, IkeHeader.LENGTH + extra);
        fixUdpChecksum(b);
        return b;
    }

    static void fixUdpChecksum(final UnsafeBuffer b)
    {
        final Ipv4Header ip = new Ipv4Header();
        ip.wrap(b, Packets.OFFSET, Packets.length(b));
        io.passgate.wire.Checksum.completeTransport(ip);
    }

    /** A plain ESP packet with {@code spi}, sequence number and a payload. */
    static UnsafeBuffer esp(final int src, final int dst, final int spi, final int seq, final int payload)
    {
        final UnsafeBuffer b = Packets.other(src, dst, Protocols.ESP, 8 + payload);
        b.putInt(Packets.OFFSET + 20, spi, ByteOrder.BIG_ENDIAN);
        b.putInt(Packets.OFFSET + 24, seq, ByteOrder.BIG_ENDIAN);
        return b;
    }

    private int out(final UnsafeBuffer p)
    {
        return engine.outbound(p, Packets.OFFSET, Packets.length(p), false, false, now);
    }

    private int in(final UnsafeBuffer p)
    {
        return engine.inbound(p, Packets.OFFSET, Packets.length(p), false, false, now);
    }

    private void advance(final long ms)
    {
        final long end = now + ms;
        while (now < end)
        {
            now = Math.min(end, now + 250);
            engine.tick(now);
        }
    }

    private static int spiOf(final UnsafeBuffer p)
    {
        return p.getInt(Packets.OFFSET + 20, ByteOrder.BIG_ENDIAN);
    }

    @Test
    void threeClientsKeepPort500ToOneServerToldApartBySpi()
    {
        final int[] clients = {C1, C2, C3};
        for (int i = 0; i < 3; i++)
        {
            final UnsafeBuffer init = ike(clients[i], 500, SERVER, 500, 0x1000L + i, 0, IkeHeader.IKE_SA_INIT,
                IkeHeader.FLAG_INITIATOR, 100);
            assertEquals(VERDICT_ACCEPT_MODIFIED, out(init));
            assertEquals(WAN, Packets.source(init));
            assertEquals(500, Packets.sourcePort(init), "every client keeps 500");
            assertTrue(Packets.checksumsValid(init));
        }
        // the server answers each (its responder SPI new), in another order
        for (final int i : new int[] {2, 0, 1})
        {
            final UnsafeBuffer reply = ike(SERVER, 500, WAN, 500, 0x1000L + i, 0x9000L + i, IkeHeader.IKE_SA_INIT,
                IkeHeader.FLAG_RESPONSE, 80);
            assertEquals(VERDICT_ACCEPT_MODIFIED, in(reply));
            assertEquals(clients[i], Packets.destination(reply), "reply " + i + " to its own client");
            assertEquals(500, Packets.destinationPort(reply));
            assertTrue(Packets.checksumsValid(reply));
        }
        // later messages carry both SPIs; even one with only the responder SPI known finds its client
        final UnsafeBuffer auth = ike(SERVER, 500, WAN, 500, 0x1001L, 0x9001L, IkeHeader.INFORMATIONAL,
            IkeHeader.FLAG_RESPONSE, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(auth));
        assertEquals(C2, Packets.destination(auth));
        // unknown SPIs with three clients on this server: dropped and counted, never guessed
        final UnsafeBuffer stray = ike(SERVER, 500, WAN, 500, 0x7777L, 0x8888L, IkeHeader.INFORMATIONAL, 0, 40);
        assertEquals(VERDICT_DROP, in(stray));
        assertEquals(1, counters.get(Counter.DROP_IKE_UNKNOWN_SPI));
        assertEquals(3, ipsec.liveTunnels());
        assertEquals(3, counters.get(Counter.TUNNELS_IPSEC));
    }

    @Test
    void newSpisAfterARekeyAreLearntFromTheClient()
    {
        final UnsafeBuffer init = ike(C1, 500, SERVER, 500, 0xAAL, 0, IkeHeader.IKE_SA_INIT, IkeHeader.FLAG_INITIATOR, 40);
        out(init);
        final UnsafeBuffer c2 = ike(C2, 500, SERVER, 500, 0xBBL, 0, IkeHeader.IKE_SA_INIT, IkeHeader.FLAG_INITIATOR, 40);
        out(c2);
        // after a rekey of the IKE SA, the client sends first with the new SPIs (as in ikev2four.pcap)
        out(ike(C1, 500, SERVER, 500, 0xA1A1L, 0xB2B2L, IkeHeader.INFORMATIONAL, IkeHeader.FLAG_INITIATOR, 40));
        final UnsafeBuffer answer = ike(SERVER, 500, WAN, 500, 0xA1A1L, 0xB2B2L, IkeHeader.INFORMATIONAL,
            IkeHeader.FLAG_RESPONSE, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(answer));
        assertEquals(C1, Packets.destination(answer));
    }

    @Test
    void onlyClientOfAServerGetsUnknownSpis()
    {
        out(ike(C1, 500, SERVER, 500, 0xAAL, 0, IkeHeader.IKE_SA_INIT, IkeHeader.FLAG_INITIATOR, 40));
        final UnsafeBuffer news = ike(SERVER, 500, WAN, 500, 0x1234L, 0x5678L, IkeHeader.INFORMATIONAL, 0, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(news), "one client on this server: it is its");
        assertEquals(C1, Packets.destination(news));
    }

    /** Brings client {@code c}'s ESP up: IKE_AUTH sent, its first ESP out, the server's first ESP back. */
    private void establish(final int c, final long ikeSpi, final int outSpi, final int inSpi)
    {
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(ike(c, 500, SERVER, 500, ikeSpi, ikeSpi + 1, IkeHeader.IKE_AUTH,
            IkeHeader.FLAG_INITIATOR, 64)));
        final UnsafeBuffer first = esp(c, SERVER, outSpi, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(first));
        assertEquals(WAN, Packets.source(first));
        final UnsafeBuffer back = esp(SERVER, WAN, inSpi, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(back));
        assertEquals(c, Packets.destination(back));
    }

    @Test
    void plainEspFromThreeClientsToOneServerNeverCrossed()
    {
        establish(C1, 0x10, 0x1111, 0x2111);
        establish(C2, 0x20, 0x1222, 0x2222);
        establish(C3, 0x30, 0x1333, 0x2333);
        for (int round = 0; round < 3; round++)
        {
            final int[][] pairs = {{C1, 0x1111, 0x2111}, {C2, 0x1222, 0x2222}, {C3, 0x1333, 0x2333}};
            for (final int[] pair : pairs)
            {
                final UnsafeBuffer o = esp(pair[0], SERVER, pair[1], round + 2, 60);
                assertEquals(VERDICT_ACCEPT_MODIFIED, out(o));
                assertEquals(WAN, Packets.source(o));
                final UnsafeBuffer i = esp(SERVER, WAN, pair[2], round + 2, 60);
                assertEquals(VERDICT_ACCEPT_MODIFIED, in(i));
                assertEquals(pair[0], Packets.destination(i), "SPI " + Integer.toHexString(pair[2]));
            }
        }
        assertEquals(3, counters.get(Counter.IPSEC_ESP_BOUND));
        assertEquals(0, counters.get(Counter.DROP_ESP_UNKNOWN_SPI));
        assertEquals(0, counters.get(Counter.DROP_CONFLICT), "no 'one client per server' any more");
    }

    /**
     * Two clients start at once: the second's SA-creating IKE message is held while the first waits for the
     * server's first ESP, then sent on; each inbound SPI reaches its own client.
     */
    @Test
    void aSecondClientStartingWhileAnotherWaitsIsHeldNotGuessed()
    {
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(ike(C1, 500, SERVER, 500, 0x10, 0x11, IkeHeader.IKE_AUTH,
            IkeHeader.FLAG_INITIATOR, 64)));
        final UnsafeBuffer c2auth = ike(C2, 500, SERVER, 500, 0x20, 0x21, IkeHeader.IKE_AUTH, IkeHeader.FLAG_INITIATOR, 64);
        assertEquals(VERDICT_DROP, out(c2auth), "held while C1 waits");
        assertEquals(1, counters.get(Counter.IPSEC_HELD));
        assertTrue(sent.isEmpty(), "not sent yet");
        // the server's first ESP of C1's SA: bound to C1; C2's IKE_AUTH goes out now, translated
        final UnsafeBuffer toC1 = esp(SERVER, WAN, 0x2111, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(toC1));
        assertEquals(C1, Packets.destination(toC1));
        assertEquals(1, sent.size(), "the held IKE_AUTH released");
        final UnsafeBuffer released = new UnsafeBuffer(new byte[Packets.OFFSET + sent.get(0).length + 16]);
        released.putBytes(Packets.OFFSET, sent.get(0));
        assertEquals(WAN, Packets.source(released));
        assertEquals(500, Packets.sourcePort(released));
        assertTrue(Packets.checksumsValid(released));
        // now C2 waits: the server's first ESP for C2's SA is C2's
        final UnsafeBuffer toC2 = esp(SERVER, WAN, 0x2222, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(toC2));
        assertEquals(C2, Packets.destination(toC2));
        assertEquals(2, counters.get(Counter.IPSEC_ESP_BOUND));
    }

    /** Manually keyed SAs (no IKE): two clients' first ESP at once; the second's is held until the first binds. */
    @Test
    void manuallyKeyedEspFromTwoClients()
    {
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(esp(C1, SERVER, 0x5001, 1, 40)));
        assertEquals(VERDICT_DROP, out(esp(C2, SERVER, 0x5002, 1, 40)), "held");
        assertEquals(VERDICT_DROP, out(esp(C2, SERVER, 0x5002, 2, 40)), "its next packet too");
        final UnsafeBuffer toC1 = esp(SERVER, WAN, 0x6001, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(toC1));
        assertEquals(C1, Packets.destination(toC1));
        assertEquals(2, sent.size(), "C2's two held packets sent on, in order");
        assertEquals(1, sent.get(0)[27]);
        assertEquals(2, sent.get(1)[27]);
        final UnsafeBuffer toC2 = esp(SERVER, WAN, 0x6002, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(toC2));
        assertEquals(C2, Packets.destination(toC2));
        // both ways from now on
        final UnsafeBuffer more = esp(C2, SERVER, 0x5002, 3, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(more));
        assertEquals(WAN, Packets.source(more));
        // every ESP packet that went out is counted once, the released ones too (VM test ipsec-xfrm adds them up)
        assertEquals(2, counters.get(Counter.IPSEC_RELEASED));
        assertEquals(4, counters.get(Counter.IPSEC_ESP_OUT), "C1: 1; C2: 2 released, then 1");
        assertEquals(2, counters.get(Counter.IPSEC_ESP_IN));
    }

    @Test
    void aWaitRunsOutAndTheNextClientGoesOn()
    {
        out(esp(C1, SERVER, 0x5001, 1, 40));
        assertEquals(VERDICT_DROP, out(esp(C2, SERVER, 0x5002, 1, 40)));
        advance(IpsecHelper.WAIT_MS + 500);
        assertEquals(1, counters.get(Counter.IPSEC_WAITS_EXPIRED));
        assertEquals(1, sent.size(), "C2's packet went out when C1's wait ran out");
        final UnsafeBuffer toC2 = esp(SERVER, WAN, 0x6002, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(toC2));
        assertEquals(C2, Packets.destination(toC2));
        // C1's server SPI now: two clients, nobody waits: dropped, never guessed, until C1 sends on that SA
        final UnsafeBuffer toC1 = esp(SERVER, WAN, 0x6001, 1, 40);
        assertEquals(VERDICT_DROP, in(toC1));
        assertEquals(1, counters.get(Counter.DROP_ESP_UNKNOWN_SPI));
    }

    /**
     * A new SA the server answers only after the client's wait ran out (VM test ipsec-xfrm, "late answer"), with
     * another client on the same server: the late inbound SPI is dropped, not guessed, until the client sends on
     * its SA again; then it waits again and the server's next packet on that SPI is bound to it.
     */
    @Test
    void anSaAnsweredAfterItsWaitIsBoundWhenItsClientSendsAgain()
    {
        establish(C2, 0x20, 0x1222, 0x2222);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(esp(C1, SERVER, 0x5001, 1, 40)), "C1's new SA: it waits");
        advance(IpsecHelper.WAIT_MS + 500);
        assertEquals(1, counters.get(Counter.IPSEC_WAITS_EXPIRED));
        assertEquals(VERDICT_DROP, in(esp(SERVER, WAN, 0x6001, 1, 40)), "two clients, nobody waits: not guessed");
        assertEquals(1, counters.get(Counter.DROP_ESP_UNKNOWN_SPI));
        final UnsafeBuffer again = esp(C1, SERVER, 0x5001, 2, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(again));
        assertEquals(WAN, Packets.source(again));
        assertEquals(1, counters.get(Counter.IPSEC_WAITS_AGAIN), "C1 waits again");
        final UnsafeBuffer late = esp(SERVER, WAN, 0x6001, 2, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(late));
        assertEquals(C1, Packets.destination(late));
        // both SAs go on; a bound SA does not wait again
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(esp(C1, SERVER, 0x5001, 3, 40)));
        final UnsafeBuffer toC2 = esp(SERVER, WAN, 0x2222, 2, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(toC2));
        assertEquals(C2, Packets.destination(toC2));
        assertEquals(1, counters.get(Counter.IPSEC_WAITS_AGAIN));
        assertEquals(2, counters.get(Counter.IPSEC_ESP_BOUND));
    }

    /** A client waiting again on an unanswered SA does not keep the server: another client's turn still comes. */
    @Test
    void waitingAgainNeverStarvesAnotherClient()
    {
        out(esp(C1, SERVER, 0x5001, 1, 40));
        advance(IpsecHelper.WAIT_MS + 500);
        out(esp(C1, SERVER, 0x5001, 2, 40));
        assertEquals(1, counters.get(Counter.IPSEC_WAITS_AGAIN));
        assertEquals(VERDICT_DROP, out(esp(C2, SERVER, 0x5002, 1, 40)), "held while C1 waits again");
        for (int i = 0; i < 14; i++)
        {
            advance(250);
            assertEquals(VERDICT_ACCEPT_MODIFIED, out(esp(C1, SERVER, 0x5001, 3 + i, 40)));
        }
        assertEquals(1, sent.size(), "C1 kept sending, yet its wait ran out and C2's packet went out");
        assertEquals(1, counters.get(Counter.IPSEC_WAITS_AGAIN), "C1 does not wait again while C2 waits");
        final UnsafeBuffer toC2 = esp(SERVER, WAN, 0x6002, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(toC2));
        assertEquals(C2, Packets.destination(toC2));
    }

    @Test
    void rekeyLearnsNewSpisAndOldOnesExpire()
    {
        establish(C1, 0x10, 0x1111, 0x2111);
        establish(C2, 0x20, 0x1222, 0x2222);
        // C1 rekeys: CREATE_CHILD_SA, then its new outbound SPI, then the server's new inbound SPI
        out(ike(C1, 500, SERVER, 500, 0x10, 0x11, IkeHeader.CREATE_CHILD_SA, IkeHeader.FLAG_INITIATOR, 64));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(esp(C1, SERVER, 0x1112, 1, 40)));
        final UnsafeBuffer fresh = esp(SERVER, WAN, 0x2112, 1, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(fresh));
        assertEquals(C1, Packets.destination(fresh));
        // the old SA still carries what is in flight
        final UnsafeBuffer old = esp(SERVER, WAN, 0x2111, 9, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(old));
        assertEquals(C1, Packets.destination(old));
        // idle SAs end: after the ESP timeout only the ones used meanwhile are left (both keep their IKE alive)
        for (int t = 0; t < IpsecHelper.ESP_TIMEOUT_MS / 60_000 + 2; t++)
        {
            advance(60_000);
            out(esp(C1, SERVER, 0x1112, 10 + t, 40));
            out(ike(C1, 500, SERVER, 500, 0x10, 0x11, IkeHeader.INFORMATIONAL, IkeHeader.FLAG_INITIATOR, 8));
            out(ike(C2, 500, SERVER, 500, 0x20, 0x21, IkeHeader.INFORMATIONAL, IkeHeader.FLAG_INITIATOR, 8));
        }
        assertEquals(VERDICT_DROP, in(esp(SERVER, WAN, 0x2222, 50, 40)), "C2's idle SA expired: two clients, no guess");
        final UnsafeBuffer stillThere = esp(SERVER, WAN, 0x2112, 50, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(stillThere));
        assertEquals(C1, Packets.destination(stillThere));
    }

    @Test
    void ahPassesForOneClientPerServerAndIsCounted()
    {
        final UnsafeBuffer a = Packets.other(C1, SERVER, Protocols.AH, 24);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(a));
        assertEquals(WAN, Packets.source(a));
        assertEquals(VERDICT_DROP, out(Packets.other(C2, SERVER, Protocols.AH, 24)));
        assertEquals(1, counters.get(Counter.DROP_CONFLICT));
        final UnsafeBuffer back = Packets.other(SERVER, WAN, Protocols.AH, 24);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(back));
        assertEquals(C1, Packets.destination(back));
    }

    @Test
    void icmpErrorsAboutEspAndIkeReachTheirClient()
    {
        establish(C1, 0x10, 0x1111, 0x2111);
        establish(C2, 0x20, 0x1222, 0x2222);
        final UnsafeBuffer sentEsp = esp(C2, SERVER, 0x1222, 5, 1400);
        out(sentEsp);
        final UnsafeBuffer tooBig = Packets.icmpError(Packets.ip("192.0.2.1"), WAN, IcmpHeader.DESTINATION_UNREACHABLE,
            IcmpHeader.CODE_FRAGMENTATION_NEEDED, sentEsp, 28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(tooBig));
        assertEquals(C2, Packets.destination(tooBig), "the ESP's client, by the server's SPI");
        assertTrue(Packets.checksumsValid(tooBig));
        final UnsafeBuffer sentIke = ike(C1, 500, SERVER, 500, 0x10, 0x11, IkeHeader.INFORMATIONAL,
            IkeHeader.FLAG_INITIATOR, 200);
        out(sentIke);
        final UnsafeBuffer ikeError = Packets.icmpError(Packets.ip("192.0.2.1"), WAN, IcmpHeader.DESTINATION_UNREACHABLE,
            IcmpHeader.CODE_FRAGMENTATION_NEEDED, sentIke, 20 + 8 + 28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(ikeError));
        assertEquals(C1, Packets.destination(ikeError), "IKE on the shared port 500, by its SPIs");
    }

    @Test
    void ipsecOffRefusesAndTearsDownAndOnAgainWorks()
    {
        establish(C1, 0x10, 0x1111, 0x2111);
        assertEquals(1, ipsec.liveTunnels());
        engine.applyPassthrough(name -> !name.equals("ipsec") && !name.equals("natt"));
        assertEquals(0, ipsec.liveTunnels());
        assertEquals(0, counters.get(Counter.TUNNELS_IPSEC));
        assertEquals(VERDICT_DROP, out(esp(C1, SERVER, 0x1111, 9, 40)));
        assertEquals(VERDICT_DROP, in(esp(SERVER, WAN, 0x2111, 9, 40)));
        assertEquals(VERDICT_DROP, out(ike(C1, 500, SERVER, 500, 0x10, 0x11, IkeHeader.INFORMATIONAL, 0, 8)));
        engine.applyPassthrough(name -> true);
        establish(C1, 0x10, 0x1111, 0x2111);
    }

    @Test
    void malformedIkeAndEspAreCountedDrops()
    {
        out(ike(C1, 500, SERVER, 500, 0x10, 0, IkeHeader.IKE_SA_INIT, IkeHeader.FLAG_INITIATOR, 40));
        final UnsafeBuffer shortIke = Packets.udp(SERVER, 500, WAN, 500, 12);
        assertEquals(VERDICT_DROP, in(shortIke));
        assertEquals(1, counters.get(Counter.DROP_IKE_MALFORMED));
        final UnsafeBuffer lying = ike(SERVER, 500, WAN, 500, 0x10, 0x11, IkeHeader.INFORMATIONAL, 0, 8);
        lying.putInt(Packets.OFFSET + 28 + 24, 5000, ByteOrder.BIG_ENDIAN);
        fixUdpChecksum(lying);
        assertEquals(VERDICT_DROP, in(lying), "length field past the datagram");
        assertEquals(VERDICT_DROP, out(esp(C1, SERVER, 0, 1, 8)), "SPI 0");
        assertEquals(VERDICT_DROP, in(Packets.other(SERVER, WAN, Protocols.ESP, 6)), "truncated");
        assertEquals(2, counters.get(Counter.DROP_ESP_MALFORMED));
        assertArrayEquals(new byte[0], new byte[0]);
    }
}
