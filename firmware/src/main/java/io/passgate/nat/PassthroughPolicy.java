package io.passgate.nat;

/**
 * Which passthroughs the NAT lets through, as one dataplane thread sees them (set only by commands it runs):
 * the effective state of each switch the helpers declare ({@link Passthroughs}). What each covers comes from
 * its declaration; everything else (OpenVPN, WireGuard, SSTP ...) is plain NAT whatever the switches say. The
 * ports are the server's (the destination of the client's packets); inbound packets are judged by their source.
 */
public final class PassthroughPolicy
{
    public static final int NONE = Passthroughs.NONE;

    private final Passthroughs layout;
    private final boolean[] on;

    public PassthroughPolicy(final Passthroughs layout)
    {
        this.layout = layout;
        this.on = new boolean[layout.count()];
        java.util.Arrays.fill(on, true);
    }

    public Passthroughs layout()
    {
        return layout;
    }

    /** Sets each switch's effective state (index order of the layout; parents already applied by the caller). */
    public void set(final boolean[] effective)
    {
        System.arraycopy(effective, 0, on, 0, on.length);
    }

    /** Whether passthrough {@code which} (or {@link #NONE}: not a passthrough) is allowed now. */
    public boolean allows(final int which)
    {
        return which == NONE || on[which];
    }

    /** Whether switch {@code name} is on now (tests, helpers). */
    public boolean allows(final String name)
    {
        return allows(layout.index(name));
    }

    public int ofPort(final int protocol, final int port)
    {
        return layout.ofPort(protocol, port);
    }

    public int ofProtocol(final int protocol, final boolean greVersion1)
    {
        return layout.ofProtocol(protocol, greVersion1);
    }

    public boolean allowsPort(final int protocol, final int port)
    {
        return allows(ofPort(protocol, port));
    }
}
