package io.passgate.nfq;

/**
 * How one netlink socket binds and configures its queue. Defaults are what was measured to matter here:
 * GSO on (a verdict per 64 KB super-packet instead of per segment), a receive buffer of MBs with
 * NETLINK_NO_ENOBUFS, batch receive and batch verdicts.
 *
 * @param queue          queue number (0..65535)
 * @param batch          messages per recvmmsg
 * @param maxLength      NFQA_CFG_QUEUE_MAXLEN: packets the kernel holds before it drops (or bypasses)
 * @param receiveBuffer  SO_RCVBUFFORCE bytes
 * @param gso            NFQA_CFG_F_GSO
 * @param failOpen       NFQA_CFG_F_FAIL_OPEN: accept instead of drop when the queue is full
 */
public record QueueConfig(int queue, int batch, int maxLength, int receiveBuffer, boolean gso, boolean failOpen)
{
    public static final int COPY_RANGE = 0xFFFF;
    /** A slot holds the largest message: headers and attributes plus a 64 KiB packet. */
    public static final int SLOT_SIZE = 65536 + 1024;

    public QueueConfig
    {
        if (queue < 0 || queue > 65535)
        {
            throw new IllegalArgumentException("queue number out of range: " + queue);
        }
        if (batch < 1 || batch > 1024)
        {
            throw new IllegalArgumentException("batch out of range 1..1024: " + batch);
        }
    }

    public static QueueConfig defaults(final int queue)
    {
        return new QueueConfig(queue, 64, 8192, 8 << 20, true, false);
    }
}
