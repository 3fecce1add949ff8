package io.passgate.status;

import java.util.Map;

/** A kind of status panel, found with {@link java.util.ServiceLoader}. */
public interface StatusPanelProvider
{
    /** The value of the {@code board} setting that selects it ("pi4j", "virtual"). */
    String id();

    /** Whether it can run here when {@code board = auto} (GPIO present, for instance). */
    boolean availableHere();

    /**
     * Creates the panel from the {@code board.*} settings (keys without the prefix, each with where it was set).
     * Throws IllegalArgumentException whose message names the key for a bad setting.
     */
    StatusPanel create(Map<String, String> settings, Map<String, String> origins);
}
