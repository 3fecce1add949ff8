package io.passgate.sys;

/**
 * Every Linux constant passgate uses, in one place, each with the uapi header it comes from.
 * Values are those of the generic Linux ABI shared by x86_64, arm and arm64 (the Raspberry Pi
 * targets); architectures with other socket ABIs (mips, sparc, alpha) are not supported.
 */
public final class Linux
{
    private Linux()
    {
    }

    // <linux/socket.h>, <bits/socket.h>
    public static final int AF_UNSPEC = 0;
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int AF_NETLINK = 16;
    public static final int AF_PACKET = 17;

    // <linux/net.h> socket types, <asm-generic/fcntl.h> for the flag values
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int SOCK_CLOEXEC = 0x80000;

    // <asm-generic/socket.h>
    public static final int SOL_SOCKET = 1;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_SNDBUFFORCE = 32;
    public static final int SO_RCVBUFFORCE = 33;

    // <linux/socket.h> message flags
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_WAITFORONE = 0x10000;

    // <linux/in.h>
    public static final int IPPROTO_IP = 0;
    public static final int IPPROTO_ICMP = 1;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;
    public static final int IPPROTO_GRE = 47;
    public static final int IPPROTO_ESP = 50;
    public static final int IPPROTO_RAW = 255;
    public static final int IP_HDRINCL = 3;

    // <linux/sock_diag.h>, <linux/inet_diag.h>, <net/tcp_states.h>
    public static final int SOCK_DIAG_BY_FAMILY = 20;
    public static final int INET_DIAG_REQ_V2_LEN = 56;
    public static final int INET_DIAG_MSG_LEN = 72;
    public static final int INET_DIAG_SKV6ONLY = 11;
    public static final int TCP_ESTABLISHED = 1;
    public static final int TCP_CLOSE = 7;
    public static final int TCP_LISTEN = 10;

    // <linux/netlink.h>
    public static final int NETLINK_ROUTE = 0;
    public static final int NETLINK_SOCK_DIAG = 4;
    public static final int NETLINK_NETFILTER = 12;
    public static final int SOL_NETLINK = 270;
    public static final int NETLINK_ADD_MEMBERSHIP = 1;
    public static final int NETLINK_BROADCAST_ERROR = 4;
    public static final int NETLINK_NO_ENOBUFS = 5;
    public static final int NETLINK_CAP_ACK = 10;
    public static final int NETLINK_EXT_ACK = 11;
    public static final int NLM_F_REQUEST = 0x01;
    public static final int NLM_F_MULTI = 0x02;
    public static final int NLM_F_ACK = 0x04;
    public static final int NLM_F_ROOT = 0x100;
    public static final int NLM_F_MATCH = 0x200;
    public static final int NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
    public static final int NLM_F_REPLACE = 0x100;
    public static final int NLM_F_EXCL = 0x200;
    public static final int NLM_F_CREATE = 0x400;
    public static final int NLM_F_APPEND = 0x800;
    public static final int NLMSG_NOOP = 1;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;
    public static final int NLMSG_OVERRUN = 4;
    public static final int NLMSG_HDRLEN = 16;
    public static final int NLA_HDRLEN = 4;
    public static final int NLA_F_NESTED = 0x8000;
    public static final int NLA_F_NET_BYTEORDER = 0x4000;
    public static final int NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF;

    // <linux/netfilter/nfnetlink.h>
    public static final int NFNETLINK_V0 = 0;
    public static final int NFNL_SUBSYS_CTNETLINK = 1;
    public static final int NFNL_SUBSYS_QUEUE = 3;
    public static final int NFNL_SUBSYS_NFTABLES = 10;
    public static final int NFNL_MSG_BATCH_BEGIN = 0x10;
    public static final int NFNL_MSG_BATCH_END = 0x11;
    public static final int NFGENMSG_LEN = 4;

    // <linux/netfilter.h>
    public static final int NFPROTO_UNSPEC = 0;
    public static final int NFPROTO_INET = 1;
    public static final int NFPROTO_IPV4 = 2;
    public static final int NF_DROP = 0;
    public static final int NF_ACCEPT = 1;
    /** NF_QUEUE | (queue number << NF_VERDICT_QBITS) hands a packet to another queue (netfilter.h). */
    public static final int NF_VERDICT_QBITS = 16;
    public static final int NF_STOLEN = 2;
    public static final int NF_QUEUE = 3;
    public static final int NF_REPEAT = 4;
    public static final int NF_INET_PRE_ROUTING = 0;
    public static final int NF_INET_LOCAL_IN = 1;
    public static final int NF_INET_FORWARD = 2;
    public static final int NF_INET_LOCAL_OUT = 3;
    public static final int NF_INET_POST_ROUTING = 4;

    // <linux/netfilter/nfnetlink_queue.h>
    public static final int NFQNL_MSG_PACKET = 0;
    public static final int NFQNL_MSG_VERDICT = 1;
    public static final int NFQNL_MSG_CONFIG = 2;
    public static final int NFQNL_MSG_VERDICT_BATCH = 3;
    public static final int NFQA_PACKET_HDR = 1;
    public static final int NFQA_VERDICT_HDR = 2;
    public static final int NFQA_MARK = 3;
    public static final int NFQA_TIMESTAMP = 4;
    public static final int NFQA_IFINDEX_INDEV = 5;
    public static final int NFQA_IFINDEX_OUTDEV = 6;
    public static final int NFQA_IFINDEX_PHYSINDEV = 7;
    public static final int NFQA_IFINDEX_PHYSOUTDEV = 8;
    public static final int NFQA_HWADDR = 9;
    public static final int NFQA_PAYLOAD = 10;
    public static final int NFQA_CT = 11;
    public static final int NFQA_CT_INFO = 12;
    public static final int NFQA_CAP_LEN = 13;
    public static final int NFQA_SKB_INFO = 14;
    public static final int NFQA_EXP = 15;
    public static final int NFQA_UID = 16;
    public static final int NFQA_GID = 17;
    public static final int NFQA_SECCTX = 18;
    public static final int NFQA_VLAN = 19;
    public static final int NFQA_L2HDR = 20;
    public static final int NFQA_PRIORITY = 21;
    public static final int NFQA_MAX = 22;
    public static final int NFQNL_CFG_CMD_NONE = 0;
    public static final int NFQNL_CFG_CMD_BIND = 1;
    public static final int NFQNL_CFG_CMD_UNBIND = 2;
    public static final int NFQNL_COPY_NONE = 0;
    public static final int NFQNL_COPY_META = 1;
    public static final int NFQNL_COPY_PACKET = 2;
    public static final int NFQA_CFG_CMD = 1;
    public static final int NFQA_CFG_PARAMS = 2;
    public static final int NFQA_CFG_QUEUE_MAXLEN = 3;
    public static final int NFQA_CFG_MASK = 4;
    public static final int NFQA_CFG_FLAGS = 5;
    public static final int NFQA_CFG_F_FAIL_OPEN = 1;
    public static final int NFQA_CFG_F_CONNTRACK = 1 << 1;
    public static final int NFQA_CFG_F_GSO = 1 << 2;
    public static final int NFQA_CFG_F_UID_GID = 1 << 3;
    public static final int NFQA_CFG_F_SECCTX = 1 << 4;
    public static final int NFQA_SKB_CSUMNOTREADY = 1;
    public static final int NFQA_SKB_GSO = 1 << 1;
    public static final int NFQA_SKB_CSUM_NOTVERIFIED = 1 << 2;

    // <linux/netfilter/nf_tables.h>
    public static final int NFT_MSG_NEWSETELEM = 12;
    public static final int NFT_MSG_GETSETELEM = 13;
    public static final int NFT_MSG_DELSETELEM = 14;
    /** Like DELSETELEM, but a missing element is no error (Linux 6.3). */
    public static final int NFT_MSG_DESTROYSETELEM = 30;
    public static final int NFTA_SET_ELEM_LIST_TABLE = 1;
    public static final int NFTA_SET_ELEM_LIST_SET = 2;
    public static final int NFTA_SET_ELEM_LIST_ELEMENTS = 3;
    public static final int NFTA_LIST_ELEM = 1;
    public static final int NFTA_SET_ELEM_KEY = 1;
    public static final int NFTA_SET_ELEM_DATA = 2;
    public static final int NFTA_SET_ELEM_TIMEOUT = 4;
    public static final int NFTA_SET_ELEM_USERDATA = 6;
    public static final int NFTA_SET_ELEM_EXPR = 7;
    public static final int NFTA_SET_ELEM_EXPRESSIONS = 11;
    public static final int NFTA_EXPR_NAME = 1;
    public static final int NFTA_EXPR_DATA = 2;
    public static final int NFTA_COUNTER_BYTES = 1;
    public static final int NFTA_COUNTER_PACKETS = 2;
    public static final int NFTA_DATA_VALUE = 1;

    // <linux/if_ether.h>
    public static final int ETH_P_ALL = 0x0003;
    public static final int ETH_P_IP = 0x0800;

    // <linux/if_packet.h>
    public static final int SOL_PACKET = 263;
    public static final int PACKET_VERSION = 10;
    public static final int PACKET_RX_RING = 5;
    public static final int PACKET_TX_RING = 13;
    public static final int TPACKET_V3 = 2;

    // <asm-generic/poll.h>
    public static final short POLLIN = 0x1;
    public static final short POLLOUT = 0x4;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;

    // <asm-generic/mman-common.h>, <linux/mman.h>
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final long MAP_FAILED = -1L;

    // <asm-generic/fcntl.h>
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;

    // <linux/eventfd.h> (values of O_CLOEXEC and O_NONBLOCK)
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;

    // <linux/gpio.h>: the GPIO character device, uAPI v2 (Linux 5.10+). Its structs have explicit padding
    // and 8-byte-aligned 64-bit fields, so their layout (Structs.GPIO_*) is the same on every architecture;
    // the ioctl numbers use the generic _IOC encoding (x86, arm, arm64; not mips/powerpc/sparc/alpha).
    public static final int GPIO_MAX_NAME_SIZE = 32;
    public static final int GPIO_V2_LINES_MAX = 64;
    public static final int GPIO_V2_LINE_NUM_ATTRS_MAX = 10;
    /** _IOR(0xB4, 0x01, struct gpiochip_info) */
    public static final long GPIO_GET_CHIPINFO_IOCTL = 0x8044B401L;
    /** _IOWR(0xB4, 0x05, struct gpio_v2_line_info) */
    public static final long GPIO_V2_GET_LINEINFO_IOCTL = 0xC100B405L;
    /** _IOWR(0xB4, 0x07, struct gpio_v2_line_request) */
    public static final long GPIO_V2_GET_LINE_IOCTL = 0xC250B407L;
    /** _IOWR(0xB4, 0x0E, struct gpio_v2_line_values) */
    public static final long GPIO_V2_LINE_GET_VALUES_IOCTL = 0xC010B40EL;
    /** _IOWR(0xB4, 0x0F, struct gpio_v2_line_values) */
    public static final long GPIO_V2_LINE_SET_VALUES_IOCTL = 0xC010B40FL;
    // enum gpio_v2_line_flag
    public static final long GPIO_V2_LINE_FLAG_USED = 1L;
    public static final long GPIO_V2_LINE_FLAG_ACTIVE_LOW = 1L << 1;
    public static final long GPIO_V2_LINE_FLAG_INPUT = 1L << 2;
    public static final long GPIO_V2_LINE_FLAG_OUTPUT = 1L << 3;
    public static final long GPIO_V2_LINE_FLAG_EDGE_RISING = 1L << 4;
    public static final long GPIO_V2_LINE_FLAG_EDGE_FALLING = 1L << 5;
    public static final long GPIO_V2_LINE_FLAG_OPEN_DRAIN = 1L << 6;
    public static final long GPIO_V2_LINE_FLAG_OPEN_SOURCE = 1L << 7;
    public static final long GPIO_V2_LINE_FLAG_BIAS_PULL_UP = 1L << 8;
    public static final long GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN = 1L << 9;
    public static final long GPIO_V2_LINE_FLAG_BIAS_DISABLED = 1L << 10;
    public static final long GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME = 1L << 11;
    // enum gpio_v2_line_attr_id
    public static final int GPIO_V2_LINE_ATTR_ID_FLAGS = 1;
    public static final int GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES = 2;
    public static final int GPIO_V2_LINE_ATTR_ID_DEBOUNCE = 3;
    // enum gpio_v2_line_event_id
    public static final int GPIO_V2_LINE_EVENT_RISING_EDGE = 1;
    public static final int GPIO_V2_LINE_EVENT_FALLING_EDGE = 2;

    // <linux/sched.h>
    public static final int CLONE_NEWNET = 0x40000000;

    // <asm-generic/errno-base.h>, <asm-generic/errno.h>
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EINVAL = 22;
    public static final int ENOTTY = 25;
    public static final int EMSGSIZE = 90;
    public static final int EPROTONOSUPPORT = 93;
    public static final int EOPNOTSUPP = 95;
    public static final int EADDRINUSE = 98;
    public static final int ENETUNREACH = 101;
    public static final int ENOBUFS = 105;
    public static final int ECONNREFUSED = 111;
}
