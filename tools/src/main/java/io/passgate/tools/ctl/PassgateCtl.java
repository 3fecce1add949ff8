package io.passgate.tools.ctl;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.passgate.alg.Helpers;

import io.passgate.config.ConfigKeys;
import io.passgate.control.Json;
import io.passgate.web.WebPassword;

/**
 * passgatectl: reads and controls a running passgate over its control socket (JSON lines).
 * Exit status: 0 ok, 1 the daemon is not running or refused the request, 2 usage error, 3 not permitted.
 */
public final class PassgateCtl
{
    static final int OK = 0;
    static final int NOT_RUNNING = 1;
    static final int USAGE = 2;
    static final int NOT_PERMITTED = 3;
    /** The shortest status page password web-password takes. */
    static final int MIN_PASSWORD = 8;

    /** The switches the helpers declare, and "all" (the master), as usage text: pptp|ipsec|natt|l2tp|all. */
    static final String SWITCHES = String.join("|", Helpers.PASSTHROUGHS.names()) + "|all";

    static final String HELP = """
        Usage: passgatectl [--runtime-dir DIR] [--json] COMMAND [ARGUMENTS]
        Reads and controls a running passgate through its control socket (RUNTIME-DIR/control.sock,
        default /run/passgate; root or the control.group may use it).

        Commands:
          status                         running state, passthrough switches, tunnels per protocol, LEDs
          enable  SWITCH                 switch a passthrough on (SWITCH: %s; all: the master)
          disable SWITCH                 switch it off: refused at once, its live tunnels torn down
          tunnels                        the live VPN tunnels (client, server, WAN port or Call ID, traffic)
                                         and, with offload, the flows the kernel carries (offloaded=true)
          counters                       every counter, summed over dataplane threads
          reload                         re-read the configuration file
          button short|long              press the button (the virtual board's, or the daemon's actions)
          web-password [--stdin] [--config FILE]
                                         hash a new admin password for the status page (no daemon needed)
          help [COMMAND]                 this text, or a command's

        Options:
          --runtime-dir DIR   the daemon's runtime-dir setting
          --json              the daemon's answer as JSON (one line)
          --stdin             web-password: read the password from the first line of stdin (scripts)
          --config FILE       web-password: write web.password-hash into FILE instead of printing it
          -h, --help          this text; COMMAND --help: the command's

        Exit status: 0 ok, 1 passgate not running or the request refused, 2 usage error, 3 not permitted.
        """.formatted(SWITCHES);

    private static final Map<String, String> COMMAND_HELP = new LinkedHashMap<>();

    /** What each switch covers, from the helpers' declarations: "pptp: TCP 1723 and enhanced GRE. ..." */
    private static String covers()
    {
        final StringBuilder b = new StringBuilder();
        for (int i = 0; i < Helpers.PASSTHROUGHS.count(); i++)
        {
            b.append(Helpers.PASSTHROUGHS.name(i)).append(": ").append(Helpers.PASSTHROUGHS.get(i).covers()).append(". ");
        }
        return b.toString().strip() + "\n";
    }

    static
    {
        COMMAND_HELP.put("status", "Usage: passgatectl status [--json]\nShows whether the dataplane runs, any fault, "
            + "the passthrough switches (each protocol's setting and whether it is in effect), live tunnels per protocol, "
            + "NAT sessions and the LED patterns.\n");
        COMMAND_HELP.put("enable", "Usage: passgatectl enable " + SWITCHES + " [--json]\nSwitches a passthrough "
            + "on; it takes effect for the next packet. 'all' is the master switch (the button's): each protocol keeps "
            + "its own setting.\n" + covers());
        COMMAND_HELP.put("disable", "Usage: passgatectl disable " + SWITCHES + " [--json]\nSwitches a "
            + "passthrough off: new connections are refused at once (TCP RST, or ICMP administratively prohibited) "
            + "and its live tunnels are torn down. Remembered across restarts.\n");
        COMMAND_HELP.put("tunnels", "Usage: passgatectl tunnels [--json]\nLists live VPN passthrough tunnels: protocol, "
            + "LAN client, server, WAN address and port (or PPTP Call ID), packets and bytes each way, age and idle "
            + "time.\n");
        COMMAND_HELP.put("counters", "Usage: passgatectl counters [--json]\nEvery counter (packets, drops by reason, "
            + "sessions, tunnels), summed over dataplane threads.\n");
        COMMAND_HELP.put("reload", "Usage: passgatectl reload [--json]\nRe-reads and re-validates the configuration "
            + "file; applies the passthrough defaults and lists settings that need a restart.\n");
        COMMAND_HELP.put("web-password", "Usage: passgatectl web-password [--stdin] [--config FILE]\nReads a new admin "
            + "password for the status page (twice from the terminal, or the first line of stdin with --stdin; at least "
            + MIN_PASSWORD + " characters) and hashes it (PBKDF2-HMAC-SHA256, " + WebPassword.ITERATIONS
            + " iterations, a random salt). Prints the line web.password-hash = ... for passgate.conf, or with --config "
            + "FILE replaces that key's line in FILE (or adds it), keeping the file's owner and permissions. Restart "
            + "passgate to apply it (systemctl restart passgate). Needs no running daemon.\n");
        COMMAND_HELP.put("button", "Usage: passgatectl button short|long [--json]\nPresses the button: short toggles all "
            + "passthrough, long (3 s or more) restores the configuration's default switches.\n");
    }

    private PassgateCtl()
    {
    }

    public static void main(final String[] args)
    {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        return run(args, System.in, out, err);
    }

    public static int run(final String[] args, final InputStream stdin, final PrintStream out, final PrintStream err)
    {
        Path runtimeDir = Path.of("/run/passgate");
        boolean json = false;
        boolean help = false;
        final List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--runtime-dir" ->
                {
                    if (++i >= args.length)
                    {
                        err.println("passgatectl: --runtime-dir needs a value");
                        return USAGE;
                    }
                    runtimeDir = Path.of(args[i]);
                }
                case "--json" -> json = true;
                case "-h", "--help" -> help = true;
                default -> rest.add(args[i]);
            }
        }
        if (rest.isEmpty() || rest.get(0).equals("help"))
        {
            if (rest.size() > 1 && COMMAND_HELP.containsKey(rest.get(1)))
            {
                out.print(COMMAND_HELP.get(rest.get(1)));
                return OK;
            }
            (rest.isEmpty() && !help ? err : out).print(HELP);
            return rest.isEmpty() && !help ? USAGE : OK;
        }
        final String command = rest.get(0);
        if (!COMMAND_HELP.containsKey(command))
        {
            err.println("passgatectl: unknown command '" + command + "' (see passgatectl --help)");
            return USAGE;
        }
        if (help)
        {
            out.print(COMMAND_HELP.get(command));
            return OK;
        }
        if (command.equals("web-password"))
        {
            return webPassword(rest.subList(1, rest.size()), stdin, out, err);
        }
        final Map<String, Object> request = new LinkedHashMap<>();
        switch (command)
        {
            case "enable", "disable" ->
            {
                if (rest.size() != 2 || !List.of(SWITCHES.split("\\|")).contains(rest.get(1)))
                {
                    err.print(COMMAND_HELP.get(command));
                    return USAGE;
                }
                request.put("cmd", "switch");
                request.put("protocol", rest.get(1));
                request.put("on", command.equals("enable"));
            }
            case "button" ->
            {
                if (rest.size() != 2 || !List.of("short", "long").contains(rest.get(1)))
                {
                    err.print(COMMAND_HELP.get(command));
                    return USAGE;
                }
                request.put("cmd", "button");
                request.put("press", rest.get(1));
            }
            default ->
            {
                if (rest.size() != 1)
                {
                    err.print(COMMAND_HELP.get(command));
                    return USAGE;
                }
                request.put("cmd", command);
            }
        }
        final Path socket = runtimeDir.resolve("control.sock");
        final String answer;
        try
        {
            answer = exchange(socket, Json.write(request));
        }
        catch (final AccessDeniedException e)
        {
            err.println("passgatectl: not permitted to use " + socket + " (run as root or as a member of passgate's "
                + "control.group)");
            return NOT_PERMITTED;
        }
        catch (final IOException e)
        {
            final String m = String.valueOf(e.getMessage());
            if (m.contains("ermission denied"))
            {
                err.println("passgatectl: not permitted to use " + socket + " (run as root or as a member of passgate's "
                    + "control.group)");
                return NOT_PERMITTED;
            }
            err.println("passgatectl: passgate is not running (no answer at " + socket + ": " + m + ")");
            return NOT_RUNNING;
        }
        final Map<String, Object> response;
        try
        {
            response = Json.parseObject(answer);
        }
        catch (final IllegalArgumentException e)
        {
            err.println("passgatectl: unreadable answer from passgate: " + answer);
            return NOT_RUNNING;
        }
        if (!Boolean.TRUE.equals(response.get("ok")))
        {
            if (json)
            {
                out.println(answer);
            }
            else
            {
                err.println("passgatectl: " + response.get("error"));
            }
            return NOT_RUNNING;
        }
        if (json)
        {
            out.println(answer);
            return OK;
        }
        switch (command)
        {
            case "status" -> Render.status(response, out);
            case "enable", "disable", "button" -> Render.switches(map(response.get("switches")), out);
            case "tunnels" -> Render.tunnels(list(response.get("tunnels")), out);
            case "counters" -> Render.counters(map(response.get("counters")), out);
            case "reload" -> Render.reload(map(response.get("reload")), out);
            default -> out.println(answer);
        }
        return OK;
    }

    /** passgatectl web-password: a new hash, printed or written into the config file. */
    static int webPassword(final List<String> args, final InputStream stdin, final PrintStream out, final PrintStream err)
    {
        boolean fromStdin = false;
        Path config = null;
        for (int i = 0; i < args.size(); i++)
        {
            if (args.get(i).equals("--stdin"))
            {
                fromStdin = true;
            }
            else if (args.get(i).equals("--config") && i + 1 < args.size())
            {
                config = Path.of(args.get(++i));
            }
            else
            {
                err.print(COMMAND_HELP.get("web-password"));
                return USAGE;
            }
        }
        final char[] password;
        try
        {
            if (fromStdin)
            {
                final String line = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8)).readLine();
                password = line == null ? new char[0] : line.toCharArray();
            }
            else
            {
                final Console console = System.console();
                if (console == null)
                {
                    err.println("passgatectl: web-password: no terminal to read the password from (use --stdin)");
                    return USAGE;
                }
                password = console.readPassword("New status page password: ");
                final char[] again = console.readPassword("Again: ");
                if (password == null || again == null || !Arrays.equals(password, again))
                {
                    err.println("passgatectl: web-password: the two passwords differ; nothing changed");
                    return USAGE;
                }
                Arrays.fill(again, ' ');
            }
        }
        catch (final IOException e)
        {
            err.println("passgatectl: web-password: " + e.getMessage());
            return USAGE;
        }
        if (password.length < MIN_PASSWORD)
        {
            err.println("passgatectl: web-password: at least " + MIN_PASSWORD + " characters; nothing changed");
            return USAGE;
        }
        final String line = ConfigKeys.WEB_PASSWORD_HASH_PROP_NAME + " = " + WebPassword.hash(password,
            WebPassword.ITERATIONS);
        Arrays.fill(password, ' ');
        if (config == null)
        {
            out.println(line);
            return OK;
        }
        try
        {
            writeKey(config, line);
        }
        catch (final IOException e)
        {
            err.println("passgatectl: web-password: cannot write " + config + ": " + e.getMessage());
            return e instanceof AccessDeniedException ? NOT_PERMITTED : NOT_RUNNING;
        }
        out.println(ConfigKeys.WEB_PASSWORD_HASH_PROP_NAME + " set in " + config
            + "; restart passgate to apply it (systemctl restart passgate)");
        return OK;
    }

    /**
     * Replaces the web.password-hash line of a config file (the first set one, else the first commented one, else
     * adds it at the end), through a temporary file in the same directory with the same owner and permissions,
     * moved over it.
     */
    static void writeKey(final Path config, final String line) throws IOException
    {
        final List<String> lines = new ArrayList<>(Files.readAllLines(config, StandardCharsets.UTF_8));
        final String key = java.util.regex.Pattern.quote(ConfigKeys.WEB_PASSWORD_HASH_PROP_NAME);
        final java.util.regex.Pattern set = java.util.regex.Pattern.compile("^\\s*" + key + "\\s*=.*");
        final java.util.regex.Pattern commented = java.util.regex.Pattern.compile("^\\s*#\\s*" + key + "\\s*=.*");
        int at = -1;
        for (int i = 0; i < lines.size() && at < 0; i++)
        {
            at = set.matcher(lines.get(i)).matches() ? i : -1;
        }
        for (int i = 0; i < lines.size() && at < 0; i++)
        {
            at = commented.matcher(lines.get(i)).matches() ? i : -1;
        }
        if (at < 0)
        {
            lines.add(line);
        }
        else
        {
            lines.set(at, line);
        }
        final Path temp = Files.createTempFile(config.toAbsolutePath().getParent(), ".passgate.conf", ".new");
        try
        {
            Files.write(temp, lines, StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(temp, Files.getPosixFilePermissions(config));
            final PosixFileAttributes attrs = Files.readAttributes(config, PosixFileAttributes.class);
            final PosixFileAttributeView view = Files.getFileAttributeView(temp, PosixFileAttributeView.class);
            if (!view.readAttributes().owner().equals(attrs.owner()))
            {
                view.setOwner(attrs.owner());
            }
            if (!view.readAttributes().group().equals(attrs.group()))
            {
                view.setGroup(attrs.group());
            }
            Files.move(temp, config, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        finally
        {
            Files.deleteIfExists(temp);
        }
    }


    @SuppressWarnings("unchecked")
    static Map<String, Object> map(final Object o)
    {
        return o instanceof Map<?, ?> m ? (Map<String, Object>)m : Map.of();
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(final Object o)
    {
        return o instanceof List<?> l ? (List<Object>)l : List.of();
    }

    static String exchange(final Path socket, final String request) throws IOException
    {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            channel.connect(UnixDomainSocketAddress.of(socket));
            final OutputStream out = Channels.newOutputStream(channel);
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
                StandardCharsets.UTF_8));
            final String line = in.readLine();
            if (line == null)
            {
                throw new IOException("the daemon closed the connection");
            }
            return line;
        }
    }

    static String lower(final String s)
    {
        return s.toLowerCase(Locale.ROOT);
    }
}
