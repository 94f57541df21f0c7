/**
 * Looks for one _sftp-ssh._tcp service over mDNS on the loopback interface and prints it as
 * JSON (name, port, txt), or exits 1 after a timeout. Run inside the test's network namespace.
 */
import Bonjour from 'bonjour-service';

const timeoutMs = Number(process.argv[2] ?? '10000');
const network = { interface: '127.0.0.1', bind: '0.0.0.0' };
const bonjour = new Bonjour(network as unknown as ConstructorParameters<typeof Bonjour>[0]);
const timer = setTimeout(() => {
  process.stderr.write('no _sftp-ssh._tcp service found\n');
  process.exit(1);
}, timeoutMs);
bonjour.find({ type: 'sftp-ssh', protocol: 'tcp' }, (service) => {
  clearTimeout(timer);
  const { name, port, txt, type, protocol } = service;
  process.stdout.write(`${JSON.stringify({ name, port, txt, type, protocol })}\n`);
  bonjour.destroy(() => process.exit(0));
});
