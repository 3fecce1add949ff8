package io.passgate.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** See {@link RequiresRoot}. */
public final class RootCondition implements ExecutionCondition
{
    public static boolean isRoot()
    {
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/self/status")))
            {
                if (line.startsWith("Uid:"))
                {
                    return "0".equals(line.split("\\s+")[2]);
                }
            }
        }
        catch (final IOException ignore)
        {
            // not Linux: not root for our purposes
        }
        return false;
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(final ExtensionContext context)
    {
        if (isRoot())
        {
            return ConditionEvaluationResult.enabled("running as root");
        }
        if (Boolean.getBoolean("passgate.requireRoot"))
        {
            throw new IllegalStateException("passgate.requireRoot is set but the tests do not run as root");
        }
        return ConditionEvaluationResult.disabled("needs root (network namespaces, netfilter); run the README's test command as root");
    }
}
