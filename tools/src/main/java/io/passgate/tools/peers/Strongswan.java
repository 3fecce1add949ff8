package io.passgate.tools.peers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import io.passgate.tools.lab.Lab;

/**
 * Real strongSwan (Debian's charon with the kernel-libipsec plugin: ESP in user space over a TUN device, since
 * the lab's kernel has no ESP) in a lab namespace: one charon per namespace, each with its own configuration
 * folder, its own /run (a private mount namespace: charon's pid file) and its vici socket in that folder,
 * driven with swanctl. IKEv2 with a pre-shared key; clients get a virtual address from the server's pool and
 * reach {@link #TUNNEL_TARGET} (an address of the server's) through the tunnel.
 */
public final class Strongswan implements AutoCloseable
{
    /** The server's address inside the tunnels (on its loopback). */
    public static final String TUNNEL_TARGET = "10.99.0.1";
    private static final String PSK = "passgate-lab-psk";

    private final Lab lab;
    private final String ns;
    private final Path dir;
    private final Process charon;

    private Strongswan(final Lab lab, final String ns, final Path dir, final Process charon)
    {
        this.lab = lab;
        this.ns = ns;
        this.dir = dir;
        this.charon = charon;
    }

    private static void writeStrongswanConf(final Path dir) throws IOException
    {
        Files.writeString(dir.resolve("strongswan.conf"), """
            charon {
              load = random nonce gmp curve25519 kdf aes sha1 sha2 hmac pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici updown
              plugins {
                vici { socket = unix://%s/charon.vici }
              }
              filelog { stderr { default = 1 ike = 2 } }
              install_routes = yes
            }
            """.formatted(dir));
    }

    private static Strongswan start(final Lab lab, final String ns, final String name, final String swanctl)
        throws IOException
    {
        final Path dir = lab.workDir().resolve("strongswan-" + name);
        Files.createDirectories(dir);
        writeStrongswanConf(dir);
        Files.writeString(dir.resolve("swanctl.conf"), swanctl);
        final Process charon = lab.spawn(ns, dir.resolve("charon.log"), "unshare", "--mount", "--propagation", "private",
            "sh", "-c", "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=" + dir.resolve("strongswan.conf")
                + " exec /usr/lib/ipsec/charon");
        final Strongswan s = new Strongswan(lab, ns, dir, charon);
        final long deadline = System.currentTimeMillis() + 20_000;
        while (!Files.exists(dir.resolve("charon.vici")))
        {
            if (System.currentTimeMillis() > deadline || !charon.isAlive())
            {
                s.close();
                throw new IOException("charon did not start in " + ns + ": " + s.log());
            }
            sleep(50);
        }
        final Lab.Result load = s.swanctl("--load-all", "--file", dir.resolve("swanctl.conf").toString());
        if (!load.ok() || !load.output().contains("successfully loaded 1 connections"))
        {
            s.close();
            throw new IOException("swanctl --load-all in " + ns + ": " + load.output());
        }
        return s;
    }

    /** The server: connection "rw" on {@code address}, a pool of virtual addresses, the tunnel target on lo. */
    public static Strongswan server(final Lab lab, final String ns, final String address) throws IOException
    {
        lab.must(ns, "ip", "addr", "add", TUNNEL_TARGET + "/32", "dev", "lo");
        return start(lab, ns, "server", """
            connections {
              rw {
                version = 2
                local_addrs = %s
                pools = pool
                proposals = aes128-sha256-curve25519
                local {
                  auth = psk
                  id = server
                }
                remote {
                  auth = psk
                }
                children {
                  net {
                    local_ts = %s/32
                    esp_proposals = aes128-sha256
                  }
                }
              }
            }
            pools {
              pool {
                addrs = 10.99.1.0/24
              }
            }
            secrets {
              ike-1 {
                secret = "%s"
              }
            }
            """.formatted(address, TUNNEL_TARGET, PSK));
    }

    /** A client of the server at {@code server}: connection and child "home". */
    public static Strongswan client(final Lab lab, final String ns, final String name, final String server)
        throws IOException
    {
        return start(lab, ns, name, """
            connections {
              home {
                version = 2
                remote_addrs = %s
                vips = 0.0.0.0
                proposals = aes128-sha256-curve25519
                local {
                  auth = psk
                  id = %s
                }
                remote {
                  auth = psk
                  id = server
                }
                children {
                  home {
                    remote_ts = %s/32
                    esp_proposals = aes128-sha256
                  }
                }
              }
            }
            secrets {
              ike-1 {
                secret = "%s"
              }
            }
            """.formatted(server, name, TUNNEL_TARGET, PSK));
    }

    /** Runs swanctl against this charon. */
    public Lab.Result swanctl(final String... args) throws IOException
    {
        final String[] command = new String[args.length + 3];
        command[0] = "swanctl";
        System.arraycopy(args, 0, command, 1, args.length);
        command[args.length + 1] = "--uri";
        command[args.length + 2] = "unix://" + dir.resolve("charon.vici");
        return lab.exec(ns, command);
    }

    /** Brings the client's tunnel up (IKE_SA_INIT, IKE_AUTH with the child). */
    public Lab.Result initiate() throws IOException
    {
        return swanctl("--initiate", "--child", "home", "--timeout", "30");
    }

    public String log()
    {
        try
        {
            return Files.readString(dir.resolve("charon.log"));
        }
        catch (final IOException e)
        {
            return "";
        }
    }

    private static void sleep(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close()
    {
        Lab.stop(charon);
    }
}
