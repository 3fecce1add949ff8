package io.passgate.nat;

import org.agrona.DirectBuffer;

/** Where packets passgate builds itself go (a raw IP socket in the daemon, a recorder in tests). */
public interface PacketSink
{
    /** Sends the IPv4 packet of {@code length} bytes at {@code offset} of {@code buffer} to {@code destination}. */
    void send(DirectBuffer buffer, int offset, int length, int destination);
}
