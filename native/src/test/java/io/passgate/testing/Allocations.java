package io.passgate.testing;

import java.lang.management.ManagementFactory;

/**
 * Bytes allocated by a thread (HotSpot's ThreadMXBean). The bean is looked up once: looking it up per call
 * allocates, which would be counted against the code under test.
 */
public final class Allocations
{
    private static final com.sun.management.ThreadMXBean BEAN =
        (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();

    private Allocations()
    {
    }

    public static long currentThread()
    {
        return BEAN.getCurrentThreadAllocatedBytes();
    }

    public static long thread(final long threadId)
    {
        return BEAN.getThreadAllocatedBytes(threadId);
    }
}
