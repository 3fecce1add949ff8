package io.passgate.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class BenchTest
{
    @Test
    void theMedianIsTakenPerColumnOverEveryRun()
    {
        final List<double[]> runs = List.of(new double[] {3, 30, Double.NaN}, new double[] {1, 50, Double.NaN},
            new double[] {2, 10, Double.NaN});
        assertEquals(2, Bench.median(runs, 0));
        assertEquals(30, Bench.median(runs, 1));
        assertTrue(Double.isNaN(Bench.median(runs, 2)), "a case not measured stays NaN");
        assertTrue(Double.isNaN(Bench.median(List.of(), 0)));
    }
}
