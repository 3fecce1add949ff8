package io.passgate.control;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The control API's JSON (what passgatectl and any local client send to the control socket), the input's bytes as UTF-8: any text is
 * parsed or refused with IllegalArgumentException (nothing else escapes: no stack overflow, no index error),
 * and what parses writes back to text that parses to the same value.
 */
class JsonFuzzTest
{
    @FuzzTest(maxDuration = "15s")
    void parse(final byte[] data)
    {
        final String text = new String(data, StandardCharsets.UTF_8);
        final Map<String, Object> value;
        try
        {
            value = Json.parseObject(text);
        }
        catch (final IllegalArgumentException refused)
        {
            return;
        }
        final String written = Json.write(value);
        assertEquals(value, Json.parseObject(written), "round trip of " + written);
        assertEquals(written, Json.write(Json.parseObject(written)), "writing is stable");
    }
}
