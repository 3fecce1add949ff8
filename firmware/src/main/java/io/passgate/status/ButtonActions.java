package io.passgate.status;

/** What the push-button does; implemented by the daemon, called by a status panel. */
public interface ButtonActions
{
    /** Short press: all passthrough on or off (the master switch), each protocol's own setting remembered. */
    void shortPress();

    /** Long press (3 s or more): restore the configuration's default switches. */
    void longPress();
}
