package io.passgate.board;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

class PatternTest
{
    /** nextChange is exactly the first later millisecond at which the level differs (two whole periods, any phase). */
    @Test
    void nextChangeIsTheFirstLaterMillisecondWithAnotherLevel()
    {
        for (final Pattern p : Pattern.values())
        {
            for (long now = 1_700_000_000_000L; now < 1_700_000_000_000L + 2400; now++)
            {
                final long next = p.nextChange(now);
                if (p == Pattern.ON || p == Pattern.OFF)
                {
                    assertEquals(Long.MAX_VALUE, next, p.label());
                    continue;
                }
                for (long t = now + 1; t < next; t++)
                {
                    assertEquals(p.level(now), p.level(t), p.label() + " unchanged between " + now + " and " + next);
                }
                assertNotEquals(p.level(now), p.level(next), p.label() + " changes at " + next + " (from " + now + ")");
            }
        }
    }
}
