package io.passgate.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SoakTest
{
    /** Elements of `nft -j list set`: one "concat" each, however the set prints its counters. */
    @Test
    void countsTheSetsElementsInNftsJson()
    {
        final String two = "{\"nftables\": [{\"metainfo\": {}}, {\"set\": {\"family\": \"inet\", \"name\": \"offload_ports\","
            + " \"elem\": [{\"concat\": [\"10.77.0.11\", \"203.0.113.10\", \"tcp\", 5000, 5201]},"
            + " {\"elem\": {\"val\": {\"concat\": [\"203.0.113.10\", \"203.0.113.1\", \"tcp\", 5201, 40000]}, \"counter\": {}}}]}}]}";
        assertEquals(2, Soak.occurrences(two, "\"concat\""));
        assertEquals(0, Soak.occurrences("{\"set\": {\"name\": \"offload_ports\"}}", "\"concat\""));
    }
}
