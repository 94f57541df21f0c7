/**
 * Portable mode's DNS-SD advertisement (_sftp-ssh._tcp over multicast DNS) through
 * bonjour-service, a maintained TypeScript responder, rather than hand-written mDNS packets.
 */
import Bonjour from 'bonjour-service';

export interface Advertisement {
  name: string;
  port: number;
  txt: Record<string, string>;
  /** IPv4 address of the interface to answer on; empty: every interface. */
  interfaceAddress: string;
  onError(err: unknown): void;
}

/** Publishes the service; the returned function withdraws it (goodbye packets) and closes. */
export function advertise(ad: Advertisement): () => Promise<void> {
  // Bound to every address: multicast reaches only sockets bound to the wildcard or the group.
  const network =
    ad.interfaceAddress === '' ? {} : { interface: ad.interfaceAddress, bind: '0.0.0.0' };
  // Passed on to multicast-dns, though the library types them as service settings.
  const mdnsOptions = network as unknown as ConstructorParameters<typeof Bonjour>[0];
  const bonjour = new Bonjour(mdnsOptions, (err: unknown) => ad.onError(err));
  bonjour.publish({
    name: ad.name,
    type: 'sftp-ssh',
    protocol: 'tcp',
    port: ad.port,
    txt: ad.txt,
    disableIPv6: ad.interfaceAddress !== '',
  });
  return () =>
    new Promise<void>((done) => {
      bonjour.unpublishAll(() => bonjour.destroy(() => done()));
    });
}
