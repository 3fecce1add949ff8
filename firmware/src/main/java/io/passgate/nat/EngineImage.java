package io.passgate.nat;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import io.passgate.counters.Counter;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * What a restart of passgate keeps of one engine (shard): its sessions, each with its mapping, TCP state,
 * helper and traffic, and its helpers' tables. Written by the dataplane thread into a state image
 * ({@link StateStore}) and read back before the new dataplane starts, so that established flows keep their
 * external ports, PPTP calls their Call IDs, IPsec its SPI bindings and L2TP its Tunnel IDs.
 *
 * <p>Sessions are written as fixed records and restored at their own indexes through the tables' own code
 * (mappings with their external port, filter permissions, timers): the helpers' tables, which name sessions
 * by index, are restored verbatim ({@link ObjectImage}). Kept: every session a helper owns or follows and
 * every session that has seen a packet from its remote; left out: one-way sessions nobody answered yet (a
 * flood of new flows does not grow the image), which a restart maps again on their next packet.
 *
 * <p>An image is checked whole before anything is restored: a record out of range, two sessions with one
 * key, two mappings with one external port, a helper of another layout or sized by another configuration:
 * the engine stays empty and the reason is returned.
 */
public final class EngineImage
{
    static final int MAGIC = 0x50474E32;   // "PGN2"
    static final int RECORD = 104;
    private static final int HEADER = 12;

    private final NatEngine engine;
    private final Helper[] helpers;
    private final ObjectImage[] images;
    private int lastSessions;

    /** After every helper is registered. */
    public EngineImage(final NatEngine engine)
    {
        this.engine = engine;
        this.helpers = engine.helperArray();
        this.images = new ObjectImage[helpers.length];
        for (int i = 0; i < helpers.length; i++)
        {
            images[i] = new ObjectImage(helpers[i]);
        }
    }

    /** Identifies the layout: an image written by a passgate with other helpers or records is refused. */
    public int schema()
    {
        int h = MAGIC * 31 + RECORD;
        for (final ObjectImage image : images)
        {
            h = h * 31 + image.schema();
        }
        return h;
    }

    /** An upper bound for {@link #save}'s size now. */
    public int maxSize()
    {
        long total = HEADER + (long)engine.flows().capacity() * RECORD + 4;
        for (final ObjectImage image : images)
        {
            total += 8 + image.size();
        }
        return (int)Math.min(Integer.MAX_VALUE - 4096, total);
    }

    /** Sessions in the last image written. */
    public int lastSessions()
    {
        return lastSessions;
    }

    private static boolean kept(final FlowTable t, final int f)
    {
        return t.alg[f] != 0 || t.packetsIn[f] != 0;
    }

    /**
     * Writes the image at {@code index}; the bytes written, or -1 when it would pass {@code limit}. On the
     * dataplane thread, between packets; allocates nothing.
     */
    public int save(final MutableDirectBuffer b, final int index, final int limit)
    {
        final FlowTable t = engine.flows();
        final MappingTable m = engine.mappings();
        int at = index + HEADER;
        int count = 0;
        final int capacity = t.capacity();
        for (int f = 0; f < capacity; f++)
        {
            if (t.protocol[f] == 0 || !kept(t, f))
            {
                continue;
            }
            if (at + RECORD > limit)
            {
                return -1;
            }
            final int mp = t.mapping[f];
            b.putInt(at, f);
            b.putInt(at + 4, t.protocol[f] & 0xFF);
            b.putInt(at + 8, t.intAddr[f]);
            b.putInt(at + 12, t.intPort[f]);
            b.putInt(at + 16, t.extPort[f]);
            b.putInt(at + 20, t.remAddr[f]);
            b.putInt(at + 24, t.remPort[f]);
            b.putInt(at + 28, t.state[f]);
            b.putInt(at + 32, t.flags[f]);
            b.putInt(at + 36, t.alg[f]);
            b.putInt(at + 40, t.algData[f]);
            b.putInt(at + 44, mp >= 0 ? m.protocol(mp) : -1);
            b.putInt(at + 48, mp >= 0 ? m.helper(mp) : 0);
            b.putInt(at + 52, mp >= 0 ? m.extPort(mp) : -1);
            b.putLong(at + 56, t.created[f]);
            b.putLong(at + 64, t.lastSeen[f]);
            b.putLong(at + 72, t.packetsOut[f]);
            b.putLong(at + 80, t.bytesOut[f]);
            b.putLong(at + 88, t.packetsIn[f]);
            b.putLong(at + 96, t.bytesIn[f]);
            at += RECORD;
            count++;
        }
        if (at + 4 > limit)
        {
            return -1;
        }
        b.putInt(at, images.length);
        at += 4;
        for (final ObjectImage image : images)
        {
            if (at + 8 > limit)
            {
                return -1;
            }
            final int n = image.save(b, at + 8, limit);
            if (n < 0)
            {
                return -1;
            }
            b.putInt(at, image.schema());
            b.putInt(at + 4, n);
            at += 8 + n;
        }
        b.putInt(index, MAGIC);
        b.putInt(index + 4, count);
        b.putInt(index + 8, at - index);
        lastSessions = count;
        return at - index;
    }

    /**
     * Restores an image into this engine, which must be empty and not yet running. Returns null when done
     * (the sessions restored are counted), else what is wrong with the image; the engine is then untouched.
     */
    public String restore(final DirectBuffer b, final int index, final int length, final long nowMs)
    {
        final String problem = check(b, index, length);
        if (problem != null)
        {
            return problem;
        }
        final FlowTable t = engine.flows();
        final MappingTable m = engine.mappings();
        final SharedEndpoints shared = engine.shared();
        final int count = b.getInt(index + 4);
        t.beginRestore();
        int at = index + HEADER;
        for (int i = 0; i < count; i++, at += RECORD)
        {
            final int f = b.getInt(at);
            final int proto = b.getInt(at + 4);
            final int ia = b.getInt(at + 8);
            final int ip = b.getInt(at + 12);
            final int ep = b.getInt(at + 16);
            final int ra = b.getInt(at + 20);
            final int rp = b.getInt(at + 24);
            final int mProto = b.getInt(at + 44);
            int mp = -1;
            if (mProto >= 0)
            {
                final int mExt = b.getInt(at + 52);
                mp = m.find(mProto, ia, ip);
                if (mp < 0)
                {
                    mp = m.createWith(mProto, Protocols.space(mProto), ia, ip, mExt);
                    m.helper(mp, b.getInt(at + 48));
                    if (shared != null)
                    {
                        shared.claim(mProto, ia, ip, engine.config().shard());
                    }
                }
            }
            t.restoreAt(f, proto, ia, ip, ep, ra, rp, mp, b.getLong(at + 56), b.getLong(at + 64));
            t.state[f] = (byte)b.getInt(at + 28);
            t.flags[f] = b.getInt(at + 32);
            t.alg[f] = b.getInt(at + 36);
            t.algData[f] = b.getInt(at + 40);
            t.packetsOut[f] = b.getLong(at + 72);
            t.bytesOut[f] = b.getLong(at + 80);
            t.packetsIn[f] = b.getLong(at + 88);
            t.bytesIn[f] = b.getLong(at + 96);
            if (mp >= 0)
            {
                m.addFlow(mp);
                engine.filter().opened(mp, ra);
            }
        }
        t.endRestore();
        at += 4;
        for (int h = 0; h < images.length; h++)
        {
            final int n = b.getInt(at + 4);
            images[h].restore(b, at + 8);
            at += 8 + n;
        }
        for (final Helper helper : helpers)
        {
            helper.afterRestore(nowMs);
        }
        engine.afterRestore();
        engine.counters().add(Counter.STATE_RESTORED_SESSIONS, count);
        lastSessions = count;
        return null;
    }

    private String check(final DirectBuffer b, final int index, final int length)
    {
        if (length < HEADER + 4 || b.getInt(index) != MAGIC)
        {
            return "not a session image";
        }
        final FlowTable t = engine.flows();
        if (t.size() != 0)
        {
            return "the engine already holds sessions";
        }
        final int count = b.getInt(index + 4);
        if (b.getInt(index + 8) != length)
        {
            return "image length " + b.getInt(index + 8) + " but " + length + " bytes stored";
        }
        if (count < 0 || count > t.capacity() || HEADER + (long)count * RECORD + 4 > length)
        {
            return count + " sessions do not fit " + (count < 0 || count > t.capacity() ? "this table (nat.max-flows "
                + t.capacity() + ")" : "the image");
        }
        final boolean[] seen = new boolean[t.capacity()];
        final Set<String> outKeys = new HashSet<>();
        final Map<String, Integer> mappingExt = new HashMap<>();
        final Map<String, String> extOwner = new HashMap<>();
        int at = index + HEADER;
        for (int i = 0; i < count; i++, at += RECORD)
        {
            final int f = b.getInt(at);
            final int proto = b.getInt(at + 4);
            final int ep = b.getInt(at + 16);
            final int alg = b.getInt(at + 36);
            final int mProto = b.getInt(at + 44);
            if (f < 0 || f >= t.capacity() || seen[f])
            {
                return "session record " + i + ": index " + f + " out of range or twice";
            }
            seen[f] = true;
            if (proto <= 0 || proto > 255 || alg < 0 || alg > helpers.length
                || proto != Protocols.ESP && (ep < 0 || ep > 0xFFFF))
            {
                return "session record " + i + ": protocol " + proto + ", helper " + alg + ", port " + ep;
            }
            final int ia = b.getInt(at + 8);
            final int ip = b.getInt(at + 12);
            final int ra = b.getInt(at + 20);
            final int rp = b.getInt(at + 24);
            // (inbound keys may repeat: clients sharing a helper's port, told apart by the helper)
            if (!outKeys.add(proto + "/" + ia + "/" + FlowTable.outboundIntPort(proto, ip) + "/" + ra + "/" + rp))
            {
                return "session record " + i + ": a second session with the same key";
            }
            if (mProto >= 0)
            {
                final int mExt = b.getInt(at + 52);
                final int space = mProto > 255 ? -1 : Protocols.space(mProto);
                if (space < 0 || mExt < 0 || mExt > 0xFFFF)
                {
                    return "session record " + i + ": mapping protocol " + mProto + " port " + mExt;
                }
                final String internal = mProto + "/" + ia + "/" + ip;
                final Integer known = mappingExt.putIfAbsent(internal, mExt);
                if (known != null && known != mExt)
                {
                    return "session record " + i + ": one endpoint mapped to two ports";
                }
                final String owner = extOwner.putIfAbsent(space + "/" + mExt, internal);
                if (owner != null && !owner.equals(internal))
                {
                    return "session record " + i + ": two endpoints mapped to one port";
                }
            }
        }
        if (mappingExt.size() > engine.mappings().capacity())
        {
            return mappingExt.size() + " mappings do not fit this table";
        }
        if (b.getInt(at) != images.length)
        {
            return "image of " + b.getInt(at) + " helpers, this passgate has " + images.length;
        }
        at += 4;
        final int end = index + length;
        for (int h = 0; h < images.length; h++)
        {
            if (at + 8 > end)
            {
                return "image truncated before helper " + helpers[h].spec().name();
            }
            final int n = b.getInt(at + 4);
            if (b.getInt(at) != images[h].schema())
            {
                return "helper " + helpers[h].spec().name() + " has another layout in this passgate version";
            }
            if (n < 0 || at + 8L + n > end)
            {
                return "image truncated in helper " + helpers[h].spec().name();
            }
            final String bad = images[h].check(b, at + 8, n);
            if (bad != null)
            {
                return "helper " + helpers[h].spec().name() + ": " + bad;
            }
            at += 8 + n;
        }
        return at == end ? null : "image has " + (end - at) + " bytes after its last helper";
    }
}
