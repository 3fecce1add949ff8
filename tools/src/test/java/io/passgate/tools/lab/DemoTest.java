package io.passgate.tools.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.LinkedHashMap;
import java.util.Map;

import io.passgate.control.Json;
import org.junit.jupiter.api.Test;

/** The demo's table cells from passgate's tunnel rows, and where it finds the status page's URL. */
class DemoTest
{
    private static Map<String, Object> row(final String json)
    {
        return Json.parseObject(json);
    }

    @Test
    void identifiersOfEachKindOfRow()
    {
        assertEquals("tcp :40000->:1723 wan :40001", Demo.ids(row("""
            {"protocol":"pptp-control","client":"10.77.0.11","server":"203.0.113.10","client-port":40000,
             "server-port":1723,"wan-port":40001}""")));
        assertEquals("call-id 1 wan 102 server 101", Demo.ids(row("""
            {"protocol":"pptp-call","client-call-id":1,"server-call-id":101,"wan-call-id":102}""")));
        // IPsec rows have no server port: none is shown
        assertEquals("udp :500 wan :500 ike-i-spi=e710a543d4666bb3 esp-out-spi=ee000b9a", Demo.ids(row("""
            {"protocol":"ipsec","client-port":500,"wan-port":500,"ike-initiator-spi":"e710a543d4666bb3",
             "esp-out-spi":"ee000b9a","packets-out":3}""")));
        assertEquals("udp :1701->:40000 wan :1701 tid=5 wan-tid=9 server-tid=77", Demo.ids(row("""
            {"protocol":"l2tp","client-port":1701,"server-port":40000,"wan-port":1701,"tunnel-id":5,
             "wan-tunnel-id":9,"server-tunnel-id":77}""")));
    }

    @Test
    void statusPageUrlOnlyWhenTheDaemonNamesOne()
    {
        assertNull(Demo.statusPageUrl(row("{\"ok\":true,\"status\":{\"version\":\"0.1\"},\"leds\":{\"pptp\":\"on\"}}")));
        assertNull(Demo.statusPageUrl(row("{\"ok\":true,\"status\":{\"web-url\":\"\"}}")));
        assertEquals("http://10.77.0.1:80/", Demo.statusPageUrl(row(
            "{\"ok\":true,\"status\":{\"web-url\":\"http://10.77.0.1:80/\"}}")));
        final Map<String, Object> nested = new LinkedHashMap<>(row("{\"ok\":true,\"status\":{}}"));
        nested.put("web", Map.of("url", "http://10.77.0.1:8080/"));
        assertEquals("http://10.77.0.1:8080/", Demo.statusPageUrl(nested));
    }
}
