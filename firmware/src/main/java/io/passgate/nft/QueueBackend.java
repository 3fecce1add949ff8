package io.passgate.nft;

/**
 * Where the NFQUEUE statements live. Raspberry Pi OS kernels have nft's {@code queue} expression
 * (CONFIG_NFT_QUEUE); some kernels (this development machine's among them) only have the xtables NFQUEUE
 * target, reached through iptables (nft backend). Everything else is in table {@code inet passgate} either way.
 */
public enum QueueBackend
{
    NFT,
    IPTABLES
}
