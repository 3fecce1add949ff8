package io.passgate.e2e;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;

/** Runs tools/bin/passgatectl against a lab daemon, as a separate process like a user would. */
final class Ctl
{
    private Ctl()
    {
    }

    static Lab.Result run(final PassgateProcess pg, final String... args) throws IOException
    {
        return runAs(null, pg, args);
    }

    /** As {@code user} (null: root) through setpriv. */
    static Lab.Result runAs(final String user, final PassgateProcess pg, final String... args) throws IOException
    {
        final List<String> command = new ArrayList<>();
        if (user != null)
        {
            command.addAll(List.of("setpriv", "--reuid=" + user, "--regid=nogroup", "--clear-groups"));
        }
        command.add(Lab.home().resolve("bin/passgatectl").toString());
        command.add("--runtime-dir");
        command.add(pg.runtimeDir().toString());
        command.addAll(List.of(args));
        return Lab.exec(null, 60_000, command.toArray(String[]::new));
    }
}
