package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.PptpClient;
import io.passgate.tools.peers.PptpServer;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.remote.RemoteWebDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The status page in a real browser: Debian's chromium, headless, driven by chromedriver through Selenium
 * WebDriver. The browser runs on a LAN client (chromedriver is started in the client's namespace, so chromium and
 * its connections live there) and loads http://10.77.0.1/ from passgate in the router. The test JVM reaches
 * chromedriver, which listens on the client namespace's own loopback, through a relay: a listening socket on this
 * namespace's loopback whose connections are each joined to a socket opened from a thread inside the client
 * namespace (a socket stays in the namespace it was created in). No extra interface or address, nothing leaves
 * either loopback. Screenshots go to target/web-screenshots.
 */
@RequiresRoot
class WebIT
{
    private static final String PASSWORD = "lab status page password";
    private static final int DRIVER_PORT = 9515;
    private static final Path SHOTS = Lab.home().resolve("target/web-screenshots");

    /** Joins connections to this namespace's 127.0.0.1:port() to 127.0.0.1:target in namespace ns. */
    static final class Relay implements AutoCloseable
    {
        private final ServerSocket listener;
        private final String ns;
        private final int target;

        Relay(final String ns, final int target) throws IOException
        {
            this.ns = ns;
            this.target = target;
            listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
            final Thread t = new Thread(this::accept, "relay-" + ns);
            t.setDaemon(true);
            t.start();
        }

        int port()
        {
            return listener.getLocalPort();
        }

        private void accept()
        {
            while (!listener.isClosed())
            {
                try
                {
                    final Socket client = listener.accept();
                    final Socket upstream = Lab.inNamespace(ns, 5000, () -> new Socket("127.0.0.1", target));
                    pipe(client, upstream);
                    pipe(upstream, client);
                }
                catch (final Exception e)
                {
                    if (listener.isClosed())
                    {
                        return;
                    }
                }
            }
        }

        private static void pipe(final Socket from, final Socket to)
        {
            final Thread t = new Thread(() ->
            {
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream())
                {
                    in.transferTo(out);
                }
                catch (final IOException ignore)
                {
                    // one side closed
                }
                finally
                {
                    try
                    {
                        to.shutdownOutput();
                    }
                    catch (final IOException ignore)
                    {
                        // closed already
                    }
                }
            }, "relay-pipe");
            t.setDaemon(true);
            t.start();
        }

        @Override
        public void close() throws IOException
        {
            listener.close();
        }
    }

    /** chromedriver in the client's namespace, and a headless chromium session through the relay. */
    private static RemoteWebDriver browser(final Lab lab, final Relay relay) throws Exception
    {
        lab.spawn(lab.client(1), lab.workDir().resolve("chromedriver.log"), "/usr/bin/chromedriver",
            "--port=" + DRIVER_PORT);
        assertTrue(E2e.eventually(15_000, () ->
        {
            try
            {
                Lab.inNamespace(lab.client(1), 2000, () -> new Socket("127.0.0.1", DRIVER_PORT)).close();
                return true;
            }
            catch (final Exception e)
            {
                return false;
            }
        }), "chromedriver listens in the client's namespace");
        final ChromeOptions options = new ChromeOptions();
        // Selenium Manager cannot download anything here: Debian's chromium, explicitly
        options.setBinary("/usr/bin/chromium");
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
            "--window-size=1280,1500", "--no-first-run", "--no-default-browser-check");
        final RemoteWebDriver driver = new RemoteWebDriver(URI.create("http://127.0.0.1:" + relay.port()).toURL(), options);
        driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(10));
        return driver;
    }

    private static void shot(final WebDriver driver, final String name) throws IOException
    {
        Files.createDirectories(SHOTS);
        Files.write(SHOTS.resolve(name + ".png"), ((TakesScreenshot)driver).getScreenshotAs(OutputType.BYTES));
    }

    private static WebDriverWait waiting(final WebDriver driver)
    {
        return new WebDriverWait(driver, Duration.ofSeconds(10));
    }

    /** A PPTP control connection and call from client 1: null when through, the ConnectException when refused. */
    private static Exception pptp(final Lab lab) throws Exception
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

    /** What a script on the page gets back for a POST to /api/switch: its status and body. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> postFromThePage(final WebDriver driver, final String csrf)
    {
        return (Map<String, Object>)((JavascriptExecutor)driver).executeAsyncScript(
            "const done = arguments[arguments.length - 1];"
                + "fetch('/api/switch', {method: 'POST', headers: {'Content-Type': 'application/json',"
                + " 'X-CSRF-Token': arguments[0]}, body: JSON.stringify({protocol: 'pptp', on: false})})"
                + ".then(r => r.text().then(t => done({status: r.status, body: t})))"
                + ".catch(e => done({status: -1, body: String(e)}));", csrf);
    }

    private static long refusedOnThePage(final WebDriver driver)
    {
        final List<org.openqa.selenium.WebElement> e = driver.findElements(By.id("count-passthrough-refused"));
        return e.isEmpty() ? -1 : Long.parseLong(e.get(0).getText().strip());
    }

    @Test
    void logsInSwitchesPptpOffSeesTheLedAndARefusalThenOnAgain() throws Exception
    {
        // the hash as an administrator makes it: passgatectl web-password (the built launcher)
        final Lab.Result made = Lab.exec(null, 60_000, "sh", "-c", "printf '%s\\n' \"$0\" | \"$1\" web-password --stdin",
            PASSWORD, Lab.home().resolve("bin/passgatectl").toString());
        assertEquals(0, made.status(), made.output());
        final String line = made.output().lines().filter(l -> l.startsWith("web.password-hash = pbkdf2-sha256:600000:"))
            .findFirst().orElseThrow(() -> new AssertionError(made.output()));
        final String hash = line.substring(line.indexOf('=') + 1).strip();
        try (Lab lab = Lab.create(1))
        {
            final PassgateProcess pg = lab.startPassgate("--set", "board=virtual", "--set", "web.listen=lan:80",
                "--set", "web.password-hash=" + hash);
            assertTrue(pg.log().contains("status page on http://10.77.0.1:80/ (switches behind the admin password)"),
                pg.log());
            try (PptpServer server = Lab.inNamespace(lab.server(1), 10_000, PptpServer::new);
                Relay relay = new Relay(lab.client(1), DRIVER_PORT))
            {
                final RemoteWebDriver driver = browser(lab, relay);
                try
                {
                    driver.get("http://" + Lab.ROUTER_LAN + "/");
                    final WebDriverWait wait = waiting(driver);
                    wait.until(ExpectedConditions.attributeToBe(By.id("switch-pptp"), "data-state", "on"));
                    wait.until(ExpectedConditions.attributeToBe(By.id("led-pptp"), "data-pattern", "on"));
                    wait.until(ExpectedConditions.attributeToBe(By.id("led-system"), "data-pattern", "heartbeat"));
                    assertFalse(driver.findElement(By.id("switch-pptp")).isEnabled(), "not logged in: switches disabled");
                    // a change without the password's session is refused
                    final Map<String, Object> anonymous = postFromThePage(driver, "");
                    assertEquals(403L, ((Number)anonymous.get("status")).longValue(), anonymous.toString());
                    assertTrue(Ctl.run(pg, "status").output().contains("pptp=on"));
                    shot(driver, "01-before-login");

                    // a wrong password, then the right one
                    driver.findElement(By.id("password")).sendKeys("not the password");
                    driver.findElement(By.id("login-button")).click();
                    wait.until(ExpectedConditions.textToBe(By.id("message"), "wrong password"));
                    driver.findElement(By.id("password")).sendKeys(PASSWORD);
                    driver.findElement(By.id("login-button")).click();
                    wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("logout")));
                    wait.until(ExpectedConditions.elementToBeClickable(By.id("switch-pptp")));
                    assertTrue(pg.log().contains("status page: 10.77.0.11 logged in"), pg.log());
                    assertTrue(driver.manage().getCookieNamed("pgsid").isHttpOnly());
                    shot(driver, "02-logged-in");

                    // PPTP off: the switch and the LED change, the daemon has it, a PPTP client is refused
                    final long refusedBefore = refusedOnThePage(driver);
                    driver.findElement(By.id("switch-pptp")).click();
                    wait.until(ExpectedConditions.attributeToBe(By.id("switch-pptp"), "data-state", "off"));
                    wait.until(ExpectedConditions.attributeToBe(By.id("led-pptp"), "data-pattern", "off"));
                    assertEquals("on", driver.findElement(By.id("led-ipsec")).getAttribute("data-pattern"));
                    final String status = Ctl.run(pg, "status").output();
                    assertTrue(status.contains("pptp=off"), status);
                    assertTrue(E2e.eventually(3000, () -> pg.log().contains("status page: 10.77.0.11 switched pptp off")));
                    assertTrue(E2e.eventually(3000, () -> pg.log().contains("LED pptp off")), "the virtual board too");
                    assertNotNull(pptp(lab), "a PPTP client is refused while PPTP is off");
                    wait.until(d -> refusedOnThePage(d) > refusedBefore);
                    shot(driver, "03-pptp-off-client-refused");

                    // on again: a PPTP call goes through and shows as a live tunnel, its LED blinking slowly
                    driver.findElement(By.id("switch-pptp")).click();
                    wait.until(ExpectedConditions.attributeToBe(By.id("switch-pptp"), "data-state", "on"));
                    wait.until(ExpectedConditions.attributeToBe(By.id("led-pptp"), "data-pattern", "on"));
                    assertNull(pptp(lab), "through again");
                    try (PptpClient live = Lab.inNamespace(lab.client(1), 10_000, () ->
                    {
                        final PptpClient c = new PptpClient(Lab.serverAddress(1));
                        c.start();
                        c.call(7);
                        return c;
                    }))
                    {
                        final By call7 = By.xpath("//tbody[@id='tunnels']/tr[@data-protocol='pptp-call']"
                            + "[td[contains(., 'client-call-id 7,')]]");
                        wait.until(ExpectedConditions.presenceOfElementLocated(call7));
                        wait.until(ExpectedConditions.attributeToBe(By.id("led-pptp"), "data-pattern", "slow-blink"));
                        final String row = driver.findElement(call7).getText();
                        assertTrue(row.contains("10.77.0.11") && row.contains(Lab.serverAddress(1)), row);
                        shot(driver, "04-pptp-on-live-tunnel");

                        // readable on a phone: nothing wider than the screen (the tunnel table scrolls in its box)
                        driver.manage().window().setSize(new Dimension(390, 844));
                        final Object overflow = ((JavascriptExecutor)driver).executeScript(
                            "return document.documentElement.scrollWidth - window.innerWidth;");
                        assertTrue(((Number)overflow).longValue() <= 0, "page wider than a phone by " + overflow + " px");
                        shot(driver, "05-phone");
                    }
                    final Lab.Result again = Ctl.run(pg, "status");
                    assertTrue(again.output().contains("passthrough: all on | pptp on"), again.output());
                }
                finally
                {
                    driver.quit();
                }
            }
        }
    }

    @Test
    void withoutAPasswordThePageIsReadOnlyAndAChangeIsRefused() throws Exception
    {
        try (Lab lab = Lab.create(1))
        {
            final PassgateProcess pg = lab.startPassgate("--set", "board=virtual", "--set", "web.listen=lan:80");
            assertTrue(pg.log().contains("read-only: no web.password-hash"), pg.log());
            try (Relay relay = new Relay(lab.client(1), DRIVER_PORT))
            {
                final RemoteWebDriver driver = browser(lab, relay);
                try
                {
                    driver.get("http://" + Lab.ROUTER_LAN + "/");
                    final WebDriverWait wait = waiting(driver);
                    wait.until(ExpectedConditions.attributeToBe(By.id("led-pptp"), "data-pattern", "on"));
                    assertFalse(driver.findElement(By.id("login-form")).isDisplayed(), "no login without a password");
                    assertTrue(driver.findElement(By.id("auth-state")).getText().contains("read-only"));
                    assertFalse(driver.findElement(By.id("switch-pptp")).isEnabled());
                    final Map<String, Object> refused = postFromThePage(driver, "");
                    assertEquals(403L, ((Number)refused.get("status")).longValue(), refused.toString());
                    assertTrue(String.valueOf(refused.get("body")).contains("read-only"), refused.toString());
                    assertTrue(Ctl.run(pg, "status").output().contains("pptp=on"), "nothing changed");
                    assertEquals("on", driver.findElement(By.id("switch-pptp")).getAttribute("data-state"));
                    shot(driver, "06-read-only");
                    // the page's event stream is open: passgate still stops cleanly
                    assertEquals(0, pg.stop(), pg.log());
                    assertTrue(pg.log().contains("passgate stopped"), pg.log());
                }
                finally
                {
                    driver.quit();
                }
            }
        }
    }
}
