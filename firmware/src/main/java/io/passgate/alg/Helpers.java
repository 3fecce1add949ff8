package io.passgate.alg;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

import io.passgate.config.PassgateContext;
import io.passgate.nat.Helper;
import io.passgate.nat.HelperSpec;
import io.passgate.nat.Passthroughs;

/**
 * The passthrough helpers passgate runs, in the order the engine asks them. Adding a protocol is its helper's
 * file (with its {@link HelperSpec}) and one line here: the switches, the policy, the port reservations, the
 * queue rules, the tunnel table, the config keys, passgatectl's help and the LEDs follow from the declarations.
 */
public final class Helpers
{
    /** A helper's declaration and how to make one from the configuration (and a random seed). */
    public record Registration(HelperSpec spec, BiFunction<PassgateContext, Long, Helper> factory)
    {
    }

    /** The registrations, in order. */
    public static final List<Registration> ALL = List.of(
        new Registration(PptpHelper.SPEC, PptpHelper::create),
        new Registration(IpsecHelper.SPEC, IpsecHelper::create),
        new Registration(L2tpHelper.SPEC, L2tpHelper::create));

    /** Every switch the helpers declare, with the lookups derived from them. */
    public static final Passthroughs PASSTHROUGHS = Passthroughs.of(specs());

    private Helpers()
    {
    }

    public static List<HelperSpec> specs()
    {
        final List<HelperSpec> specs = new ArrayList<>();
        for (final Registration r : ALL)
        {
            specs.add(r.spec());
        }
        return specs;
    }

    /** A new set of helpers for one dataplane shard. */
    public static List<Helper> create(final PassgateContext ctx, final long seed)
    {
        final List<Helper> helpers = new ArrayList<>();
        long s = seed;
        for (final Registration r : ALL)
        {
            helpers.add(r.factory().apply(ctx, s));
            s = s * 31 + 17;
        }
        return helpers;
    }
}
