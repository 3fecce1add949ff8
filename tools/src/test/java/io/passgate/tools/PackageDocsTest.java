package io.passgate.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.board.BoardSettings;
import io.passgate.config.ConfigKeys;
import io.passgate.daemon.Main;
import io.passgate.tools.ctl.PassgateCtl;
import org.junit.jupiter.api.Test;

/**
 * The package's man pages and shell completion stay true to the --help texts and the configuration keys they
 * describe: every option, key and command is documented, and the completion offers exactly the commands.
 */
class PackageDocsTest
{
    private static final Path DEB = Path.of("src/deb");
    private static final Pattern OPTION = Pattern.compile("(?m)^ {2}(?:-h, )?(--[a-z-]+)");

    /** A man page's text with troff's escaped hyphens as plain ones. */
    private static String man(final String name) throws IOException
    {
        return Files.readString(DEB.resolve("man").resolve(name)).replace("\\-", "-");
    }

    /** Whether the page defines {@code term} at the start of a .B, .BR or .BI line (a key, a command). */
    private static boolean defines(final String page, final String term)
    {
        return Pattern.compile("(?m)^\\.B[IR]? " + Pattern.quote(term) + "(?![a-z.-])").matcher(page).find();
    }

    /** Whether {@code option} appears as a whole word (an option in a .BR line with its short form). */
    private static boolean mentions(final String page, final String option)
    {
        return Pattern.compile(Pattern.quote(option) + "(?![a-z-])").matcher(page).find();
    }

    private static List<String> options(final String help)
    {
        final List<String> found = new ArrayList<>();
        final Matcher m = OPTION.matcher(help);
        while (m.find())
        {
            found.add(m.group(1));
        }
        return found;
    }

    private static String ctlHelp()
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, PassgateCtl.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
            System.err));
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The commands listed under "Commands:" in passgatectl --help. */
    private static Set<String> ctlCommands()
    {
        final String help = ctlHelp();
        final String section = help.substring(help.indexOf("Commands:"), help.indexOf("Options:"));
        final Set<String> commands = new TreeSet<>();
        final Matcher m = Pattern.compile("(?m)^ {2}([a-z][a-z-]*)").matcher(section);
        while (m.find())
        {
            commands.add(m.group(1));
        }
        return commands;
    }

    @Test
    void passgate8HasEveryOption() throws Exception
    {
        final String page = man("passgate.8");
        final List<String> options = options(Main.help());
        assertTrue(options.size() >= 10, "options parsed from --help: " + options);
        for (final String option : options)
        {
            assertTrue(defines(page, option) || mentions(page, option), "passgate(8) documents " + option);
        }
    }

    @Test
    void passgateConf5HasEveryKey() throws Exception
    {
        final String page = man("passgate.conf.5");
        for (final String key : ConfigKeys.DEFAULTS.keySet())
        {
            assertTrue(defines(page, key), "passgate.conf(5) documents " + key);
        }
        final Field keys = BoardSettings.class.getDeclaredField("KEYS");
        keys.setAccessible(true);
        for (final Object key : (Set<?>)keys.get(null))
        {
            assertTrue(defines(page, "board." + key), "passgate.conf(5) documents board." + key);
        }
    }

    @Test
    void passgatectl8HasEveryCommandAndOption() throws Exception
    {
        final String page = man("passgatectl.8");
        final Set<String> commands = ctlCommands();
        assertTrue(commands.containsAll(Set.of("status", "enable", "disable", "help")), "parsed: " + commands);
        for (final String command : commands)
        {
            assertTrue(defines(page, command), "passgatectl(8) documents " + command);
        }
        for (final String option : options(ctlHelp()))
        {
            assertTrue(mentions(page, option), "passgatectl(8) documents " + option);
        }
    }

    @Test
    void completionOffersExactlyTheCommandsAndOptions() throws Exception
    {
        final String completion = Files.readString(DEB.resolve("root/usr/share/bash-completion/completions/passgatectl"));
        final Matcher commands = Pattern.compile("local commands=\"([^\"]*)\"").matcher(completion);
        assertTrue(commands.find(), completion);
        assertEquals(ctlCommands(), new TreeSet<>(List.of(commands.group(1).split(" "))));
        final Matcher options = Pattern.compile("local options=\"([^\"]*)\"").matcher(completion);
        assertTrue(options.find(), completion);
        assertEquals(new TreeSet<>(options(ctlHelp())), new TreeSet<>(List.of(options.group(1).split(" "))));
    }

    @Test
    void theUnitRunsTheInstalledLaunchersAndNamesThePages() throws Exception
    {
        final String unit = Files.readString(DEB.resolve("root/usr/lib/systemd/system/passgate.service"));
        assertTrue(unit.contains("\nExecStart=/usr/bin/passgate --config /etc/passgate/passgate.conf\n"), unit);
        final Matcher pages = Pattern.compile("man:([a-z.]+)\\((\\d)\\)").matcher(unit);
        int count = 0;
        while (pages.find())
        {
            assertTrue(Files.exists(DEB.resolve("man").resolve(pages.group(1) + "." + pages.group(2))), pages.group());
            count++;
        }
        assertEquals(3, count, "Documentation= names the three pages");
    }
}
