/**
 * The host side of the container's only way out: TCP relays listening on the agent network's
 * gateway address, each forwarding to one gateway listener (the API and the forward proxy), so
 * a gateway that listens on loopback can still be reached. A host address answers every
 * container on the machine, whatever its network, so a relay closes any connection whose source
 * is outside the agent network's subnet: the relay must not open a loopback-only gateway to the
 * other containers. Nothing else is forwarded: the container's firewall admits these two ports
 * and no other.
 */
import {
  BlockList,
  connect,
  createServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';

export interface Relay {
  /** The port the relay listens on (on the network's gateway address). */
  readonly port: number;
  close(): Promise<void>;
}

/** A BlockList holding the IPv4 subnet `a.b.c.d/n`. */
export function subnetList(subnet: string): BlockList {
  const [network, prefix] = subnet.split('/');
  const list = new BlockList();
  list.addSubnet(network, Number(prefix), 'ipv4');
  return list;
}

export async function startRelay(
  listenHost: string,
  target: { host: string; port: number },
  allowedSources: BlockList,
): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const source = inbound.remoteAddress?.replace(/^::ffff:/, '');
    if (!source || !allowedSources.check(source, 'ipv4')) {
      inbound.destroy();
      return;
    }
    const outbound = connect(target.port, target.host);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
