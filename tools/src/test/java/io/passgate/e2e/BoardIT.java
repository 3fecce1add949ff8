package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;

import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.PptpClient;
import io.passgate.tools.peers.PptpServer;
import org.junit.jupiter.api.Test;

/**
 * The virtual board in the lab: its button, pressed with passgatectl, switches all passthrough off and on;
 * a PPTP client is refused meanwhile; the PPTP LED follows.
 */
@RequiresRoot
class BoardIT
{
    private static Exception connect(final Lab lab) throws Exception
    {
        return Lab.inNamespace(lab.client(1), 10_000, () ->
        {
            try (PptpClient c = new PptpClient(Lab.serverAddress(1)))
            {
                c.start();
                c.call(1);
                return null;
            }
            catch (final ConnectException e)
            {
                return e;
            }
        });
    }

    @Test
    void virtualButtonTogglesPassthroughAndTheLedFollows() throws Exception
    {
        try (Lab lab = Lab.create(1))
        {
            final PassgateProcess pg = lab.startPassgate("--set", "board=virtual");
            try (PptpServer server = Lab.inNamespace(lab.server(1), 10_000, PptpServer::new))
            {
                String status = Ctl.run(pg, "status").output();
                assertTrue(status.contains("status panel virtual board"), status);
                assertTrue(status.contains("pptp=on"), status);
                assertTrue(status.contains("system=heartbeat"), status);

                final Lab.Result press = Ctl.run(pg, "button", "short");
                assertEquals(0, press.status(), press.output());
                assertTrue(press.output().contains("passthrough: all off"), press.output());
                status = Ctl.run(pg, "status").output();
                assertTrue(status.contains("pptp=off") && status.contains("ipsec=off") && status.contains("l2tp=off"), status);
                final Exception refused = connect(lab);
                assertNotNull(refused, "a PPTP client is refused while the button has passthrough off");
                assertTrue(E2e.eventually(3000, () -> pg.log().contains("LED pptp off")), "the virtual board prints the change");

                final Lab.Result again = Ctl.run(pg, "button", "short");
                assertTrue(again.output().contains("passthrough: all on | pptp on"), again.output());
                // read your own write: the status right after the press shows the new switches and LEDs
                status = Ctl.run(pg, "status").output();
                assertTrue(status.contains("passthrough: all on | pptp on") && status.contains("pptp=on"), status);
                assertEquals(null, connect(lab), "through again");

                // long press: the configuration's defaults come back
                assertEquals(0, Ctl.run(pg, "disable", "l2tp").status());
                status = Ctl.run(pg, "status").output();
                assertTrue(status.contains("l2tp=off"), status);
                final Lab.Result longPress = Ctl.run(pg, "button", "long");
                assertTrue(longPress.output().contains("l2tp on"), longPress.output());
                assertTrue(E2e.eventually(3000, () -> pg.log().contains("restored to the configuration's defaults (long press)")));
            }
        }
    }

    /**
     * This machine has no GPIO chip: board = gpio fails the start naming the key, board.on-error = virtual
     * falls back to the virtual board (and says why), board = auto takes the virtual board.
     */
    @Test
    void gpioBoardWithoutAChipNamesTheKeyOrFallsBackToTheVirtualBoard() throws Exception
    {
        try (Lab lab = Lab.create(1))
        {
            final IOException failed = assertThrows(IOException.class, () -> lab.startPassgate("--set", "board=gpio"));
            assertTrue(failed.getMessage().startsWith("passgate exited with 1"), failed.getMessage());
            assertTrue(failed.getMessage().contains("cannot start: board = gpio: default, key 'board.gpio-chip': "
                + "no header chip recognised"), failed.getMessage());

            final PassgateProcess fallback = lab.startPassgate("--set", "board=gpio", "--set", "board.on-error=virtual");
            assertTrue(Ctl.run(fallback, "status").output().contains("status panel virtual board"));
            assertTrue(fallback.log().contains("status panel gpio not usable here: default, key 'board.gpio-chip'"),
                fallback.log());
            assertEquals(0, fallback.stop());

            final PassgateProcess auto = lab.startPassgate("--set", "board=auto");
            assertTrue(Ctl.run(auto, "status").output().contains("status panel virtual board"));
            assertEquals(0, auto.stop());

            final IOException badPin = assertThrows(IOException.class,
                () -> lab.startPassgate("--set", "board=gpio", "--set", "board.on-error=virtual", "--set", "board.button-pin=17 18"));
            assertTrue(badPin.getMessage().contains("board settings: option --set board.button-pin, key 'board.button-pin': "
                + "not a GPIO line number or line name"), "a bad setting is never a fall-back: " + badPin.getMessage());
        }
    }
}
